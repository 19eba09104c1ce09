import Experiments
import Features
import Foundation
import Linalg
import Probes
import Support
import XCTest

/// `probe` and `compare` take the streamed ridge route on wide features (`ProbeRunner.streams`, through
/// `ProbeRoute`) and report the numbers the in-memory route gives (issue 29). The in-memory reference is the same
/// files read whole (`LabelledFeatures.load` without `keepInFile`) and fitted through the same probe path.
final class WideProbeRouteTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-wide-route-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A folder with `name`.npy (n × d, a few latent factors that also set the labels, plus noise, columns at varied
    /// scales and offsets, written in `descr`) and labels.npy; train and test of one seed share the factors.
    func writeSplit(_ folder: String, _ name: String, n: Int, d: Int, classes: Int, descr: String, seed: UInt64,
                    split: UInt64) throws -> URL {
        var rng = SeededRandom(seed: seed)
        let k = 8
        let mix = (0..<k).map { _ in (0..<d).map { _ in Float(rng.normal()) } }
        let rule = (0..<classes).map { _ in (0..<k).map { _ in rng.normal() } }
        var rows = SeededRandom(seed: seed &* 1000 &+ split)
        let x = Matrix<Float>(rows: n, cols: d)
        var labels: [Int64] = []
        for i in 0..<n {
            let z = (0..<k).map { _ in Float(rows.normal()) }
            let votes = rule.map { r in zip(r, z).reduce(0.0) { $0 + $1.0 * Double($1.1) } + 1.5 * rows.normal() }
            labels.append(Int64(votes.indices.max { votes[$0] < votes[$1] }!))
            for j in 0..<d {
                var v = 0.5 * Float(rows.normal())
                for f in 0..<k { v += z[f] * mix[f][j] }
                x[i, j] = Float(1 + j % 5) * 0.01 * (2 + v)
            }
        }
        let url = dir.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let w = try NPY.StreamWriter(url: url.appendingPathComponent(name + ".npy"), descr: descr, shape: [n, d])
        try w.append(x)
        try w.finish()
        try NPY.write(int64: labels, to: url.appendingPathComponent("labels.npy"))
        return url
    }

    /// `lmprobe probe --train F --test T` on wide features: fitted streamed, with the in-memory route's λ, LOO
    /// curve, training accuracy, test accuracy and test predictions.
    func checkProbeMatchesInMemory(descr: String, classes: Int, standardize: Bool, seed: UInt64) throws {
        let train = try writeSplit("train", "p", n: 90, d: 400, classes: classes, descr: descr, seed: seed, split: 1)
        let test = try writeSplit("test", "p", n: 60, d: 400, classes: classes, descr: descr, seed: seed, split: 2)
        var request = FeatureProbeRequest()
        request.train = [train.path]
        request.test = [test.path]
        request.feature = .p
        request.settings.standardize = standardize
        let streamed = try FeatureProbe.run(request)

        let x = try LabelledFeatures.load(folder: train, feature: .p)
        let t = try LabelledFeatures.load(folder: test, feature: .p)
        XCTAssertFalse(x.features.isInFile)
        let dense = try x.features.fitProbe(labels: x.labels, settings: request.settings)
        let denseTest = try t.features.evaluate(dense, labels: t.labels)

        XCTAssertTrue(streamed.probe.streamed, "n ≤ d ridge takes the streamed route")
        XCTAssertFalse(dense.streamed)
        let s = try XCTUnwrap(streamed.probe.ridge), m = try XCTUnwrap(dense.ridge)
        XCTAssertEqual(m.gridSearch?.extensions, 0, "the fixture should choose λ inside the default grid")
        XCTAssertEqual(s.alpha, m.alpha)
        XCTAssertEqual(s.looMeanSquaredError.count, m.looMeanSquaredError.count)
        for (a, b) in zip(s.looMeanSquaredError, m.looMeanSquaredError) { XCTAssertEqual(a, b, accuracy: 2e-5 * b) }
        XCTAssertEqual(s.looAccuracy, m.looAccuracy)
        XCTAssertEqual(s.trainAccuracy, m.trainAccuracy)
        let st = try XCTUnwrap(streamed.test)
        XCTAssertEqual(st.metrics.accuracy, denseTest.metrics.accuracy)
        XCTAssertEqual(st.metrics.correct, denseTest.metrics.correct)
        XCTAssertEqual(st.metrics.confusion, denseTest.metrics.confusion)
        XCTAssertEqual(st.loss!, denseTest.loss!, accuracy: 1e-5 * max(1, denseTest.loss!))
        XCTAssertEqual(streamed.nTrain, 90)
        XCTAssertEqual(streamed.d, 400)
    }

    func testProbeOnWideFloat16FeaturesStreamsWithTheInMemoryNumbers() throws {
        try checkProbeMatchesInMemory(descr: "<f2", classes: 2, standardize: true, seed: 3)
    }

    func testProbeOnWideFloat32MulticlassFeaturesWithoutStandardisingStreamsWithTheInMemoryNumbers() throws {
        try checkProbeMatchesInMemory(descr: "<f4", classes: 3, standardize: false, seed: 5)
    }

    /// `compare`'s probe of the p_f family (V ≫ n) goes streamed, train and test rows left in their files, with the
    /// numbers of the same family read whole; the f family of the same folders (n > d) is read into memory.
    func testCompareFamilyOfWideNextWordDistributionsGoesStreamedWithTheInMemoryNumbers() throws {
        _ = try writeSplit("pair/train", "p", n: 80, d: 500, classes: 3, descr: "<f2", seed: 7, split: 1)
        _ = try writeSplit("pair/test", "p", n: 50, d: 500, classes: 3, descr: "<f2", seed: 7, split: 2)
        _ = try writeSplit("pair/train", "f", n: 80, d: 20, classes: 3, descr: "<f4", seed: 8, split: 1)
        _ = try writeSplit("pair/test", "f", n: 50, d: 20, classes: 3, descr: "<f4", seed: 8, split: 2)
        let pair = dir.appendingPathComponent("pair")
        let settings = ComparisonSettings()
        let streamed = try FamilyProbe.run(directory: pair, family: .p, method: .ridge, classes: 3, settings: settings)
        let narrow = try FamilyProbe.run(directory: pair, family: .f, method: .ridge, classes: 3, settings: settings)
        XCTAssertTrue(streamed.probe.streamed)
        XCTAssertFalse(narrow.probe.streamed, "n > d: the primal route, in memory")

        let train = try LabelledFeatures.load(folder: pair.appendingPathComponent("train"), feature: .p)
        let test = try LabelledFeatures.load(folder: pair.appendingPathComponent("test"), feature: .p)
        let dense = try FamilyProbe.run(train: train, test: test, classes: 3, family: .p, method: .ridge, settings: settings)
        XCTAssertFalse(dense.probe.streamed)
        XCTAssertEqual(streamed.probe.regularisation, dense.probe.regularisation)
        XCTAssertEqual(streamed.detail, dense.detail)
        XCTAssertEqual(streamed.probe.ridge!.looAccuracy, dense.probe.ridge!.looAccuracy)
        XCTAssertEqual(streamed.metrics.accuracy, dense.metrics.accuracy)
        XCTAssertEqual(streamed.metrics.correct, dense.metrics.correct)
        XCTAssertEqual(streamed.metrics.confusion, dense.metrics.confusion)
    }

    /// A logistic probe cannot stream: with it in the same comparison the rows are read (once) into memory, after
    /// the in-memory footprint is checked; the route rule refuses a file whose in-memory fit would not fit.
    func testTrainingRowsAreReadWhenSomeFitCannotStreamAndRefusedWhenTheyWouldNotFit() throws {
        let train = try writeSplit("mixed", "p", n: 40, d: 100, classes: 2, descr: "<f4", seed: 9, split: 1)
        var ridge = ProbeSettings(), logistic = ProbeSettings()
        logistic.method = .logistic
        let url = train.appendingPathComponent("p.npy")
        let header = try NPY.readHeader(url)
        XCTAssertTrue(try ProbeRoute.train([ridge])(url, header))
        XCTAssertFalse(try ProbeRoute.train([ridge, logistic])(url, header))
        let rows = try LabelledFeatures.load(folder: train, feature: .p, keepInFile: ProbeRoute.train([ridge, logistic]))
        XCTAssertFalse(rows.features.isInFile)
        ridge.standardize = false
        let huge = NPY.Header(descr: "<f4", shape: [1 << 40, 1 << 20])
        XCTAssertThrowsError(try ProbeRoute.train([logistic])(url, huge)) { error in
            XCTAssertTrue("\(error)".contains("in-memory logistic fit of \(url.path)"), "\(error)")
        }
        XCTAssertTrue(try ProbeRoute.train([ridge])(url, NPY.Header(descr: "<f4", shape: [1 << 20, 1 << 40])),
                      "n ≤ d ridge streams whatever X's size (its own fit checks n² Gram + one block)")
    }
}
