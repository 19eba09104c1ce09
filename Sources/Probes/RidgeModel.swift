import Linalg
import Support

/// How `RidgeClassifier.fit` scores each λ from its exact leave-one-out predictions.
public enum RidgeSelection: String, CaseIterable, Sendable {
    /// Lowest mean squared LOO error on the ±1 targets (scikit-learn's default).
    case squaredError = "squared-error"
    /// Highest LOO accuracy (argmax of the LOO decision values; sign for two classes).
    case accuracy
}

/// The λ search of a ridge fit, shared by the primal (`RidgeModel`) and dual (`DualRidgeModel`) models, whose
/// fields reach it directly (`model.alpha`, `model.looAccuracy`, … by dynamic member lookup).
public struct RidgePath: Sendable {
    /// The grid searched, in the order given (ties go to the first); extensions appended.
    public let alphas: [Double]
    public let selection: RidgeSelection
    /// Mean squared LOO error over all n·K′ targets, per λ.
    public let looMeanSquaredError: [Double]
    /// LOO accuracy per λ.
    public let looAccuracy: [Double]
    /// Index of `alpha` in `alphas`.
    public let chosenIndex: Int
    /// The grid as requested and as searched (extensions when λ landed at an end), and whether λ is still at one.
    public internal(set) var gridSearch: GridSearch? = nil

    /// The chosen regularisation strength λ.
    public var alpha: Double { alphas[chosenIndex] }
    /// The selection score of the chosen λ (MSE for `.squaredError`, accuracy for `.accuracy`; scikit-learn's
    /// `best_score_` is minus the MSE).
    public var looScore: Double {
        selection == .squaredError ? looMeanSquaredError[chosenIndex] : looAccuracy[chosenIndex]
    }
    /// LOO accuracy at the chosen λ.
    public var leaveOneOutAccuracy: Double { looAccuracy[chosenIndex] }
    /// The per-λ scores `GridExtension` compares (higher is better).
    var scores: [Double] { selection == .squaredError ? looMeanSquaredError.map { -$0 } : looAccuracy }
}

/// A fitted ridge classifier. Coefficients apply to raw (unstandardised) features: scores = X·W + 1bᵀ.
@dynamicMemberLookup
public struct RidgeModel {
    /// Number of classes K; the model has K′ = 1 decision column when K = 2, else K.
    public let classes: Int
    /// λ, its grid and the LOO scores per λ.
    public internal(set) var path: RidgePath
    public subscript<T>(dynamicMember key: KeyPath<RidgePath, T>) -> T { path[keyPath: key] }
    /// W, d × K′ (in raw feature space).
    public let coefficients: Matrix<Double>
    /// b, K′ values.
    public let intercepts: [Double]
    /// Training-feature means μ, and the standard deviations σ used when the fit standardised.
    public let featureMean: [Double]
    public let featureScale: [Double]?
    /// "cov" (eigendecomposition of XᵀX, n > d) or "gram" (of XXᵀ, n ≤ d).
    public let mode: String
    /// The decomposition used (`.auto` resolved).
    public let decomposition: RidgeDecomposition
    public let trainAccuracy: Double
    /// Wall-clock seconds of each phase (centre, gram, eigen, rotate, loo, coefficients), and the process CPU
    /// seconds (all threads) spent in it — the load-independent figure on a busy machine — for benchmarks.
    public let timings: [(phase: String, seconds: Double, cpuSeconds: Double)]

    /// Decision values X·W + 1bᵀ (n × K′). Throws when X's width differs from the training features or X has NaN/inf.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func decisionFunction<T: BLASScalar>(_ x: Matrix<T>) throws -> Matrix<Double> {
        try linearScores(x, coefficients: coefficients, intercepts: intercepts)
    }

    /// Predicted classes: argmax of the decision values (for two classes: class 1 when the score is > 0).
    public func predict<T: BLASScalar>(_ x: Matrix<T>) throws -> [Int] {
        classesFromScores(try decisionFunction(x))
    }
}

