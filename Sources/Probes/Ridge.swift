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

/// Cholesky factors of B + λI for every λ of a grid, B symmetric positive semi-definite with half-bandwidth b
/// (m × m; b = 1 is tridiagonal). B + λI = L·Lᵀ with L lower banded; stored row-major m × (b+1) per λ, row k
/// holding L[k, k−b … k].
struct BandShifts {
    let m: Int
    let b: Int
    let count: Int
    /// Factors of λ_a at offset a·m·(b+1).
    let factors: [Double]

    /// `band` is m × (b+1), row i holding B[i, i−b … i].
    init(band: Matrix<Double>, alphas: [Double]) throws {
        m = band.rows
        b = band.cols - 1
        count = alphas.count
        let w = b + 1, m = self.m, b = self.b
        var f = [Double](repeating: 0, count: m * w * alphas.count)
        for (a, alpha) in alphas.enumerated() {
            let base = a * m * w
            for k in 0..<m {
                for j in max(0, k - b)...k {
                    var s = band[k, b - (k - j)] + (j == k ? alpha : 0)
                    for p in max(0, k - b)..<j { s -= f[base + k * w + b - (k - p)] * f[base + j * w + b - (j - p)] }
                    if j < k {
                        f[base + k * w + b - (k - j)] = s / f[base + j * w + b]
                    } else {
                        guard s > 0, s.isFinite else {
                            throw ProbeError.numerical("Gram + \(alpha)·I is not positive definite (pivot \(s) at \(k))")
                        }
                        f[base + k * w + b] = s.squareRoot()
                    }
                }
            }
        }
        factors = f
    }

    /// (B + λ_a I)⁻¹R for every λ_a, side by side: m × (count·R.cols), block a in columns a·c..<(a+1)·c.
    func solveAll(_ r: Matrix<Double>) -> Matrix<Double> {
        let c = r.cols, ld = count * c, w = b + 1
        let out = Matrix<Double>(rows: m, cols: ld)
        let o = out.pointer
        for a in 0..<count {
            let base = a * m * w, col = a * c
            for k in 0..<m {                    // L y = r
                for j in 0..<c {
                    var s = r[k, j]
                    for p in max(0, k - b)..<k { s -= factors[base + k * w + b - (k - p)] * o[p * ld + col + j] }
                    o[k * ld + col + j] = s / factors[base + k * w + b]
                }
            }
            for k in stride(from: m - 1, through: 0, by: -1) {   // Lᵀ x = y
                for j in 0..<c {
                    var s = o[k * ld + col + j]
                    for q in (k + 1)..<min(m, k + b + 1) { s -= factors[base + q * w + b - (q - k)] * o[q * ld + col + j] }
                    o[k * ld + col + j] = s / factors[base + k * w + b]
                }
            }
        }
        return out
    }

    /// diag(Eᵀ(B + λ_a I)⁻¹E) for every λ_a, n × count (E is m × n): ‖L⁻¹E·eᵢ‖², with the forward substitution
    /// W_k = (E_k − Σ_p L[k,p]·W_p) / L[k,k] run down the rows of E — one streaming pass over E for all λ.
    func weightedDiagonal(_ e: Matrix<Double>) -> Matrix<Double> {
        let n = e.cols, na = count, m = self.m, b = self.b, w = b + 1
        let out = Matrix<Double>(rows: n, cols: na)
        let ep = e.pointer, lde = e.stride, op = out.pointer
        factors.withUnsafeBufferPointer { fb in
            let fp = fb.baseAddress!
            parallelChunks(n, minChunk: 64) { range in
                let block = 128
                // Ring of the last b+1 rows of W per λ, and the accumulators.
                let ring = UnsafeMutablePointer<Double>.allocate(capacity: na * w * block)
                let acc = UnsafeMutablePointer<Double>.allocate(capacity: na * block)
                defer { ring.deallocate(); acc.deallocate() }
                var start = range.lowerBound
                while start < range.upperBound {
                    let width = min(block, range.upperBound - start)
                    acc.initialize(repeating: 0, count: na * block)
                    for k in 0..<m {
                        let row = ep + (k &* lde &+ start)
                        for a in 0..<na {
                            let lk = fp + (a &* m &* w &+ k &* w)      // L[k, k−b … k]
                            let ringA = ring + a &* w &* block
                            let v = ringA + (k % w) &* block
                            for i in 0..<width { v[i] = row[i] }
                            var p = max(0, k - b)
                            while p < k {
                                let coef = lk[b - (k - p)], wp = ringA + (p % w) &* block
                                for i in 0..<width { v[i] -= coef * wp[i] }
                                p += 1
                            }
                            let inv = 1 / lk[b]
                            let aa = acc + a &* block
                            for i in 0..<width { let x = v[i] * inv; v[i] = x; aa[i] += x * x }
                        }
                    }
                    for i in 0..<width { for a in 0..<na { op[(start &+ i) &* na &+ a] = acc[a &* block &+ i] } }
                    start += width
                }
            }
        }
        return out
    }
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

/// Wall-clock phases of a fit.
final class PhaseClock {
    var timings: [(phase: String, seconds: Double, cpuSeconds: Double)] = []
    var clock = Benchmark.now(), cpu = Benchmark.cpuSeconds()
    func lap(_ phase: String) {
        let t = Benchmark.now(), c = Benchmark.cpuSeconds()
        timings.append((phase, t - clock, c - cpu))
        clock = t; cpu = c
    }
}

/// ±1 one-vs-rest targets of a ridge fit: Y_c (centred, n × K′), their means ȳ, and [Y_c | 1] (both right-hand
/// sides of every LOO formula, so each basis is packed once).
struct RidgeTargets {
    let n: Int
    let kk: Int
    let yc: Matrix<Double>
    let yMean: [Double]
    let yc1: Matrix<Double>

