import ArgumentParser
import Experiments
import Features
import Foundation
import Linalg
import Probes
import Support

/// `lmprobe probe`: fit a linear probe (ridge with exact LOO λ, or logistic with CV over C) on .npy features.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Fit a ridge (exact LOO λ) or logistic (k-fold CV over C) probe on .npy features and report accuracy.",
        discussion: """
        Features: an n × d .npy array (<f4, <f2 or <f8); labels: a 1-D integer .npy array. An extract folder may \
        stand for a features + labels pair: `--train DIR --feature f` reads DIR/f.npy and DIR/labels.npy.
        Shards (`extract --shard k/n`): `--train S0 S1 … Sn-1` takes every shard folder of one extraction (any order;
        a missing, repeated or mismatched shard is refused) and probes their rows in dataset order.
        Statistics: `--train … --stats-out FILE` writes the ridge sufficient statistics (n, means, centred XᵀX, label
        sums; Float64) without fitting; `--stats A B …` merges statistics files and fits ridge with exact-LOO λ,
        streaming the recorded features once more for the per-row leverages (X is never held in memory).
        Memory: ridge on one wide features file (n ≤ d, e.g. p_f at V = 50,257) is fitted streamed from the file — \
        the n × n Gram accumulated from column blocks, X never held; the output's `route` says which way a fit went. \
        Anything else is read into memory after a check that it fits.
        Defaults — THE probe defaults, shared by probe, compare, analyze transfer and synth measure (Probes' DocC \
        overview says why): features standardised; ridge λ over logspace(-3, 6, 19) by exact leave-one-out squared \
        error; logistic C over logspace(-6, 4, 11) by 5-fold stratified CV accuracy, L-BFGS to tolerance 1e-6 within \
        1000 iterations, multinomial for K ≥ 3; a λ or C chosen at an end of its grid extends the grid.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup(title: "Rows") var rows: ProbeRowOptions
    @OptionGroup(title: "Probe settings (defaults shared with compare; see above)")
    var probe: ProbeOptions
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        if rows.statsOut != nil {
            guard rows.stats.isEmpty, !rows.train.isEmpty else {
                throw ValidationError("--stats-out writes the ridge statistics of --train: give --train, not --stats")
            }
            guard probe.method == .ridge else { throw ValidationError("--stats-out: statistics are of a ridge probe (drop --method \(probe.method))") }
            guard rows.test.isEmpty else { throw ValidationError("--stats-out fits nothing, so it scores no --test rows (drop --test)") }
        } else if rows.stats.isEmpty == rows.train.isEmpty {
            throw ValidationError(rows.stats.isEmpty ? "give --train (features) or --stats (statistics files)" : "give --train or --stats, not both")
        }
        if !rows.stats.isEmpty {
            guard probe.method == .ridge else { throw ValidationError("--stats: statistics give a ridge probe only (not --method \(probe.method))") }
            guard probe.decomposition == .auto else {
                throw ValidationError("--stats: the fit from statistics always uses the d × d eigendecomposition (drop --decomposition)")
            }
        }
        if rows.testLabels != nil && rows.test.isEmpty { throw ValidationError("--test-labels needs --test") }
        try probe.validateValues()
    }

    func run() throws {
        global.apply()
        if let out = rows.statsOut { return try writeStatistics(to: out) }
        var request = FeatureProbeRequest()
        request.train = rows.train; request.trainLabels = rows.trainLabels
        request.test = rows.test; request.testLabels = rows.testLabels
        request.feature = rows.feature; request.statistics = rows.stats
        request.settings = probe.settings
        let start = Benchmark.now()
        let outcome: FeatureProbeOutcome
        do { outcome = try FeatureProbe.run(request) } catch let e as FeatureError { throw CLIError("\(e)") }
        var out = ProbeSummary(outcome, settings: probe.settings)
        out.seconds = Benchmark.now() - start
        if json { return try printJSON(out) }
        print("\(probe.method.rawValue) probe on \(outcome.trainName)\(outcome.fromStatistics == nil ? "" : " (statistics)"): n = \(outcome.nTrain), d = \(outcome.d), \(outcome.probe.classes) classes")
        let table = Self.rows(outcome, folds: probe.folds)
        let width = table.map(\.0.count).max() ?? 0
        for (k, v) in table { print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
    }

    /// The table `probe` prints: the fit, then the test evaluation.
    static func rows(_ o: FeatureProbeOutcome, folds: Int) -> [(String, String)] {
        var rows: [(String, String)] = [("method", o.probe.settings.method.rawValue)]
        if let m = o.probe.ridge {
            rows += [("alpha (λ)", fmt(m.alpha)),
                     ("LOO \(m.selection == .squaredError ? "mean sq. error" : "accuracy")", fmt(m.looScore)),
                     ("LOO accuracy", fmt(m.looAccuracy[m.chosenIndex])),
                     ("eigen mode", m.mode == "cov" ? "XᵀX (n > d)" : "XXᵀ (n ≤ d)"),
                     ("route", ProbeSummary.route(o).replacingOccurrences(of: "-", with: " "))]
            if let note = m.gridSearch?.note, !note.isEmpty { rows.append(("λ grid", note)) }
        }
        if let m = o.probe.logistic {
            rows += [("C", fmt(m.C)), ("CV accuracy (\(folds)-fold)", m.cvScore.map(fmt) ?? "–"),
                     ("train log-loss", fmt(m.trainLogLoss)),
                     ("L-BFGS", "\(m.iterations) iterations\(m.converged ? "" : " (NOT converged)")")]
            if let note = m.gridSearch?.note, !note.isEmpty { rows.append(("C grid", note)) }
        }
        rows.append(("train accuracy", fmt(o.probe.trainAccuracy)))
        guard let t = o.test else { return rows }
        let metrics = t.metrics
        rows.append(("test accuracy", fmt(metrics.accuracy) + (metrics.accuracyInterval.map {
            "  (95 % Wilson interval \(fmt($0.lower))–\(fmt($0.upper)))" } ?? "")))
        if let l = metrics.logLoss {
            rows.append(("test log-loss", fmt(l) + (metrics.logLossInterval.map {
                "  (95 % bootstrap interval \(fmt($0.lower))–\(fmt($0.upper)))" } ?? "")))
        }
        for (k, v) in o.probe.classValues.enumerated() {
            let total = metrics.confusion[k].reduce(0, +)
            let name = o.classNames?[k] ?? "class \(v)"
            rows.append(("  \(name)", metrics.perClassAccuracy[k].map { "\(fmt($0))  (n = \(total))" } ?? "– (n = 0)"))
        }
        return rows
    }

    /// `--stats-out`: statistics of every --train source, streamed, merged in shard order, written atomically.
    func writeStatistics(to path: String) throws {
        let written: (statistics: RidgeStatistics, sources: Int)
        do {
            written = try FeatureProbe.writeStatistics(train: rows.train, labels: rows.trainLabels, feature: rows.feature,
                                                       to: path)
        } catch let e as FeatureError { throw CLIError("\(e)") }
        let t = written.statistics, count = written.sources
        if json {
            struct Written: Encodable { var statsOut: String; var n, d: Int; var labels: [Int]; var sources: Int }
            try printJSON(Written(statsOut: path, n: t.n, d: t.d, labels: t.labelValues, sources: count))
        } else {
            print("statistics of \(t.n) rows × \(t.d) features (labels \(t.labelValues.map(String.init).joined(separator: ", "))) from \(count) source\(count == 1 ? "" : "s") → \(path)")
        }
    }

    static func fmt(_ v: Double) -> String { String(format: abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? "%.4g" : "%.4f", v) }
}

/// `probe`'s rows: training features (or statistics) and test features.
struct ProbeRowOptions: ParsableArguments {
    @Option(parsing: .upToNextOption, help: "Training features (.npy), an extract folder, or every shard folder of one extraction.")
    var train: [String] = []
    @Option(help: "Training labels (.npy); default DIR/labels.npy when --train is a folder.") var trainLabels: String?
    @Option(parsing: .upToNextOption, help: "Test features (.npy), an extract folder, or every shard folder of one extraction.")
    var test: [String] = []
    @Option(help: "Test labels (.npy); default DIR/labels.npy when --test is a folder.") var testLabels: String?
    @Option(help: "Feature file inside extract folders.") var feature: FeatureFamily = .f
    @Option(help: "Write the ridge sufficient statistics of the --train rows to this file (streamed; no fit). It must be a new path or an earlier statistics file; nothing else is overwritten.")
    var statsOut: String?
    @Option(parsing: .upToNextOption, help: "Fit ridge from these statistics files (from --stats-out), merged.")
    var stats: [String] = []
}

/// THE probe settings as options (`ProbeSettings`: every default here is the library's, shared with `compare`).
struct ProbeOptions: ParsableArguments {
    static let defaults = ProbeSettings()
    @Option(help: "Probe.") var method: ProbeMethod = defaults.method
    @Flag(inversion: .prefixedNo, help: "Standardise features (z-score with the training mean and std) before fitting.")
    var standardize = defaults.standardize
    @Option(help: "Ridge λ grid, comma-separated (default logspace(-3, 6, 19); extended at an edge up to 1e-8…1e12).") var alphas: PositiveGrid?
    @Option(help: "Ridge λ selection: squared-error (sklearn's default) or accuracy.") var select: RidgeSelection = defaults.select
    @Option(help: "Ridge: auto (band for large Gram matrices, else tridiagonal), band, tridiagonal or eigen (sklearn's route); all exact.")
    var decomposition: RidgeDecomposition = defaults.decomposition
    @Option(help: "Logistic: number of stratified CV folds.") var folds: Int = defaults.folds
    @Option(help: "Logistic C grid, comma-separated (default logspace(-6, 4, 11); extended at an edge up to 1e-10…1e8).") var cs: PositiveGrid?
    @Option(help: "Logistic: L-BFGS gradient tolerance (on the objective / (C·n)).") var tolerance: Double = defaults.tolerance
    @Option(help: "Logistic: L-BFGS iteration limit per fit (≥ 1).") var maxIterations: Int = defaults.maxIterations
    @Option(help: "Logistic, K ≥ 3 classes: multinomial or one-vs-rest (K binary problems, each with its own C).")
    var multiclass: LogisticMulticlass = defaults.multiclass
    @Flag(help: "Search exactly the given λ / C grid (by default a choice at an end of the grid extends it, up to λ 1e-8…1e12, C 1e-10…1e8).")
    var fixedGrid = false

    var settings: ProbeSettings {
        var s = ProbeSettings()
        s.method = method; s.standardize = standardize
        s.alphas = alphas?.values ?? s.alphas; s.select = select; s.decomposition = decomposition
        s.Cs = cs?.values ?? s.Cs; s.folds = folds; s.tolerance = tolerance; s.maxIterations = maxIterations
        s.multiclass = multiclass
        s.extendGrids = !fixedGrid
        return s
    }

    func validateValues() throws {
        try alphas?.checkPositive("--alphas")
        try cs?.checkPositive("--cs")
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2 (got \(folds))") }
        guard tolerance > 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a positive number (got \(tolerance))") }
        guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1 (got \(maxIterations))") }
    }
}

/// `probe --json`: one object (snake_case keys, like every JSON lmprobe writes). Ridge-only and logistic-only fields
/// are absent for the other method; without --test, `test_accuracy` is null and the other `test_*` fields are absent.
struct ProbeSummary: Encodable {
    var method: String
    var classes: [Int]
    var classNames: [String]?
    var nTrain: Int
    var d: Int
    var standardize: Bool
    // ridge
    var fromStatistics: [String]?
    var alpha: Double?
    var alphas: [Double]?
    var alphasSearched: [Double]?
    var select: String?
    var looMse: [Double]?
    var looAccuracy: [Double]?
    var mode: String?
    var decomposition: String?
    /// "streamed" (X read in column blocks from its file, never held), "in-memory" or "statistics".
    var route: String?
    // logistic
    var multiclass: String?
    var perClassC: [Double]?
    var c: Double?
    var cs: [Double]?
    var folds: Int?
    var cvAccuracy: [Double]?
    var trainLogLoss: Double?
    var converged: Bool?
    var iterations: Int?
    // both
    var cvScore: Double?
    var gridNote: String?
    var trainAccuracy: Double = .nan
    var testAccuracy = Nullable<Double>(nil)
    var nTest: Int?
    var testAccuracyInterval: [Double]?
    var testLogLoss: Double?
    var testLogLossInterval: [Double]?
    var testPerClassAccuracy: [Double?]?
    var testConfusion: [[Int]]?
    var seconds: Double = 0

    init(_ o: FeatureProbeOutcome, settings: ProbeSettings) {
        method = settings.method.rawValue; classes = o.probe.classValues; classNames = o.classNames
        nTrain = o.nTrain; d = o.d; standardize = settings.standardize
        fromStatistics = o.fromStatistics
        if let m = o.probe.ridge {
            alpha = m.alpha; alphas = m.alphas; select = settings.select.rawValue
            looMse = m.looMeanSquaredError; looAccuracy = m.looAccuracy
            cvScore = m.looScore; mode = m.mode; decomposition = m.decomposition.rawValue
            route = Self.route(o)
            alphasSearched = m.gridSearch?.searched ?? m.alphas
        }
        if let m = o.probe.logistic {
            multiclass = m.multiclass.rawValue
            if !m.perClassC.isEmpty { perClassC = m.perClassC }
            c = m.C; cs = m.Cs; folds = settings.folds; cvAccuracy = m.cvAccuracy
            cvScore = m.cvScore; trainLogLoss = m.trainLogLoss
            converged = m.converged; iterations = m.iterations
        }
        gridNote = o.probe.gridNote
        trainAccuracy = o.probe.trainAccuracy
        if let t = o.test {
            let metrics = t.metrics
            testAccuracy = Nullable(metrics.accuracy); nTest = o.nTest
            testAccuracyInterval = metrics.accuracyInterval.map { [$0.lower, $0.upper] }
            testLogLoss = metrics.logLoss
            testLogLossInterval = metrics.logLossInterval.map { [$0.lower, $0.upper] }
            testPerClassAccuracy = metrics.perClassAccuracy
            testConfusion = metrics.confusion
        }
    }
}

extension ProbeSummary {
    /// How the ridge probe read its training rows (`ProbeRunner.streams` decides; `--stats` fits from statistics).
    static func route(_ o: FeatureProbeOutcome) -> String {
        o.fromStatistics != nil ? "statistics" : (o.probe.streamed ? "streamed" : "in-memory")
    }
}

/// An optional that encodes as JSON null instead of being left out.
struct Nullable<T: Encodable>: Encodable {
    var value: T?
    init(_ value: T?) { self.value = value }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}
