import Foundation
import Linalg
import Support

/// A seeded random partition of 0..<n into a fit part and a held-out part (both sorted).
public struct FitSplit: Codable, Equatable, Sendable {
    public let fit: [Int]
    public let heldOut: [Int]
    public let seed: UInt64

    /// Shuffles 0..<n with `SeededRandom(seed)` (Fisher–Yates) and holds out ⌈n·heldOutFraction⌉ indices
    /// (at least one of each part). Throws when n < 2 or the fraction is not in (0, 1).
    public init(count n: Int, heldOutFraction: Double, seed: UInt64) throws {
        guard heldOutFraction > 0, heldOutFraction < 1 else {
            throw AnalysisError.invalidArgument("held-out fraction must be in (0, 1), got \(heldOutFraction)")
        }
        guard n >= 2 else { throw AnalysisError.emptyInput("need at least 2 contexts to split, got \(n)") }
        var rng = SeededRandom(seed: seed)
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        let h = min(n - 1, max(1, Int((Double(n) * heldOutFraction).rounded(.up))))
        heldOut = order[0..<h].sorted()
        fit = order[h...].sorted()
        self.seed = seed
    }
}

/// Summary of a list of numbers (NaNs excluded).
public struct Summary: Codable, Equatable, Sendable {
    public let mean: Double
    public let median: Double
    public let min: Double
    public let max: Double
    public let count: Int

    public init(_ values: [Double]) {
        let v = values.filter { $0.isFinite }.sorted()
        count = v.count
        if v.isEmpty { mean = .nan; median = .nan; min = .nan; max = .nan; return }
        mean = v.reduce(0, +) / Double(v.count)
        median = v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        min = v[0]
        max = v[v.count - 1]
    }
}

/// Row gather: the rows `indices` of `m` as a new Double matrix.
func gatherRows<T: BLASScalar>(_ m: Matrix<T>, _ indices: [Int]) -> Matrix<Double> {
    let out = Matrix<Double>(rows: indices.count, cols: m.cols)
    let src = m.pointer, dst = out.pointer, c = m.cols
    for (r, i) in indices.enumerated() {
        let s = src + i &* m.stride, d = dst + r &* c
        for j in 0..<c { d[j] = Double(s[j]) }
    }
    return out
}

/// Column means of a Double matrix.
func columnMeans(_ m: Matrix<Double>) -> [Double] {
    var mean = [Double](repeating: 0, count: m.cols)
    guard m.rows > 0 else { return mean }
    let p = m.pointer
    for i in 0..<m.rows {
        let r = p + i &* m.stride
        for j in 0..<m.cols { mean[j] += r[j] }
    }
    let inv = 1 / Double(m.rows)
    for j in 0..<m.cols { mean[j] *= inv }
    return mean
}

/// Subtracts `mean` from every row, in place.
func subtractRowVector(_ m: Matrix<Double>, _ mean: [Double]) {
    let p = m.pointer
    for i in 0..<m.rows {
        let r = p + i &* m.stride
        for j in 0..<m.cols { r[j] -= mean[j] }
    }
}

/// Affine least squares Y ≈ X·W + 1·bᵀ in Double.
///
/// X and Y are centred on their fit means and W = (XcᵀXc)⁺ XcᵀYc is the minimum-norm solution of the normal
/// equations, through the eigendecomposition XcᵀXc = V diag(λ) Vᵀ (`syevd`) with eigenvalues below
/// `relativeCutoff` · λ_max treated as zero; b = ȳ − Wᵀx̄. The pseudo-inverse matters for real features: a final
/// LayerNorm puts f(s) on an affine hyperplane, so XcᵀXc is exactly singular and a plain Cholesky solve could
/// return huge weights along the null direction. `rank` is the number of eigenvalues kept.
public struct AffineFit {
    /// d_in × d_out.
    public let weights: Matrix<Double>
    public let intercept: [Double]
    public let rank: Int
    public let solver: String

    public init(x: Matrix<Double>, y: Matrix<Double>, ridge: Double = 0, relativeCutoff: Double = 1e-11) throws {
        guard x.rows == y.rows else {
            throw AnalysisError.shapeMismatch("affine fit: X has \(x.rows) rows but Y has \(y.rows)")
        }
        guard x.rows >= 2 else { throw AnalysisError.emptyInput("affine fit: need at least 2 rows, got \(x.rows)") }
        let xc = x.copy(), yc = y.copy()
        let xm = columnMeans(xc), ym = columnMeans(yc)
        subtractRowVector(xc, xm)
        subtractRowVector(yc, ym)
        let d = x.cols
        let g = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, xc, into: g)
        if ridge > 0 { for i in 0..<d { g[i, i] += ridge } }
        let rhs = try BLAS.matmul(xc, yc, transA: true)                  // d × d_out
        let (lambda, v) = try LAPACK.syevd(g)
        let top = lambda.last ?? 0
        let vtr = try BLAS.matmul(v, rhs, transA: true)                  // Vᵀ XcᵀYc
        var kept = 0
        for k in 0..<d {
            let keep = top > 0 && lambda[k] > relativeCutoff * top
            if keep { kept += 1 }
            let s = keep ? 1 / lambda[k] : 0
            BLAS.scal(s, vtr.row(k))
        }
        let w = try BLAS.matmul(v, vtr)
        // b = ȳ − Wᵀx̄
        var b = ym
        for i in 0..<d where xm[i] != 0 {
            let r = w.pointer + i &* w.stride
            for j in 0..<y.cols { b[j] -= xm[i] * r[j] }
        }
        weights = w
        intercept = b
        rank = kept
        solver = "normal equations, eigen pseudo-inverse (rank \(kept) of \(d))" + (ridge > 0 ? ", ridge \(ridge)" : "")
    }

    /// X·W + 1·bᵀ.
    public func predict(_ x: Matrix<Double>) throws -> Matrix<Double> {
        let out = Matrix<Double>(rows: x.rows, cols: weights.cols)
        for i in 0..<x.rows { (out.pointer + i &* out.stride).update(from: intercept, count: intercept.count) }
        try BLAS.gemm(x, weights, beta: 1, into: out)
        return out
    }
}

/// Coefficients of determination of a prediction: pooled R² = 1 − ΣSSE/ΣSST over all columns, and the per-column
/// R²_j = 1 − SSE_j/SST_j (columns with SST_j = 0 are NaN and left out of summaries). SST uses the mean of `truth`
/// itself (as scikit-learn's `r2_score`).
public struct RSquared: Codable, Equatable, Sendable {
    public let pooled: Double
    public let perColumn: [Double]

    public init(truth: Matrix<Double>, prediction: Matrix<Double>) {
        let mean = columnMeans(truth)
        var sse = [Double](repeating: 0, count: truth.cols), sst = sse
        for i in 0..<truth.rows {
            let t = truth.pointer + i &* truth.stride, p = prediction.pointer + i &* prediction.stride
            for j in 0..<truth.cols {
                let e = t[j] - p[j], c = t[j] - mean[j]
                sse[j] += e * e
                sst[j] += c * c
            }
        }
        let totalSST = sst.reduce(0, +)
        pooled = totalSST > 0 ? 1 - sse.reduce(0, +) / totalSST : .nan
        perColumn = (0..<truth.cols).map { sst[$0] > 0 ? 1 - sse[$0] / sst[$0] : .nan }
    }
}
