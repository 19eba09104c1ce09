import Foundation
import Linalg

/// Accuracy, per-class accuracy, confusion counts and (given probabilities) the mean log-loss of predictions.
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
        perClassAccuracy = (0..<classes).map { c in
            let total = confusion[c].reduce(0, +)
            return total == 0 ? nil : Double(confusion[c][c]) / Double(total)
        }
        self.confusion = confusion
        if let p = probabilities {
            guard p.rows == truth.count, p.cols == classes else {
                throw ProbeError.invalidArgument("probabilities are \(p.shapeDescription), expected \(shapeString(truth.count, classes))")
            }
            var s = 0.0
            for (i, t) in truth.enumerated() { s -= Foundation.log(max(p[i, t], 1e-300)) }
            logLoss = truth.isEmpty ? nil : s / Double(truth.count)
        } else {
            logLoss = nil
        }
    }
}

/// The Wilson score interval for a binomial proportion: `successes` of `trials`, at normal quantile `z`
/// (1.96 → 95 %). Unlike p̂ ± z√(p̂(1−p̂)/n) it stays inside [0, 1] and is sensible at p̂ = 0 or 1.
/// Returns (0, 1) for no trials.
public func wilsonInterval(successes: Int, trials: Int, z: Double = 1.959963984540054) -> (lower: Double, upper: Double) {
    guard trials > 0 else { return (0, 1) }
    let n = Double(trials), p = Double(successes) / n, z2 = z * z
    let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
    return (max(0, centre - half), min(1, centre + half))
}
