import Foundation
import Linalg
import Probes
import Text

/// How well the control task's label can be predicted from the text at all: the Bayes-optimal rule reads the label
/// (the parity of the hidden state `lag` words before the last) off the forward–backward posterior of that state
/// given the context's words. A probe on p* staying at chance while this is high says "solvable, but not natural".
public struct SyntheticBayes: Codable, Equatable, Sendable {
    /// Test accuracy of predicting 1 when P(label = 1 | words) > ½, with its 95 % Wilson interval.
    public var accuracy: Double
    public var accuracyLower: Double
    public var accuracyUpper: Double
    /// E max(P, 1 − P) over the test contexts: the Bayes accuracy in expectation over the labels.
    public var expectedAccuracy: Double
    /// Mean −log P(label | words) on the test split (nats): the Bayes log-loss, to set beside the probes' losses.
    public var loss: Double

    enum CodingKeys: String, CodingKey {
        case accuracy, loss
        case accuracyLower, accuracyUpper, expectedAccuracy
    }
}

extension SyntheticMeasure {
    /// The control task's Bayes accuracy on its test split (nil for natural tasks). The posterior conditions on the
    /// context's words only (the prompt is not part of the sampled chain).
    public static func controlBayes(_ task: LoadedSyntheticTask, hmm: HiddenMarkovModel) throws -> SyntheticBayes? {
        guard task.spec.kind == .control, let lag = task.spec.lag else { return nil }
        let T = task.spec.length, n = task.test.count
        var words: [Int32] = []
        words.reserveCapacity(n * T)
        for (i, text) in task.test.texts.enumerated() {
            let ids = TokenIDText.parse(text) ?? []
            guard ids.count == T else {
                throw SyntheticError.file(path: task.directory.path, message: "test example \(i + 1) has \(ids.count) words, task.json says \(T)")
            }
            words += ids.map { Int32(truncatingIfNeeded: $0) }
        }
        let posterior = try words.withUnsafeBufferPointer {
            try hmm.statePosterior(words: $0.baseAddress!, count: n, length: T, position: T - 1 - lag)
        }
        return try bayes(posterior: posterior, labels: task.test.labels)
    }

    /// Accuracy, expected accuracy and log-loss of the parity rule on posteriors over hidden states (n × K).
    static func bayes(posterior: Matrix<Double>, labels: [Int]) throws -> SyntheticBayes {
        let n = labels.count, K = posterior.cols
        var correct = 0, expected = 0.0, loss = 0.0
        for i in 0..<n {
            var odd = 0.0
            for k in stride(from: 1, to: K, by: 2) { odd += posterior[i, k] }
            let p1 = min(max(odd, 0), 1)
            if (p1 > 0.5 ? 1 : 0) == labels[i] { correct += 1 }
            expected += max(p1, 1 - p1)
            loss -= Foundation.log(max(labels[i] == 1 ? p1 : 1 - p1, Double.leastNormalMagnitude))
        }
        let w = try Intervals.wilson(successes: correct, trials: n)
        return SyntheticBayes(accuracy: Double(correct) / Double(n), accuracyLower: w.lower, accuracyUpper: w.upper,
                              expectedAccuracy: expected / Double(n), loss: loss / Double(n))
    }
}
