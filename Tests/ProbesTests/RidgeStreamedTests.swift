import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

/// The wide ridge fit streamed from a `.npy` file in column blocks (`RidgeClassifier.fit(streaming:…)`, issue 29)
/// against loading the same file and fitting in memory.
final class RidgeStreamedTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// n × d features of a few latent factors (which also set the labels, noisily) mixed into every column, plus
    /// isotropic noise, at varied column scales and offsets, one column constant; written in `descr`. The LOO curve
    /// then has an interior minimum (the factors' eigenvalues stand above the noise bulk), so λ is well determined.
    func writeFixture(_ name: String, n: Int, d: Int, classes: Int, descr: String, seed: UInt64) throws -> (URL, [Int]) {
        var rng = SeededRandom(seed: seed)
        let k = 12
        let mix = (0..<k).map { _ in (0..<d).map { _ in Float(rng.normal()) } }
        let rule = (0..<classes).map { _ in (0..<k).map { _ in rng.normal() } }
        let x = Matrix<Float>(rows: n, cols: d)
        var labels: [Int] = []
        for i in 0..<n {
            let z = (0..<k).map { _ in Float(rng.normal()) }
            let votes = rule.map { r in zip(r, z).reduce(0.0) { $0 + $1.0 * Double($1.1) } + 1.5 * rng.normal() }
            labels.append(votes.indices.max { votes[$0] < votes[$1] }!)
            for j in 0..<d {
                var v = 0.5 * Float(rng.normal())
                for f in 0..<k { v += z[f] * mix[f][j] }
                x[i, j] = j == 5 ? 0.25 : Float(1 + j % 5) * 0.01 * (2 + v)
            }
        }
        let url = dir.appendingPathComponent(name)
        let w = try NPY.StreamWriter(url: url, descr: descr, shape: [n, d])
        try w.append(x)
        try w.finish()
        return (url, labels)
    }

    func maxRelativeDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
        var diff = 0.0, scale = 0.0
        for i in 0..<a.rows { for j in 0..<a.cols { diff = max(diff, abs(a[i, j] - b[i, j])); scale = max(scale, abs(b[i, j])) } }
        return diff / max(scale, .leastNormalMagnitude)
    }

    func testStreamedFloat16FitMatchesInMemoryFit() throws {
        let (train, labels) = try writeFixture("train.npy", n: 400, d: 3000, classes: 2, descr: "<f2", seed: 3)
        let (test, _) = try writeFixture("test.npy", n: 150, d: 3000, classes: 2, descr: "<f2", seed: 4)
        let x = try NPY.readMatrix(train, as: Float.self)
        let dense = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, standardize: true)
        // 512-column blocks: five full ones and a partial one.
        let streamed = try RidgeClassifier.fit(streaming: train, labels: labels, classes: 2, standardize: true,
                                               blockColumns: 512)
        XCTAssertEqual(dense.gridSearch?.extensions, 0, "the fixture should choose λ inside the default grid")
        XCTAssertEqual(streamed.mode, "gram")
        XCTAssertEqual(streamed.alpha, dense.alpha, "LOO MSE \(dense.looMeanSquaredError)")
        XCTAssertEqual(streamed.gridSearch?.searched, dense.gridSearch?.searched)
        XCTAssertEqual(streamed.featureMean, dense.featureMean)           // the same sums in the same order
        XCTAssertEqual(streamed.featureScale, dense.featureScale)
        // Both Grams are Float32 sums of the same products in a different order (blocks of 512 columns vs one
        // ssyrk): the LOO curve agrees to the Float32 Gram's rounding, the tolerance RidgeTests states for it
        // against a Float64 Gram (largest at the smallest λ, where 1/λ amplifies it).
        for (a, b) in zip(streamed.looMeanSquaredError, dense.looMeanSquaredError) { XCTAssertEqual(a, b, accuracy: 2e-5 * b) }
        XCTAssertEqual(streamed.looAccuracy, dense.looAccuracy)
        XCTAssertEqual(streamed.trainAccuracy, dense.trainAccuracy)
        XCTAssertLessThan(maxRelativeDifference(streamed.coefficients, dense.coefficients), 1e-4)
        XCTAssertEqual(streamed.intercepts[0], dense.intercepts[0], accuracy: 1e-4 * max(1, abs(dense.intercepts[0])))
        let streamedScores = try streamed.decisionFunction(streaming: test)
        let denseScores = try dense.decisionFunction(try NPY.readMatrix(test, as: Float.self))
        XCTAssertLessThan(maxRelativeDifference(streamedScores, denseScores), 1e-4)
        XCTAssertEqual(classesFromScores(streamedScores), classesFromScores(denseScores))
    }

    func testStreamedFloat32MulticlassFitWithoutStandardisingMatchesInMemoryFit() throws {
        let (train, labels) = try writeFixture("train3.npy", n: 120, d: 700, classes: 3, descr: "<f4", seed: 9)
        let x = try NPY.readMatrix(train, as: Float.self)
        let dense = try RidgeClassifier.fit(x: x, labels: labels, classes: 3, decomposition: .eigen)
        let streamed = try RidgeClassifier.fit(streaming: train, labels: labels, classes: 3, decomposition: .eigen,
                                               blockColumns: 256)
        XCTAssertEqual(dense.gridSearch?.extensions, 0, "the fixture should choose λ inside the default grid")
        XCTAssertEqual(streamed.alpha, dense.alpha)
        XCTAssertNil(streamed.featureScale)
        XCTAssertEqual(streamed.looAccuracy, dense.looAccuracy)
        XCTAssertLessThan(maxRelativeDifference(streamed.coefficients, dense.coefficients), 1e-4)
        XCTAssertEqual(try streamed.predict(x), try dense.predict(x))
    }

    func testStreamedFloat64FitMatchesInMemoryFloat64Fit() throws {
        let (train, labels) = try writeFixture("train64.npy", n: 90, d: 400, classes: 2, descr: "<f8", seed: 11)
        let x = try NPY.readMatrix(train, as: Double.self)
        let dense = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, standardize: true)
        let streamed = try RidgeClassifier.fit(streaming: train, labels: labels, classes: 2, standardize: true,
                                               blockColumns: 96)
        XCTAssertEqual(dense.gridSearch?.extensions, 0, "the fixture should choose λ inside the default grid")
        XCTAssertEqual(streamed.alpha, dense.alpha)
        XCTAssertEqual(streamed.featureMean, dense.featureMean)           // Float64 values, not rounded to Float32
        XCTAssertEqual(streamed.featureScale, dense.featureScale)
        for (a, b) in zip(streamed.looMeanSquaredError, dense.looMeanSquaredError) { XCTAssertEqual(a, b, accuracy: 1e-9 * b) }
        XCTAssertLessThan(maxRelativeDifference(streamed.coefficients, dense.coefficients), 1e-8)
    }

    func testProbeRunnerStreamsWideRidgeWithTheSameLambdaAndTestAccuracy() throws {
        let (train, labels) = try writeFixture("train.npy", n: 200, d: 900, classes: 2, descr: "<f2", seed: 5)
        let (test, testLabels) = try writeFixture("test.npy", n: 80, d: 900, classes: 2, descr: "<f2", seed: 6)
        let settings = ProbeSettings()
        XCTAssertTrue(ProbeRunner.streams(try NPY.readHeader(train), settings: settings))
        let values = labels.map { $0 * 2 + 1 }, testValues = testLabels.map { $0 * 2 + 1 }  // label values 1 and 3
        let dense = try ProbeRunner.fit(try NPY.readMatrix(train, as: Float.self), labels: values, settings: settings)
        let streamed = try ProbeRunner.fit(streaming: train, labels: values, settings: settings)
        XCTAssertEqual(dense.ridge?.gridSearch?.extensions, 0, "the fixture should choose λ inside the default grid")
        XCTAssertEqual(streamed.regularisation, dense.regularisation)
        XCTAssertEqual(streamed.classValues, [1, 3])
        let a = try streamed.evaluate(streaming: test, labels: testValues)
        let b = try dense.evaluate(try NPY.readMatrix(test, as: Float.self), labels: testValues)
        XCTAssertEqual(a.metrics.accuracy, b.metrics.accuracy)
        XCTAssertEqual(a.loss!, b.loss!, accuracy: 1e-6)
    }

    func testStreamedFitRefusesTallFeaturesAndNamesANonFiniteValue() throws {
        let (tall, labels) = try writeFixture("tall.npy", n: 50, d: 20, classes: 2, descr: "<f2", seed: 7)
        XCTAssertThrowsError(try RidgeClassifier.fit(streaming: tall, labels: labels, classes: 2)) { error in
            XCTAssertTrue("\(error)".contains("dual (Gram) route"), "\(error)")
        }
        XCTAssertFalse(ProbeRunner.streams(try NPY.readHeader(tall), settings: ProbeSettings()))
        let x = try NPY.readMatrix(try writeFixture("bad.npy", n: 10, d: 30, classes: 2, descr: "<f4", seed: 8).0, as: Float.self)
        x[4, 17] = .nan
        let bad = dir.appendingPathComponent("nan.npy")
        try NPY.write(x, to: bad)
        XCTAssertThrowsError(try RidgeClassifier.fit(streaming: bad, labels: (0..<10).map { $0 % 2 }, classes: 2,
                                                     blockColumns: 8)) { error in
            XCTAssertTrue("\(error)".contains("nan.npy") && "\(error)".contains("row 4, column 17"), "\(error)")
        }
    }
}
