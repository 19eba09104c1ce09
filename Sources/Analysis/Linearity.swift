import Foundation
import Linalg
import Support

/// Φp_f and log Z for many contexts at once, computed in blocks of rows so the n × V probability matrix never exists.
///
/// For a block F_blk (b × d): L = F_blk Φᵀ (sgemm, b × V); per row the one row softmax (`softmaxRow`: m = max L,
/// s = Σ e^{L − m}, P = e^{L − m}/s); log Z = m + log s; Φp_f = P Φ (sgemm, b × d). Rows of the softmax are computed
/// in parallel (`parallelFor`) between the two gemms, so lmprobe's threads and OpenBLAS's never run at once.
public enum SoftmaxStatistics {
    /// Returns the conditional mean embeddings Φᵀp_f (n × d, Float) and log-partitions log Z (n values, Double).
    /// - Parameters:
    ///   - f: n × d context embeddings.
    ///   - phi: V × d output word embeddings (row w is φ_w).
    ///   - blockRows: rows per block (memory is blockRows × V floats).
    public static func compute(f: Matrix<Float>, phi: Matrix<Float>, blockRows: Int = 256) throws
        -> (conditionalMean: Matrix<Float>, logPartition: [Double]) {
        guard f.cols == phi.cols else {
            throw AnalysisError.shapeMismatch("f has \(f.cols) columns but Φ has \(phi.cols) (both must be d)")
        }
        guard phi.rows > 0 else { throw AnalysisError.emptyInput("Φ has no rows (empty vocabulary)") }
        guard blockRows > 0 else { throw AnalysisError.invalidArgument("blockRows must be positive, got \(blockRows)") }
        try requireFinite(f, "f")
        try requireFinite(phi, "Φ")
        let n = f.rows, v = phi.rows, d = f.cols
        let mean = Matrix<Float>(rows: n, cols: d)
        var logZ = [Double](repeating: 0, count: n)
        let block = Matrix<Float>(rows: min(blockRows, max(n, 1)), cols: v)
        let lz = UnsafeMutablePointer<Double>.allocate(capacity: block.rows)
        defer { lz.deallocate() }
        var start = 0
        while start < n {
            let b = min(block.rows, n - start)
            let logits = block.rows(0..<b)
            try BLAS.gemm(transB: true, f.rows(start..<start + b), phi, into: logits)
            let base = logits.pointer, ld = logits.stride
            parallelFor(b) { i in
                let (m, s) = softmaxRow(base + i &* ld, count: v)
                lz[i] = Double(m) + Foundation.log(Double(s))
            }
            let out = mean.rows(start..<start + b)
            try BLAS.gemm(logits, phi, into: out)
            for i in 0..<b { logZ[start + i] = lz[i] }
            start += b
        }
        return (mean, logZ)
    }
}

/// Check 1: is the map f(s) ↦ Φp_f(s) affine? Fit Φp_f ≈ A f + b on a seeded fit split, score R² on the rest.
public struct LinearityCheck: Codable, Equatable, Sendable {
    public let contexts: Int
    public let dimension: Int
    /// V, when Φp_f was computed here from Φ (nil when it was given).
    public let vocabularySize: Int?
    public let fitContexts: Int
    public let heldOutContexts: Int
    public let seed: UInt64
    public let solver: String
    /// Pooled R² on the fit split (1 − ΣSSE/ΣSST over all dimensions).
    public let trainR2: Double
    /// Pooled R² on the held-out split.
    public let heldOutR2: Double
    /// Held-out R² of each output dimension j (NaN where Φp_f_j is constant on the held-out split).
    public let heldOutR2PerDimension: [Double]
    public let heldOutR2PerDimensionSummary: Summary
    /// Held-out R² of the zero-parameter first-order Taylor expansion at the fit split's mean context (needs Φ).
    public var taylorHeldOutR2: Double? = nil
    /// How spread out the contexts are (all of them).
    public var spread: ContextSpread? = nil
    /// log Z over the contexts, and whether it is constant (then the check is trivially passed; needs Φ).
    public var logPartition: ConstantLogPartition? = nil
    /// What the contexts are (a preset's name or the user's description).
    public var contextSet: String? = nil

    /// Computes Φp_f from f and Φ (`SoftmaxStatistics`), then fits.
    public static func run(f: Matrix<Float>, phi: Matrix<Float>, heldOutFraction: Double = 0.2, seed: UInt64 = 0,
                           blockRows: Int = 256) throws -> LinearityCheck {
        let stats = try SoftmaxStatistics.compute(f: f, phi: phi, blockRows: blockRows)
        var check = try run(f: f, conditionalMean: stats.conditionalMean, heldOutFraction: heldOutFraction, seed: seed,
                            vocabularySize: phi.rows)
        try check.addBaselines(f: f, phi: phi, heldOutFraction: heldOutFraction, logPartition: stats.logPartition)
        return check
    }

    /// Adds the Taylor baseline and the constant-log-Z flag (computing log Z from f and Φ when not given); f and
    /// `heldOutFraction` must be the ones the check ran with (the same seeded split is rebuilt).
    public mutating func addBaselines(f: Matrix<Float>, phi: Matrix<Float>, heldOutFraction: Double,
                                      logPartition given: [Double]? = nil) throws {
        let logZ = try given ?? SoftmaxStatistics.compute(f: f, phi: phi).logPartition
        let split = try FitSplit(count: f.rows, heldOutFraction: heldOutFraction, seed: seed)
        let xFit = gatherRows(f, split.fit), xOut = gatherRows(f, split.heldOut)
        let stats = try SoftmaxStatistics.compute(f: xOut.converted(to: Float.self), phi: phi)
        let taylor = try TaylorExpansion(phi: phi, centre: columnMeans(xFit))
        taylorHeldOutR2 = RSquared(truth: stats.conditionalMean.converted(to: Double.self),
                                   prediction: try taylor.conditionalMean(xOut)).pooled
        logPartition = ConstantLogPartition(logZ)
    }

    /// Fits on precomputed Φp_f (e.g. the `phip` features the extractor wrote), n × d' with the same n as f.
    public static func run<T: BLASScalar>(f: Matrix<T>, conditionalMean: Matrix<T>, heldOutFraction: Double = 0.2,
                                          seed: UInt64 = 0, vocabularySize: Int? = nil) throws -> LinearityCheck {
        guard f.rows == conditionalMean.rows else {
            throw AnalysisError.shapeMismatch("f has \(f.rows) rows but Φp_f has \(conditionalMean.rows)")
        }
        try requireFinite(f, "f")
        try requireFinite(conditionalMean, "Φp_f")
        let split = try FitSplit(count: f.rows, heldOutFraction: heldOutFraction, seed: seed)
        let xFit = gatherRows(f, split.fit), yFit = gatherRows(conditionalMean, split.fit)
        let xOut = gatherRows(f, split.heldOut), yOut = gatherRows(conditionalMean, split.heldOut)
        let model = try AffineFit(x: xFit, y: yFit)
        let train = RSquared(truth: yFit, prediction: try model.predict(xFit))
        let held = RSquared(truth: yOut, prediction: try model.predict(xOut))
        var check = LinearityCheck(contexts: f.rows, dimension: f.cols, vocabularySize: vocabularySize,
                                   fitContexts: split.fit.count, heldOutContexts: split.heldOut.count, seed: seed,
                                   solver: model.solver, trainR2: train.pooled, heldOutR2: held.pooled,
                                   heldOutR2PerDimension: held.perColumn,
                                   heldOutR2PerDimensionSummary: Summary(held.perColumn))
        check.spread = ContextSpread(f)
        return check
    }

}
