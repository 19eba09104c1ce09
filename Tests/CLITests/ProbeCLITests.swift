import Foundation
import Linalg
import Probes
import XCTest
import Support

/// `lmprobe probe` and `lmprobe bench probe` run as whole commands on small .npy files written here.
final class ProbeCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-probe-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: 3)
        let n = 60, d = 5
        let labels = (0..<n).map { ($0 % 3) * 10 }   // arbitrary label values 0, 10, 20
        let x = Matrix<Float>(rows: n, cols: d) { i, j in Float(rng.normal()) + (j == labels[i] / 10 ? 2 : 0) }
        try NPY.write(x.rows(0..<40), to: path("X.npy"))
        try NPY.write(x.rows(40..<60), to: path("Xt.npy"))
        try writeLabels(Array(labels[0..<40]), "y.npy")
        try writeLabels(Array(labels[40..<60]), "yt.npy")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("ext"), withIntermediateDirectories: true)
        try NPY.write(x.rows(0..<40), to: path("ext/phip.npy"))
        try writeLabels(Array(labels[0..<40]), "ext/labels.npy")
        let bad = x.rows(0..<40).copy(); bad[2, 3] = .nan
        try NPY.write(bad, to: path("Xnan.npy"))
        try NPY.write(x.rows(40..<60).columns(0..<4).copy(), to: path("Xnarrow.npy"))
        try writeLabels([Int](repeating: 10, count: 40), "yone.npy")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> URL { dir.appendingPathComponent(name) }

    func writeLabels(_ labels: [Int], _ name: String) throws {
        try NPY.write(int64: labels.map { Int64($0) }, to: path(name))
    }

    func runJSON(_ args: [String]) throws -> [String: Any] {
        let r = try runLMProbe(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func testRidgeAndLogisticJSON() throws {
        let common = ["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path,
                      "--test", path("Xt.npy").path, "--test-labels", path("yt.npy").path]
        let ridge = try runJSON(common)
        XCTAssertEqual(ridge["method"] as? String, "ridge")
        XCTAssertNotNil(ridge["alpha"] as? Double)
        // Known answer: the library's probe on the same files.
        let xTrain: Matrix<Float> = try NPY.readMatrix(path("X.npy")), xTest: Matrix<Float> = try NPY.readMatrix(path("Xt.npy"))
        let yTrain = try NPY.readIntegers(path("y.npy")).map { $0 / 10 }, yTest = try NPY.readIntegers(path("yt.npy")).map { $0 / 10 }
        let model = try RidgeClassifier.fit(x: xTrain, labels: yTrain, classes: 3, standardize: true)   // THE default
        let metrics = try ClassificationMetrics(predicted: try model.predict(xTest), truth: yTest, classes: 3)
        XCTAssertEqual(ridge["alpha"] as? Double, model.alpha)
        XCTAssertEqual(ridge["train_accuracy"] as? Double, model.trainAccuracy)
        XCTAssertEqual(ridge["test_accuracy"] as? Double, metrics.accuracy)
        let ci = try XCTUnwrap(ridge["test_accuracy_interval"] as? [Double])
        XCTAssertEqual(ci[0], metrics.accuracyInterval!.lower, accuracy: 1e-12)
        XCTAssertEqual(ci[1], metrics.accuracyInterval!.upper, accuracy: 1e-12)
        XCTAssertEqual(ridge["classes"] as? [Int], [0, 10, 20])
        let eigen = try runJSON(common + ["--decomposition", "eigen"])
        XCTAssertEqual(eigen["alpha"] as? Double, ridge["alpha"] as? Double)
        XCTAssertEqual(eigen["test_accuracy"] as? Double, ridge["test_accuracy"] as? Double)
        let logistic = try runJSON(common + ["--method", "logistic", "--folds", "4", "--cs", "0.01,1,100"])
        XCTAssertEqual(logistic["method"] as? String, "logistic")
        XCTAssertTrue([0.01, 1, 100].contains(logistic["c"] as? Double ?? -1))
        XCTAssertNotNil(logistic["test_accuracy"] as? Double)
        // An extract folder stands for features + labels.
        let folder = try runJSON(["probe", "--train", path("ext").path, "--feature", "phip", "--alphas", "0.5,5",
                                  "--select", "accuracy", "--standardize"])
        XCTAssertTrue([0.5, 5].contains(folder["alpha"] as? Double ?? -1))
        XCTAssertTrue(folder["test_accuracy"] is NSNull)
    }

    /// Separable classes (a margin of 20 standard deviations): every test example is right, and the interval is
    /// the Wilson interval of 20/20, [n/(n + z²), 1] = [0.8389, 1].
    func testSeparableClassesGiveKnownAccuracyAndInterval() throws {
        var rng = SeededRandom(seed: 8)
        let labels = (0..<60).map { $0 % 2 }
        let x = Matrix<Float>(rows: 60, cols: 3) { i, j in Float(rng.normal()) + (j == 0 ? Float(20 * labels[i]) : 0) }
        try NPY.write(x.rows(0..<40), to: path("Xs.npy")); try NPY.write(x.rows(40..<60), to: path("Xst.npy"))
        try writeLabels(Array(labels[0..<40]), "ys.npy"); try writeLabels(Array(labels[40..<60]), "yst.npy")
        for method in ["ridge", "logistic"] {
            let r = try runJSON(["probe", "--method", method, "--train", path("Xs.npy").path, "--train-labels",
                                 path("ys.npy").path, "--test", path("Xst.npy").path, "--test-labels", path("yst.npy").path])
            XCTAssertEqual(r["test_accuracy"] as? Double, 1, method)
            let ci = try XCTUnwrap(r["test_accuracy_interval"] as? [Double])
            XCTAssertEqual(ci[0], 20 / (20 + 1.959963984540054 * 1.959963984540054), accuracy: 1e-12)
            XCTAssertEqual(ci[1], 1)
            if method == "logistic" {
                let l = try XCTUnwrap(r["test_log_loss"] as? Double), li = try XCTUnwrap(r["test_log_loss_interval"] as? [Double])
                XCTAssertTrue(li[0] <= l && l <= li[1], "\(li) \(l)")
            }
        }
    }

    /// One-vs-rest reports one C per class and agrees with the library; --fixed-grid searches exactly the grid given.
    func testOneVsRestAndFixedGrid() throws {
        let common = ["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path,
                      "--test", path("Xt.npy").path, "--test-labels", path("yt.npy").path]
        let ovr = try runJSON(common + ["--method", "logistic", "--multiclass", "one-vs-rest", "--cs", "0.01,0.1,1,10,100"])
        XCTAssertEqual(ovr["multiclass"] as? String, "one-vs-rest")
        let perClass = try XCTUnwrap(ovr["per_class_c"] as? [Double])
        let xTrain: Matrix<Float> = try NPY.readMatrix(path("X.npy"))
        let yTrain = try NPY.readIntegers(path("y.npy")).map { $0 / 10 }
        let library = try LogisticRegression.fitCV(x: xTrain, labels: yTrain, classes: 3, Cs: [0.01, 0.1, 1, 10, 100],
                                                   standardize: true, tolerance: 1e-6, maxIterations: 1000,
                                                   multiclass: .oneVsRest)
        XCTAssertEqual(perClass, library.perClassC)
        let fixed = try runJSON(common + ["--alphas", "1e-3,2e-3", "--fixed-grid"])
        XCTAssertEqual(fixed["alphas_searched"] as? [Double], [1e-3, 2e-3])
        let grown = try runJSON(common + ["--alphas", "1e-3,2e-3"])
        XCTAssertGreaterThan((grown["alphas_searched"] as? [Double])?.count ?? 0, 2)
        XCTAssertNotNil(grown["grid_note"] as? String)
    }

    func testTableOutput() throws {
        let r = try runLMProbe(["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path,
                                "--test", path("Xt.npy").path, "--test-labels", path("yt.npy").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for key in ["alpha", "LOO", "train accuracy", "test accuracy", "class 10"] {
            XCTAssertTrue(r.stdout.contains(key), r.stdout)
        }
    }

    func testBadInputNamesTheFile() throws {
        let cases: [([String], String)] = [
            (["--train", path("Xnan.npy").path, "--train-labels", path("y.npy").path], "Xnan.npy: non-finite"),
            (["--train", path("X.npy").path, "--train-labels", path("yt.npy").path], "yt.npy: 20 labels"),
            (["--train", path("X.npy").path, "--train-labels", path("yone.npy").path], "yone.npy: all training labels"),
            (["--train", path("X.npy").path, "--train-labels", path("y.npy").path,
              "--test", path("Xnarrow.npy").path, "--test-labels", path("yt.npy").path], "Xnarrow.npy: test features have 4"),
        ]
        for (args, expected) in cases {
            let r = try runLMProbe(["probe"] + args)
            XCTAssertEqual(r.status, 1, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "expected '\(expected)' in: \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1,
                           r.stderr)
        }
        // Closed option sets and grids are parsed by swift-argument-parser: usage errors (exit 64) naming the option
        // and, for enums, the choices.
        let usage: [([String], String)] = [
            (["--train", path("ext").path, "--feature", "logits"], "--feature"),
            (["--train", path("X.npy").path, "--train-labels", path("y.npy").path, "--method", "svm"], "--method"),
            (["--train", path("X.npy").path, "--train-labels", path("y.npy").path, "--alphas", "1,-2"], "--alphas"),
            (["--train", path("X.npy").path, "--train-labels", path("y.npy").path, "--decomposition", "qr"],
             "--decomposition"),
        ]
        for (args, expected) in usage {
            let r = try runLMProbe(["probe"] + args)
            XCTAssertEqual(r.status, 64, args.joined(separator: " "))
            let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertTrue(first.hasPrefix("Error: ") && first.contains(expected), "expected '\(expected)' in: \(r.stderr)")
        }
    }

    func testBenchProbeJSON() throws {
        let r = try runJSON(["bench", "probe", "--n", "50", "--d", "20", "--classes", "3"])
        XCTAssertEqual(r["n"] as? Int, 50)
        XCTAssertEqual(r["d"] as? Int, 20)
        XCTAssertGreaterThan(r["seconds"] as? Double ?? -1, 0)
    }

    func testBenchProbeWideLabelsAreTheLabelsItsFitUsed() throws {
        let x = path("wide.npy"), y = path("wide-labels.npy")
        let r = try runJSON(["bench", "probe", "--n", "30", "--d", "80", "--classes", "3", "--wide-fixture", x.path,
                             "--wide-labels", y.path, "--wide-path", "streamed"])
        XCTAssertEqual(r["path"] as? String, "streamed")
        let labels = try NPY.readIntegers(y)
        XCTAssertEqual(labels.count, 30)
        XCTAssertTrue(Set(labels).isSubset(of: [0, 1, 2]), "\(labels)")
        // A peer fitting the fixture with these labels solves the benchmark's problem: the same λ and train accuracy.
        let refit = try XCTUnwrap(ProbeRunner.fit(streaming: x, labels: labels, settings: ProbeSettings()).ridge)
        XCTAssertEqual(refit.alpha, try XCTUnwrap(r["alpha"] as? Double), accuracy: 1e-12 * refit.alpha)
        XCTAssertEqual(refit.trainAccuracy, try XCTUnwrap(r["train_accuracy"] as? Double), accuracy: 1e-12)   // a JSON round trip
    }

    func testBenchProbeWideLabelsWithoutAFixtureIsAUsageError() throws {
        let r = try runLMProbe(["bench", "probe", "--wide-labels", path("l.npy").path])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--wide-fixture"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("l.npy").path))
    }

    // MARK: Cross-option rules and the statistics files

    func testCrossOptionMisusesAreUsageErrorsOfTheProbeCommand() throws {
        let train = ["--train", path("X.npy").path, "--train-labels", path("y.npy").path]
        let cases: [([String], String)] = [
            ([], "give --train (features) or --stats"),
            (train + ["--stats", path("s.stats").path], "not both"),
            (["--stats", path("s.stats").path, "--method", "logistic"], "ridge probe only"),
            (["--stats", path("s.stats").path, "--decomposition", "band"], "drop --decomposition"),
            (train + ["--stats-out", path("s.stats").path, "--method", "logistic"], "--stats-out"),
            (train + ["--stats-out", path("s.stats").path, "--test", path("Xt.npy").path], "drop --test"),
            (train + ["--test-labels", path("yt.npy").path], "--test-labels needs --test"),
            (train + ["--method", "logistic", "--max-iterations", "0"], "--max-iterations must be at least 1"),
            (train + ["--method", "logistic", "--tolerance", "0"], "--tolerance must be a positive number"),
            (train + ["--alphas", "1,x"], "--alphas: 'x' is not a number"),
        ]
        for (args, expected) in cases {
            let r = try runLMProbe(["probe"] + args)
            XCTAssertEqual(r.status, 64, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(expected), "expected '\(expected)' in: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage: lmprobe probe"), r.stderr)
        }
    }

    func testStatsOutReplacesOnlyAStatisticsFileNeverAnInputOrAnotherFile() throws {
        let train = ["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path, "--stats-out"]
        try Data("keep me\n".utf8).write(to: path("notes.txt"))
        try FileManager.default.createSymbolicLink(at: path("link.npy"), withDestinationURL: path("X.npy"))
        let before = try Data(contentsOf: path("X.npy"))
        for target in [path("X.npy").path, path("y.npy").path, path("link.npy").path, path("notes.txt").path,
                       "/dev/null", path("ext").path] {
            let r = try runLMProbe(train + [target])
            XCTAssertEqual(r.status, 1, target + ": " + r.stderr)
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("--stats-out"), r.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: path("X.npy")), before)
        XCTAssertEqual(try String(contentsOf: path("notes.txt"), encoding: .utf8), "keep me\n")
        // A new path, then the same path again (an earlier statistics file is replaced).
        for _ in 0..<2 {
            let r = try runLMProbe(train + [path("s.stats").path])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    func testPlainStatisticsOfOneFeaturesFileUnderTwoNamesAreCountedOnce() throws {
        try FileManager.default.createSymbolicLink(at: path("alias.npy"), withDestinationURL: path("X.npy"))
        try FileManager.default.copyItem(at: path("X.npy"), to: path("copy.npy"))
        for (name, features) in [("a", "X.npy"), ("b", "alias.npy"), ("c", "copy.npy")] {
            let r = try runLMProbe(["probe", "--train", path(features).path, "--train-labels", path("y.npy").path,
                                    "--stats-out", path("\(name).stats").path])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        for other in ["b", "c"] {
            let r = try runLMProbe(["probe", "--stats", path("a.stats").path, path("\(other).stats").path])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("counted twice"), r.stderr)
        }
    }

    func testAStatisticsFileWithAFlippedBitIsRefused() throws {
        let r = try runLMProbe(["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path,
                                "--stats-out", path("s.stats").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        var bytes = try Data(contentsOf: path("s.stats"))
        bytes[bytes.count - 3] ^= 0x10
        try bytes.write(to: path("s.stats"))
        let fit = try runLMProbe(["probe", "--stats", path("s.stats").path])
        XCTAssertEqual(fit.status, 1)
        XCTAssertTrue(fit.stderr.contains("checksum mismatch"), fit.stderr)
    }

    func testAFIFOAsAFeaturesOrLabelsFileIsRefusedNotWaitedOn() throws {
        XCTAssertEqual(mkfifo(path("fifo.npy").path, 0o600), 0)
        let cases = [["--train", path("fifo.npy").path, "--train-labels", path("y.npy").path],
                     ["--train", path("X.npy").path, "--train-labels", path("fifo.npy").path],
                     ["--train", path("X.npy").path, "--train-labels", path("fifo.npy").path, "--stats-out", path("s.stats").path]]
        for args in cases {
            let r = try runLMProbe(["probe"] + args)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("fifo.npy: not a regular file"), r.stderr)
        }
    }

    /// Ridge on a wide features file (n ≤ d) is fitted streamed and says so (`route`), with the λ and accuracies of
    /// the library's in-memory fit of the same file; a narrow file is fitted in memory; a NaN in a wide file is
    /// named by file, row and column.
    func testProbeOnWideFeaturesTakesTheStreamedRouteWithTheInMemoryAnswer() throws {
        var rng = SeededRandom(seed: 21)
        let n = 30, d = 64
        let labels = (0..<n).map { $0 % 2 }
        let x = Matrix<Float>(rows: n, cols: d) { i, j in Float(rng.normal()) + (j < 4 && labels[i] == 1 ? 1.5 : 0) }
        try NPY.write(x, to: path("wide.npy"))
        try writeLabels(labels, "wide-y.npy")
        let wide = try runJSON(["probe", "--train", path("wide.npy").path, "--train-labels", path("wide-y.npy").path,
                                "--test", path("wide.npy").path, "--test-labels", path("wide-y.npy").path])
        XCTAssertEqual(wide["route"] as? String, "streamed")
        let model = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, standardize: true)
        XCTAssertEqual(wide["alpha"] as? Double, model.alpha)
        XCTAssertEqual(wide["train_accuracy"] as? Double, model.trainAccuracy)
        XCTAssertEqual(wide["test_accuracy"] as? Double, model.trainAccuracy, "the test rows are the training rows")
        let narrow = try runJSON(["probe", "--train", path("X.npy").path, "--train-labels", path("y.npy").path])
        XCTAssertEqual(narrow["route"] as? String, "in-memory")
        x[7, 50] = .nan
        try NPY.write(x, to: path("wide-nan.npy"))
        let r = try runLMProbe(["probe", "--train", path("wide-nan.npy").path, "--train-labels", path("wide-y.npy").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("wide-nan.npy") && r.stderr.contains("row 7, column 50"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: path("wide-nan.npy").path).count, 2, "the file named once: \(r.stderr)")
    }
}
