import Linalg
import Support

/// The dual (Gram) form: gram-mode exact LOO on a decomposed n × n centred kernel, used by the primal fit when
/// n ≤ d and by `fit(gram:)` for a precomputed kernel.
extension RidgeClassifier {
    /// The λ-independent part of gram-mode LOO, computed once per fit: S = qᵀBq (band or tridiagonal B, `rotated`
    /// = q·[Y_c | 1]) or S = Q diag(ℓ) Qᵀ (eigen, `rotated` = Qᵀ[Y_c | 1], `squared` = Q∘Q). Any λ grid is then
    /// scored on it by `gramLeaveOneOut(_:…)` — an extended grid costs no second decomposition.
    struct GramFactors {
        let q: Matrix<Double>
        let rotated: Matrix<Double>
        let band: Matrix<Double>?
        let ell: [Double]?
        let squared: Matrix<Double>?
    }

    /// Decomposes the centred Gram S (n × n; `s` may be overwritten) for gram-mode LOO.
    static func gramFactors(_ s: Matrix<Double>, targets: RidgeTargets, decomposition: RidgeDecomposition,
                            clock: PhaseClock) throws -> GramFactors {
        if decomposition != .eigen {
            // S = qᵀBq, E = q; G⁻¹ = qᵀ(B + λI)⁻¹q.
            let (band, q) = try reduce(s, decomposition)
            clock.lap("eigen")
            let r = try BLAS.matmul(q, targets.yc1)            // E·[Y_c | 1], n × (K′+1)
            clock.lap("rotate")
            return GramFactors(q: q, rotated: r, band: band, ell: nil, squared: nil)
        }
        // S = Q diag(ℓ) Qᵀ.
        let (ell, q) = try LAPACK.syevd(s)
        clock.lap("eigen")
        let r = try BLAS.matmul(q, targets.yc1, transA: true)   // [QᵀY_c | Qᵀ1]
        let q2 = Matrix<Double>(rows: q.rows, cols: q.cols)
        squareEntries(q, into: q2)
        clock.lap("rotate")
        return GramFactors(q: q, rotated: r, band: nil, ell: ell, squared: q2)
    }

    /// Gram mode, the one LOO routine for n ≤ d features and for precomputed kernels: S = X_cX_cᵀ (n × n, the
    /// centred Gram), G = S + λI, c = G⁻¹Y_c and eᵢ = cᵢ / (G⁻¹ᵢᵢ − (G⁻¹1)ᵢ/n) for every λ of `alphas`, on the
    /// factors of S. Returns c at the selected λ (the selection is updated in place).
    static func gramLeaveOneOut(_ f: GramFactors, targets: RidgeTargets, alphas: [Double],
                                selection: inout LeaveOneOutSelection, clock: PhaseClock) throws -> Matrix<Double> {
        let n = targets.n, kk = targets.kk, na = alphas.count, w1 = kk + 1, invN = 1 / Double(n)
        var bestWeights: Matrix<Double>? = nil
        if let band = f.band {
            let factors = try BandShifts(band: band, alphas: alphas)
            let solved = factors.solveAll(f.rotated)            // block a: (B + λ_a I)⁻¹ E[Y_c | 1]
            let out = try BLAS.matmul(f.q, solved, transA: true) // block a: [G⁻¹Y_c | G⁻¹1], n × n_λ(K′+1)
            let diag = factors.weightedDiagonal(f.q)            // n × n_λ: diag(G⁻¹)
            let ldo = na * w1
            let numerator = Matrix<Double>(rows: n, cols: kk)
            for a in 0..<na {
                let op = out.pointer + a &* w1, dp = diag.pointer
                for i in 0..<n { for k in 0..<kk { numerator.pointer[i &* kk &+ k] = op[i &* ldo &+ k] } }
                if selection.score(a, numerator: numerator, denominator: { i in dp[i &* na &+ a] - op[i &* ldo &+ kk] * invN }) {
                    bestWeights = numerator.copy()
                }
            }
        } else if let ell = f.ell, let q2 = f.squared {
            // S is positive semi-definite: an eigenvalue below −λ is rounding, and S + λI is then indefinite.
            if let low = ell.min(), let bad = alphas.first(where: { !(low + $0 > 0) }) {
                throw ProbeError.numerical("Gram + \(bad)·I is not positive definite (eigenvalue \(low + bad))")
            }
            let dmat = inverseShifts(ell, alphas)
            let gdiag = try BLAS.matmul(q2, dmat)       // diag(G⁻¹) for every λ: (Q∘Q)·D, n × n_λ
            // [c = G⁻¹Y_c | G⁻¹1] for every λ in one gemm: column block a of `cg`.
            let scaled = shiftBlocks(f.rotated, dmat)
            let cg = try BLAS.matmul(f.q, scaled)        // n × (n_λ·(K′+1))
            let ldc = na * w1
            for a in 0..<na {
                let c = cg.columns((a * w1)..<(a * w1 + kk))
                let cp = cg.pointer + a &* w1
                if selection.score(a, numerator: c, denominator: { i in gdiag.pointer[i &* na &+ a] - cp[i &* ldc &+ kk] * invN }) {
                    bestWeights = c.copy()
                }
            }
        }
        clock.lap("loo")
        guard let weights = bestWeights else { throw ProbeError.numerical("no alpha could be scored") }
        return weights
    }