    init(labels: [Int], classes: Int) {
        let n = labels.count, kk = classes == 2 ? 1 : classes
        let yc = Matrix<Double>(rows: n, cols: kk)
        var yMean = [Double](repeating: 0, count: kk)
        for i in 0..<n {
            for k in 0..<kk {
                let target: Double = kk == 1 ? (labels[i] == 1 ? 1 : -1) : (labels[i] == k ? 1 : -1)
                yc.pointer[i &* kk &+ k] = target
                yMean[k] += target
            }
        }
        for k in 0..<kk { yMean[k] /= Double(n) }
        for i in 0..<n { for k in 0..<kk { yc.pointer[i &* kk &+ k] -= yMean[k] } }
        let yc1 = Matrix<Double>(rows: n, cols: kk + 1)
        for i in 0..<n {
            for k in 0..<kk { yc1.pointer[i &* (kk + 1) &+ k] = yc.pointer[i &* kk &+ k] }
            yc1.pointer[i &* (kk + 1) &+ kk] = 1
        }
        self.n = n; self.kk = kk; self.yc = yc; self.yMean = yMean; self.yc1 = yc1
    }
}

/// Scores each λ from its exact LOO residuals and remembers the best (first on ties).
struct LeaveOneOutSelection {
    let targets: RidgeTargets
    let labels: [Int]
    let select: RidgeSelection
    var mse: [Double]
    var acc: [Double]
    var best = -1

    init(targets: RidgeTargets, labels: [Int], select: RidgeSelection, count: Int) {
        self.targets = targets; self.labels = labels; self.select = select
        mse = [Double](repeating: 0, count: count); acc = mse
    }

    /// Scores λ number a from its LOO residuals e = num/den (n × K′, den one value per row); whether it is the best so far.
    mutating func score(_ a: Int, numerator: Matrix<Double>, denominator: (Int) -> Double) -> Bool {
        let n = targets.n, kk = targets.kk, yc = targets.yc.pointer
        var sq = 0.0, correct = 0
        let num = numerator.pointer, ldn = numerator.stride
        var pred = [Double](repeating: 0, count: kk)
        for i in 0..<n {
            let den = denominator(i)
            for k in 0..<kk {
                let e = num[i &* ldn &+ k] / den
                sq += e * e
                pred[k] = yc[i &* kk &+ k] + targets.yMean[k] - e   // LOO decision value, uncentred
            }
            var cls: Int
            if kk == 1 { cls = pred[0] > 0 ? 1 : 0 } else {
                cls = 0
                for k in 1..<kk where pred[k] > pred[cls] { cls = k }
            }
            if cls == labels[i] { correct += 1 }
        }
        mse[a] = sq / Double(n * kk)
        acc[a] = Double(correct) / Double(n)
        let better: Bool
        if best < 0 { better = true } else {
            switch select {
            case .squaredError: better = mse[a] < mse[best]
            case .accuracy: better = acc[a] > acc[best]
            }
        }
        if better { best = a }
        return better
    }

