/// Probes — linear classifiers on frozen features: the paper's measurement instrument.
///
/// Notation: X is n × d (rows are examples), labels yᵢ ∈ {0, …, K−1}, K ≥ 2 classes present.
///
/// ## Ridge classifier with exact leave-one-out λ selection (`RidgeClassifier.fit`)
///
/// Targets. Y is n × K′ with ±1 one-vs-rest entries (Yᵢₖ = +1 if yᵢ = k else −1); for K = 2 a single column
/// (+1 for class 1, −1 for class 0), K′ = 1. Prediction: argmax over the K′ decision columns, or for K′ = 1 the
/// sign (score > 0 → class 1, exactly 0 → class 0, as scikit-learn does).
///
/// Intercept ("centre X and Y"). The intercept is not penalised. Write μ = column means of X, ȳ = column means of
/// Y, X_c = X − 1μᵀ, Y_c = Y − 1ȳᵀ. Minimising ‖Y − XW − 1bᵀ‖² + λ‖W‖² over b first gives b = ȳ − Wᵀμ, leaving
/// the ridge problem W = argmin ‖Y_c − X_c W‖² + λ‖W‖² = (X_cᵀX_c + λI)⁻¹X_cᵀY_c. Reported intercepts are
/// b = ȳ − Wᵀμ. With `standardize`, X_c is further divided column-wise by the population standard deviation σ
/// (σ = 0 → 1) before the fit, and W is mapped back (W/σ) so the model applies to raw features.
///
/// Exact leave-one-out. The hat matrix of the fit with intercept is H = 11ᵀ/n + X_c(X_cᵀX_c + λI)⁻¹X_cᵀ, and the
/// LOO residual of example i is eᵢ = ((I − H)Y_c)ᵢ / (1 − Hᵢᵢ) (exact for linear smoothers; Rifkin & Lippert 2007).
/// Everything for every λ comes from ONE decomposition of one symmetric matrix, in Float64:
///  * n > d ("cov" mode): S = X_cᵀX_c (d × d) = V diag(ℓ) Vᵀ. With Z = X_c V (n × d) and D = diag(1/(ℓⱼ + λ)):
///      X_c(S + λI)⁻¹X_cᵀY_c = Z D ZᵀY_c,  hᵢ = diag(X_c(S + λI)⁻¹X_cᵀ)ᵢ = Σⱼ Zᵢⱼ² Dⱼ,  W = V D ZᵀY_c,
///      eᵢ = (Y_c − Z D ZᵀY_c)ᵢ / (1 − hᵢ − (1 − (Z D Zᵀ1)ᵢ)/n).
///  * n ≤ d ("gram" mode): S = X_cX_cᵀ (n × n) = Q diag(ℓ) Qᵀ, G = S + λI. Then c = G⁻¹Y_c = Q D QᵀY_c,
///    I − H = λG⁻¹ − 11ᵀ/n, so eᵢ = cᵢ / (G⁻¹ᵢᵢ − (G⁻¹1)ᵢ/n) with G⁻¹ᵢᵢ = Σⱼ Qᵢⱼ² Dⱼ, and W = X_cᵀc.
///  * a precomputed kernel (`RidgeClassifier.fit(gram:…)`, for features never held densely such as TF-IDF): K = XXᵀ
///    is centred, K_c = K − m1ᵀ − 1mᵀ + m̄11ᵀ = X_cX_cᵀ (m = row means), and the gram-mode formulas run on S = K_c —
///    the same targets, intercept rule and selection. New rows are scored from the cross kernel K_* = X_*Xᵀ,
///    centred with the training row means: K_*c c + 1ȳᵀ.
///  The "− …/n" terms are the intercept: scikit-learn's `_RidgeGCV` (dense X, `gcv_mode=None` → "gram" if n ≤ d
///  else "cov") centres X and Y in `_preprocess_data` and corrects the diagonal by d ← d − (G⁻¹1)ᵢ/n; it evaluates
///  G⁻¹1 through the decomposition rather than assuming X_cᵀ1 = 0, and so do we. Every λ is then a rescaling.
///
///  Three ways to get the decomposition (`RidgeDecomposition`), all exact:
///  * `.eigen`: `syevd` as above (scikit-learn's route; per λ one diagonal rescaling, all λ in one gemm).
///  * `.band` and `.tridiagonal` (`.auto`, the default, takes `.band` when min(n, d) > 3000, else `.tridiagonal`):
///    only an orthogonal reduction S = qᵀBq with B banded — half-bandwidth b = 32 by `sytrd_sy2sb` + `orgqr`
///    (BLAS-3 throughout), or b = 1 by `sytrd` + `orgtr` (the first stage of `syevd`, half of it memory-bound
///    `symv`) — skipping the eigensolver and back-transformation altogether.
///    With E = q (gram) or E = q X_cᵀ (cov), (S + λI)⁻¹ = qᵀ(B + λI)⁻¹q, and with the banded Cholesky
///    B + λI = L Lᵀ (O(m·b²) per λ):
///      diag(Eᵀ(B + λI)⁻¹E)ᵢ = ‖L⁻¹E eᵢ‖² = Σₖ (L⁻¹E)ₖᵢ²   — one streaming pass over E for all λ at once,
///    and (B + λI)⁻¹E[Y_c | 1] is a banded solve. The formulas above hold with Q D Qᵀ replaced by qᵀ(B+λI)⁻¹q
///    (gram: c = qᵀ(B+λI)⁻¹q Y_c; cov: fitted = Eᵀ(B+λI)⁻¹E Y_c and W = qᵀ(B+λI)⁻¹E Y_c).
///  Cost: one Gram product (syrk, n·d·m/2 multiply-adds, m = min(n, d)), one reduction (~(8/3)m³, BLAS-3 for
///  `.band`), in cov mode one n·d² gemm for E, then O(n·m·b·n_λ) streaming work; coefficients only for the chosen λ.
///
/// Scores and tie-breaking (scikit-learn's `RidgeClassifierCV`, LOO mode):
///  * `.squaredError` (sklearn's default, `scoring=None`): mean over all n·K′ entries of eᵢₖ², on the ±1 targets.
///  * `.accuracy`: the LOO prediction Yᵢ − eᵢ (+ ȳ) is classified by argmax (sign for K′ = 1) and compared with yᵢ.
///    For K ≥ 3 this equals sklearn's `scoring="accuracy"`. For K = 2 sklearn's LOO accuracy is degenerate (its
///    identity classifier takes argmax over the single column, so every λ scores 1.0 and the first λ wins); we
///    compute the real sign-based LOO accuracy instead, so binary `--select accuracy` deliberately differs.
///  * Ties: the FIRST λ in the given order with the best score wins (sklearn updates only on strict improvement).
///    λ must be > 0.
///
/// Guarantees: with either decomposition, the chosen λ equals scikit-learn's on the committed fixtures
/// (Tests/ProbesTests/Fixtures: n > d, n < d, n = d, binary and 5-class, accuracy selection, standardised) and
/// coefficients/intercepts agree to 1e-5 relative (the LOO MSE curve to 1e-8); LOO scores agree with n brute-force
/// refits to 1e-9. Not guaranteed: the same λ as sklearn when two λ score within rounding of each other.
/// Features given as Float32 are converted to Float64 while centring; Gram, eigen and LOO work are Float64.
///
/// ## Ridge from mergeable sufficient statistics (`RidgeStatistics`)
///
/// For features split over shards or larger than RAM: per shard n, μ, the centred XᵀX, the per-label centred sums
/// and counts (Float64, merged by Chan et al.'s pairwise update), then the same exact-LOO ridge ("cov" formulas
/// above) from one d × d eigendecomposition plus a second streaming pass over the rows for the per-row leverages.
/// Same λ as `RidgeClassifier.fit` on the concatenated rows, coefficients to 1e-9 relative (tested).
///
/// ## Logistic regression (`LogisticRegression.fit` / `fitCV`)
///
/// scikit-learn's `LogisticRegression(C=…)` objective, intercept unpenalised:
///   K ≥ 3: multinomial softmax, minimise C·Σᵢ −log softmax(Wᵀxᵢ + b)_{yᵢ} + ½‖W‖²_F, W is d × K;
///   K = 2: one logit column (as sklearn), minimise C·Σᵢ [log(1 + e^{zᵢ}) − yᵢzᵢ] + ½‖w‖², zᵢ = wᵀxᵢ + b.
/// Solved by L-BFGS (memory 10, strong-Wolfe line search) with gradients through BLAS gemm: logits = X_cW + b,
/// ∇W = X_cᵀ(P − Y)·C + W. X is centred internally (exact: only the intercept changes) for conditioning. The
/// softmax intercepts are shift-invariant; like sklearn's gradient path we report the ones summing to zero.
/// C is chosen by stratified k-fold CV (sklearn's `StratifiedKFold(k)` fold assignment without shuffling) on a
/// grid (default logspace(−6, 4, 11); sklearn's `Cs=10` is logspace(−4, 4, 10)) by mean fold accuracy, first best on
/// ties, then refit on all the data. K ≥ 3 classes: multinomial, or one-vs-rest (`LogisticMulticlass`: K binary
/// problems on the same folds, each with its own C, as sklearn's liblinear `multi_class="ovr"`). Guarantee:
/// coefficients agree with sklearn to 1e-4 on the fixtures.
///
/// ## Grids that cannot silently clip (`GridExtension`, `GridSearch`)
/// Ridge λ (default logspace(−3, 6, 19)) and logistic C grids grow past an end when the chosen value sits there and
/// beats its neighbour, up to stated limits (λ 10⁻⁸…10¹², C 10⁻¹⁰…10⁸); every model records what was searched and
/// whether its choice is still at an end.
///
/// ## The paper's protocol (`ProbeProtocol`)
/// lmprobe's settings and the official evaluation code's, documented side by side.
///
/// ## Metrics and uncertainty (`ClassificationMetrics`, `Intervals`, `PairedComparison`)
/// Accuracy with its 95 % Wilson interval, per-class accuracy (recall of each class), confusion counts (row = truth,
/// column = prediction), per-example correctness and, for probabilistic models, the mean log-loss with its bootstrap
/// interval over test examples. Two probes on the same test examples: McNemar exact and mid-p, and the paired
/// bootstrap of the accuracy difference. Over K resamplings: mean ± sample std (`ResampledScore`).
import Foundation
import Linalg

