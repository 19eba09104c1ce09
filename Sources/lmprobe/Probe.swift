import ArgumentParser
import Experiments
import Features
import Foundation
import Linalg
import Probes

/// `lmprobe probe`: fit a linear probe (ridge with exact LOO λ, or logistic with CV over C) on .npy features.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Fit a ridge (exact LOO λ) or logistic (k-fold CV over C) probe on .npy features and report accuracy.",
        discussion: """
        Features: an n × d .npy array (<f4, <f2 or <f8); labels: a 1-D integer .npy array. An extract folder may \
        stand for a features + labels pair: `--train DIR --feature f` reads DIR/f.npy and DIR/labels.npy.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Training features (.npy) or an extract folder.") var train: String
    @Option(help: "Training labels (.npy); default DIR/labels.npy when --train is a folder.") var trainLabels: String?
    @Option(help: "Test features (.npy) or an extract folder.") var test: String?
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

        let trainSet = try LabelledFeatures.load(train, labels: trainLabels, feature: feature, role: "--train")
        let classValues = Array(Set(trainSet.labels)).sorted()
        guard !trainSet.labels.isEmpty else { throw CLIError("\(trainSet.labelsPath): no labels") }
        guard classValues.count >= 2 else {
            throw CLIError("\(trainSet.labelsPath): all training labels are \(classValues[0]); a probe needs two classes")
        }
        let index = Dictionary(uniqueKeysWithValues: classValues.enumerated().map { ($1, $0) })
        let y = trainSet.labels.map { index[$0]! }
        let testSet = try test.map { try LabelledFeatures.load($0, labels: testLabels, feature: feature, role: "--test") }
        var yTest: [Int] = []
        if let t = testSet {
            guard t.features.cols == trainSet.features.cols else {
                throw CLIError("\(t.featuresPath): test features have \(t.features.cols) columns but the training features (\(trainSet.featuresPath)) have \(trainSet.features.cols)")
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
        var out = Summary(method: method.rawValue, classes: classValues, nTrain: y.count, d: trainSet.features.cols,
                          standardize: standardize)
        var rows: [(String, String)] = [("method", method.rawValue)]
        // Class names from the extract folder's manifest, when it has one naming every label.
        let names = trainSet.classNames.flatMap { n in classValues.allSatisfy { $0 >= 0 && $0 < n.count } ? n : nil }
        let className = { (v: Int) -> String in names.map { $0[v] } ?? "class \(v)" }
        out.classNames = names.map { n in classValues.map { n[$0] } }
        let predictTest: (AnyFeatures) throws -> [Int]
        var predictProbabilities: ((AnyFeatures) throws -> Matrix<Double>)? = nil
        let trainAccuracy: Double
        do {
            if method == .ridge {
                let m = try trainSet.features.fitRidge(labels: y, classes: classValues.count, alphas: alphaGrid,
                                                       select: selection, standardize: standardize,
                                                       decomposition: decomposition, extend: !fixedGrid)
                out.alpha = m.alpha; out.alphas = m.alphas; out.select = selection.rawValue
                out.looMSE = m.looMeanSquaredError; out.looAccuracy = m.looAccuracy
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
                let m = try trainSet.features.fitLogistic(labels: y, classes: classValues.count, Cs: cGrid, folds: folds,
                                                          standardize: standardize, tolerance: tolerance,
                                                          maxIterations: maxIterations, multiclass: multiclass,
                                                          extend: !fixedGrid)
                out.multiclass = m.multiclass.rawValue
                if !m.perClassC.isEmpty { out.perClassC = m.perClassC }
                out.C = m.C; out.Cs = m.Cs; out.folds = folds; out.cvAccuracy = m.cvAccuracy
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
            throw CLIError(trainSet.describe(e))
        }
        out.trainAccuracy = trainAccuracy
        rows.append(("train accuracy", fmt(trainAccuracy)))
        if let t = testSet {
            let predicted = try predictTest(t.features)
            let metrics = try ClassificationMetrics(predicted: predicted, truth: yTest, classes: classValues.count,
                                                    probabilities: try predictProbabilities?(t.features))
            out.testAccuracy = metrics.accuracy; out.nTest = yTest.count
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
            print("\(method.rawValue) probe on \(trainSet.featuresPath): n = \(y.count), d = \(trainSet.features.cols), \(classValues.count) classes")
            let width = rows.map(\.0.count).max() ?? 0
            for (k, v) in rows { print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
        }
    }

    /// `--json`: every number of the fit (null where it does not apply).
    struct Summary: Encodable {
        let method: String
        let classes: [Int]
        let nTrain, d: Int
        let standardize: Bool
        var alpha: Double?, alphas: [Double]?, select: String?, looMSE: [Double]?, looAccuracy: [Double]?
        var cvScore: Double?, mode: String?, decomposition: String?
        var C: Double?, Cs: [Double]?, folds: Int?, cvAccuracy: [Double]?, trainLogLoss: Double?, converged: Bool?
        var iterations: Int?
        var trainAccuracy = 0.0
        var testAccuracy: Double?, nTest: Int?, testPerClassAccuracy: [Double?]?, testConfusion: [[Int]]?
        var testAccuracyInterval: [Double]?, testLogLoss: Double?, testLogLossInterval: [Double]?
        var gridNote: String?, alphasSearched: [Double]?
        var classNames: [String]?, multiclass: String?, perClassC: [Double]?
        var seconds = 0.0

        enum CodingKeys: String, CodingKey {
            case method, classes, nTrain = "n_train", d, standardize, alpha, alphas, select, looMSE = "loo_mse"
            case looAccuracy = "loo_accuracy", cvScore = "cv_score", mode, decomposition, C, Cs, folds
            case cvAccuracy = "cv_accuracy", trainLogLoss = "train_log_loss", converged, iterations
            case trainAccuracy = "train_accuracy", testAccuracy = "test_accuracy", nTest = "n_test"
            case testPerClassAccuracy = "test_per_class_accuracy", testConfusion = "test_confusion", seconds
            case testAccuracyInterval = "test_accuracy_interval", testLogLoss = "test_log_loss"
            case testLogLossInterval = "test_log_loss_interval", gridNote = "grid_note", alphasSearched = "alphas_searched"
            case classNames = "class_names", multiclass, perClassC = "per_class_C"
        }

        func encode(to encoder: Encoder) throws {   // optional values as JSON null, so every key is always present
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(method, forKey: .method); try c.encode(classes, forKey: .classes)
            try c.encode(nTrain, forKey: .nTrain); try c.encode(d, forKey: .d); try c.encode(standardize, forKey: .standardize)
            try c.encode(alpha, forKey: .alpha); try c.encode(alphas, forKey: .alphas); try c.encode(select, forKey: .select)
            try c.encode(looMSE, forKey: .looMSE); try c.encode(looAccuracy, forKey: .looAccuracy)
            try c.encode(cvScore, forKey: .cvScore); try c.encode(mode, forKey: .mode)
            try c.encode(decomposition, forKey: .decomposition); try c.encode(C, forKey: .C); try c.encode(Cs, forKey: .Cs)
            try c.encode(folds, forKey: .folds); try c.encode(cvAccuracy, forKey: .cvAccuracy)
            try c.encode(trainLogLoss, forKey: .trainLogLoss); try c.encode(converged, forKey: .converged)
            try c.encode(iterations, forKey: .iterations); try c.encode(trainAccuracy, forKey: .trainAccuracy)
            try c.encode(testAccuracy, forKey: .testAccuracy); try c.encode(nTest, forKey: .nTest)
            try c.encode(testPerClassAccuracy, forKey: .testPerClassAccuracy)
            try c.encode(testConfusion, forKey: .testConfusion); try c.encode(seconds, forKey: .seconds)
            // Present only when measured (as before): the intervals and the log-loss.
            try c.encodeIfPresent(testAccuracyInterval, forKey: .testAccuracyInterval)
            try c.encodeIfPresent(testLogLoss, forKey: .testLogLoss)
            try c.encodeIfPresent(testLogLossInterval, forKey: .testLogLossInterval)
            try c.encodeIfPresent(gridNote, forKey: .gridNote)
            try c.encodeIfPresent(alphasSearched, forKey: .alphasSearched)
            try c.encodeIfPresent(classNames, forKey: .classNames)
            try c.encodeIfPresent(multiclass, forKey: .multiclass)
            try c.encodeIfPresent(perClassC, forKey: .perClassC)
        }
    }

    func fmt(_ v: Double) -> String { String(format: abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? "%.4g" : "%.4f", v) }
}
