import Foundation
import Linalg

/// Accuracy with its 95 % Wilson interval, per-class accuracy, confusion counts and (given probabilities) the mean
/// log-loss with its bootstrap interval over test examples.
public struct ClassificationMetrics: Equatable {
    public let classes: Int
    public let count: Int
    /// Fraction of predictions equal to the truth (0 for no examples).
    public let accuracy: Double
    /// For each class, the fraction of its examples predicted correctly (its recall); nil when it has none.
    public let perClassAccuracy: [Double?]
    /// confusion[t][p]: examples of true class t predicted as p.
    public let confusion: [[Int]]
    /// Mean −log p(true class), when probabilities were given (probabilities are clipped at 1e-300).
    public let logLoss: Double?
    /// 95 % Wilson interval of `accuracy` (nil for no examples).
    public let accuracyInterval: ConfidenceInterval?
    /// 95 % percentile-bootstrap interval of `logLoss` over test examples (seed 0, `Intervals.resamples` draws).
    public let logLossInterval: ConfidenceInterval?
    /// Whether each example was classified correctly (for paired tests against another probe).
    public let correct: [Bool]

    /// Throws when the arrays differ in length or hold a class outside 0..<classes.
    public init(predicted: [Int], truth: [Int], classes: Int, probabilities: Matrix<Double>? = nil) throws {
        guard predicted.count == truth.count else {
            throw ProbeError.lengthMismatch(features: predicted.count, labels: truth.count)
        }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (i, (p, t)) in zip(predicted, truth).enumerated() {
            guard t >= 0, t < classes else { throw ProbeError.labelOutOfRange(index: i, label: t, classes: classes) }
            guard p >= 0, p < classes else { throw ProbeError.labelOutOfRange(index: i, label: p, classes: classes) }
            confusion[t][p] += 1
        }
        let correct = (0..<classes).map { confusion[$0][$0] }.reduce(0, +)
        self.classes = classes
        count = truth.count
        accuracy = truth.isEmpty ? 0 : Double(correct) / Double(truth.count)
        accuracyInterval = truth.isEmpty ? nil : try Intervals.wilson(successes: correct, trials: truth.count)
        self.correct = zip(predicted, truth).map { $0 == $1 }
        perClassAccuracy = (0..<classes).map { c in
            let total = confusion[c].reduce(0, +)
            return total == 0 ? nil : Double(confusion[c][c]) / Double(total)
        }
        self.confusion = confusion
        if let p = probabilities {
            guard p.rows == truth.count, p.cols == classes else {
                throw ProbeError.invalidArgument("probabilities are \(p.shapeDescription), expected \(shapeString(truth.count, classes))")
            }
            let losses = truth.enumerated().map { i, t in -Foundation.log(max(p[i, t], 1e-300)) }
            logLoss = truth.isEmpty ? nil : losses.reduce(0, +) / Double(truth.count)
            logLossInterval = truth.isEmpty ? nil : try Intervals.bootstrapMean(losses)
        } else {
            logLoss = nil
            logLossInterval = nil
        }
    }
}
