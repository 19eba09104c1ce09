/// Linalg — the numerical floor every lmprobe stage stands on.
///
/// * `Matrix<T>`: owned, 64-byte-aligned, row-major storage for `Float` (models, features) and `Double` (probes),
///   with views (rows, row ranges, column ranges) that share storage instead of copying. A `Matrix` has reference
///   semantics like a NumPy array: assigning it shares the buffer; call `copy()` for an independent one.
/// * BLAS (OpenBLAS through `CBLAS`): `gemm` in all four transpose combinations with `alpha`/`beta` (β = 1
///   accumulates, as backward passes need), strided-batched `gemm`, `gemv`, `syrk`, `axpy`, `scal`, `dot`.
///   Pointer-level `sgemm` entry points serve the llm.c-style model kernels.
/// * LAPACK (through `CLAPACKE`): Cholesky solve (`posv`), symmetric eigendecomposition (`syevd`), least squares
///   (`gelsd`), SVD (`gesdd`). A non-zero LAPACK `info` becomes a typed `LinalgError`, never a crash.
/// * Thread control in one place (`Threads`): OpenBLAS's thread count and lmprobe's own `parallelFor`.
/// * `SeededRandom`: a deterministic generator (xoshiro256**) with normal sampling, for reproducible runs.
/// * `NPY`: NumPy `.npy` (format 1.0) reading and writing, the interchange format between stages.
///
/// Precision: the wrappers add no error of their own beyond the BLAS/LAPACK routine they call; results match a
/// Double-precision reference to the usual `O(k·ε)` for a length-`k` inner product.
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
