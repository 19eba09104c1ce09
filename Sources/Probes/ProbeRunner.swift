import Foundation
import Linalg
import Support

/// THE probe settings, with THE defaults: `lmprobe probe`, `compare`, `analyze transfer` and `synth measure` all
/// start from `ProbeSettings()` and fit through `ProbeRunner`, so one question (this folder, this probe) has one
/// answer. Why each default is what it is: Probes.docc/Probes.md, "One probe path, one set of defaults".
public struct ProbeSettings: Equatable, Sendable {
    public var method: ProbeMethod = .ridge
    /// z-score every column with the training mean and population std before fitting (coefficients map back).
    public var standardize = true
    /// Ridge: the λ grid, how λ is scored, and how the exact-LOO quantities are obtained.
    public var alphas: [Double] = RidgeClassifier.defaultAlphas
    public var select: RidgeSelection = .squaredError
    public var decomposition: RidgeDecomposition = .auto
    /// Grid growth at an edge (nil: search exactly the grid given).
    public var alphaExtension: GridExtension? = .ridge
    /// Logistic: the C grid, stratified CV folds, L-BFGS tolerance (on ‖∇‖_∞ of the objective / (C·n)) and
    /// iteration cap per fit, K ≥ 3 treatment, CV score, and grid growth.
    public var Cs: [Double] = LogisticRegression.defaultCs
    public var folds = 5
    public var tolerance = 1e-6
    public var maxIterations = 1000
    public var multiclass: LogisticMulticlass = .multinomial
    public var cvScoring: LogisticRegression.CVScoring = .accuracy
    public var cExtension: GridExtension? = .logistic

    public init() {}

    /// Both grid extensions on (the defaults) or off (`--fixed-grid`).
    public var extendGrids: Bool {
        get { alphaExtension != nil || cExtension != nil }
        set { alphaExtension = newValue ? .ridge : nil; cExtension = newValue ? .logistic : nil }
    }

    /// Refuses settings no fit can run with (the CLI's `validate()` calls it: a misuse is a usage error).
    public func check() throws {
        func bad(_ m: String) -> ProbeError { .invalidArgument(m) }
        for a in alphas where !(a > 0 && a.isFinite) { throw bad("λ must be positive and finite (got \(a))") }
        for c in Cs where !(c > 0 && c.isFinite) { throw bad("C must be positive and finite (got \(c))") }
        guard !alphas.isEmpty, !Cs.isEmpty else { throw bad("the λ and C grids must not be empty") }
        guard folds >= 2 else { throw bad("folds must be at least 2 (got \(folds))") }
        guard tolerance > 0, tolerance.isFinite else { throw bad("the L-BFGS tolerance must be positive (got \(tolerance))") }
        guard maxIterations >= 1 else { throw bad("the L-BFGS iteration limit must be at least 1 (got \(maxIterations))") }
    }
}

/// A probe fitted by `ProbeRunner`: the model, the label value of each class index, and what to report.
public struct FittedProbe {
    public enum Model { case ridge(RidgeModel), logistic(LogisticModel) }
    public let model: Model
    public let settings: ProbeSettings
    /// classValues[k] is the label value of class index k (ascending).
    public let classValues: [Int]
    /// Whether the fit streamed its features from their file (`ProbeRunner.fit(streaming:…)`) instead of holding them.
    public var streamed = false
    public var classes: Int { classValues.count }

    public var ridge: RidgeModel? { if case .ridge(let m) = model { return m } else { return nil } }
    public var logistic: LogisticModel? { if case .logistic(let m) = model { return m } else { return nil } }
    public var trainAccuracy: Double {
        switch model { case .ridge(let m): return m.trainAccuracy; case .logistic(let m): return m.trainAccuracy }
    }
    /// λ (ridge) or C (logistic; for one-vs-rest the geometric mean of the per-class C).
    public var regularisation: Double {
        switch model { case .ridge(let m): return m.alpha; case .logistic(let m): return m.C }
    }
    /// e.g. "ridge α=31.6" or "logistic C=0.01" or "logistic one-vs-rest C=0.1/1/10".
    public var detail: String {
        switch model {
        case .ridge(let m): return "ridge α=\(m.alpha)"
        case .logistic(let m):
            return m.multiclass == .oneVsRest && m.classes > 2
                ? "logistic one-vs-rest C=" + m.perClassC.map { String(format: "%g", $0) }.joined(separator: "/")
                : "logistic C=\(m.C)"
        }
    }
    /// Set when λ/C was chosen at an end of the searched grid or the grid was extended (nil otherwise).
    public var gridNote: String? {
        let notes: [String]
        switch model {
        case .ridge(let m): notes = [m.gridSearch?.note ?? ""]
        case .logistic(let m): notes = [m.gridSearch?.note ?? ""] + m.oneVsRestNotes
        }
        let note = notes.filter { !$0.isEmpty }.joined(separator: "; ")
        return note.isEmpty ? nil : note
    }