    /// The search's outcome over `alphas` (the grid these scores are for).
    func path(alphas: [Double]) -> RidgePath {
        RidgePath(alphas: alphas, selection: select, looMeanSquaredError: mse, looAccuracy: acc, chosenIndex: best)
    }

    func requireFinite() throws {
        for v in mse + acc where !v.isFinite {
            throw ProbeError.numerical("ridge leave-one-out scores are not finite (ill-conditioned features?)")
        }
    }
}

/// Closed-form ridge classifier with exact LOO selection of λ from one eigendecomposition (see the module doc).
public enum RidgeClassifier {
    /// logspace(−3, 6, 19): 0.001, 0.00316, …, 10⁶ (half-decade steps). The earlier 10⁻³…10³ clipped 35 of 90
    /// probes of the paper_cpu run at λ = 1000 (issue 14).
    public static let defaultAlphas = logspace(-3, 6, 19)
    /// Half-bandwidth of the `.band` reduction: wide enough for efficient BLAS-3 panels, narrow enough that the
    /// per-λ banded solves (2·bandwidth flops per entry of E) stay cheap.
    public static let bandwidth = 32
    /// `.auto` uses `.band` above this size of the decomposed matrix.
    public static let bandThreshold = 3000

    static func resolve(_ decomposition: RidgeDecomposition, size m: Int) -> RidgeDecomposition {
        decomposition != .auto ? decomposition : (m > bandThreshold ? .band : .tridiagonal)
    }

    static func checkAlphas(_ alphas: [Double]) throws {
        guard !alphas.isEmpty else { throw ProbeError.invalidArgument("the alpha grid is empty") }
        for a in alphas where !(a > 0 && a.isFinite) {
            throw ProbeError.invalidArgument("alpha must be positive and finite (got \(a))")
        }
    }

    /// S = qᵀBq with B banded (`.band`, half-bandwidth `bandwidth`) or tridiagonal (`.tridiagonal`), B as m × (b+1).
    static func reduce(_ s: Matrix<Double>, _ decomposition: RidgeDecomposition) throws -> (band: Matrix<Double>, q: Matrix<Double>) {
        if decomposition == .band { return try LAPACK.bandReduce(s, bandwidth: bandwidth) }
        let (t, off, q) = try LAPACK.tridiagonalize(s)
        let band = Matrix<Double>(rows: s.rows, cols: 2) { i, j in j == 1 ? t[i] : (i > 0 ? off[i - 1] : 0) }
        return (band, q)
    }

    /// out ← m ∘ m (entrywise square, same shape, contiguous), in parallel.
    static func squareEntries(_ m: Matrix<Double>, into out: Matrix<Double>) {
        let src = m.pointer, dst = out.pointer, count = m.rows * m.cols
        parallelChunks(count, minChunk: 1 << 16) { range in
            for t in range { dst[t] = src[t] * src[t] }
        }
    }

    /// R (m × w) scaled row-wise by every λ's D: block a (columns a·w ..< (a+1)·w) of the m × (n_λ·w) result is
    /// diag(dmat[:, a]) R — the right-hand sides of all λ, so one gemm serves them all.
    static func shiftBlocks(_ r: Matrix<Double>, _ dmat: Matrix<Double>) -> Matrix<Double> {
        let m = r.rows, w = r.cols, na = dmat.cols
        let out = Matrix<Double>(rows: m, cols: na * w)
        for j in 0..<m {
            for a in 0..<na {
                let dj = dmat.pointer[j &* na &+ a]
                for k in 0..<w { out.pointer[j &* (na * w) &+ a &* w &+ k] = r.pointer[j &* w &+ k] * dj }
            }
        }
        return out
    }

    /// D as a matrix: dmat[j, a] = 1 / (ℓⱼ + λ_a).
    static func inverseShifts(_ ell: [Double], _ alphas: [Double]) -> Matrix<Double> {
        Matrix<Double>(rows: ell.count, cols: alphas.count) { j, a in 1 / (ell[j] + alphas[a]) }
    }

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

