// The module overview (Linalg's purpose, guarantees and notation) is Linalg.docc/Linalg.md.
import CBLAS
import CLAPACKE
import Foundation

/// Errors from the linear-algebra layer. Every message is one line and names the shapes or routine involved.
public enum LinalgError: Error, LocalizedError, CustomStringConvertible, Equatable {
    /// Two operands disagree: `operation` names the call, `lhs`/`rhs` the offending shapes, e.g. "(3×4)".
    case shapeMismatch(operation: String, lhs: String, rhs: String)
    /// `posv`: the leading minor of this order is not positive definite.
    case notPositiveDefinite(leadingMinor: Int)
    /// `syevd`: the eigenvalue algorithm failed to converge (`info` off-diagonal elements did not converge).
    case eigenNoConvergence(info: Int)
    /// `gesdd`/`gelsd`: the SVD did not converge.
    case svdNoConvergence(info: Int)
    /// A LAPACK routine rejected argument number `argument` (LAPACK's `info = -argument`).
    case illegalArgument(routine: String, argument: Int)
    /// A value outside its domain (negative size, non-finite input where it is not allowed, …).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, lhs, rhs):
            return "\(op): shape mismatch between \(lhs) and \(rhs)"
        case let .notPositiveDefinite(k):
            return "matrix is not positive definite (leading minor \(k))"
        case let .eigenNoConvergence(info):
            return "symmetric eigendecomposition did not converge (\(info) off-diagonal elements)"
        case let .svdNoConvergence(info):
            return "SVD did not converge (\(info) superdiagonals)"
        case let .illegalArgument(routine, arg):
            return "\(routine): illegal value in argument \(arg)"
        case let .invalidArgument(message):
            return message
        }
    }
}

/// Formats a shape as "(r×c)", the way every error message in lmprobe prints shapes.
@inlinable
public func shapeString(_ rows: Int, _ cols: Int) -> String { "(\(rows)×\(cols))" }

extension LinalgError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}
