import ArgumentParser
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

    static let featureNames = ["f", "p", "phip", "subset_logits", "subset_probs"]

    @OptionGroup var global: GlobalOptions
    @Option(help: "Training features (.npy) or an extract folder.") var train: String
    @Option(help: "Training labels (.npy); default DIR/labels.npy when --train is a folder.") var trainLabels: String?
    @Option(help: "Test features (.npy) or an extract folder.") var test: String?
    @Option(help: "Test labels (.npy); default DIR/labels.npy when --test is a folder.") var testLabels: String?
    @Option(help: "Feature file inside extract folders: f, p, phip, subset_logits, subset_probs.") var feature: String = "f"
    @Option(help: "Probe: ridge or logistic.") var method: String = "ridge"
    @Option(help: "Ridge λ grid, comma-separated (default logspace(-3, 6, 19); extended at an edge up to 1e-8…1e12).") var alphas: String?
    @Option(help: "Ridge λ selection: squared-error (sklearn's default) or accuracy.") var select: String = "squared-error"
    @Option(help: "Ridge: auto (default: band for large Gram matrices, else tridiagonal), band, tridiagonal or eigen (sklearn's route); all exact.")
    var decomposition: String = "auto"
    @Flag(help: "Standardise features (z-score with training mean and std) before fitting.") var standardize = false
    @Option(help: "Logistic: number of stratified CV folds.") var folds: Int = 5
    @Option(help: "Logistic C grid, comma-separated (default logspace(-6, 4, 11); extended at an edge up to 1e-10…1e8).") var cs: String?
    @Option(help: "Logistic: L-BFGS gradient tolerance (on the objective / (C·n)).") var tolerance: Double = 1e-6
    @Option(help: "Logistic: L-BFGS iteration limit per fit.") var maxIterations: Int = 1000
    @Option(help: "Logistic, K ≥ 3 classes: multinomial or one-vs-rest (K binary problems, each with its own C).")
    var multiclass: LogisticMulticlass = .multinomial
    @Flag(help: "Search exactly the given λ / C grid (by default a choice at an end of the grid extends it, up to λ 1e-8…1e12, C 1e-10…1e8).")
    var fixedGrid = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        global.apply()
        guard method == "ridge" || method == "logistic" else {
            throw CLIError("--method: unknown probe '\(method)' (use ridge or logistic)")
        }
        guard let selection = RidgeSelection(rawValue: select) else {
            throw CLIError("--select: unknown selection '\(select)' (use squared-error or accuracy)")
        }
        guard let decomposition = RidgeDecomposition(rawValue: decomposition) else {
            throw CLIError("--decomposition: unknown decomposition '\(self.decomposition)' (use auto, band, tridiagonal or eigen)")
        }
        let alphaGrid = try alphas.map { try parseGrid($0, option: "--alphas") } ?? RidgeClassifier.defaultAlphas
        let cGrid = try cs.map { try parseGrid($0, option: "--cs") } ?? LogisticRegression.defaultCs
        guard folds >= 2 else { throw CLIError("--folds must be at least 2 (got \(folds))") }

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
        var out: [String: Any] = ["method": method, "classes": classValues, "n_train": y.count,
                                  "d": trainSet.features.cols, "standardize": standardize]
        // Class names from the extract folder's manifest, when it has one naming every label.
        let names = trainSet.classNames.flatMap { n in classValues.allSatisfy { $0 >= 0 && $0 < n.count } ? n : nil }
        let className = { (v: Int) -> String in names.map { $0[v] } ?? "class \(v)" }
        if let names { out["class_names"] = classValues.map { names[$0] } }
        var rows: [(String, String)] = [("method", method)]
        let predictTest: (AnyFeatures) throws -> [Int]
        var predictProbabilities: ((AnyFeatures) throws -> Matrix<Double>)? = nil
        let trainAccuracy: Double
        do {
            if method == "ridge" {
                let m = try trainSet.features.fitRidge(labels: y, classes: classValues.count, alphas: alphaGrid,
                                                       select: selection, standardize: standardize,
                                                       decomposition: decomposition, extend: !fixedGrid)
                out["alpha"] = m.alpha; out["alphas"] = m.alphas; out["select"] = selection.rawValue
                out["loo_mse"] = m.looMeanSquaredError; out["loo_accuracy"] = m.looAccuracy
                out["cv_score"] = m.looScore; out["mode"] = m.mode; out["decomposition"] = m.decomposition.rawValue
                trainAccuracy = m.trainAccuracy
                rows += [("alpha (λ)", fmt(m.alpha)),
                         ("LOO \(selection == .squaredError ? "mean sq. error" : "accuracy")", fmt(m.looScore)),
                         ("LOO accuracy", fmt(m.looAccuracy[m.chosenIndex])),
                         ("eigen mode", m.mode == "cov" ? "XᵀX (n > d)" : "XXᵀ (n ≤ d)")]
                if let g = m.gridSearch, !g.note.isEmpty { rows.append(("λ grid", g.note)); out["grid_note"] = g.note }
                out["alphas_searched"] = m.gridSearch?.searched ?? m.alphas
                predictTest = { try $0.predict(ridge: m) }
            } else {
                let m = try trainSet.features.fitLogistic(labels: y, classes: classValues.count, Cs: cGrid, folds: folds,
                                                          standardize: standardize, tolerance: tolerance,
                                                          maxIterations: maxIterations, multiclass: multiclass,
                                                          extend: !fixedGrid)
                out["multiclass"] = m.multiclass.rawValue
                if !m.perClassC.isEmpty { out["per_class_C"] = m.perClassC }
                out["C"] = m.C; out["Cs"] = m.Cs; out["folds"] = folds; out["cv_accuracy"] = m.cvAccuracy
                out["cv_score"] = m.cvScore ?? NSNull(); out["train_log_loss"] = m.trainLogLoss
                out["converged"] = m.converged; out["iterations"] = m.iterations
                trainAccuracy = m.trainAccuracy
                rows += [("C", fmt(m.C)), ("CV accuracy (\(folds)-fold)", m.cvScore.map(fmt) ?? "–"),
                         ("train log-loss", fmt(m.trainLogLoss)),
                         ("L-BFGS", "\(m.iterations) iterations\(m.converged ? "" : " (NOT converged)")")]
                if let g = m.gridSearch, !g.note.isEmpty { rows.append(("C grid", g.note)); out["grid_note"] = g.note }
                predictTest = { try $0.predict(logistic: m) }
                predictProbabilities = { try $0.predictProbabilities(logistic: m) }
            }
        } catch let e as ProbeError {
            throw CLIError(trainSet.describe(e))
        }
        out["train_accuracy"] = trainAccuracy
        rows.append(("train accuracy", fmt(trainAccuracy)))
        if let t = testSet {
            let predicted = try predictTest(t.features)
            let metrics = try ClassificationMetrics(predicted: predicted, truth: yTest, classes: classValues.count,
                                                    probabilities: try predictProbabilities?(t.features))
            out["test_accuracy"] = metrics.accuracy; out["n_test"] = yTest.count
            if let ci = metrics.accuracyInterval { out["test_accuracy_interval"] = [ci.lower, ci.upper] }
            if let l = metrics.logLoss { out["test_log_loss"] = l }
            if let ci = metrics.logLossInterval { out["test_log_loss_interval"] = [ci.lower, ci.upper] }
            out["test_per_class_accuracy"] = metrics.perClassAccuracy.map { $0 ?? NSNull() as Any }
            out["test_confusion"] = metrics.confusion
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
        } else {
            out["test_accuracy"] = NSNull()
        }
        out["seconds"] = Benchmark.now() - start
        if json {
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(method) probe on \(trainSet.featuresPath): n = \(y.count), d = \(trainSet.features.cols), \(classValues.count) classes")
            let width = rows.map(\.0.count).max() ?? 0
            for (k, v) in rows { print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
        }
    }

    func fmt(_ v: Double) -> String { String(format: abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? "%.4g" : "%.4f", v) }
}