    /// Fits ±1 one-vs-rest ridge targets with an unpenalised intercept, choosing λ from `alphas` by exact LOO.
    /// `labels` are class indices in 0..<classes (at least two distinct). X may be Float or Double; the work is
    /// in Double. Throws `ProbeError` on empty data, length mismatch, NaN/inf, a single class, or λ ≤ 0.
    /// With `extension` (the default), a λ chosen at an end of the grid makes the grid grow past that end
    /// (`GridExtension`) and the λ search repeat until λ is interior or the limit is reached; `gridSearch` says what
    /// happened. The decomposition is done once per fit: an extension round re-scores the grid on it (as
    /// `fit(gram:)` does), which costs a few matrix products, not another eigendecomposition.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fit<T: BLASScalar>(x: Matrix<T>, labels: [Int], classes: Int,
                                          alphas: [Double] = defaultAlphas, select: RidgeSelection = .squaredError,
                                          standardize: Bool = false, decomposition: RidgeDecomposition = .auto,
                                          extension: GridExtension? = .ridge) throws -> RidgeModel {
        try validateTraining(x, labels, classes: classes)
        try checkAlphas(alphas)
        let n = x.rows, d = x.cols
        let clock = PhaseClock()
        // Float32 features in gram mode keep X_c in Float32 and form the Gram with ssyrk (twice dsyrk's rate, half
        // the memory); everything after the Gram is Float64 (see `float32Gram`).
        let mode = n > d ? "cov" : "gram"
        let centred = CentredFeatures(x, standardize: standardize, float32: mode == "gram")
        let xc = centred.xc
        let targets = RidgeTargets(labels: labels, classes: classes)
        let kk = targets.kk, yc = targets.yc, yc1 = targets.yc1
        var basis: Matrix<Double>? = nil         // cov: V (d × d), or q (d × d) with XᵀX = qᵀBq
        let decomposition = resolve(decomposition, size: min(n, d))
        clock.lap("centre")

