import Foundation
import Linalg

/// The zero-parameter yardsticks of the theory checks (issue 14): how far apart the contexts are, and what a Taylor
/// expansion of the softmax at their mean predicts with nothing fitted. A fitted R² means little when this baseline
/// already reaches it: with every context ending in " This movie is", f(s) is tightly clustered and the
/// first-order expansion alone gave held-out R² 0.9935 against the fitted 0.9978.
///
/// With θ̄ the mean context (fit split), p̄ = softmax(Φθ̄), ḡ = Φᵀp̄ and J = Φᵀ(diag p̄ − p̄p̄ᵀ)Φ (the covariance of
/// φ under p̄, which is both ∂(Φᵀp_θ)/∂θ and ∇² log Z at θ̄):
///   Φp_f(θ) ≈ ḡ + J(θ − θ̄)                                         (first order)
///   log Z(θ) ≈ log Z(θ̄) + ḡᵀ(θ − θ̄) [+ ½(θ − θ̄)ᵀJ(θ − θ̄)]          (first [second] order)
/// Work in Float64; J by one syrk of diag(√p̄)Φ.
public struct TaylorExpansion {
    public let centre: [Double]
    public let logPartitionAtCentre: Double
    /// ḡ = Φᵀp̄ (d).
    public let gradient: [Double]
    /// J (d × d).
    public let hessian: Matrix<Double>

    public init(phi: Matrix<Float>, centre: [Double]) throws {
        let v = phi.rows, d = phi.cols
        guard centre.count == d else { throw AnalysisError.shapeMismatch("Taylor centre has \(centre.count) values, Φ has d = \(d)") }
        guard v > 0 else { throw AnalysisError.emptyInput("Φ has no rows (empty vocabulary)") }
        let phiD = phi.converted(to: Double.self)
        let c = try Matrix<Double>(rows: d, cols: 1, values: centre)
        let logits = try BLAS.matmul(phiD, c)                          // V × 1
        var m = -Double.infinity
        for w in 0..<v { m = max(m, logits[w, 0]) }
        var s = 0.0
        var p = [Double](repeating: 0, count: v)
        for w in 0..<v { let e = Foundation.exp(logits[w, 0] - m); p[w] = e; s += e }
        for w in 0..<v { p[w] /= s }
        logPartitionAtCentre = m + Foundation.log(s)
        let pm = try Matrix<Double>(rows: v, cols: 1, values: p)
        let g = try BLAS.matmul(phiD, pm, transA: true)                // d × 1
        gradient = (0..<d).map { g[$0, 0] }
        for w in 0..<v {                                               // rows scaled by √p̄_w
            let r = phiD.pointer + w &* phiD.stride, sw = p[w].squareRoot()
            for j in 0..<d { r[j] *= sw }
        }
        let h = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, phiD, into: h)
        for i in 0..<d { for j in 0..<d { h[i, j] -= gradient[i] * gradient[j] } }
        hessian = h
        self.centre = centre
    }

    /// θ − θ̄ for every row (n × d, Double).
    func displacement<T: BLASScalar>(_ theta: Matrix<T>) -> Matrix<Double> {
        let out = gatherRows(theta, Array(0..<theta.rows))
        subtractRowVector(out, centre)
        return out
    }

    /// First-order prediction of Φp_f for every row of θ (n × d).
    public func conditionalMean<T: BLASScalar>(_ theta: Matrix<T>) throws -> Matrix<Double> {
        let delta = displacement(theta)
        let out = Matrix<Double>(rows: theta.rows, cols: gradient.count)
        for i in 0..<out.rows { (out.pointer + i &* out.stride).update(from: gradient, count: gradient.count) }
        try BLAS.gemm(delta, hessian, beta: 1, into: out)
        return out
    }

    /// First- or second-order prediction of log Z for every row of θ.
    public func logPartition<T: BLASScalar>(_ theta: Matrix<T>, secondOrder: Bool) throws -> [Double] {
        let delta = displacement(theta), d = gradient.count
        let g = try Matrix<Double>(rows: d, cols: 1, values: gradient)
        let linear = try BLAS.matmul(delta, g)
        var out = (0..<theta.rows).map { logPartitionAtCentre + linear[$0, 0] }
        if secondOrder {
            let dj = try BLAS.matmul(delta, hessian)
            for i in 0..<theta.rows {
                var q = 0.0
                for j in 0..<d { q += dj[i, j] * delta[i, j] }
                out[i] += 0.5 * q
            }
        }
        return out
    }
}

/// How spread out the contexts are: ‖θ̄‖, the RMS distance from θ̄, and their ratio.
public struct ContextSpread: Codable, Equatable, Sendable {
    public let meanNorm: Double
    public let rmsDistance: Double
    /// rmsDistance / meanNorm (0.15 for prompt-ended SST-2 contexts of the committed CE model, 2.15 for IMDb text).
    public let relativeSpread: Double

    public init<T: BLASScalar>(_ theta: Matrix<T>) {
        let x = gatherRows(theta, Array(0..<theta.rows))
        let mean = columnMeans(x)
        let norm = mean.map { $0 * $0 }.reduce(0, +).squareRoot()
        subtractRowVector(x, mean)
        var ss = 0.0
        for i in 0..<x.rows { for j in 0..<x.cols { ss += x[i, j] * x[i, j] } }
        meanNorm = norm
        rmsDistance = x.rows > 0 ? (ss / Double(x.rows)).squareRoot() : .nan
        relativeSpread = norm > 0 ? rmsDistance / norm : .infinity
    }
}

/// Whether log Z is (numerically) the same for every context: then softmax(Φθ) is nearly uniform, Φp_f is linear
/// in θ and log Z quadratic by construction (the Quad objective drives Φᵀf → 0), so the checks say nothing.
public struct ConstantLogPartition: Codable, Equatable, Sendable {
    public let standardDeviation: Double
    public let mean: Double
    /// Below this standard deviation (in nats) log Z counts as constant.
    public static let threshold = 1e-2
    public var isConstant: Bool { standardDeviation < ConstantLogPartition.threshold }

    public init(_ logPartition: [Double]) {
        let v = logPartition.filter(\.isFinite)
        let m = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        mean = m
        standardDeviation = v.isEmpty ? .nan : (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
    }

    public var warning: String {
        String(format: "**Trivially linear:** log Z is constant over these contexts (mean %.4f, std %.2g < %.0e nats), "
               + "so softmax(Φθ) is nearly uniform, Φp_f is linear in θ and log Z quadratic by construction — the fits "
               + "below say nothing about the model (typical of a Quad model, whose objective drives Φᵀf towards 0).\n",
               mean, standardDeviation, ConstantLogPartition.threshold)
    }
}
