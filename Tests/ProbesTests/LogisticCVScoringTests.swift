import Foundation
import XCTest
import Linalg
@testable import Probes
import Support

final class LogisticCVScoringTests: XCTestCase {
    /// `scoring: .logLoss` picks the C with the best mean held-out log-loss, recomputed here fold by fold with
    /// independent cold-started fits; on noisy labels that is a moderate C, while accuracy picks differently or ties.
    func testLogLossScoringChoosesTheBestHeldOutLogLoss() throws {
        var rng = SeededRandom(seed: 3)
        let n = 240, d = 6
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i -> Int in
            let z = 0.8 * x[i, 0] - 0.5 * x[i, 1]
            return rng.uniform() < 1 / (1 + exp(-z)) ? 1 : 0
        }
        let Cs = logspace(-3, 3, 7), folds = 4
        let m = try LogisticRegression.fitCV(x: x, labels: labels, classes: 2, Cs: Cs, folds: folds, tolerance: 1e-10, extension: nil,
                                             scoring: .logLoss)
        let assignment = LogisticRegression.stratifiedFolds(labels: labels, folds: folds)
        var mean = [Double](repeating: 0, count: Cs.count)
        for (ci, c) in Cs.enumerated() {
            for f in 0..<folds {
                let tr = (0..<n).filter { assignment[$0] != f }, te = (0..<n).filter { assignment[$0] == f }
                let xt = Matrix<Double>(rows: tr.count, cols: d) { i, j in x[tr[i], j] }
                let xe = Matrix<Double>(rows: te.count, cols: d) { i, j in x[te[i], j] }
                let fit = try LogisticRegression.fit(x: xt, labels: tr.map { labels[$0] }, classes: 2, C: c, tolerance: 1e-10)
                let p = try fit.predictProbabilities(xe)
                var s = 0.0
                for (i, r) in te.enumerated() { s += log(p[i, labels[r]]) }
                mean[ci] += s / Double(te.count) / Double(folds)
            }
        }
        let best = mean.indices.max { mean[$0] < mean[$1] }!
        XCTAssertEqual(m.C, Cs[best])
        for ci in Cs.indices { XCTAssertEqual(m.cvAccuracy[ci], mean[ci], accuracy: 1e-6) }
    }
}