        // The λ-independent work is done here, once; `scoreGrid` then scores any grid on it, updating the selection
        // in place, and returns the weights at the selected λ — cov: D⊙ZᵀY_c or (B+λI)⁻¹E Y_c (d × K′); gram:
        // c = G⁻¹Y_c (n × K′).
        let scoreGrid: ([Double], inout LeaveOneOutSelection) throws -> Matrix<Double>?
        if mode == "gram" {
            func float64Gram(_ xc: Matrix<Double>) throws -> Matrix<Double> {
                let gram = Matrix<Double>(rows: n, cols: n)
                try BLAS.syrk(trans: false, xc, into: gram)
                return gram
            }
            let gram = try centred.xc32.map(float32Gram) ?? float64Gram(xc)
            clock.lap("gram")
            var factors = try gramFactors(gram, targets: targets, decomposition: decomposition, clock: clock)
            // The Float32 Gram's rounding (≈ √d·u·‖x_i‖‖x_j‖ per entry) can exceed a small λ when the features are
            // close to rank-deficient — a Quad model's p_f ≈ an affine map of its d logits, 8,192 columns of rank
            // ≈ d — and S + λI is then numerically indefinite (issue 14: pivot −832 at λ = 10⁻³). Such a fit is
            // redone once on the Float64 Gram of the same standardised features; only a failure there is an error.
            var precise = centred.xc32 == nil
            scoreGrid = { alphas, selection in
                do {
                    return try gramLeaveOneOut(factors, targets: targets, alphas: alphas, selection: &selection, clock: clock)
                } catch ProbeError.numerical(_) where !precise {
                    precise = true
                    let gram64 = try float64Gram(CentredFeatures(x, standardize: standardize, float32: false).xc)
                    clock.lap("gram-float64")
                    factors = try gramFactors(gram64, targets: targets, decomposition: decomposition, clock: clock)
                    selection = LeaveOneOutSelection(targets: targets, labels: labels, select: select, count: alphas.count)
                    return try gramLeaveOneOut(factors, targets: targets, alphas: alphas, selection: &selection, clock: clock)
                }
            }
        } else if decomposition != .eigen {
            // S = X_cᵀX_c = qᵀBq (B banded); E = q·X_cᵀ, d × n.
            let s = Matrix<Double>(rows: d, cols: d)
            try BLAS.syrk(trans: true, xc, into: s)
            clock.lap("gram")
            let (band, q) = try reduce(s, decomposition)
            clock.lap("eigen")
            basis = q
            let e = try BLAS.matmul(q, xc, transB: true)
            let r = try BLAS.matmul(e, yc1)                   // E·[Y_c | 1], d × (K′+1)
            clock.lap("rotate")
            scoreGrid = { alphas, selection in
                let na = alphas.count, w1 = kk + 1
                let factors = try BandShifts(band: band, alphas: alphas)
                let solved = factors.solveAll(r)                  // block a: (B + λ_a I)⁻¹ E[Y_c | 1]
                let out = try BLAS.matmul(e, solved, transA: true) // block a: Eᵀ(B + λ_a I)⁻¹E[Y_c | 1], n × n_λ(K′+1)
                let diag = factors.weightedDiagonal(e)            // n × n_λ: diag(Eᵀ(B + λ_a I)⁻¹E)
                let ldo = na * w1, invN = 1 / Double(n)
                let numerator = Matrix<Double>(rows: n, cols: kk)
                var bestWeights: Matrix<Double>? = nil
                for a in 0..<na {
                    let op = out.pointer + a &* w1, dp = diag.pointer
                    // e = (Y_c − ŶY) / (1 − h − (1 − (H1))/n)
                    for i in 0..<n {
                        for k in 0..<kk { numerator.pointer[i &* kk &+ k] = yc.pointer[i &* kk &+ k] - op[i &* ldo &+ k] }
                    }
                    if selection.score(a, numerator: numerator, denominator: { i in 1 - dp[i &* na &+ a] - (1 - op[i &* ldo &+ kk]) * invN }) {
                        bestWeights = solved.columns((a * w1)..<(a * w1 + kk)).copy()
                    }
                }
                clock.lap("loo")
                return bestWeights
            }
        } else {
            // X_cᵀX_c = V diag(ℓ) Vᵀ; Z = X_c V.
            let cov = Matrix<Double>(rows: d, cols: d)
            try BLAS.syrk(trans: true, xc, into: cov)
            clock.lap("gram")
            let (ell, v) = try LAPACK.syevd(cov)
            clock.lap("eigen")
            basis = v
            let z = try BLAS.matmul(xc, v)
            // R = [ZᵀY_c | Zᵀ1] (d × (K′+1)).
            let r = try BLAS.matmul(z, yc1, transA: true)
            // Z∘Z overwrites X_c, no longer needed in cov mode: diag(X_c H⁻¹ X_cᵀ) for every λ is then (Z∘Z)·D.
            squareEntries(z, into: xc)
            clock.lap("rotate")
            scoreGrid = { alphas, selection in
                let na = alphas.count, w1 = kk + 1
                let dmat = inverseShifts(ell, alphas)
                let hdiag = try BLAS.matmul(xc, dmat)       // n × n_λ
                // [Z D ZᵀY_c | Z D Zᵀ1] for every λ in one gemm (Z is packed once): column block a of `fitted`.
                let scaled = shiftBlocks(r, dmat)
                let fitted = try BLAS.matmul(z, scaled)     // n × (n_λ·(K′+1))
                let ldf = na * w1
                let alphaC = Matrix<Double>(rows: n, cols: kk)
                let invN = 1 / Double(n)
                var bestWeights: Matrix<Double>? = nil
                for a in 0..<na {
                    let fp = fitted.pointer + a &* w1
                    for i in 0..<n {
                        for k in 0..<kk { alphaC.pointer[i &* kk &+ k] = yc.pointer[i &* kk &+ k] - fp[i &* ldf &+ k] }
                    }
                    if selection.score(a, numerator: alphaC, denominator: { i in 1 - hdiag.pointer[i &* na &+ a] - (1 - fp[i &* ldf &+ kk]) * invN }) {
                        bestWeights = scaled.columns((a * w1)..<(a * w1 + kk)).copy()
                    }
                }
                clock.lap("loo")
                return bestWeights
            }
        }

        // The λ search, extended at an edge of the grid on the same decomposition.
        func search(_ grid: [Double]) throws -> (path: RidgePath, weights: Matrix<Double>) {
            var selection = LeaveOneOutSelection(targets: targets, labels: labels, select: select, count: grid.count)
            let best = try scoreGrid(grid, &selection)
            guard selection.best >= 0, let weights = best else { throw ProbeError.numerical("no alpha could be scored") }
            try selection.requireFinite()
            return (selection.path(alphas: grid), weights)
        }
        var grid = alphas, rounds = 0
        var (path, weights) = try search(grid)
        while let ext = `extension`, let more = ext.next(grid, scores: path.scores, chosen: path.alpha) {
            grid += more.values
            rounds += 1
            (path, weights) = try search(grid)
        }
        path.gridSearch = GridSearch(requested: alphas, searched: grid, chosen: path.alpha, extensions: rounds,
                                     limit: `extension`)