/// Bad probe input or a failed solve. Each description is one line; the CLI prefixes the offending file name.
public enum ProbeError: Error, CustomStringConvertible, Equatable {
    case empty(String)
    case lengthMismatch(features: Int, labels: Int)
    case nonFinite(row: Int, column: Int)
    case singleClass(label: Int)
    case labelOutOfRange(index: Int, label: Int, classes: Int)
    case widthMismatch(expected: Int, got: Int)
    case invalidArgument(String)
    case numerical(String)

    public var description: String {
        switch self {
        case let .empty(what): return "empty data: \(what)"
        case let .lengthMismatch(f, l): return "\(f) feature rows but \(l) labels"
        case let .nonFinite(r, c): return "non-finite feature value (NaN or inf) at row \(r), column \(c)"
        case let .singleClass(label): return "all training labels are \(label): a probe needs at least two classes"
        case let .labelOutOfRange(i, l, k): return "label \(l) at index \(i) is outside 0..<\(k)"
        case let .widthMismatch(e, g): return "features have \(g) columns but the probe was trained on \(e)"
        case let .invalidArgument(m): return m
        case let .numerical(m): return m
        }
    }
}

/// `count` values 10^(lo … hi), evenly spaced in the exponent (numpy's `logspace(lo, hi, count)`).
public func logspace(_ lo: Double, _ hi: Double, _ count: Int) -> [Double] {
    if count <= 0 { return [] }
    if count == 1 { return [Foundation.pow(10, lo)] }
    let step = (hi - lo) / Double(count - 1)  // numpy.linspace: i·step + lo, the last point exactly hi
    return (0..<count).map { i in Foundation.pow(10, i == count - 1 ? hi : Double(i) * step + lo) }
}