    /// K_c = K − m1ᵀ − 1mᵀ + m̄11ᵀ in Float64 (m = row means of the symmetric n × n K, m̄ their mean; parallel over
    /// rows), with m and m̄: the kernel of the centred features, whose rows sum to zero to Float64 rounding.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func centredKernel<T: BLASScalar>(_ k: Matrix<T>) -> (kc: Matrix<Double>, rowMeans: [Double], mean: Double) {
        let n = k.rows
        var m = [Double](repeating: 0, count: n)
        let kp = k.pointer, ldk = k.stride
        m.withUnsafeMutableBufferPointer { mb in
            let mp = mb.baseAddress!
            parallelChunks(n, minChunk: 16) { range in
                for i in range {
                    let row = kp + i &* ldk
                    var s = 0.0
                    for j in 0..<n { s += Double(row[j]) }
                    mp[i] = s / Double(n)
                }
            }
        }
        let mbar = m.reduce(0, +) / Double(n)
        let kc = Matrix<Double>(rows: n, cols: n)
        let cp = kc.pointer
        m.withUnsafeBufferPointer { mb in
            let mp = mb.baseAddress!
            parallelChunks(n, minChunk: 16) { range in
                for i in range {
                    let row = kp + i &* ldk, out = cp + i &* n, mi = mp[i] - mbar
                    for j in 0..<n { out[j] = Double(row[j]) - mi - mp[j] }
                }
            }
        }
        return (kc, m, mbar)
    }

    /// The same classifier from a precomputed linear kernel K = XXᵀ (n × n, symmetric): the ridge classifier's Gram
    /// entry point, for features never held densely (TF-IDF). The kernel is centred, K_c = K − m1ᵀ − 1mᵀ + m̄11ᵀ
    /// (m = row means of K, m̄ their mean) = X_cX_cᵀ, and the gram-mode exact LOO above runs on it — the same
    /// targets, intercept rule (unpenalised, by centring) and λ selection as `fit(x:…)` in gram mode. scikit-learn's
    /// `RidgeClassifierCV` on X gives the same λ and decision values.
    /// With `extension` (the default, as in `fit(x:…)`), a λ chosen at an end of the grid grows the grid past that
    /// end and the search repeats until λ is interior or the limit is reached; the kernel is centred and decomposed
    /// once, so a round costs only the per-λ passes.
    public static func fit(gram k: Matrix<Double>, labels: [Int], classes: Int, alphas: [Double] = defaultAlphas,
                           select: RidgeSelection = .squaredError, decomposition: RidgeDecomposition = .auto,
                           extension: GridExtension? = .ridge) throws -> DualRidgeModel {
        let n = k.rows
        guard k.cols == n else { throw ProbeError.invalidArgument("the Gram matrix must be square, got \(k.rows) × \(k.cols)") }
        try validateTraining(k, labels, classes: classes)
        try checkAlphas(alphas)
        let clock = PhaseClock()
        let (kc, m, mbar) = centredKernel(k)
        clock.lap("centre")
        let targets = RidgeTargets(labels: labels, classes: classes)
        let decomposition = resolve(decomposition, size: n)
        let factors = try gramFactors(kc, targets: targets, decomposition: decomposition, clock: clock)
        let (path, c) = try searchGrid(alphas, extension: `extension`, targets: targets, labels: labels, select: select) {
            grid, selection in
            try gramLeaveOneOut(factors, targets: targets, alphas: grid, selection: &selection, clock: clock)
        }
        return DualRidgeModel(classes: classes, path: path, dualCoefficients: c, intercepts: targets.yMean,
                              decomposition: decomposition, timings: clock.timings, kernelRowMeans: m, kernelMean: mbar)
    }
}