        // W in the (possibly standardised) centred space, then mapped to raw features.
        let w: Matrix<Double>
        switch (mode, decomposition, basis) {
        case ("cov", .eigen, let v?): w = try BLAS.matmul(v, weights)                 // V·D·ZᵀY_c
        case ("cov", _, let q?): w = try BLAS.matmul(q, weights, transA: true)        // qᵀ(B + λI)⁻¹q X_cᵀY_c
        default: w = try centred.xc32.map { transposedProduct($0, weights) } ?? BLAS.matmul(xc, weights, transA: true)  // X_cᵀc
        }
        if let s = centred.scale {
            for j in 0..<d { for k in 0..<kk { w.pointer[j &* kk &+ k] /= s[j] } }
        }
        var b = targets.yMean
        for k in 0..<kk { for j in 0..<d { b[k] -= centred.mean[j] * w.pointer[j &* kk &+ k] } }

        let predicted = classesFromScores(try linearScores(x, coefficients: w, intercepts: b))
        let trainAcc = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(n)
        clock.lap("coefficients")
        return RidgeModel(classes: classes, path: path, coefficients: w, intercepts: b, featureMean: centred.mean, featureScale: centred.scale,
                          mode: mode, decomposition: decomposition, trainAccuracy: trainAcc, timings: clock.timings)
    }

    /// K = X_cX_cᵀ from Float32 features: `ssyrk` in Float32 (twice the rate of `dsyrk`), then centred again in
    /// Float64 (`centredKernel`) for the decomposition and the LOO. The second centring matters: K_c·1 = 0 exactly
    /// in theory, and the LOO denominators Gᵢᵢ⁻¹ − (G⁻¹1)ᵢ/n cancel G⁻¹'s 1/λ along 1, so Float32 rounding left
    /// in that direction would be amplified by 1/λ. What remains is each entry's Float32 dot-product rounding,
    /// of order u₃₂·√d·‖xᵢ‖‖xⱼ‖ (u₃₂ ≈ 6·10⁻⁸), relative to λ + K's smallest non-zero eigenvalue. Refitted from
    /// Float32 features, the sklearn fixtures choose the same λ with the same accuracies as with a Float64 Gram
    /// (RidgeTests.testFloat32GramMatchesFloat64Gram states the LOO-curve tolerance). Float64 features keep a
    /// Float64 Gram.
    static func float32Gram(_ xc: Matrix<Float>) throws -> Matrix<Double> {
        let n = xc.rows
        let g32 = Matrix<Float>(rows: n, cols: n)
        try BLAS.syrk(trans: false, xc, into: g32)
        return centredKernel(g32).kc
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

    /// X_cᵀC in Float64 from Float32 X_c (n × d) and C (n × K′): d × K′, each worker owning a slice of columns.
    static func transposedProduct(_ xc: Matrix<Float>, _ c: Matrix<Double>) -> Matrix<Double> {
        let n = xc.rows, d = xc.cols, kk = c.cols, ldx = xc.stride, ldc = c.stride
        let w = Matrix<Double>(rows: d, cols: kk)
        let xp = xc.pointer, cp = c.pointer, wp = w.pointer
        parallelChunks(d, minChunk: 256) { cols in
            let lo = cols.lowerBound, width = cols.count
            let acc = UnsafeMutablePointer<Double>.allocate(capacity: width)
            defer { acc.deallocate() }
            for k in 0..<kk {
                acc.initialize(repeating: 0, count: width)
                for i in 0..<n {
                    let row = xp + (i &* ldx &+ lo), ci = cp[i &* ldc &+ k]
                    for j in 0..<width { acc[j] += Double(row[j]) * ci }
                }
                for j in 0..<width { wp[(lo &+ j) &* kk &+ k] = acc[j] }
            }
        }
        return w
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
        var grid = alphas, rounds = 0
        while true {
            var selection = LeaveOneOutSelection(targets: targets, labels: labels, select: select, count: grid.count)
            let c = try gramLeaveOneOut(factors, targets: targets, alphas: grid, selection: &selection, clock: clock)
            try selection.requireFinite()
            var path = selection.path(alphas: grid)
            if let ext = `extension`, let more = ext.next(grid, scores: path.scores, chosen: path.alpha) {
                grid += more.values
                rounds += 1
                continue
            }
            path.gridSearch = GridSearch(requested: alphas, searched: grid, chosen: path.alpha, extensions: rounds,
                                         limit: `extension`)
            return DualRidgeModel(classes: classes, path: path, dualCoefficients: c, intercepts: targets.yMean,
                                  decomposition: decomposition, timings: clock.timings, kernelRowMeans: m, kernelMean: mbar)
        }
    }
}