    /// Class indices of `labels` (label values); a value the training labels did not have is named.
    public func classIndices(_ labels: [Int]) throws -> [Int] {
        let index = Dictionary(uniqueKeysWithValues: classValues.enumerated().map { ($1, $0) })
        return try labels.enumerated().map { i, l in
            guard let k = index[l] else {
                throw ProbeError.invalidArgument("label \(l) at index \(i) does not occur in the training labels \(classValues)")
            }
            return k
        }
    }

    /// Scores `x` once: predictions, metrics (with log-loss for logistic), and the probe's own test loss.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func evaluate<T: BLASScalar>(_ x: Matrix<T>, labels: [Int]) throws -> ProbeEvaluation {
        let truth = try classIndices(labels)
        switch model {
        case .ridge(let m):
            let scores = try m.decisionFunction(x)
            let metrics = try ClassificationMetrics(predicted: classesFromScores(scores), truth: truth, classes: classes)
            return ProbeEvaluation(metrics: metrics, loss: Self.squaredError(scores, truth))
        case .logistic(let m):
            let scores = try m.decisionFunction(x)
            let p = probabilities(fromLogits: scores, classes: m.classes, multiclass: m.multiclass)
            let metrics = try ClassificationMetrics(predicted: classesFromScores(scores), truth: truth, classes: classes,
                                                    probabilities: p)
            return ProbeEvaluation(metrics: metrics, loss: metrics.logLoss)
        }
    }

    /// Scores the features in `url` (a 2-D `.npy`) once, streamed a block of rows at a time (ridge only): the
    /// test rows of a streamed fit.
    public func evaluate(streaming url: URL, labels: [Int]) throws -> ProbeEvaluation {
        guard case .ridge(let m) = model else {
            throw ProbeError.invalidArgument("\(url.path): only a ridge probe scores features streamed from a file")
        }
        let truth = try classIndices(labels)
        let scores = try m.decisionFunction(streaming: url)
        guard scores.rows == truth.count else { throw ProbeError.lengthMismatch(features: scores.rows, labels: truth.count) }
        let metrics = try ClassificationMetrics(predicted: classesFromScores(scores), truth: truth, classes: classes)
        return ProbeEvaluation(metrics: metrics, loss: Self.squaredError(scores, truth))
    }

    /// Mean over all n·K′ entries of (score − target)², targets ±1 one-vs-rest (one column for two classes).
    static func squaredError(_ scores: Matrix<Double>, _ truth: [Int]) -> Double {
        var sse = 0.0
        for i in 0..<scores.rows {
            for k in 0..<scores.cols {
                let target: Double = scores.cols == 1 ? (truth[i] == 1 ? 1 : -1) : (truth[i] == k ? 1 : -1)
                let e = scores[i, k] - target
                sse += e * e
            }
        }
        return sse / Double(max(scores.rows * scores.cols, 1))
    }
}

/// A fitted probe scored on held-out rows.
public struct ProbeEvaluation {
    public let metrics: ClassificationMetrics
    /// Ridge: mean squared error of the decision scores on the ±1 targets (the probe's own loss); logistic: log-loss.
    public let loss: Double?
}