/// Checks shapes, finiteness and labels; returns the number of distinct classes present.
@_specialize(where T == Float)
@_specialize(where T == Double)
func validateTraining<T: BLASScalar>(_ x: Matrix<T>, _ labels: [Int], classes: Int) throws {
    guard x.rows > 0 else { throw ProbeError.empty("no training rows") }
    guard x.cols > 0 else { throw ProbeError.empty("features have no columns") }
    guard labels.count == x.rows else { throw ProbeError.lengthMismatch(features: x.rows, labels: labels.count) }
    guard classes >= 2 else { throw ProbeError.invalidArgument("a probe needs classes ≥ 2 (got \(classes))") }
    for (i, l) in labels.enumerated() where l < 0 || l >= classes {
        throw ProbeError.labelOutOfRange(index: i, label: l, classes: classes)
    }
    if labels.allSatisfy({ $0 == labels[0] }) { throw ProbeError.singleClass(label: labels[0]) }
    try checkFinite(x)
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func checkFinite<T: BLASScalar>(_ x: Matrix<T>) throws {
    let p = x.pointer, ld = x.stride
    for i in 0..<x.rows {
        let row = p + i &* ld
        for j in 0..<x.cols where !row[j].isFinite { throw ProbeError.nonFinite(row: i, column: j) }
    }
}

/// Column means μ (and population standard deviations σ, 0 → 1, when `standardize`) of X, and the centred
/// (and scaled) copy X_c in Float64: the one pass that turns Float32 features into Double — or, with `float32`
/// and Float32 features, X_c rounded to Float32 in `xc32` (for the ridge's Float32 Gram; `xc` is then 0 × d).
struct CentredFeatures {
    let xc: Matrix<Double>
    let xc32: Matrix<Float>?
    let mean: [Double]
    let scale: [Double]?

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    init<T: BLASScalar>(_ x: Matrix<T>, standardize: Bool, float32: Bool = false) {
        let (mean, scale) = Self.statistics(x, standardize: standardize)
        if float32, let x32 = x as? Matrix<Float> {
            xc32 = Self.centred(x32, mean: mean, scale: scale, as: Float.self)
            xc = Matrix<Double>(rows: 0, cols: x.cols)
        } else {
            xc32 = nil
            xc = Self.centred(x, mean: mean, scale: scale, as: Double.self)
        }
        self.mean = mean
        self.scale = scale
    }

    /// μ, and σ (from the centred values in Float64) when `standardize`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func statistics<T: BLASScalar>(_ x: Matrix<T>, standardize: Bool) -> (mean: [Double], scale: [Double]?) {
        let n = x.rows, d = x.cols, ld = x.stride, src = x.pointer
        var mean = [Double](repeating: 0, count: d)
        mean.withUnsafeMutableBufferPointer { m in
            let mp = m.baseAddress!
            for i in 0..<n {
                let row = src + i &* ld
                for j in 0..<d { mp[j] += Double(row[j]) }
            }
            let inv = 1 / Double(n)
            for j in 0..<d { mp[j] *= inv }
        }
        guard standardize else { return (mean, nil) }
        var s = [Double](repeating: 0, count: d)
        s.withUnsafeMutableBufferPointer { sb in
            mean.withUnsafeBufferPointer { m in
                let sp = sb.baseAddress!, mp = m.baseAddress!
                for i in 0..<n {
                    let row = src + i &* ld
                    for j in 0..<d { let c = Double(row[j]) - mp[j]; sp[j] += c * c }
                }
                for j in 0..<d {
                    let sd = (sp[j] / Double(n)).squareRoot()
                    sp[j] = sd > 0 && sd.isFinite ? sd : 1
                }
            }
        }
        return (mean, s)
    }

    /// (X − 1μᵀ) [/ σ] computed in Float64, stored as S (parallel over rows).
    @_specialize(where T == Float, S == Double)
    @_specialize(where T == Double, S == Double)
    @_specialize(where T == Float, S == Float)
    static func centred<T: BLASScalar, S: BLASScalar>(_ x: Matrix<T>, mean: [Double], scale: [Double]?,
                                                     as: S.Type) -> Matrix<S> {
        let n = x.rows, d = x.cols, ld = x.stride, src = x.pointer
        let xc = Matrix<S>(rows: n, cols: d)
        let dst = xc.pointer
        mean.withUnsafeBufferPointer { m in
            let mp = m.baseAddress!
            (scale ?? []).withUnsafeBufferPointer { sb in
                let sp = scale == nil ? nil : sb.baseAddress
                parallelChunks(n, minChunk: 64) { range in
                    for i in range {
                        let row = src + i &* ld, out = dst + i &* d
                        if let sp {
                            for j in 0..<d { out[j] = S((Double(row[j]) - mp[j]) / sp[j]) }
                        } else {
                            for j in 0..<d { out[j] = S(Double(row[j]) - mp[j]) }
                        }
                    }
                }
            }
        }
        return xc
    }
}

