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
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .upToNextOption, help: "Training features (.npy), an extract folder, or every shard folder of one extraction.")
    var train: [String] = []
    @Option(help: "Training labels (.npy); default DIR/labels.npy when --train is a folder.") var trainLabels: String?
    @Option(parsing: .upToNextOption, help: "Test features (.npy), an extract folder, or every shard folder of one extraction.")
    var test: [String] = []
    @Option(help: "Test labels (.npy); default DIR/labels.npy when --test is a folder.") var testLabels: String?
    @Option(help: "Feature file inside extract folders.") var feature: FeatureFamily = .f
    @Option(help: "Probe.") var method: ProbeMethod = .ridge
    @Option(help: "Ridge λ grid, comma-separated (default logspace(-3, 6, 19); extended at an edge up to 1e-8…1e12).") var alphas: PositiveGrid?
    @Option(help: "Ridge λ selection: squared-error (sklearn's default) or accuracy.") var select: RidgeSelection = .squaredError
    @Option(help: "Ridge: auto (band for large Gram matrices, else tridiagonal), band, tridiagonal or eigen (sklearn's route); all exact.")
    var decomposition: RidgeDecomposition = .auto
    @Flag(help: "Standardise features (z-score with training mean and std) before fitting.") var standardize = false
    @Option(help: "Logistic: number of stratified CV folds.") var folds: Int = 5
    @Option(help: "Logistic C grid, comma-separated (default logspace(-6, 4, 11); extended at an edge up to 1e-10…1e8).") var cs: PositiveGrid?
    @Option(help: "Logistic: L-BFGS gradient tolerance (on the objective / (C·n)).") var tolerance: Double = 1e-6
    @Option(help: "Logistic: L-BFGS iteration limit per fit.") var maxIterations: Int = 1000
    @Option(help: "Write the ridge sufficient statistics of the --train rows to this file (streamed; no fit).")
    var statsOut: String?
    @Option(parsing: .upToNextOption, help: "Fit ridge from these statistics files (from --stats-out), merged.")
    var stats: [String] = []
    @Option(help: "Logistic, K ≥ 3 classes: multinomial or one-vs-rest (K binary problems, each with its own C).")
    var multiclass: LogisticMulticlass = .multinomial
    @Flag(help: "Search exactly the given λ / C grid (by default a choice at an end of the grid extends it, up to λ 1e-8…1e12, C 1e-10…1e8).")
    var fixedGrid = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        try alphas?.checkPositive("--alphas")
        try cs?.checkPositive("--cs")
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2 (got \(folds))") }
    }

    func run() throws {
        global.apply()
        let selection = select
        let alphaGrid = alphas?.values ?? RidgeClassifier.defaultAlphas
        let cGrid = cs?.values ?? LogisticRegression.defaultCs

        if let out = statsOut {
            guard stats.isEmpty, method == .ridge, !train.isEmpty else {
                throw CLIError("--stats-out writes ridge statistics of --train: give --train, not --stats, and no --method logistic")
            }
            try writeStatistics(to: out)
            return
        }
        guard stats.isEmpty != train.isEmpty else {
            throw CLIError(stats.isEmpty ? "give --train (features) or --stats (statistics files)" : "give --train or --stats, not both")
        }
        if !stats.isEmpty {
            guard method == .ridge else { throw CLIError("--stats: statistics give a ridge probe only (not --method \(method))") }
            guard decomposition == .auto else { throw CLIError("--stats: the fit from statistics always uses the d × d eigendecomposition (drop --decomposition)") }
        }
        // Every folder (train shards, test shards) must come from the same extraction settings as the first.
        if let first = train.first {
            for other in train.dropFirst() + test {
                try FeatureFolder.checkSameExtraction(train: URL(fileURLWithPath: first), test: URL(fileURLWithPath: other))
            }
        }
        // Training rows: features in memory, or merged statistics (streamed).
        let trainSet = stats.isEmpty ? try LabelledFeatures.load(train, labels: trainLabels, feature: feature, role: "--train") : nil
        let merged = stats.isEmpty ? nil : try Self.mergeStatistics(stats)
        // Statistics of extract folders name their feature family: the --test rows must be the same family.
        if let m = merged, !test.isEmpty,
           let family = m.sources.compactMap({ $0.tag.flatMap { ShardIdentity(tag: $0) }?.feature }).first,
           family != feature.rawValue {
            throw CLIError("--stats: the statistics are of \(family).npy but --feature is \(feature); give --feature \(family) for the --test folders")
        }
        let trainName = trainSet?.featuresPath ?? stats.joined(separator: " ")
        let trainLabelValues = trainSet?.labels ?? merged!.labelValues
        let nTrain = trainSet?.labels.count ?? merged!.n, width = trainSet?.features.cols ?? merged!.d
        let classValues = Array(Set(trainLabelValues)).sorted()
        guard nTrain > 0 else { throw CLIError("\(trainSet?.labelsPath ?? trainName): no labels") }
        guard classValues.count >= 2 else {
            throw CLIError("\(trainSet?.labelsPath ?? trainName): all training labels are \(classValues[0]); a probe needs two classes")
        }
        let index = Dictionary(uniqueKeysWithValues: classValues.enumerated().map { ($1, $0) })
        let y = trainSet?.labels.map { index[$0]! } ?? []
        let testSet = test.isEmpty ? nil : try LabelledFeatures.load(test, labels: testLabels, feature: feature, role: "--test")
        var yTest: [Int] = []
        if let t = testSet {
            guard t.features.cols == width else {
                throw CLIError("\(t.featuresPath): test features have \(t.features.cols) columns but the training features (\(trainName)) have \(width)")
            }
            try t.features.checkFinite(path: t.featuresPath)
            yTest = try t.labels.enumerated().map { i, l in
                guard let k = index[l] else {
                    throw CLIError("\(t.labelsPath): label \(l) at index \(i) does not occur in the training labels \(classValues)")
                }
                return k
            }
        }

        let start = Benchmark.now()
        var out = ProbeSummary(method: method.rawValue, classes: classValues, nTrain: nTrain, d: width,
                               standardize: standardize)
        // Class names from the extract folder's manifest, when it has one naming every label.
        let names = trainSet?.classNames.flatMap { n in classValues.allSatisfy { $0 >= 0 && $0 < n.count } ? n : nil }
        let className = { (v: Int) -> String in names.map { $0[v] } ?? "class \(v)" }
        if let names { out.classNames = classValues.map { names[$0] } }
        var rows: [(String, String)] = [("method", method.rawValue)]
        let predictTest: (AnyFeatures) throws -> [Int]
        var predictProbabilities: ((AnyFeatures) throws -> Matrix<Double>)? = nil
        let trainAccuracy: Double
        do {
            if method == .ridge {
                let m = try merged?.fit(alphas: alphaGrid, select: selection, standardize: standardize,
                                        extension: fixedGrid ? nil : .ridge)
                    ?? trainSet!.features.fitRidge(labels: y, classes: classValues.count, alphas: alphaGrid,
                                                   select: selection, standardize: standardize,
                                                   decomposition: decomposition, extend: !fixedGrid)
                if merged != nil { out.fromStatistics = stats }
                out.alpha = m.alpha; out.alphas = m.alphas; out.select = selection.rawValue
                out.looMse = m.looMeanSquaredError; out.looAccuracy = m.looAccuracy
                out.cvScore = m.looScore; out.mode = m.mode; out.decomposition = m.decomposition.rawValue
                trainAccuracy = m.trainAccuracy
                rows += [("alpha (λ)", fmt(m.alpha)),
                         ("LOO \(selection == .squaredError ? "mean sq. error" : "accuracy")", fmt(m.looScore)),
                         ("LOO accuracy", fmt(m.looAccuracy[m.chosenIndex])),
                         ("eigen mode", m.mode == "cov" ? "XᵀX (n > d)" : "XXᵀ (n ≤ d)")]
                if let g = m.gridSearch, !g.note.isEmpty { rows.append(("λ grid", g.note)); out.gridNote = g.note }
                out.alphasSearched = m.gridSearch?.searched ?? m.alphas
                predictTest = { try $0.predict(ridge: m) }
            } else {
                let m = try trainSet!.features.fitLogistic(labels: y, classes: classValues.count, Cs: cGrid, folds: folds,
                                                          standardize: standardize, tolerance: tolerance,
                                                          maxIterations: maxIterations, multiclass: multiclass,
                                                          extend: !fixedGrid)
                out.multiclass = m.multiclass.rawValue
                if !m.perClassC.isEmpty { out.perClassC = m.perClassC }
                out.c = m.C; out.cs = m.Cs; out.folds = folds; out.cvAccuracy = m.cvAccuracy
                out.cvScore = m.cvScore; out.trainLogLoss = m.trainLogLoss
                out.converged = m.converged; out.iterations = m.iterations
                trainAccuracy = m.trainAccuracy
                rows += [("C", fmt(m.C)), ("CV accuracy (\(folds)-fold)", m.cvScore.map(fmt) ?? "–"),
                         ("train log-loss", fmt(m.trainLogLoss)),
                         ("L-BFGS", "\(m.iterations) iterations\(m.converged ? "" : " (NOT converged)")")]
                if let g = m.gridSearch, !g.note.isEmpty { rows.append(("C grid", g.note)); out.gridNote = g.note }
                predictTest = { try $0.predict(logistic: m) }
                predictProbabilities = { try $0.predictProbabilities(logistic: m) }
            }
        } catch let e as ProbeError {
            throw CLIError(trainSet?.describe(e) ?? "\(trainName): \(e)")
        }
        out.trainAccuracy = trainAccuracy
        rows.append(("train accuracy", fmt(trainAccuracy)))
        if let t = testSet {
            let predicted = try predictTest(t.features)
            let metrics = try ClassificationMetrics(predicted: predicted, truth: yTest, classes: classValues.count,
                                                    probabilities: try predictProbabilities?(t.features))
            out.testAccuracy = Nullable(metrics.accuracy); out.nTest = yTest.count
            out.testAccuracyInterval = metrics.accuracyInterval.map { [$0.lower, $0.upper] }
            out.testLogLoss = metrics.logLoss
            out.testLogLossInterval = metrics.logLossInterval.map { [$0.lower, $0.upper] }
            out.testPerClassAccuracy = metrics.perClassAccuracy
            out.testConfusion = metrics.confusion
            rows.append(("test accuracy", fmt(metrics.accuracy) + (metrics.accuracyInterval.map {
                "  (95 % Wilson interval \(fmt($0.lower))–\(fmt($0.upper)))" } ?? "")))
            if let l = metrics.logLoss {
                rows.append(("test log-loss", fmt(l) + (metrics.logLossInterval.map {
                    "  (95 % bootstrap interval \(fmt($0.lower))–\(fmt($0.upper)))" } ?? "")))
            }
            for (k, v) in classValues.enumerated() {
                let total = metrics.confusion[k].reduce(0, +)
                rows.append(("  \(className(v))", metrics.perClassAccuracy[k].map { "\(fmt($0))  (n = \(total))" } ?? "– (n = 0)"))
            }
        }
        out.seconds = Benchmark.now() - start
        if json {
            try printJSON(out)
        } else {
            print("\(method.rawValue) probe on \(trainName)\(merged == nil ? "" : " (statistics)"): n = \(nTrain), d = \(width), \(classValues.count) classes")
            let width = rows.map(\.0.count).max() ?? 0
            for (k, v) in rows { print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
        }
    }

    /// `--stats-out`: statistics of every --train source, streamed, merged in shard order, written atomically.
    func writeStatistics(to path: String) throws {
        let sources = try LabelledFeatures.sources(train, labels: trainLabels, feature: feature, role: "--train",
                                                   complete: false)
        var total: RidgeStatistics? = nil
        do {
            for src in sources {
                let labels = try NPY.readIntegers(URL(fileURLWithPath: src.labelsPath))
                let tag = try src.identity.map { try $0.tag() }
                let part = try RidgeStatistics.accumulate(features: URL(fileURLWithPath: src.featuresPath).standardizedFileURL,
                                                          labels: labels,
                                                          labelsPath: URL(fileURLWithPath: src.labelsPath).standardizedFileURL.path,
                                                          tag: tag)
                if total == nil { total = part } else { try total!.merge(part) }
            }
            try total!.write(to: URL(fileURLWithPath: path))
        } catch let e as ProbeError {
            throw CLIError("\(e)")
        }
        let t = total!
        let line = "statistics of \(t.n) rows × \(t.d) features (labels \(t.labelValues.map(String.init).joined(separator: ", "))) from \(sources.count) source\(sources.count == 1 ? "" : "s") → \(path)"
        if json {
            struct Written: Encodable { var statsOut: String; var n, d: Int; var labels: [Int]; var sources: Int }
            try printJSON(Written(statsOut: path, n: t.n, d: t.d, labels: t.labelValues, sources: sources.count))
        } else {
            print(line)
        }
    }

    /// Reads and merges statistics files, refusing a set whose shards are incomplete, repeated or mismatched.
    static func mergeStatistics(_ paths: [String]) throws -> RidgeStatistics {
        var files: [RidgeStatistics] = []
        for p in paths {
            do { files.append(try RidgeStatistics(contentsOf: URL(fileURLWithPath: p))) } catch let e as ProbeError {
                throw CLIError("--stats: \(e)")
            }
        }
        // Every source of every file: a shard identity (from extract folders) or a plain features file.
        var parts: [(name: String, identity: ShardIdentity, file: Int)] = []
        var plain: [String: String] = [:]
        for (f, st) in files.enumerated() {
            for src in st.sources {
                if let tag = src.tag {
                    guard let id = ShardIdentity(tag: tag) else {
                        throw CLIError("\(paths[f]): source \(src.features) has an unreadable provenance tag")
                    }
                    parts.append(("\(src.features) (in \(paths[f]))", id, f))
                } else {
                    if let other = plain[src.features] {
                        throw CLIError("--stats: \(src.features) is counted twice (in \(other) and \(paths[f]))")
                    }
                    plain[src.features] = paths[f]
                }
            }
        }
        guard parts.isEmpty || plain.isEmpty else {
            throw CLIError("--stats: statistics of extract folders and of plain feature files cannot be merged (\(plain.keys.sorted().first!))")
        }
        var fileOrder = Array(files.indices)
        if !parts.isEmpty {
            let order: [Int]
            do { order = try ShardIdentity.order(parts.map { ($0.name, $0.identity) }) } catch {
                throw CLIError("--stats: \(error)")
            }
            var seen = Set<Int>()
            fileOrder = order.map { parts[$0].file }.filter { seen.insert($0).inserted }
        }
        let d = files[fileOrder[0]].d
        var merged = RidgeStatistics(d: d)
        for f in fileOrder {
            guard files[f].d == d else {
                throw CLIError("\(paths[f]): statistics of \(files[f].d) features, but \(paths[fileOrder[0]]) has \(d)")
            }
            try merged.merge(files[f])
        }
        return merged
    }

    func fmt(_ v: Double) -> String { String(format: abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? "%.4g" : "%.4f", v) }
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

    init(method: String, classes: [Int], nTrain: Int, d: Int, standardize: Bool) {
        self.method = method; self.classes = classes; self.nTrain = nTrain; self.d = d; self.standardize = standardize
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