/// THE probe path: labels (any integer values) → class indices, the fit the settings ask for, the fitted probe.
public enum ProbeRunner {
    /// Fits `settings.method` on `x` (n × d, any precision). `classValues`: the label values of the classes, in
    /// class-index order (default: the distinct training labels, ascending); every training label must be one.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func fit<T: BLASScalar>(_ x: Matrix<T>, labels: [Int], classValues given: [Int]? = nil,
                                          settings: ProbeSettings) throws -> FittedProbe {
        try settings.check()
        let (classValues, y) = try classIndices(labels, given)
        let s = settings
        switch s.method {
        case .ridge:
            let m = try RidgeClassifier.fit(x: x, labels: y, classes: classValues.count, alphas: s.alphas,
                                            select: s.select, standardize: s.standardize,
                                            decomposition: s.decomposition, extension: s.alphaExtension)
            return FittedProbe(model: .ridge(m), settings: s, classValues: classValues)
        case .logistic:
            let m = try LogisticRegression.fitCV(x: x, labels: y, classes: classValues.count, Cs: s.Cs, folds: s.folds,
                                                 standardize: s.standardize, tolerance: s.tolerance,
                                                 maxIterations: s.maxIterations, multiclass: s.multiclass,
                                                 extension: s.cExtension, scoring: s.cvScoring)
            return FittedProbe(model: .logistic(m), settings: s, classValues: classValues)
        }
    }

    /// Class values (given, or the distinct labels ascending) and each label's class index.
    static func classIndices(_ labels: [Int], _ given: [Int]?) throws -> (values: [Int], indices: [Int]) {
        let classValues = given ?? Array(Set(labels)).sorted()
        guard !labels.isEmpty else { throw ProbeError.empty("no training labels") }
        guard classValues.count >= 2 else { throw ProbeError.singleClass(label: classValues.first ?? labels[0]) }
        let index = Dictionary(uniqueKeysWithValues: classValues.enumerated().map { ($1, $0) })
        let y = try labels.enumerated().map { i, l in
            guard let k = index[l] else { throw ProbeError.labelOutOfRange(index: i, label: l, classes: classValues.count) }
            return k
        }
        return (classValues, y)
    }

    /// Whether the features file with this header is fitted streamed (`fit(streaming:…)`) rather than loaded: a
    /// ridge probe on wide features (n ≤ d, the dual route) — the full-vocabulary probe on p_f, whose Float32
    /// copy alone would be n·V·4 bytes. THE route rule: `probe`, `compare` and every caller of the probe path that
    /// reads a features file ask it (through `ProbeRoute` in Experiments). Either route gives the same λ, LOO curve,
    /// accuracy and predictions (to the rounding of the Float32 Gram summed in another order); the streamed one is
    /// never the larger in memory, so no option chooses it by hand.
    public static func streams(_ header: NPY.Header, settings: ProbeSettings) -> Bool {
        scoresStreamed(header, settings: settings) && header.shape[0] <= header.shape[1]
    }

    /// Whether a probe fitted with `settings` scores a features file with this header streamed a block of rows at a
    /// time (`FittedProbe.evaluate(streaming:…)`): a ridge probe, a 2-D float file.
    public static func scoresStreamed(_ header: NPY.Header, settings: ProbeSettings) -> Bool {
        settings.method == .ridge && header.shape.count == 2 && ["<f2", "<f4", "<f8"].contains(header.descr)
    }

    /// Refuses, before anything is read, an in-memory fit of `settings` on the file with this header (`name` in
    /// the message) that cannot fit in memory (`SystemMemory.require`). Its footprint, a lower bound on the peak:
    /// X as loaded (Float32; Float64 for `<f8`), its centred copy (Float32 in ridge's gram mode on Float32
    /// features, else Float64) and three m × m Float64 matrices (the Gram or covariance and its factors,
    /// m = min(n, d)). The streamed route's peak is instead n² Gram + one column block (`RidgeClassifier.fit(streaming:…)`).
    public static func requireInMemory(_ header: NPY.Header, settings: ProbeSettings, name: String) throws {
        guard header.shape.count == 2 else { return }
        let n = header.shape[0], d = header.shape[1], m = min(n, d)
        let loaded = header.descr == "<f8" ? 8 : 4
        let centred = settings.method == .ridge && n <= d && loaded == 4 ? 4 : 8
        try SystemMemory.require([[n, d, loaded], [n, d, centred], [3, m, m, 8]],
                                 for: "the in-memory \(settings.method.rawValue) fit of \(name) (n = \(n), d = \(d))")
    }

    /// The ridge probe of `fit(_:…)` on the features in `url`, streamed from the file in column blocks
    /// (`RidgeClassifier.fit(streaming:…)`): the same λ, LOO scores and predictions as loading the file, without
    /// holding X. Only where `streams` says so.
    public static func fit(streaming url: URL, labels: [Int], classValues given: [Int]? = nil,
                           settings: ProbeSettings) throws -> FittedProbe {
        try settings.check()
        guard streams(try NPY.readHeader(url), settings: settings) else {
            throw ProbeError.invalidArgument("\(url.path): only a ridge probe on a 2-D float file with no more rows than columns is fitted streamed")
        }
        let (classValues, y) = try classIndices(labels, given)
        let s = settings
        let m = try RidgeClassifier.fit(streaming: url, labels: y, classes: classValues.count, alphas: s.alphas,
                                        select: s.select, standardize: s.standardize, decomposition: s.decomposition,
                                        extension: s.alphaExtension)
        return FittedProbe(model: .ridge(m), settings: s, classValues: classValues, streamed: true)
    }

    /// Ridge from merged sufficient statistics (a streaming pass over their sources; see `RidgeStatistics.fit`).
    /// The statistics' label values are the classes. Only ridge, with the eigendecomposition route.
    public static func fit(statistics: RidgeStatistics, settings: ProbeSettings) throws -> FittedProbe {
        try settings.check()
        guard settings.method == .ridge else {
            throw ProbeError.invalidArgument("statistics give a ridge probe only (not \(settings.method.rawValue))")
        }
        let m = try statistics.fit(alphas: settings.alphas, select: settings.select, standardize: settings.standardize,
                                   extension: settings.alphaExtension)
        return FittedProbe(model: .ridge(m), settings: settings, classValues: statistics.labelValues)
    }
}