/// Decision scores X·W + 1bᵀ (n × K′) for a linear model whose W is d × K′, with X in any precision.
@_specialize(where T == Float)
@_specialize(where T == Double)
func linearScores<T: BLASScalar>(_ x: Matrix<T>, coefficients w: Matrix<Double>, intercepts b: [Double]) throws
    -> Matrix<Double> {
    guard x.cols == w.rows else { throw ProbeError.widthMismatch(expected: w.rows, got: x.cols) }
    try checkFinite(x)
    let xd = doubleMatrix(x)
    let s = Matrix<Double>(rows: x.rows, cols: w.cols)
    for i in 0..<x.rows { for k in 0..<w.cols { s.pointer[i &* w.cols &+ k] = b[k] } }
    if x.rows > 0 { try BLAS.gemm(xd, w, beta: 1, into: s) }
    return s
}

/// Class indices from decision scores: argmax over columns (first on ties), or score > 0 for one column.
func classesFromScores(_ s: Matrix<Double>) -> [Int] {
    let k = s.cols
    return (0..<s.rows).map { i in
        let row = s.pointer + i &* s.stride
        if k == 1 { return row[0] > 0 ? 1 : 0 }
        var best = 0
        for j in 1..<k where row[j] > row[best] { best = j }
        return best
    }
}

