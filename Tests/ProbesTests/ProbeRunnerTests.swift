import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

/// THE probe path (`ProbeRunner`, `ProbeSettings`): label values → classes, the defaults, one scoring pass.
final class ProbeRunnerTests: XCTestCase {
    /// Three shifted Gaussian classes with label values 4, 7, 9; `n` rows, `d` columns of unequal scales.
    func data(n: Int, d: Int = 5, seed: UInt64) -> (x: Matrix<Float>, labels: [Int]) {
        var rng = SeededRandom(seed: seed)
        let values = [4, 7, 9]
        let labels = (0..<n).map { values[$0 % 3] }
        let x = Matrix<Float>(rows: n, cols: d) { i, j in
            Float((rng.normal() + (j == i % 3 ? 1.5 : 0)) * Double(1 + 10 * j))
        }
        return (x, labels)
    }

    func testTheDefaultsAreStandardisedAndTheDocumentedSolverLimits() {
        let s = ProbeSettings()
        XCTAssertTrue(s.standardize)
        XCTAssertEqual(s.alphas, logspace(-3, 6, 19))
        XCTAssertEqual(s.Cs, logspace(-6, 4, 11))
        XCTAssertEqual(s.folds, 5)
        XCTAssertEqual(s.tolerance, 1e-6)
        XCTAssertEqual(s.maxIterations, 1000)
        XCTAssertEqual(s.alphaExtension, .ridge)
        XCTAssertEqual(s.cExtension, .logistic)
    }

    func testRidgeThroughTheRunnerIsTheStandardisedRidgeOnClassIndices() throws {
        let (x, labels) = data(n: 90, seed: 1)
        let probe = try ProbeRunner.fit(x, labels: labels, settings: ProbeSettings())
        XCTAssertEqual(probe.classValues, [4, 7, 9])
        let direct = try RidgeClassifier.fit(x: x, labels: labels.map { [4: 0, 7: 1, 9: 2][$0]! }, classes: 3,
                                             standardize: true)
        XCTAssertEqual(probe.ridge?.alpha, direct.alpha)
        XCTAssertEqual(probe.regularisation, direct.alpha)
        XCTAssertEqual(probe.trainAccuracy, direct.trainAccuracy)
        XCTAssertEqual(probe.detail, "ridge α=\(direct.alpha)")
    }

    func testEvaluationScoresOnceAndAgreesWithPredictAndTheSquaredErrorOfTheScores() throws {
        let (x, labels) = data(n: 90, seed: 2)
        let (xt, lt) = data(n: 30, seed: 3)
        for method in ProbeMethod.allCases {
            var s = ProbeSettings()
            s.method = method
            s.Cs = [0.01, 1, 100]
            let probe = try ProbeRunner.fit(x, labels: labels, settings: s)
            let e = try probe.evaluate(xt, labels: lt)
            let truth = try probe.classIndices(lt)
            switch probe.model {
            case .ridge(let m):
                let expected = try ClassificationMetrics(predicted: try m.predict(xt), truth: truth, classes: 3)
                XCTAssertEqual(e.metrics, expected)
                let scores = try m.decisionFunction(xt)
                var sse = 0.0
                for i in 0..<30 { for k in 0..<3 { let t: Double = truth[i] == k ? 1 : -1; sse += (scores[i, k] - t) * (scores[i, k] - t) } }
                XCTAssertEqual(try XCTUnwrap(e.loss), sse / 90, accuracy: 1e-12)
            case .logistic(let m):
                let expected = try ClassificationMetrics(predicted: try m.predict(xt), truth: truth, classes: 3,
                                                         probabilities: try m.predictProbabilities(xt))
                XCTAssertEqual(e.metrics, expected)
                XCTAssertEqual(e.loss, expected.logLoss)
            }
        }
    }

    func testATestLabelTheTrainingLabelsLackIsNamed() throws {
        let (x, labels) = data(n: 60, seed: 4)
        let probe = try ProbeRunner.fit(x, labels: labels, settings: ProbeSettings())
        XCTAssertThrowsError(try probe.evaluate(x.rows(0..<2).copy(), labels: [4, 5])) { e in
            XCTAssertTrue("\(e)".contains("label 5 at index 1 does not occur in the training labels [4, 7, 9]"), "\(e)")
        }
    }

    func testGivenClassValuesKeepAClassTheTrainingRowsLack() throws {
        let (x, labels) = data(n: 60, seed: 5)
        let probe = try ProbeRunner.fit(x, labels: labels.map { $0 == 9 ? 7 : $0 }, classValues: [4, 7, 9],
                                        settings: ProbeSettings())
        XCTAssertEqual(probe.classes, 3)
        XCTAssertEqual(probe.ridge?.coefficients.cols, 3)
    }

    func testAZeroIterationLimitIsRefusedNotTrapped() throws {
        let (x, labels) = data(n: 60, seed: 6)
        var s = ProbeSettings()
        s.method = .logistic
        s.maxIterations = 0
        XCTAssertThrowsError(try ProbeRunner.fit(x, labels: labels, settings: s)) { e in
            XCTAssertTrue("\(e)".contains("iteration limit must be at least 1"), "\(e)")
        }
        let y = labels.map { $0 == 4 ? 0 : 1 }
        XCTAssertThrowsError(try LogisticRegression.fit(x: x, labels: y, classes: 2, C: 1, maxIterations: 0))
        XCTAssertThrowsError(try LogisticRegression.fitCV(x: x, labels: y, classes: 2, maxIterations: 0))
        // L-BFGS itself takes no step rather than trapping on an empty iteration range.
        let start = Matrix<Double>(rows: 1, cols: 1) { _, _ in 3 }
        let r = LBFGS(maxIterations: 0).minimize(start) { v, g in g[0, 0] = 2 * v[0, 0]; return v[0, 0] * v[0, 0] }
        XCTAssertEqual(r.iterations, 0)
        XCTAssertFalse(r.converged)
    }
}
