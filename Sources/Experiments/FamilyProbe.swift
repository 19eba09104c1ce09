import Features
import Foundation
import Linalg
import Probes

/// `compare`'s and `analyze transfer`'s view of THE probe path (`ProbeRunner`): a feature family's train/test rows,
/// a probe method and the comparison settings (protocol, standardisation, grids) → test metrics with intervals.
/// `lmprobe probe` fits through the same runner with the same defaults (`ProbeSettings`), so the same folder and
/// settings give the same accuracy and λ/C in every command.
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
        /// The fitted probe (λ/C, LOO or CV scores).
        public let probe: FittedProbe
    }

    /// Whether the paper fits `family` with the multinomial objective when K ≥ 3 (Φp_f and the subset features).
    static func paperMultinomial(_ family: FeatureFamily) -> Bool {
        family == .phip || family == .subsetLogits || family == .subsetProbs
    }

    /// The probe settings `compare` uses for `family` and `method` on `trainingRows` rows of `classes` classes:
    /// `ProbeSettings()` with the comparison's grids, folds and tolerances, and the paper protocol's changes.
    public static func probeSettings(_ settings: ComparisonSettings, family: FeatureFamily, method: Method,
                                     classes: Int, trainingRows: Int) -> ProbeSettings {
        let proto = settings.probeProtocol
        var s = ProbeSettings()
        s.method = method
        s.standardize = proto == .paper ? false : settings.standardize
        s.alphas = settings.alphas
        s.alphaExtension = settings.extendGrids ? .ridge : nil
        s.Cs = proto == .paper ? proto.logisticCs(trainingExamples: trainingRows) : settings.Cs
        s.cExtension = proto == .paper ? nil : (settings.extendGrids ? .logistic : nil)
        s.folds = settings.folds
        s.tolerance = settings.logisticTolerance
        s.maxIterations = settings.logisticMaxIterations
        s.multiclass = proto.multiclass(classes: classes, multinomialFeature: paperMultinomial(family))
        return s
    }

    /// Fits on `train` (labels 0..<classes) and scores `test` once.
    public static func run(train: LabelledFeatures, test: LabelledFeatures, classes: Int, family: FeatureFamily,
                           method: Method, settings: ComparisonSettings) throws -> Outcome {
        let s = probeSettings(settings, family: family, method: method, classes: classes,
                              trainingRows: train.labels.count)
        let probe: FittedProbe
        do { probe = try train.features.fitProbe(labels: train.labels, classValues: Array(0..<classes), settings: s) }
        catch let e as ProbeError { throw FeatureError.badInput(train.describe(e)) }
        let evaluation: ProbeEvaluation
        do { evaluation = try test.features.evaluate(probe, labels: test.labels) }
        catch let e as ProbeError { throw FeatureError.badInput(test.describe(e)) }
        return Outcome(metrics: evaluation.metrics, detail: probe.detail, gridNote: probe.gridNote,
                       loss: evaluation.loss, probe: probe)
    }

    /// The same on an extraction folder pair (`train/FAMILY.npy`, `test/FAMILY.npy` and their labels; the classes,
    /// when not given, are read from the labels files), each split left in its file where `ProbeRoute` says.
    public static func run(directory: URL, family: FeatureFamily, method: Method, classes: Int? = nil,
                           settings: ComparisonSettings) throws -> Outcome {
        let trainDir = directory.appendingPathComponent("train"), testDir = directory.appendingPathComponent("test")
        let trainLabels = try FeatureFolder.labels(trainDir)
        let k = try classes ?? max(trainLabels.max() ?? 0, FeatureFolder.labels(testDir).max() ?? 0) + 1
        let s = probeSettings(settings, family: family, method: method, classes: k, trainingRows: trainLabels.count)
        let train = try LabelledFeatures.load(folder: trainDir, feature: family, keepInFile: ProbeRoute.train([s]))
        let test = try LabelledFeatures.load(folder: testDir, feature: family,
                                             keepInFile: ProbeRoute.test([s], train: train.features))
        return try run(train: train, test: test, classes: k, family: family, method: method, settings: settings)
    }
}
