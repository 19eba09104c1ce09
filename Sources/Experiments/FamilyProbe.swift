import Analysis
import Features
import Foundation
import Linalg
import Probes

/// The one probe code path of `compare` and `analyze transfer`: a feature family's train/test matrices, a probe
/// method and the comparison settings (protocol, standardisation, grids) → test metrics with their intervals.
/// Both commands call it, so the same checkpoint, family and settings give the same accuracy in both.
public enum FamilyProbe {
    public typealias Method = ProbeMethod

    public struct Outcome {
        public let metrics: ClassificationMetrics
        /// e.g. "ridge α=31.6" or "logistic C=0.01 (one-vs-rest)".
        public let detail: String
        /// Set when the chosen λ/C is at an end of the grid searched, or the grid was extended.
        public let gridNote: String?
        /// Ridge: the test mean squared error of the decision scores on the ±1 targets (the probe's own loss);
        /// logistic: the test log-loss.
        public let loss: Double?
    }

    /// Whether the paper fits `family` with the multinomial objective when K ≥ 3 (Φp_f and the subset features).
    static func paperMultinomial(_ family: FeatureFamily) -> Bool {
        family == .phip || family == .subsetLogits || family == .subsetProbs
    }

    public static func run(train xTrain: Matrix<Float>, _ yTrain: [Int], test xTest: Matrix<Float>, _ yTest: [Int],
                           classes: Int, family: FeatureFamily, method: Method,
                           settings: ComparisonSettings) throws -> Outcome {
        let proto = settings.probeProtocol
        let standardize = proto == .paper ? false : settings.standardize
        switch method {
        case .ridge:
            let model = try RidgeClassifier.fit(x: xTrain, labels: yTrain, classes: classes, alphas: settings.alphas,
                                                standardize: standardize,
                                                extension: settings.extendGrids ? .ridge : nil)
            let scores = try model.decisionFunction(xTest)
            var sse = 0.0
            for i in 0..<scores.rows {
                for k in 0..<scores.cols {
                    let target: Double = scores.cols == 1 ? (yTest[i] == 1 ? 1 : -1) : (yTest[i] == k ? 1 : -1)
                    let e = scores[i, k] - target
                    sse += e * e
                }
            }
            let predicted = try model.predict(xTest)
            let metrics = try ClassificationMetrics(predicted: predicted, truth: yTest, classes: classes)
            return Outcome(metrics: metrics, detail: "ridge α=\(model.alpha)", gridNote: model.gridSearch?.note,
                           loss: sse / Double(max(scores.rows * scores.cols, 1)))
        case .logistic:
            let cs = proto == .paper ? proto.logisticCs(trainingExamples: xTrain.rows) : settings.Cs
            let multiclass = proto.multiclass(classes: classes, multinomialFeature: paperMultinomial(family))
            let ext: GridExtension? = proto == .paper ? nil : (settings.extendGrids ? .logistic : nil)
            let model = try LogisticRegression.fitCV(x: xTrain, labels: yTrain, classes: classes, Cs: cs,
                                                     folds: settings.folds, standardize: standardize,
                                                     tolerance: settings.logisticTolerance,
                                                     maxIterations: settings.logisticMaxIterations,
                                                     multiclass: multiclass, extension: ext)
            let predicted = try model.predict(xTest)
            let metrics = try ClassificationMetrics(predicted: predicted, truth: yTest, classes: classes,
                                                    probabilities: try model.predictProbabilities(xTest))
            let note = ([model.gridSearch?.note ?? ""] + model.oneVsRestNotes).filter { !$0.isEmpty }.joined(separator: "; ")
            let detail = model.multiclass == .oneVsRest && classes > 2
                ? "logistic one-vs-rest C=" + model.perClassC.map { String(format: "%g", $0) }.joined(separator: "/")
                : "logistic C=\(model.C)"
            return Outcome(metrics: metrics, detail: detail, gridNote: note.isEmpty ? nil : note, loss: metrics.logLoss)
        }
    }

    /// The same on an extraction folder pair (`train/FAMILY.npy`, `test/FAMILY.npy` and their labels).
    public static func run(directory: URL, family: FeatureFamily, method: Method, classes: Int? = nil,
                           settings: ComparisonSettings) throws -> Outcome {
        let (xTrain, yTrain) = try FeatureFolder.load(directory.appendingPathComponent("train"), family: family, as: Float.self)
        let (xTest, yTest) = try FeatureFolder.load(directory.appendingPathComponent("test"), family: family, as: Float.self)
        let k = classes ?? max(yTrain.max() ?? 0, yTest.max() ?? 0) + 1
        return try run(train: xTrain, yTrain, test: xTest, yTest, classes: k, family: family, method: method,
                       settings: settings)
    }
}
