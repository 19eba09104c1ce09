// The module overview (Analysis's purpose, guarantees and notation) is Analysis.docc/Analysis.md.
import Foundation
import Linalg

/// Errors from the analysis stage; each description is one line naming the offending argument.
public enum AnalysisError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case invalidArgument(String)
    case shapeMismatch(String)
    case nonFinite(String)
    case emptyInput(String)

    public var description: String {
        switch self {
        case let .invalidArgument(m): return m
        case let .shapeMismatch(m): return m
        case let .nonFinite(m): return m
        case let .emptyInput(m): return m
        }
    }
}

/// Throws `.nonFinite` naming `name` and the first bad element when `m` holds a NaN or infinity.
func requireFinite<T: BLASScalar>(_ m: Matrix<T>, _ name: String) throws {
    let p = m.pointer
    for i in 0..<m.rows {
        for j in 0..<m.cols where !p[i &* m.stride &+ j].isFinite {
            throw AnalysisError.nonFinite("\(name): non-finite value \(p[i &* m.stride &+ j]) at (\(i), \(j))")
        }
    }
}

extension AnalysisError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}
