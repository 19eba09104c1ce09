import Linalg
import Support

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

    /// Fits ±1 one-vs-rest ridge targets with an unpenalised intercept, choosing λ from `alphas` by exact LOO.
    /// `labels` are class indices in 0..<classes (at least two distinct). X may be Float or Double; the work is
    /// in Double. Throws `ProbeError` on empty data, length mismatch, NaN/inf, a single class, or λ ≤ 0.
    /// With `extension` (the default), a λ chosen at an end of the grid makes the grid grow past that end
    /// (`GridExtension`) and the λ search repeat until λ is interior or the limit is reached; `gridSearch` says what
    /// happened. The decomposition is done once per fit: an extension round re-scores the grid on it (as
    /// `fit(gram:)` does), which costs a few matrix products, not another eigendecomposition.
    /// Steps: centre (and scale) X → decompose (`gramModeScorer`, `bandCovScorer` or `eigenCovScorer`) → search
    /// the grid (`searchGrid`) → coefficients in raw feature space (`rawCoefficients`).
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
        let targets = RidgeTargets(labels: labels, classes: classes)
        let decomposition = resolve(decomposition, size: min(n, d))
        clock.lap("centre")

        let scorer: PrimalScorer
        if mode == "gram" {
            scorer = try gramModeScorer(x, centred: centred, targets: targets, labels: labels, select: select,
                                        standardize: standardize, decomposition: decomposition, clock: clock)
        } else if decomposition != .eigen {
            scorer = try bandCovScorer(centred.xc, targets: targets, decomposition: decomposition, clock: clock)
        } else {
            scorer = try eigenCovScorer(centred.xc, targets: targets, clock: clock)
        }
        let (path, weights) = try searchGrid(alphas, extension: `extension`, targets: targets, labels: labels,
                                             select: select, scoreGrid: scorer.scoreGrid)
        let (w, b) = try rawCoefficients(weights, mode: mode, decomposition: decomposition, basis: scorer.basis,
                                         centred: centred, targets: targets)
        let predicted = classesFromScores(try linearScores(x, coefficients: w, intercepts: b))
        let trainAcc = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(n)
        clock.lap("coefficients")
        return RidgeModel(classes: classes, path: path, coefficients: w, intercepts: b, featureMean: centred.mean, featureScale: centred.scale,
                          mode: mode, decomposition: decomposition, trainAccuracy: trainAcc, timings: clock.timings)
    }

    /// The λ-independent work of one primal fit, done once, and `scoreGrid`, which scores any grid on it (updating
    /// the selection in place) and returns the weights at the selected λ — cov: D⊙ZᵀY_c or (B+λI)⁻¹E Y_c (d × K′);
    /// gram: c = G⁻¹Y_c (n × K′). `basis`: cov mode's V (d × d), or q (d × d) with XᵀX = qᵀBq.
    struct PrimalScorer {
        let basis: Matrix<Double>?
        let scoreGrid: ([Double], inout LeaveOneOutSelection) throws -> Matrix<Double>?
    }

    /// Gram mode (n ≤ d) on in-memory features: the Gram of `centred` (Float32 or Float64, see `float32Gram`), its
    /// Float64 fallback from the same standardised features, scored by `gramScorer`.
    static func gramModeScorer<T: BLASScalar>(_ x: Matrix<T>, centred: CentredFeatures, targets: RidgeTargets,
                                              labels: [Int], select: RidgeSelection, standardize: Bool,
                                              decomposition: RidgeDecomposition, clock: PhaseClock) throws -> PrimalScorer {
        let n = x.rows
        func float64Gram(_ xc: Matrix<Double>) throws -> Matrix<Double> {
            let gram = Matrix<Double>(rows: n, cols: n)
            try BLAS.syrk(trans: false, xc, into: gram)
            return gram
        }
        return try gramScorer(float32: centred.xc32 != nil, targets: targets, labels: labels, select: select,
                              decomposition: decomposition, clock: clock) { precise in
            if !precise, let xc32 = centred.xc32 { return try float32Gram(xc32) }
            return try float64Gram(centred.xc32 == nil ? centred.xc : CentredFeatures(x, standardize: standardize, float32: false).xc)
        }
    }

    /// THE gram-mode scorer (in-memory and streamed features alike): S = X_cX_cᵀ from `gram` (its argument: whether
    /// the Float64 Gram is wanted) decomposed once (`gramFactors`), LOO by `gramLeaveOneOut`.
    static func gramScorer(float32: Bool, targets: RidgeTargets, labels: [Int], select: RidgeSelection,
                           decomposition: RidgeDecomposition, clock: PhaseClock,
                           gram: @escaping (_ precise: Bool) throws -> Matrix<Double>) throws -> PrimalScorer {
        let first = try gram(!float32)
        clock.lap("gram")
        var factors = try gramFactors(first, targets: targets, decomposition: decomposition, clock: clock)
        // The Float32 Gram's rounding (≈ √d·u·‖x_i‖‖x_j‖ per entry) can exceed a small λ when the features are
        // close to rank-deficient — a Quad model's p_f ≈ an affine map of its d logits, 8,192 columns of rank
        // ≈ d — and S + λI is then numerically indefinite (issue 14: pivot −832 at λ = 10⁻³). Such a fit is
        // redone once on the Float64 Gram of the same standardised features; only a failure there is an error.
        var precise = !float32
        return PrimalScorer(basis: nil) { alphas, selection in
            do {
                return try gramLeaveOneOut(factors, targets: targets, alphas: alphas, selection: &selection, clock: clock)
            } catch ProbeError.numerical(_) where !precise {
                precise = true
                let gram64 = try gram(true)
                clock.lap("gram-float64")
                factors = try gramFactors(gram64, targets: targets, decomposition: decomposition, clock: clock)
                selection = LeaveOneOutSelection(targets: targets, labels: labels, select: select, count: alphas.count)
                return try gramLeaveOneOut(factors, targets: targets, alphas: alphas, selection: &selection, clock: clock)
            }
        }
    }

    /// Cov mode (n > d) by reduction: S = X_cᵀX_c = qᵀBq (B banded); E = q·X_cᵀ, d × n; per λ banded solves.
    static func bandCovScorer(_ xc: Matrix<Double>, targets: RidgeTargets, decomposition: RidgeDecomposition,
                              clock: PhaseClock) throws -> PrimalScorer {
        let n = xc.rows, d = xc.cols, kk = targets.kk, yc = targets.yc
        let s = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, xc, into: s)
        clock.lap("gram")
        let (band, q) = try reduce(s, decomposition)
        clock.lap("eigen")
        let e = try BLAS.matmul(q, xc, transB: true)
        let r = try BLAS.matmul(e, targets.yc1)           // E·[Y_c | 1], d × (K′+1)
        clock.lap("rotate")
        return PrimalScorer(basis: q) { alphas, selection in
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
    }

    /// Cov mode (n > d) by eigendecomposition: X_cᵀX_c = V diag(ℓ) Vᵀ, Z = X_c V; per λ a diagonal rescaling.
    /// Overwrites `xc` (with Z∘Z).
    static func eigenCovScorer(_ xc: Matrix<Double>, targets: RidgeTargets, clock: PhaseClock) throws -> PrimalScorer {
        let n = xc.rows, d = xc.cols, kk = targets.kk, yc = targets.yc
        let cov = Matrix<Double>(rows: d, cols: d)
        try BLAS.syrk(trans: true, xc, into: cov)
        clock.lap("gram")
        let (ell, v) = try LAPACK.syevd(cov)
        clock.lap("eigen")
        let z = try BLAS.matmul(xc, v)
        // R = [ZᵀY_c | Zᵀ1] (d × (K′+1)).
        let r = try BLAS.matmul(z, targets.yc1, transA: true)
        // Z∘Z overwrites X_c, no longer needed in cov mode: diag(X_c H⁻¹ X_cᵀ) for every λ is then (Z∘Z)·D.
        squareEntries(z, into: xc)
        clock.lap("rotate")
        return PrimalScorer(basis: v) { alphas, selection in
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

    /// The λ search on one decomposition (`scoreGrid`), extended at an edge of the grid: the path (with what was
    /// searched) and the weights at the chosen λ. Shared by the primal and the dual fit.
    static func searchGrid(_ alphas: [Double], extension: GridExtension?, targets: RidgeTargets, labels: [Int],
                           select: RidgeSelection,
                           scoreGrid: ([Double], inout LeaveOneOutSelection) throws -> Matrix<Double>?) throws
        -> (path: RidgePath, weights: Matrix<Double>) {
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
        return (path, weights)
    }

    /// W in the (possibly standardised) centred space from the selected weights, mapped to raw features (W/σ), and
    /// the intercepts b = ȳ − Wᵀμ.
    static func rawCoefficients(_ weights: Matrix<Double>, mode: String, decomposition: RidgeDecomposition,
                                basis: Matrix<Double>?, centred: CentredFeatures, targets: RidgeTargets) throws
        -> (w: Matrix<Double>, b: [Double]) {
        let w: Matrix<Double>
        switch (mode, decomposition, basis) {
        case ("cov", .eigen, let v?): w = try BLAS.matmul(v, weights)                 // V·D·ZᵀY_c
        case ("cov", _, let q?): w = try BLAS.matmul(q, weights, transA: true)        // qᵀ(B + λI)⁻¹q X_cᵀY_c
        default: w = try centred.xc32.map { transposedProduct($0, weights) } ?? BLAS.matmul(centred.xc, weights, transA: true)  // X_cᵀc
        }
        return rawScale(w, mean: centred.mean, scale: centred.scale, targets: targets)
    }

    /// W (d × K′, in the standardised centred space; overwritten) mapped to raw features (W/σ), and the intercepts
    /// b = ȳ − Wᵀμ.
    static func rawScale(_ w: Matrix<Double>, mean: [Double], scale: [Double]?, targets: RidgeTargets)
        -> (w: Matrix<Double>, b: [Double]) {
        let d = mean.count, kk = targets.kk
        if let s = scale {
            for j in 0..<d { for k in 0..<kk { w.pointer[j &* kk &+ k] /= s[j] } }
        }
        var b = targets.yMean
        for k in 0..<kk { for j in 0..<d { b[k] -= mean[j] * w.pointer[j &* kk &+ k] } }
        return (w, b)
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
}