/// X in Float64 (shared, not copied, when it already is).
@_specialize(where T == Float)
@_specialize(where T == Double)
func doubleMatrix<T: BLASScalar>(_ x: Matrix<T>) -> Matrix<Double> {
    if let d = x as? Matrix<Double> { return d }
    let m = Matrix<Double>(rows: x.rows, cols: x.cols)
    let src = x.pointer, dst = m.pointer, ld = x.stride, c = x.cols
    parallelChunks(x.rows, minChunk: 64) { range in
        for i in range {
            let row = src + i &* ld, out = dst + i &* c
            for j in 0..<c { out[j] = Double(row[j]) }
        }
    }
    return m
}

/// How a hyperparameter grid (ridge λ, logistic C) grows when the selected value is at one of its ends, so a
/// search cannot silently clip: `pointsPerStep` more values at the grid's own log spacing at that end are appended
/// (after the given ones, so ties still go to the earlier values) and the search is repeated on them, until the
/// choice is interior or the next value would pass the stated limit. An end value that only ties with its
/// neighbour (a plateau, e.g. every tiny C predicting the majority class) is not extended, and a one-value grid
/// never is; `GridSearch.edge` still reports any choice left at an end.
public struct GridExtension: Codable, Equatable, Sendable {
    public var lowerLimit: Double
    public var upperLimit: Double
    public var pointsPerStep: Int

