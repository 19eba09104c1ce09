import Foundation
import Linalg

/// Check 2: is log Z(θ) = log Σ_w exp(φ_wᵀθ) quadratic in θ over real contexts θ = f(s)?
public struct LogPartitionCheck: Codable, Equatable, Sendable {
    /// How the quadratic part is represented (d(d+1)/2 monomials are too many for d in the hundreds).
    public enum Method: Codable, Equatable, Sendable {
        /// Monomials of the top-k principal components z of θ (computed on the fit split): features
        /// [z_a z_b (a ≤ b), θ_1…θ_d, 1], k(k+1)/2 + d + 1 columns, exact least squares. k is clamped to d.
        case principalComponents(k: Int)
        /// Kernel ridge regression with the polynomial kernel (1 + θᵀθ')² on the full θ, whose feature space is the
        /// span of {1, θ_i, θ_iθ_j}; targets centred, ridge λ = `relativeRidge` · trace(K)/n.
        case polynomialKernel(relativeRidge: Double)
    }

    /// Held-out quality of one fitted model.
    public struct Quality: Codable, Equatable, Sendable {
        public let model: String
        public let parameters: Int
        public let heldOutRelativeErrorMean: Double
        public let heldOutRelativeErrorMedian: Double
        public let heldOutR2: Double
        public let trainR2: Double
    }

    public let contexts: Int
    public let dimension: Int
    public let vocabularySize: Int?
    public let fitContexts: Int
    public let heldOutContexts: Int
    public let seed: UInt64
    public let method: Method
    /// Plain-words description of `method` as applied (e.g. the effective k).
    public let methodDescription: String
    public let logPartitionSummary: Summary
    public let quadratic: Quality
    public let linear: Quality
    /// Zero-parameter Taylor expansions of log Z at the fit split's mean context, first and second order (need Φ).
    public var taylorFirstOrder: Quality? = nil
    public var taylorSecondOrder: Quality? = nil
    public var spread: ContextSpread? = nil
    public var constant: ConstantLogPartition? = nil
    /// What the contexts are (a preset's name or the user's description).
    public var contextSet: String? = nil

    /// Computes log Z from f and Φ (`SoftmaxStatistics`), then fits, and adds the Taylor baselines.
    public static func run(f: Matrix<Float>, phi: Matrix<Float>, method: Method = .principalComponents(k: 32),
                           heldOutFraction: Double = 0.2, seed: UInt64 = 0, blockRows: Int = 256) throws
        -> LogPartitionCheck {
        let stats = try SoftmaxStatistics.compute(f: f, phi: phi, blockRows: blockRows)
        var check = try run(theta: f, logPartition: stats.logPartition, method: method,
                            heldOutFraction: heldOutFraction, seed: seed, vocabularySize: phi.rows)
        let split = try FitSplit(count: f.rows, heldOutFraction: heldOutFraction, seed: seed)
        let xFit = gatherRows(f, split.fit), xOut = gatherRows(f, split.heldOut)
        let taylor = try TaylorExpansion(phi: phi, centre: columnMeans(xFit))
        func column(_ v: [Double]) throws -> Matrix<Double> { try Matrix<Double>(rows: v.count, cols: 1, values: v) }
        let yFit = try column(split.fit.map { stats.logPartition[$0] })
        let yOut = try column(split.heldOut.map { stats.logPartition[$0] })
        for order in [1, 2] {
            let q = quality(model: "Taylor expansion at the mean context, order \(order) (0 fitted parameters)",
                            parameters: 0, fitTruth: yFit,
                            fitPred: try column(taylor.logPartition(xFit, secondOrder: order == 2)), outTruth: yOut,
                            outPred: try column(taylor.logPartition(xOut, secondOrder: order == 2)))
            if order == 1 { check.taylorFirstOrder = q } else { check.taylorSecondOrder = q }
        }
        return check
    }

