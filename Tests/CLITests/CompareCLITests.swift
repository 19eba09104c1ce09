import Foundation
import Linalg
import Probes
import XCTest

/// Whole-command tests of `lmprobe extract` errors and `lmprobe compare` on the tiny pipeline fixture.
final class CompareCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    func tasksFile(_ dir: String) throws -> String {
        let spec = """
        [{"name": "tiny", "train": {"path": "\(dir)/data.tsv", "format": "tsv", "text_column": "text",
          "label_column": "label", "detokenize_ptb": false},
          "test_fraction": 0.25, "seed": 0, "prompt": " The movie is",
          "words": ["great", "boring", "sad", "happy", "zzqx"], "class_words": [["boring", "sad"], ["great", "happy"]]}]
        """
        let url = dir + "/tasks.json"
        try spec.write(toFile: url, atomically: true, encoding: .utf8)
        return url
    }

    func testCompareWritesTableJSONAndChartsAndReusesFeatures() throws {
        let p = try TinyPipeline.fixture().path
        let tasks = try tasksFile(p)
        let args = ["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", tasks, "--methods", "ridge,logistic",
                    "--out", p + "/cmp", "--threads", "2"]
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| features |"), r.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: p + "/cmp/report.json"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        // 5 families × ridge + 4 families × logistic (p skipped) + f_mean × 2 methods + BoW + zero-shot, for each
        // prompt setting.
        XCTAssertEqual(results.count, 2 * (5 + 4 + 2 + 2), "\(results.map { $0["feature"] ?? "" })")
        for r in results {
            // Known answers: the accuracy is the share of correct test examples, its interval their Wilson interval.
            let acc = try XCTUnwrap(r["accuracy"] as? Double)
            let ci = try XCTUnwrap(r["interval"] as? [String: Any], "\(r)")
            if let correct = r["correct"] as? String {
                XCTAssertEqual(correct.count, 16)
                XCTAssertEqual(acc, Double(correct.filter { $0 == "1" }.count) / 16, accuracy: 1e-12)
            }
            let w = try Intervals.wilson(successes: Int((acc * 16).rounded()), trials: 16)
            XCTAssertEqual(try XCTUnwrap(ci["lower"] as? Double), w.lower, accuracy: 1e-12)
            XCTAssertEqual(try XCTUnwrap(ci["upper"] as? Double), w.upper, accuracy: 1e-12)
        }
        XCTAssertEqual(Set(results.compactMap { $0["prompt"] as? String }), [" The movie is"])
        let task = try XCTUnwrap((report["tasks"] as? [[String: Any]])?.first)
        XCTAssertEqual(task["train_count"] as? Int, 44)   // stratified: round(30 · 0.25) = 8 per class to test
        XCTAssertEqual(task["test_count"] as? Int, 16)
        XCTAssertNotNil(task["bag_of_words"] as? [String: Any])
        let leakage = try XCTUnwrap(task["leakage"] as? [String: Any])
        XCTAssertNotNil(leakage["tiny"], "leakage checked against the run's own token files")
        for f in ["report.md", "tiny.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: p + "/cmp/" + f), f)
        }
        // The manifest records the word that has no single-token variant.
        let again = try runLMProbe(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("reusing features"), again.stderr)
        XCTAssertTrue(again.stderr.contains("reusing bag-of-words"), again.stderr)
        let data2 = try Data(contentsOf: URL(fileURLWithPath: p + "/cmp/report.json"))
        let results2 = try XCTUnwrap((try JSONSerialization.jsonObject(with: data2) as? [String: Any])?["results"] as? [[String: Any]])
        XCTAssertEqual(results2.map { $0["accuracy"] as? Double }, results.map { $0["accuracy"] as? Double })
    }

    /// Two models: paired tests in the JSON and Markdown; --protocol paper: the trailing-space prompt, no subset p_f
    /// row, the protocol stated; --seeds 2 --cv: the two folds of a stratified partition (every example tested once)
    /// and the mean ± std section.
    func testPairedTestsPaperProtocolAndFolds() throws {
        let p = try TinyPipeline.fixture().path
        let tasks = try tasksFile(p)
        let r = try runLMProbe(["compare", "--checkpoint", "early=" + p + "/run/ckpt-10.safetensors", "--checkpoint",
                                "late=" + p + "/run/final.safetensors", "--tasks-file", tasks, "--prompts", "with",
                                "--families", "f,subset_logits,subset_probs", "--methods", "ridge,logistic",
                                "--protocol", "paper", "--seeds", "2", "--cv", "--no-bow", "--no-leakage-check",
                                "--out", p + "/cmp-paper", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: p + "/cmp-paper/report.json"))) as? [String: Any])
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        XCTAssertEqual(Set(results.compactMap { $0["task"] as? String }), ["tiny@f0", "tiny@f1"])
        XCTAssertEqual(Set(results.compactMap { $0["prompt"] as? String }), [" The movie is "])
        XCTAssertFalse(results.contains { ($0["feature"] as? String)?.hasPrefix("subset p_f") ?? false })
        // The two folds' test sets partition the 60 examples.
        let tasksOut = try XCTUnwrap(report["tasks"] as? [[String: Any]])
        XCTAssertEqual(tasksOut.compactMap { $0["test_count"] as? Int }.reduce(0, +), 60)
        let paired = try XCTUnwrap(report["paired_tests"] as? [[String: Any]])
        XCTAssertTrue(paired.contains { ($0["a"] as? String) == "late · f(s) · ridge" && ($0["b"] as? String) == "early · f(s) · ridge" })
        // The two folds pool into one result over all 60 examples, with a paired test of the two models on it.
        let pooled = try XCTUnwrap(report["pooled_folds"] as? [[String: Any]])
        let lateF = try XCTUnwrap(pooled.first { ($0["model"] as? String) == "late" && ($0["feature"] as? String) == "f(s) · ridge" })
        XCTAssertEqual((lateF["correct"] as? String)?.count, 60)
        XCTAssertEqual(lateF["task"] as? String, "tiny (2 folds pooled)")
        XCTAssertTrue(paired.contains { ($0["task"] as? String) == "tiny (2 folds pooled)" })
        let resampled = try XCTUnwrap(report["resampled"] as? [[String: Any]])
        XCTAssertTrue(resampled.contains { ($0["task"] as? String) == "tiny" && ($0["model"] as? String) == "late" })
        let md = try String(contentsOfFile: p + "/cmp-paper/report.md", encoding: .utf8)
        for s in ["paper protocol", "## Paired tests", "## Resampled tasks", "± is half the 95 % Wilson interval"] {
            XCTAssertTrue(md.contains(s), s + "\n" + md)
        }
    }

    /// A tokenizer without any of the task's words (a small vocabulary): the subset families are skipped for that
    /// model with a note, and every other family is still compared (instead of the whole comparison failing).
    /// Issue 27: two `compare` runs sharing a cold `--cache` both succeed (the second waits for each cache entry the
    /// first is writing and reuses it) and report the same numbers.
    func testTwoCompareRunsSharingAColdCacheBothSucceed() throws {
        let p = try TinyPipeline.fixture().path
        let tasks = try tasksFile(p)
        let cache = p + "/shared-cache-\(UUID().uuidString)"
        let outs = [p + "/cmpA-\(UUID().uuidString)", p + "/cmpB-\(UUID().uuidString)"]
        final class Results: @unchecked Sendable { var value: [(status: Int32, stdout: String, stderr: String)?] = [nil, nil] }
        let results = Results(), lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let args = ["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", tasks, "--out", outs[i],
                        "--cache", cache, "--no-bow", "--threads", "1"]
            let r = try? runToCompletion(configuredProcess(lmprobeBinary, args))
            lock.lock(); results.value[i] = r; lock.unlock()
        }
        for r in results.value {
            let r = try XCTUnwrap(r)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let reports = try outs.map { out -> [[String: Any]] in
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            return try XCTUnwrap(json["results"] as? [[String: Any]])
        }
        XCTAssertEqual(reports[0].map { $0["accuracy"] as? Double }, reports[1].map { $0["accuracy"] as? Double })
        XCTAssertFalse(reports[0].isEmpty)
    }

    func testCompareSkipsSubsetFamiliesWhenNoWordIsASingleToken() throws {
        let p = try TinyPipeline.fixture().path
        let spec = """
        [{"name": "nowords", "train": {"path": "\(p)/data.tsv", "format": "tsv", "textColumn": "text",
          "labelColumn": "label", "detokenizePTB": false},
          "testFraction": 0.25, "seed": 0, "prompt": " The movie is", "words": ["zzqx", "qqzzx"]}]
        """
        try spec.write(toFile: p + "/nowords.json", atomically: true, encoding: .utf8)
        let r = try runLMProbe(["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", p + "/nowords.json",
                                "--no-bow", "--no-leakage-check", "--prompts", "without", "--out", p + "/cmp-nowords"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("subset families skipped"), r.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: p + "/cmp-nowords/report.json"))
        let results = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["results"] as? [[String: Any]])
        let features = Set(results.compactMap { $0["feature"] as? String })
        XCTAssertTrue(features.contains("f(s) · ridge"), "\(features)")
        XCTAssertTrue(features.contains("Φp_f(s) · ridge"), "\(features)")
        XCTAssertFalse(features.contains { $0.hasPrefix("subset") }, "\(features)")
    }

    func testCompareAndExtractRefuseBadInputWithOneLineErrors() throws {
        let p = try TinyPipeline.fixture().path
        var r = try runLMProbe(["compare", "--checkpoint", p + "/run", "--task", "nope", "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown task 'nope'"), r.stderr)
        r = try runLMProbe(["compare", "--checkpoint", p + "/missing-run", "--tasks-file", try tasksFile(p), "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing-run"), r.stderr)
        r = try runLMProbe(["compare", "--checkpoint", p + "/run", "--tasks-file", try tasksFile(p), "--families", "f,q",
                            "--out", p + "/x"])
        XCTAssertEqual(r.status, 64)   // a usage error: the families are a closed set, and the bad one is named
        XCTAssertTrue(r.stderr.contains("--families: 'q' is not a feature family; choose from f, phip, p, subset_logits, subset_probs"), r.stderr)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--words", "zzqx qqzz",
                            "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--words"), r.stderr)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--class-words", "great",
                            "--out", p + "/x"])
        XCTAssertTrue(r.stderr.contains("--class-words"), r.stderr)
        try "1\tfine\nnot a row\n".write(toFile: p + "/bad.tsv", atomically: true, encoding: .utf8)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/bad.tsv", "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bad.tsv") && r.stderr.contains("2"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { !$0.isEmpty }.count, 1, r.stderr)
    }

    func testExtractWritesNumpyReadableFeaturesWithTestSplit() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv",
                                "--test-fraction", "0.5", "--prompt", "{text} The movie is", "--class-words", "boring|great",
                                "--p-dtype", "float16", "--out", p + "/ex", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifests = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(manifests.count, 2)
        XCTAssertEqual(manifests.map { $0["n"] as? Int }, [30, 30])
        XCTAssertNotNil(manifests[1]["zero_shot_accuracy"] as? Double)
        let files = try XCTUnwrap(manifests[0]["files"] as? [String: [String: Any]])
        XCTAssertEqual(files["p"]?["dtype"] as? String, "<f2")
        XCTAssertEqual(files["p"]?["shape"] as? [Int], [30, try XCTUnwrap(manifests[0]["vocab_size"] as? Int)])
        let probe = try runLMProbe(["probe", "--train", p + "/ex/train", "--test", p + "/ex/test", "--feature", "phip", "--json"])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        // NumPy itself reads every file: shapes and dtypes as the manifest says, values as our reader sees them.
        let pythonPath = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let py = pythonPath else { throw XCTSkip("no python3 on PATH: the NumPy read is not checked") }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: py)
        check.arguments = ["-c", "import numpy"]
        check.standardError = FileHandle.nullDevice
        try check.run(); check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("numpy is not importable by \(py): the NumPy read is not checked") }
        let f: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: p + "/ex/train/f.npy"))
        var sum = 0.0
        for i in 0..<f.rows { for j in 0..<f.cols { sum += Double(f[i, j]) } }
        let vocab = try XCTUnwrap(manifests[0]["vocab_size"] as? Int)
        let script = """
        import numpy as np, sys
        d = sys.argv[1]
        f = np.load(d + "/f.npy"); p = np.load(d + "/p.npy"); y = np.load(d + "/labels.npy")
        assert f.dtype == np.float32 and f.shape[0] == 30, (f.dtype, f.shape)
        assert p.dtype == np.float16 and p.shape == (30, int(sys.argv[2])), (p.dtype, p.shape)
        assert y.shape == (30,) and y.dtype.kind == "i", (y.dtype, y.shape)
        assert abs(p.astype(np.float64).sum(axis=1) - 1).max() < 1e-2, "p rows must sum to 1"
        print(repr(float(f.astype(np.float64).sum())))
        """
        let run = Process(), out = Pipe()
        run.executableURL = URL(fileURLWithPath: py)
        run.arguments = ["-c", script, p + "/ex/train", String(vocab)]
        run.standardOutput = out
        try run.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0, text)
        XCTAssertEqual(Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan, sum, accuracy: 1e-9 * max(1, abs(sum)))
    }

    /// One probe path: `probe` on a folder `compare` extracted gives the very accuracy and λ / C that `compare`
    /// reported for it — ridge and logistic, with and without standardisation.
    func testProbeAndCompareGiveTheSameAccuracyAndRegularisationOnOneFolder() throws {
        let p = try TinyPipeline.fixture().path
        let tasks = try tasksFile(p)
        for standardize in [true, false] {
            let out = p + "/cmp-agree-\(standardize)"
            let r = try runLMProbe(["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", tasks,
                                    "--methods", "ridge,logistic", "--families", "f,phip", "--prompts", "with",
                                    "--no-bow", "--no-leakage-check", "--no-f-mean", "--out", out, "--threads", "2"]
                                   + (standardize ? [] : ["--no-standardize"]))
            XCTAssertEqual(r.status, 0, r.stderr)
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))
            let results = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["results"] as? [[String: Any]])
            let cache = try FileManager.default.contentsOfDirectory(atPath: out + "/features").filter { $0.contains("-prompt-") }
            XCTAssertEqual(cache.count, 1, "\(cache)")
            let folder = out + "/features/" + cache[0]
            for (family, name) in [("f", "f(s)"), ("phip", "Φp_f(s)")] {
                for method in ["ridge", "logistic"] {
                    let row = try XCTUnwrap(results.first { $0["feature"] as? String == "\(name) · \(method)" }, name)
                    let probe = try runLMProbe(["probe", "--train", folder + "/train", "--test", folder + "/test",
                                                "--feature", family, "--method", method, "--json"]
                                               + (standardize ? [] : ["--no-standardize"]))
                    XCTAssertEqual(probe.status, 0, probe.stderr)
                    let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any])
                    let what = "\(family) \(method) standardize \(standardize)"
                    XCTAssertEqual(j["test_accuracy"] as? Double, row["accuracy"] as? Double, what)
                    let detail = try XCTUnwrap(row["probe"] as? String)
                    let prefix = method == "ridge" ? "ridge α=" : "logistic C="
                    XCTAssertTrue(detail.hasPrefix(prefix), detail)
                    // λ / C to the last bit: read with Swift's correctly rounded Double(String), from the JSON text
                    // (JSONSerialization's parser can be an ulp off).
                    let key = method == "ridge" ? "\"alpha\":" : "\"c\":"
                    let tail = try XCTUnwrap(probe.stdout.range(of: key)).upperBound
                    let number = probe.stdout[tail...].prefix { "0123456789.eE+-".contains($0) }
                    XCTAssertEqual(Double(number), Double(detail.dropFirst(prefix.count)), what)
                    XCTAssertEqual(j["standardize"] as? Bool, standardize)
                }
            }
        }
    }

    /// Every comma-list default `compare --help` prints is a value the parser accepts (it once printed
    /// `subsetLogits`, which the parser refused).
    func testCompareHelpShowsCommaListDefaultsTheParserAccepts() throws {
        let help = try runLMProbe(["compare", "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        var defaults: [String: String] = [:]
        for option in ["methods", "families"] {
            let start = try XCTUnwrap(text.range(of: "--\(option) <\(option)>"), text).upperBound
            let after = try XCTUnwrap(text[start...].range(of: "(default: ")).upperBound
            defaults[option] = String(text[after...].prefix { $0 != ")" }).replacingOccurrences(of: " ", with: "")
        }
        XCTAssertEqual(defaults["families"], "f,phip,p,subset_logits,subset_probs")
        // Parsed and validated: the only complaint left is the deliberately bad --seeds (checked after the lists).
        let r = try runLMProbe(["compare", "--checkpoint", "x", "--out", "y", "--methods", defaults["methods"]!,
                                "--families", defaults["families"]!, "--seeds", "0"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--seeds must be at least 1"), r.stderr)
    }
}