/// How the exact LOO quantities are obtained for every λ (all exact; see the module doc).
public enum RidgeDecomposition: String, CaseIterable, Sendable {
    /// `.band` when the decomposed matrix is large (m = min(n, d) > 3000, where `sytrd`'s memory-bound half
    /// dominates), else `.tridiagonal` (whose per-λ pass is 2·b + 1 = 3 flops per entry instead of 65).
    case auto
    /// S = qᵀBq with B banded (half-bandwidth 32; `sytrd_sy2sb` + `orgqr`, BLAS-3 only); per λ a banded Cholesky
    /// of B + λI and one fused streaming pass. The fastest on large Gram matrices.
    case band
    /// S = qᵀTq, T tridiagonal (`sytrd` + `orgtr`; half of `sytrd` is memory-bound `symv`); per λ as `.band`.
    case tridiagonal
    /// S = V diag(ℓ) Vᵀ (`syevd`); per λ a diagonal rescaling. scikit-learn's route.
    case eigen
}

/// A ridge classifier fitted on a Gram matrix K = XXᵀ (`RidgeClassifier.fit(gram:…)`): the dual form, for features
/// that are never formed densely (TF-IDF bag-of-words). Scores of new rows come from the cross kernel K_* = X_*Xᵀ.
@dynamicMemberLookup
public struct DualRidgeModel {
    /// Number of classes K; K′ = 1 decision column when K = 2, else K.
    public let classes: Int
    /// λ, its grid and the LOO scores per λ.
    public internal(set) var path: RidgePath
    public subscript<T>(dynamicMember key: KeyPath<RidgePath, T>) -> T { path[keyPath: key] }
    /// c = (K_c + λI)⁻¹Y_c, n × K′, at the chosen λ.
    public let dualCoefficients: Matrix<Double>
    /// ȳ, K′ values: the intercept (the features are centred through the kernel).
    public let intercepts: [Double]
    public let decomposition: RidgeDecomposition
    /// Wall-clock and process CPU seconds of each phase (centre, eigen, rotate, loo), for benchmarks.
    public let timings: [(phase: String, seconds: Double, cpuSeconds: Double)]
    let kernelRowMeans: [Double]
    let kernelMean: Double

    /// Decision values (m × K′) from the cross kernel K_* = X_*Xᵀ (m × n):
    /// Σ_j c_j (x − x̄)ᵀ(x_j − x̄) + ȳ, the kernel centred with the training row means.
    public func decisionFunction(crossKernel kt: Matrix<Double>) throws -> Matrix<Double> {
        let n = kernelRowMeans.count
        guard kt.cols == n else { throw ProbeError.widthMismatch(expected: n, got: kt.cols) }
        try checkFinite(kt)
        let m = kt.rows
        let centred = Matrix<Double>(rows: m, cols: n)
        let src = kt.pointer, lds = kt.stride, dst = centred.pointer, mbar = kernelMean
        kernelRowMeans.withUnsafeBufferPointer { rm in
            let rp = rm.baseAddress!
            parallelChunks(m, minChunk: 16) { range in
                for i in range {
                    let row = src + i &* lds, out = dst + i &* n
                    var mt = 0.0
                    for j in 0..<n { mt += row[j] }
                    mt /= Double(n)
                    for j in 0..<n { out[j] = row[j] - mt - rp[j] + mbar }
                }
            }
        }
        let out = Matrix<Double>(rows: m, cols: intercepts.count) { _, t in intercepts[t] }
        try BLAS.gemm(centred, dualCoefficients, beta: 1, into: out)
        return out
    }

    /// Predicted classes from the cross kernel (argmax; sign for two classes).
    public func predict(crossKernel kt: Matrix<Double>) throws -> [Int] {
        classesFromScores(try decisionFunction(crossKernel: kt))
    }
}