/// A comma-separated grid of positive finite numbers (`--alphas`, `--cs`); errors name the option.
func parseGrid(_ text: String, option: String) throws -> [Double] {
    let values = try text.split(separator: ",").map { s -> Double in
        let t = s.trimmingCharacters(in: .whitespaces)
        guard let v = Double(t), v > 0, v.isFinite else { throw CLIError("\(option): '\(t)' is not a positive number") }
        return v
    }
    guard !values.isEmpty else { throw CLIError("\(option): empty list") }
    return values
}


/// Features kept in their file's precision (Float32/16 files as Float, float64 as Double) to spare memory.
enum AnyFeatures {
    case float(Matrix<Float>)
    case double(Matrix<Double>)

    var rows: Int { switch self { case .float(let m): return m.rows; case .double(let m): return m.rows } }
    var cols: Int { switch self { case .float(let m): return m.cols; case .double(let m): return m.cols } }

    func checkFinite(path: String) throws {
        func first<T: BLASScalar>(_ m: Matrix<T>) -> (Int, Int)? {
            for i in 0..<m.rows { for j in 0..<m.cols where !m[i, j].isFinite { return (i, j) } }
            return nil
        }
        let bad: (Int, Int)?
        switch self { case .float(let m): bad = first(m); case .double(let m): bad = first(m) }
        if let (i, j) = bad { throw CLIError("\(path): non-finite feature value (NaN or inf) at row \(i), column \(j)") }
    }