    /// Fits log Z values given for each row of θ.
    public static func run<T: BLASScalar>(theta: Matrix<T>, logPartition: [Double],
                                          method: Method = .principalComponents(k: 32), heldOutFraction: Double = 0.2,
                                          seed: UInt64 = 0, vocabularySize: Int? = nil) throws -> LogPartitionCheck {
        guard theta.rows == logPartition.count else {
            throw AnalysisError.shapeMismatch("θ has \(theta.rows) rows but \(logPartition.count) log Z values given")
        }
        try requireFinite(theta, "θ")
        if let i = logPartition.firstIndex(where: { !$0.isFinite }) {
            throw AnalysisError.nonFinite("log Z: non-finite value \(logPartition[i]) at index \(i)")
        }
        let split = try FitSplit(count: theta.rows, heldOutFraction: heldOutFraction, seed: seed)
        let d = theta.cols
        let xFit = gatherRows(theta, split.fit), xOut = gatherRows(theta, split.heldOut)
        let yFit = try Matrix<Double>(rows: split.fit.count, cols: 1, values: split.fit.map { logPartition[$0] })
        let yOut = try Matrix<Double>(rows: split.heldOut.count, cols: 1, values: split.heldOut.map { logPartition[$0] })

        // Linear fit bᵀθ + c.
        let lin = try AffineFit(x: xFit, y: yFit)
        let linear = quality(model: "linear bᵀθ + c (\(lin.solver))", parameters: d + 1,
                             fitTruth: yFit, fitPred: try lin.predict(xFit), outTruth: yOut, outPred: try lin.predict(xOut))

        let quadratic: Quality, description: String
        switch method {
        case let .principalComponents(kRequested):
            guard kRequested >= 1 else {
                throw AnalysisError.invalidArgument("principal components: k must be ≥ 1, got \(kRequested)")
            }
            let k = min(kRequested, d)
            let basis = try principalBasis(xFit, k: k)        // d × k, columns = top-k directions
            let fitFeatures = try quadraticFeatures(xFit, basis: basis)
            let outFeatures = try quadraticFeatures(xOut, basis: basis)
            let columns = fitFeatures.cols + 1
            guard split.fit.count > columns else {
                throw AnalysisError.invalidArgument("quadratic fit on \(k) principal components needs more than "
                    + "\(columns) fit contexts, have \(split.fit.count): lower k or add contexts")
            }
            let q = try AffineFit(x: fitFeatures, y: yFit)
            description = "quadratic in the top \(k) principal components of θ (of d = \(d)) plus all \(d) linear "
                + "terms: \(columns) columns, \(q.solver)"
            quadratic = quality(model: "½θᵀAθ + bᵀθ + c, A of rank ≤ \(k)", parameters: columns, fitTruth: yFit,
                                fitPred: try q.predict(fitFeatures), outTruth: yOut, outPred: try q.predict(outFeatures))
        case let .polynomialKernel(relativeRidge):
            guard relativeRidge > 0, relativeRidge.isFinite else {
                throw AnalysisError.invalidArgument("polynomial kernel: relative ridge must be > 0, got \(relativeRidge)")
            }
            let (fitPred, outPred, lambda) = try polynomialKernelRidge(xFit: xFit, yFit: yFit, xOut: xOut,
                                                                       relativeRidge: relativeRidge)
            description = "kernel ridge with (1 + θᵀθ')² on the full θ (d = \(d), \(d * (d + 1) / 2 + d + 1) "
                + "implicit monomials; dual solve on \(split.fit.count) contexts, λ = \(String(format: "%.3g", lambda)))"
            quadratic = quality(model: "½θᵀAθ + bᵀθ + c (polynomial kernel)", parameters: d * (d + 1) / 2 + d + 1,
                                fitTruth: yFit, fitPred: fitPred, outTruth: yOut, outPred: outPred)
        }
        var check = LogPartitionCheck(contexts: theta.rows, dimension: d, vocabularySize: vocabularySize,
                                      fitContexts: split.fit.count, heldOutContexts: split.heldOut.count, seed: seed,
                                      method: method, methodDescription: description,
                                      logPartitionSummary: Summary(logPartition), quadratic: quadratic, linear: linear)
        check.spread = ContextSpread(theta)
        check.constant = ConstantLogPartition(logPartition)
        return check
    }

