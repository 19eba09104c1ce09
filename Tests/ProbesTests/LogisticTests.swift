import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

final class LogisticTests: XCTestCase {
    func checkParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Fixture(name)
        let m = try LogisticRegression.fit(x: f.x, labels: f.labels, classes: f.classes, C: f.double("C"),
                                           tolerance: 1e-11, maxIterations: 10000)
        XCTAssertTrue(m.converged, file: file, line: line)
        XCTAssertLessThan(relativeError(coefRows(m.coefficients).flatMap { $0 }, f.nested("coef").flatMap { $0 }), 1e-4,
                          "\(name): coef", file: file, line: line)
        XCTAssertLessThan(relativeError(m.intercepts, f.doubles("intercept")), 1e-4, "\(name): intercept",
                          file: file, line: line)
        XCTAssertEqual(m.trainAccuracy, f.double("train_accuracy"), accuracy: 1e-12, file: file, line: line)
        XCTAssertEqual(m.trainLogLoss, f.double("train_log_loss"), accuracy: 1e-6, file: file, line: line)
    }

    func testParityMultinomial() throws { try checkParity("logistic_multi") }
    func testParityBinary() throws { try checkParity("logistic_binary") }

    func testCrossValidationMatchesLogisticRegressionCV() throws {
        let f = try Fixture("logistic_cv_multi")
        let folds = f.info["folds"] as? Int ?? 0
        let expectedFolds = (f.info["test_folds"] as? [Int]) ?? []
        XCTAssertEqual(LogisticRegression.stratifiedFolds(labels: f.labels, folds: folds), expectedFolds)
        XCTAssertLessThan(relativeError(logspace(-4, 4, 10), f.doubles("Cs")), 1e-14)
        let m = try LogisticRegression.fitCV(x: f.x, labels: f.labels, classes: f.classes, Cs: logspace(-4, 4, 10),
                                             folds: folds, tolerance: 1e-10, maxIterations: 10000, extension: nil)
        let expected = f.nested("fold_accuracy")
        for fold in 0..<folds {
            XCTAssertEqual(m.foldAccuracy[fold], expected[fold], "fold \(fold)")
        }
        XCTAssertEqual(m.C, f.double("C"), accuracy: 1e-12 * f.double("C"))
        XCTAssertLessThan(relativeError(coefRows(m.coefficients).flatMap { $0 }, f.nested("coef").flatMap { $0 }), 1e-4)
        XCTAssertLessThan(relativeError(m.intercepts, f.doubles("intercept")), 1e-4)
        XCTAssertEqual(m.cvScore ?? -1, f.doubles("mean_accuracy").max()!, accuracy: 1e-12)
    }

    /// Stratified folds on uneven classes, checked against sklearn's output
    /// (StratifiedKFold(3).split on y = [2,2,0,1,0,2,1,0,0,2]).
    func testStratifiedFoldsSmall() {
        let y = [2, 2, 0, 1, 0, 2, 1, 0, 0, 2]
        XCTAssertEqual(LogisticRegression.stratifiedFolds(labels: y, folds: 3), [0, 0, 0, 0, 1, 1, 2, 1, 2, 2])
    }

    /// The analytic gradient of the objective matches central finite differences (binary and multinomial).
    func testGradientMatchesFiniteDifferences() throws {
        for classes in [2, 4] {
            var rng = SeededRandom(seed: UInt64(classes))
            let n = 11, d = 3
            let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
            let labels = (0..<n).map { $0 % classes }
            let p = LogisticRegression.Problem(x, labels: labels, classes: classes, standardize: true)
            let theta = p.zeroParameters()
            for t in 0..<theta.count { theta.pointer[t] = rng.normal() }
            let g = p.zeroParameters(), scratch = p.zeroParameters()
            let f0 = p.objective(theta, g, C: 0.7)
            XCTAssertTrue(f0.isFinite)
            for t in 0..<theta.count {
                let h = 1e-6, keep = theta.pointer[t]
                theta.pointer[t] = keep + h; let fp = p.objective(theta, scratch, C: 0.7)
                theta.pointer[t] = keep - h; let fm = p.objective(theta, scratch, C: 0.7)
                theta.pointer[t] = keep
                XCTAssertEqual(g.pointer[t], (fp - fm) / (2 * h), accuracy: 1e-7, "classes \(classes) θ[\(t)]")
            }
        }
    }

    func testStandardizedFitPredictsLikeRawFitWhenScalesAreEqual() throws {
        // Standardisation with a common scale s only rescales C's effect; with s = 1 (unit-variance columns after
        // centring) the two fits coincide.
        var rng = SeededRandom(seed: 5)
        let n = 40, d = 3
        let raw = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let c = CentredFeatures(raw, standardize: true)
        let x = c.xc   // mean 0, variance 1 per column
        let labels = (0..<n).map { $0 % 3 }
        let a = try LogisticRegression.fit(x: x, labels: labels, classes: 3, C: 1, tolerance: 1e-11)
        let b = try LogisticRegression.fit(x: x, labels: labels, classes: 3, C: 1, standardize: true, tolerance: 1e-11)
        XCTAssertLessThan(try a.coefficients.maxAbsDifference(b.coefficients), 1e-6)
    }

    func testBadInput() throws {
        let x = try Matrix<Double>([[1, 2], [3, 4], [5, 7]])
        XCTAssertThrowsError(try LogisticRegression.fit(x: x, labels: [0, 1, 0], classes: 2, C: 0))
        XCTAssertThrowsError(try LogisticRegression.fit(x: x, labels: [0, 0, 0], classes: 2, C: 1)) {
            XCTAssertEqual($0 as? ProbeError, .singleClass(label: 0))
        }
        XCTAssertThrowsError(try LogisticRegression.fitCV(x: x, labels: [0, 1, 0], classes: 2, folds: 5))
        XCTAssertThrowsError(try LogisticRegression.fitCV(x: x, labels: [0, 1, 0], classes: 2, folds: 1))
    }
}

final class MetricsTests: XCTestCase {
    func testConfusionAndPerClassAccuracy() throws {
        let m = try ClassificationMetrics(predicted: [0, 1, 1, 2, 0, 2], truth: [0, 1, 2, 2, 1, 2], classes: 4)
        XCTAssertEqual(m.accuracy, 4.0 / 6.0, accuracy: 1e-15)
        XCTAssertEqual(m.confusion, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]])
        XCTAssertEqual(m.perClassAccuracy[0], 1)
        XCTAssertEqual(m.perClassAccuracy[1], 0.5)
        XCTAssertEqual(m.perClassAccuracy[2]!, 2.0 / 3.0, accuracy: 1e-15)
        XCTAssertNil(m.perClassAccuracy[3])
        XCTAssertNil(m.logLoss)
        let p = try Matrix<Double>([[0.5, 0.5], [0.25, 0.75]])
        let l = try ClassificationMetrics(predicted: [0, 1], truth: [0, 1], classes: 2, probabilities: p)
        XCTAssertEqual(l.logLoss!, -(log(0.5) + log(0.75)) / 2, accuracy: 1e-15)
        XCTAssertThrowsError(try ClassificationMetrics(predicted: [0], truth: [0, 1], classes: 2))
    }
}