    func fitRidge(labels: [Int], classes: Int, alphas: [Double], select: RidgeSelection, standardize: Bool,
                  decomposition: RidgeDecomposition, extend: Bool) throws -> RidgeModel {
        let ext: GridExtension? = extend ? .ridge : nil
        switch self {
        case .float(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                           select: select, standardize: standardize,
                                                           decomposition: decomposition, extension: ext)
        case .double(let x): return try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                            select: select, standardize: standardize,
                                                            decomposition: decomposition, extension: ext)
        }
    }

    func fitLogistic(labels: [Int], classes: Int, Cs: [Double], folds: Int, standardize: Bool, tolerance: Double,
                     maxIterations: Int, multiclass: LogisticMulticlass, extend: Bool) throws -> LogisticModel {
        let ext: GridExtension? = extend ? .logistic : nil
        switch self {
        case .float(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
            multiclass: multiclass, extension: ext)
        case .double(let x): return try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, Cs: Cs,
            folds: folds, standardize: standardize, tolerance: tolerance, maxIterations: maxIterations,
            multiclass: multiclass, extension: ext)
        }
    }

    func predict(ridge m: RidgeModel) throws -> [Int] {
        switch self { case .float(let x): return try m.predict(x); case .double(let x): return try m.predict(x) }
    }

    func predict(logistic m: LogisticModel) throws -> [Int] {
        switch self { case .float(let x): return try m.predict(x); case .double(let x): return try m.predict(x) }
    }

    func predictProbabilities(logistic m: LogisticModel) throws -> Matrix<Double> {
        switch self {
        case .float(let x): return try m.predictProbabilities(x)
        case .double(let x): return try m.predictProbabilities(x)
        }
    }
}

/// A features file and its labels file, loaded and checked against each other.
struct LabelledFeatures {
    let featuresPath: String
    let labelsPath: String
    let features: AnyFeatures
    let labels: [Int]
    /// Names of the label values (index = label), from the extract folder's manifest.json when present.
    var classNames: [String]? = nil

    static func load(_ path: String, labels labelsOption: String?, feature: String, role: String) throws
        -> LabelledFeatures {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CLIError("\(path): no such file or folder (\(role))")
        }
        let featuresPath: String, labelsPath: String
        if isDir.boolValue {
            guard Probe.featureNames.contains(feature) else {
                throw CLIError("--feature: unknown feature '\(feature)' (use one of \(Probe.featureNames.joined(separator: ", ")))")
            }
            featuresPath = (path as NSString).appendingPathComponent("\(feature).npy")
            labelsPath = labelsOption ?? (path as NSString).appendingPathComponent("labels.npy")
        } else {
            guard let l = labelsOption else {
                throw CLIError("\(role) \(path) is a file: give its labels with \(role)-labels")
            }
            featuresPath = path
            labelsPath = l
        }
        let url = URL(fileURLWithPath: featuresPath)
        let header = try NPY.readHeader(url)
        guard header.shape.count == 2 else {
            throw CLIError("\(featuresPath): expected a 2-D feature array (n × d), got shape \(header.shape)")
        }
        guard header.shape[0] > 0, header.shape[1] > 0 else {
            throw CLIError("\(featuresPath): empty feature array (shape \(header.shape))")
        }
        let features: AnyFeatures = header.descr == "<f8" ? .double(try NPY.readMatrix(url, as: Double.self))
                                                          : .float(try NPY.readMatrix(url, as: Float.self))
        let labels = try NPY.readIntegers(URL(fileURLWithPath: labelsPath))
        guard labels.count == features.rows else {
            throw CLIError("\(labelsPath): \(labels.count) labels but \(featuresPath) has \(features.rows) rows")
        }
        try features.checkFinite(path: featuresPath)
        var names: [String]? = nil
        if isDir.boolValue, labelsOption == nil,
           FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("manifest.json")) {
            names = try FeatureFolder.manifest(URL(fileURLWithPath: path)).classNames
        }
        return LabelledFeatures(featuresPath: featuresPath, labelsPath: labelsPath, features: features, labels: labels,
                                classNames: names)
    }

    /// A probe error as one line naming the file it concerns.
    func describe(_ e: ProbeError) -> String {
        switch e {
        case .lengthMismatch, .singleClass, .labelOutOfRange: return "\(labelsPath): \(e)"
        default: return "\(featuresPath): \(e)"
        }
    }
}

extension LogisticMulticlass: ExpressibleByArgument {}
