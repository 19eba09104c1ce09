import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

final class RidgeTests: XCTestCase {
    /// Chosen alpha identical to sklearn's RidgeClassifierCV, coef/intercept to 1e-5 relative, LOO MSE curve too.
    func checkParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for decomposition in RidgeDecomposition.allCases {
            try checkParity(name, decomposition: decomposition, file: file, line: line)
        }
    }

    func checkParity(_ name: String, decomposition: RidgeDecomposition, file: StaticString, line: UInt) throws {
        let f = try Fixture(name)
        let select: RidgeSelection = (f.info["select"] as? String) == "accuracy" ? .accuracy : .squaredError
        let standardize = f.info["standardize"] as? Bool ?? false
        let m = try RidgeClassifier.fit(x: f.x, labels: f.labels, classes: f.classes, alphas: f.doubles("alphas"),
                                        select: select, standardize: standardize, decomposition: decomposition,
                                        extension: nil)
        XCTAssertEqual(m.alpha, f.double("alpha"), "\(name) \(decomposition): chosen alpha", file: file, line: line)
        XCTAssertEqual(m.mode, f.x.rows > f.x.cols ? "cov" : "gram", file: file, line: line)
        var skCoef = f.nested("coef")
        if standardize {  // sklearn's coef_ lives in the scaled space of its StandardScaler
            let s = f.doubles("scaler_scale")
            skCoef = skCoef.map { row in zip(row, s).map { $0 / $1 } }
        }
        let ours = coefRows(m.coefficients)
        XCTAssertEqual(ours.count, skCoef.count, file: file, line: line)
        XCTAssertLessThan(relativeError(ours.flatMap { $0 }, skCoef.flatMap { $0 }), 1e-5, "\(name) \(decomposition): coef",
                          file: file, line: line)
        var skIntercept = f.doubles("intercept")
        if standardize {  // fold the scaler's shift into the intercept: b − Σ μⱼ wⱼ/σⱼ
            let mu = f.doubles("scaler_mean")
            skIntercept = skIntercept.enumerated().map { k, b in b - zip(mu, skCoef[k]).map { $0 * $1 }.reduce(0, +) }
        }
        XCTAssertLessThan(relativeError(m.intercepts, skIntercept), 1e-5, "\(name) \(decomposition): intercept", file: file, line: line)
        let mse = f.doubles("loo_mse")
        if !mse.isEmpty {
            XCTAssertLessThan(relativeError(m.looMeanSquaredError, mse), 1e-8, "\(name) \(decomposition): LOO MSE curve",
                              file: file, line: line)
        } else {
            XCTAssertEqual(m.looScore, f.double("best_score"), accuracy: 1e-12, "\(name): LOO accuracy",
                           file: file, line: line)
        }
        XCTAssertEqual(m.trainAccuracy, f.double("train_accuracy"), accuracy: 1e-12, file: file, line: line)
    }

    func testParityBinaryTall() throws { try checkParity("ridge_binary_tall") }
    func testParityBinaryWide() throws { try checkParity("ridge_binary_wide") }
    func testParityMultiTall() throws { try checkParity("ridge_multi_tall") }
    func testParityMultiWide() throws { try checkParity("ridge_multi_wide") }
    func testParityMultiSquare() throws { try checkParity("ridge_multi_square") }
    func testParityAccuracySelection() throws { try checkParity("ridge_multi_accuracy") }
    func testParityStandardized() throws { try checkParity("ridge_multi_standardized") }

    /// Float32 features in gram mode get a Float32 Gram (ssyrk); the same features widened to Float64 get a Float64
    /// one. On every gram-mode sklearn fixture both choose sklearn's λ, with equal LOO accuracies and train accuracy,
    /// and LOO MSE curves and coefficients that differ only by the Float32 Gram's rounding. Measured: LOO MSE curves
    /// within 1.4·10⁻⁷ (binary wide), 2.6·10⁻⁷ (multi wide), 6.8·10⁻⁶ (multi square, n = d: the centred Gram's
    /// smallest eigenvalue is near 0) relative; coefficients within 2.4·10⁻⁷.
    func testFloat32GramMatchesFloat64Gram() throws {
        var checked = 0
        for name in ["ridge_binary_wide", "ridge_multi_wide", "ridge_multi_square", "ridge_multi_accuracy",
                     "ridge_multi_standardized"] {
            let f = try Fixture(name)
            guard f.x.rows <= f.x.cols else { continue }
            let x32 = Matrix<Float>(rows: f.x.rows, cols: f.x.cols) { i, j in Float(f.x[i, j]) }
            let x64 = Matrix<Double>(rows: f.x.rows, cols: f.x.cols) { i, j in Double(x32[i, j]) }
            let select: RidgeSelection = (f.info["select"] as? String) == "accuracy" ? .accuracy : .squaredError
            let standardize = f.info["standardize"] as? Bool ?? false
            for decomposition in RidgeDecomposition.allCases {
                let a = try RidgeClassifier.fit(x: x32, labels: f.labels, classes: f.classes, alphas: f.doubles("alphas"),
                                                select: select, standardize: standardize, decomposition: decomposition,
                                                extension: nil)
                let b = try RidgeClassifier.fit(x: x64, labels: f.labels, classes: f.classes, alphas: f.doubles("alphas"),
                                                select: select, standardize: standardize, decomposition: decomposition,
                                                extension: nil)
                let tag = "\(name) \(decomposition)"
                XCTAssertEqual(a.mode, "gram", tag)
                XCTAssertEqual(a.alpha, b.alpha, tag)
                XCTAssertEqual(a.alpha, f.double("alpha"), "\(tag): sklearn's λ")
                XCTAssertEqual(a.looAccuracy, b.looAccuracy, tag)
                XCTAssertEqual(a.trainAccuracy, b.trainAccuracy, tag)
                let mse = relativeError(a.looMeanSquaredError, b.looMeanSquaredError)
                let coef = relativeError(a.coefficients.toArray(), b.coefficients.toArray())
                XCTAssertLessThan(mse, 2e-5, "\(tag): LOO MSE curve")
                XCTAssertLessThan(coef, 1e-5, "\(tag): coefficients")
                print("float32 Gram vs float64 Gram, \(tag): LOO MSE curve \(mse), coefficients \(coef)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0, "no gram-mode fixture")
    }

    /// Features of rank ≈ r ≪ d (a Quad model's p_f is ≈ an affine map of its d logits: 8,192 columns of rank ≈ 256)
    /// make the Float32 Gram numerically indefinite at a small λ (its rounding exceeds λ). The fit then redoes the
    /// Gram in Float64 instead of throwing "not positive definite" or scoring with negative eigenvalues: for every
    /// decomposition it gives the Float64 fit's λ, LOO curves and predictions. Without the retry this test throws.
    func testNearRankDeficientFloat32FeaturesFallBackToFloat64Gram() throws {
        let n = 160, d = 1200, r = 4
        var rng = SeededRandom(seed: 21)
        let z = Matrix<Double>(rows: n, cols: r) { _, _ in rng.normal() }
        let a = Matrix<Double>(rows: r, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { z[$0, 0] + 0.3 * z[$0, 1] > 0 ? 1 : 0 }
        // 1/V + tiny variation, like a softmax over V words of small logits; every column standardised by the fit.
        let x32 = Matrix<Float>(rows: n, cols: d) { i, j in
            var v = 0.0
            for k in 0..<r { v += z[i, k] * a[k, j] }
            return Float(1.0 / Double(d) * (1 + 1e-3 * v))
        }
        let x64 = Matrix<Double>(rows: n, cols: d) { i, j in Double(x32[i, j]) }
        let alphas = [1e-6, 1e-4, 1e-2, 1, 100]
        var float32Failed = false
        for decomposition in RidgeDecomposition.allCases {
            let f = try RidgeClassifier.fit(x: x32, labels: labels, classes: 2, alphas: alphas, standardize: true,
                                            decomposition: decomposition, extension: nil)
            let g = try RidgeClassifier.fit(x: x64, labels: labels, classes: 2, alphas: alphas, standardize: true,
                                            decomposition: decomposition, extension: nil)
            XCTAssertEqual(f.alpha, g.alpha, "\(decomposition)")
            XCTAssertEqual(f.looAccuracy, g.looAccuracy, "\(decomposition)")
            XCTAssertLessThan(relativeError(f.looMeanSquaredError, g.looMeanSquaredError), 1e-6, "\(decomposition)")
            XCTAssertEqual(try f.predict(x32), try g.predict(x64), "\(decomposition)")
            XCTAssertGreaterThan(f.trainAccuracy, 0.95, "\(decomposition): the labels are linear in the features")
            if f.timings.contains(where: { $0.phase == "gram-float64" }) { float32Failed = true }
        }
        XCTAssertTrue(float32Failed, "the fixture must make the Float32 Gram indefinite for at least one decomposition")
    }

    /// The closed-form LOO residuals equal n brute-force refits (each without one example), in both modes.
    func testLeaveOneOutMatchesBruteForce() throws {
        for (n, d, k, seed) in [(14, 4, 3, 1), (7, 10, 2, 2), (9, 9, 4, 3)] {
            var rng = SeededRandom(seed: UInt64(seed))
            let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() + 0.7 }
            let labels = (0..<n).map { $0 % k }
            let alphas = [0.05, 0.7, 9.0]
            for select in RidgeSelection.allCases { for decomposition in RidgeDecomposition.allCases {
                let m = try RidgeClassifier.fit(x: x, labels: labels, classes: k, alphas: alphas, select: select,
                                                decomposition: decomposition)
                for (a, alpha) in alphas.enumerated() {
                    let (mse, acc) = bruteForceLOO(x: x, labels: labels, classes: k, alpha: alpha)
                    XCTAssertEqual(m.looMeanSquaredError[a], mse, accuracy: 1e-9 * max(1, mse), "n=\(n) d=\(d) λ=\(alpha)")
                    XCTAssertEqual(m.looAccuracy[a], acc, accuracy: 1e-12, "n=\(n) d=\(d) λ=\(alpha)")
                }
                let scores = select == .squaredError ? m.looMeanSquaredError.map { -$0 } : m.looAccuracy
                let firstBest = scores.firstIndex(of: scores.max()!)!
                XCTAssertEqual(m.chosenIndex, firstBest)
            } }
        }
    }

    func bruteForceLOO(x: Matrix<Double>, labels: [Int], classes: Int, alpha: Double) -> (Double, Double) {
        let n = x.rows, d = x.cols, kk = classes == 2 ? 1 : classes
        func target(_ i: Int, _ k: Int) -> Double { kk == 1 ? (labels[i] == 1 ? 1 : -1) : (labels[i] == k ? 1 : -1) }
        var sq = 0.0, correct = 0
        for out in 0..<n {
            let keep = (0..<n).filter { $0 != out }
            let mu = (0..<d).map { j in keep.map { x[$0, j] }.reduce(0, +) / Double(keep.count) }
            var pred = [Double](repeating: 0, count: kk)
            for k in 0..<kk {
                let ybar = keep.map { target($0, k) }.reduce(0, +) / Double(keep.count)
                let a = (0..<d).map { j in (0..<d).map { l in
                    keep.map { (x[$0, j] - mu[j]) * (x[$0, l] - mu[l]) }.reduce(0, +) + (j == l ? alpha : 0) } }
                let b = (0..<d).map { j in keep.map { (x[$0, j] - mu[j]) * (target($0, k) - ybar) }.reduce(0, +) }
                let w = naiveSolve(a, b)
                pred[k] = ybar + (0..<d).map { (x[out, $0] - mu[$0]) * w[$0] }.reduce(0, +)
                sq += (target(out, k) - pred[k]) * (target(out, k) - pred[k])
            }
            let cls = kk == 1 ? (pred[0] > 0 ? 1 : 0) : pred.indices.max { pred[$0] < pred[$1] || (pred[$0] == pred[$1] && $0 > $1) }!
            if cls == labels[out] { correct += 1 }
        }
        return (sq / Double(n * kk), Double(correct) / Double(n))
    }

    /// On problems larger than the band (m > bandwidth + 1, so sy2sb and the banded solves really run), the band and
    /// tridiagonal routes reproduce the eigen route (itself held to sklearn): LOO curves, alpha, coefficients.
    func testBandAndTridiagonalMatchEigenBeyondTheBandwidth() throws {
        for (n, d, k) in [(90, 130, 3), (160, 70, 2), (75, 75, 5)] {
            var rng = SeededRandom(seed: UInt64(n + d))
            let labels = (0..<n).map { $0 % k }
            let x = Matrix<Double>(rows: n, cols: d) { i, j in rng.normal() + (j % k == labels[i] ? 0.4 : 0) + 1 }
            let reference = try RidgeClassifier.fit(x: x, labels: labels, classes: k, decomposition: .eigen)
            XCTAssertGreaterThan(min(n, d), RidgeClassifier.bandwidth + 1)
            for decomposition in [RidgeDecomposition.band, .tridiagonal] {
                let m = try RidgeClassifier.fit(x: x, labels: labels, classes: k, decomposition: decomposition)
                XCTAssertEqual(m.alpha, reference.alpha, "\(decomposition) n=\(n) d=\(d)")
                XCTAssertLessThan(relativeError(m.looMeanSquaredError, reference.looMeanSquaredError), 1e-9)
                XCTAssertEqual(m.looAccuracy, reference.looAccuracy)
                XCTAssertLessThan(relativeError(m.coefficients.toArray(), reference.coefficients.toArray()), 1e-8)
                XCTAssertLessThan(relativeError(m.intercepts, reference.intercepts), 1e-8)
            }
        }
    }

    /// In cov mode (n > d) Float32 features give the same model as their exact Double values (X_c is Float64 for
    /// both). Gram mode forms a Float32 Gram from Float32 features: testFloat32GramMatchesFloat64Gram.
    func testFloatInputMatchesDouble() throws {
        let f = try Fixture("ridge_multi_tall")
        XCTAssertGreaterThan(f.x.rows, f.x.cols)
        let xf = f.x.converted(to: Float.self)
        let m32 = try RidgeClassifier.fit(x: xf, labels: f.labels, classes: f.classes)
        let m64 = try RidgeClassifier.fit(x: xf.converted(to: Double.self), labels: f.labels, classes: f.classes)
        XCTAssertEqual(m32.alpha, m64.alpha)
        XCTAssertLessThan(try m32.coefficients.maxAbsDifference(m64.coefficients), 1e-12)
        XCTAssertEqual(try m32.predict(xf), try m64.predict(f.x.converted(to: Float.self).converted(to: Double.self)))
    }

    func testPredictionsAreArgmaxOfDecisionValues() throws {
        let f = try Fixture("ridge_multi_tall")
        let m = try RidgeClassifier.fit(x: f.x, labels: f.labels, classes: f.classes)
        let s = try m.decisionFunction(f.x)
        let p = try m.predict(f.x)
        for i in 0..<f.x.rows {
            let row = (0..<s.cols).map { s[i, $0] }
            XCTAssertEqual(p[i], row.firstIndex(of: row.max()!)!)
        }
        // Naive decision values: x·W + b.
        for i in [0, 7, 42] {
            for k in 0..<s.cols {
                let v = (0..<f.x.cols).map { f.x[i, $0] * m.coefficients[$0, k] }.reduce(m.intercepts[k], +)
                XCTAssertEqual(s[i, k], v, accuracy: 1e-12)
            }
        }
    }

    func testBadInputThrowsOneLineErrors() throws {
        let x = try Matrix<Double>([[1, 2], [3, 4], [5, 7]])
        XCTAssertThrowsError(try RidgeClassifier.fit(x: x, labels: [0, 1], classes: 2)) {
            XCTAssertEqual($0 as? ProbeError, .lengthMismatch(features: 3, labels: 2))
        }
        XCTAssertThrowsError(try RidgeClassifier.fit(x: x, labels: [1, 1, 1], classes: 2)) {
            XCTAssertEqual($0 as? ProbeError, .singleClass(label: 1))
        }
        XCTAssertThrowsError(try RidgeClassifier.fit(x: x, labels: [0, 1, 2], classes: 2)) {
            XCTAssertEqual($0 as? ProbeError, .labelOutOfRange(index: 2, label: 2, classes: 2))
        }
        let bad = x.copy(); bad[1, 1] = .nan
        XCTAssertThrowsError(try RidgeClassifier.fit(x: bad, labels: [0, 1, 0], classes: 2)) {
            XCTAssertEqual($0 as? ProbeError, .nonFinite(row: 1, column: 1))
        }
        bad[1, 1] = .infinity
        XCTAssertThrowsError(try RidgeClassifier.fit(x: bad, labels: [0, 1, 0], classes: 2))
        XCTAssertThrowsError(try RidgeClassifier.fit(x: Matrix<Double>(rows: 0, cols: 2), labels: [], classes: 2)) {
            XCTAssertEqual($0 as? ProbeError, .empty("no training rows"))
        }
        XCTAssertThrowsError(try RidgeClassifier.fit(x: x, labels: [0, 1, 0], classes: 2, alphas: [1, 0]))
        XCTAssertThrowsError(try RidgeClassifier.fit(x: x, labels: [0, 1, 0], classes: 2, alphas: []))
        let m = try RidgeClassifier.fit(x: x, labels: [0, 1, 0], classes: 2)
        XCTAssertThrowsError(try m.predict(Matrix<Double>(rows: 2, cols: 3))) {
            XCTAssertEqual($0 as? ProbeError, .widthMismatch(expected: 2, got: 3))
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }

    func testLogspaceMatchesNumpy() {
        let a = logspace(-3, 3, 13)
        XCTAssertEqual(a.count, 13)
        XCTAssertEqual(a[0], 0.001)
        XCTAssertEqual(a[12], 1000)
        XCTAssertEqual(a[9], 31.622776601683793, accuracy: 1e-12)
    }
}