    public init(lowerLimit: Double, upperLimit: Double, pointsPerStep: Int = 4) {
        self.lowerLimit = lowerLimit; self.upperLimit = upperLimit; self.pointsPerStep = pointsPerStep
    }

    /// Ridge λ: 10⁻⁸ … 10¹², 12 values per round (6 decades of a half-decade grid): every round repeats the
    /// decomposition, while each extra λ costs only a banded solve and one streaming pass.
    public static let ridge = GridExtension(lowerLimit: 1e-8, upperLimit: 1e12, pointsPerStep: 12)
    /// Logistic C: 10⁻¹⁰ … 10⁸.
    public static let logistic = GridExtension(lowerLimit: 1e-10, upperLimit: 1e8)

    /// The values to add when `chosen` is at an end of `grid` and its score (`scores[i]` for `grid[i]`, higher is
    /// better) beats its neighbour's (nil: interior, a plateau, a one-value grid, or the limit reached).
    public func next(_ grid: [Double], scores: [Double], chosen: Double) -> (edge: GridSearch.Edge, values: [Double])? {
        let sorted = Array(Set(grid)).sorted()
        guard sorted.count >= 2, pointsPerStep >= 1, scores.count == grid.count else { return nil }
        let edge: GridSearch.Edge
        if chosen == sorted[0] { edge = .lower } else if chosen == sorted[sorted.count - 1] { edge = .upper } else { return nil }
        let neighbour = edge == .lower ? sorted[1] : sorted[sorted.count - 2]
        guard let ci = grid.firstIndex(of: chosen), let ni = grid.firstIndex(of: neighbour), scores[ci] > scores[ni] else {
            return nil
        }
        let ratio = edge == .lower ? sorted[1] / sorted[0] : sorted[sorted.count - 1] / sorted[sorted.count - 2]
        let start = edge == .lower ? sorted[0] : sorted[sorted.count - 1]
        var out: [Double] = []
        var v = start
        for _ in 0..<pointsPerStep {
            v = edge == .lower ? v / ratio : v * ratio
            guard v >= lowerLimit * (1 - 1e-12), v <= upperLimit * (1 + 1e-12), v.isFinite, v > 0 else { break }
            out.append(v)
        }
        return out.isEmpty ? nil : (edge, out)
    }
}

/// What a grid search actually searched, for the report.
public struct GridSearch: Codable, Equatable, Sendable {
    public enum Edge: String, Codable, Sendable { case lower, upper }
    /// The grid as given.
    public let requested: [Double]
    /// The grid searched (requested + extensions, in search order).
    public let searched: [Double]
    public let chosen: Double
    /// Extension rounds that were run.
    public let extensions: Int
    /// Set when the chosen value is still at an end of the searched grid (the limit was reached, or no extension).
    public let edge: Edge?
    public let limit: GridExtension?

    public init(requested: [Double], searched: [Double], chosen: Double, extensions: Int, limit: GridExtension?) {
        self.requested = requested; self.searched = searched; self.chosen = chosen; self.extensions = extensions
        self.limit = limit
        let lo = searched.min() ?? chosen, hi = searched.max() ?? chosen
        edge = searched.count < 2 ? nil : (chosen == lo ? .lower : (chosen == hi ? .upper : nil))
    }

    /// One line for a report: "" when the choice was interior of the requested grid.
    public var note: String {
        var parts: [String] = []
        if extensions > 0 {
            parts.append(String(format: "grid extended %d× to [%g, %g]", extensions, searched.min() ?? 0, searched.max() ?? 0))
        }
        if let e = edge {
            parts.append(String(format: "chosen %g is at the %@ end of the searched grid", chosen, e.rawValue)
                         + (limit != nil && extensions > 0 ? " (extension limit reached)" : ""))
        }
        return parts.joined(separator: "; ")
    }
}