    static func quality(model: String, parameters: Int, fitTruth: Matrix<Double>, fitPred: Matrix<Double>,
                        outTruth: Matrix<Double>, outPred: Matrix<Double>) -> Quality {
        var rel = [Double]()
        for i in 0..<outTruth.rows {
            let t = outTruth[i, 0]
            rel.append(abs(outPred[i, 0] - t) / abs(t))   // |log Z| = 0 gives ∞/NaN, dropped by Summary
        }
        let s = Summary(rel)
        return Quality(model: model, parameters: parameters, heldOutRelativeErrorMean: s.mean,
                       heldOutRelativeErrorMedian: s.median,
                       heldOutR2: RSquared(truth: outTruth, prediction: outPred).pooled,
                       trainR2: RSquared(truth: fitTruth, prediction: fitPred).pooled)
    }

    /// Top-k eigenvectors of the fit covariance (d × k, largest variance first).
    static func principalBasis(_ x: Matrix<Double>, k: Int) throws -> Matrix<Double> {
        let c = x.copy()
        subtractRowVector(c, columnMeans(c))
        let cov = Matrix<Double>(rows: x.cols, cols: x.cols)
        try BLAS.syrk(trans: true, c, into: cov)
        let (_, vectors) = try LAPACK.syevd(cov)     // ascending
        let d = x.cols
        return Matrix<Double>(rows: d, cols: k) { i, j in vectors[i, d - 1 - j] }
    }

    /// [z_a z_b (a ≤ b), θ] with z = θ·basis (the PCA projection; the mean shift is absorbed by the linear terms).
    static func quadraticFeatures(_ x: Matrix<Double>, basis: Matrix<Double>) throws -> Matrix<Double> {
        let k = basis.cols, d = x.cols, pairs = k * (k + 1) / 2
        let z = try BLAS.matmul(x, basis)
        let out = Matrix<Double>(rows: x.rows, cols: pairs + d)
        for i in 0..<x.rows {
            let zr = z.pointer + i &* z.stride, o = out.pointer + i &* out.stride
            var c = 0
            for a in 0..<k { for b in a..<k { o[c] = zr[a] * zr[b]; c &+= 1 } }
            let xr = x.pointer + i &* x.stride
            for j in 0..<d { o[pairs &+ j] = xr[j] }
        }
        return out
    }

    /// Dual kernel ridge with K(θ, θ') = (1 + θᵀθ')², targets centred on the fit mean.
    static func polynomialKernelRidge(xFit: Matrix<Double>, yFit: Matrix<Double>, xOut: Matrix<Double>,
                                      relativeRidge: Double) throws
        -> (fit: Matrix<Double>, out: Matrix<Double>, lambda: Double) {
        func kernel(_ a: Matrix<Double>, _ b: Matrix<Double>) throws -> Matrix<Double> {
            let k = try BLAS.matmul(a, b, transB: true)
            let p = k.pointer
            for i in 0..<k.count { let t = 1 + p[i]; p[i] = t * t }
            return k
        }
        let n = xFit.rows
        let kFit = try kernel(xFit, xFit), kOut = try kernel(xOut, xFit)
        var trace = 0.0
        for i in 0..<n { trace += kFit[i, i] }
        let lambda = relativeRidge * trace / Double(n)
        let mean = columnMeans(yFit)[0]
        let yc = Matrix<Double>(rows: n, cols: 1) { i, _ in yFit[i, 0] - mean }
        let reg = kFit.copy()
        for i in 0..<n { reg[i, i] += lambda }
        let alpha = try LAPACK.posv(reg, yc)
        let fitPred = try BLAS.matmul(kFit, alpha), outPred = try BLAS.matmul(kOut, alpha)
        for m in [fitPred, outPred] { for i in 0..<m.rows { m[i, 0] += mean } }
        return (fitPred, outPred, lambda)
    }

}
