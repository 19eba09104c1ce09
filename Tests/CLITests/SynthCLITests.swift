import Foundation
import XCTest

/// `synth generate → pretrain → synth task → extract (token ids) → synth measure` as whole commands, tiny sizes.
final class SynthCLITests: XCTestCase {
    func testSynthPipelineEndToEnd() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let lang = root.appendingPathComponent("lang").path
        var r = try runLMProbe(["synth", "generate", "--out", lang, "--states", "4", "--words", "24", "--class-size", "3",
                                "--train-tokens", "20000", "--val-tokens", "2000", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("entropy rate"), r.stdout)
        // A second generate into the same folder is refused, not overwritten.
        r = try runLMProbe(["synth", "generate", "--out", lang])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("already exists"), r.stderr)

        let task = root.appendingPathComponent("task").path
        r = try runLMProbe(["synth", "task", "--hmm", lang + "/hmm", "--out", task, "--length", "8", "--prompt", "2 5",
                            "--train", "60", "--test", "40"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("τ = ℓ_T(p*, κv)"), r.stdout)

        let run = root.appendingPathComponent("ce").path
        r = try runLMProbe(["pretrain", "--data", lang + "/tokens", "--out", run, "--layers", "1", "--dim", "16",
                            "--heads", "2", "--context", "16", "--batch", "4", "--steps", "6", "--warmup", "1",
                            "--checkpoint-every", "6", "--checkpoint-at", "2", "--keep-checkpoints", "--eval-every", "6",
                            "--eval-batches", "1", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)

        // extract reads the token-id dataset (and its id prompt) with no tokenizer.
        let feat = root.appendingPathComponent("feat").path
        r = try runLMProbe(["extract", "--checkpoint", run, "--dataset", task + "/train.ids", "--test-dataset",
                            task + "/test.ids", "--prompt", " 2 5", "--words", "1 3", "--out", feat, "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: feat + "/train/manifest.json"))) as? [String: Any]
        XCTAssertEqual(manifest?["n"] as? Int, 60)
        XCTAssertEqual(manifest?["real_tokens"] as? Int, 60 * 10, "8 words + 2 prompt ids per input")
        r = try runLMProbe(["extract", "--checkpoint", run, "--dataset", task + "/train.ids", "--prompt", "two",
                            "--out", feat + "2"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("token ids"), r.stderr)

        let control = root.appendingPathComponent("control").path
        r = try runLMProbe(["synth", "task", "--hmm", lang + "/hmm", "--out", control, "--kind", "control", "--lag", "3",
                            "--length", "8", "--train", "40", "--test", "40"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = root.appendingPathComponent("report").path
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--task", control, "--lm", "CE=" + run,
                            "--out", report, "--windows", "4", "--folds", "2", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Bayes-optimal from the words"), "the control task's Bayes accuracy: \(r.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report + "/report.json"))) as? [String: Any]
        let tasks = try XCTUnwrap(json?["tasks"] as? [[String: Any]])
        XCTAssertEqual(tasks.map { $0["bayes"] != nil }, [false, true], "natural: none; control: the Bayes accuracy")
        XCTAssertTrue(r.stdout.contains("| CE | ce | 2 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| CE | ce | 6 |"), r.stdout)
        for f in ["report.json", "report.md", "task.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: report + "/" + f), f)
        }
        // A re-run reuses every checkpoint's cached result.
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--task", control, "--lm", "CE=" + run,
                            "--out", report, "--windows", "4", "--folds", "2", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: ": cached").count - 1, 2, r.stderr)

        // synth rate: the report given as two seeds aggregates into report.md/json and one chart per natural task and
        // objective, written only inside --out; two seeds of one name are a usage error.
        let rate = root.appendingPathComponent("rate")
        let before = tree(root).subtracting(tree(rate))
        r = try runLMProbe(["synth", "rate", "--measure", "s0=" + report, "--measure", "s1=" + report + "/report.json",
                            "--out", rate.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| probe | ε_task |"), r.stdout)
        XCTAssertEqual(tree(rate), ["report.json", "report.md", "task-ce.svg"])
        XCTAssertEqual(tree(root).subtracting(tree(rate).map { "rate/" + $0 }).subtracting(["rate"]), before)
        r = try runLMProbe(["synth", "rate", "--measure", "a=" + report, "--measure", "a=" + report, "--out", rate.path])
        XCTAssertEqual(r.status, 64, r.stderr)
    }

    /// Every file below `root`, as relative paths (to see what a command wrote anywhere under it).
    func tree(_ root: URL) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String]) ?? [])
    }

    func tinyLanguage(_ root: URL) throws -> String {
        let lang = root.appendingPathComponent("lang").path
        let r = try runLMProbe(["synth", "generate", "--out", lang, "--states", "4", "--words", "24", "--class-size", "3",
                                "--train-tokens", "4000", "--val-tokens", "1000", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return lang
    }

    /// Task names and --lm names become file names inside --out: names that climb out (`../../escape`), hide or are
    /// empty are refused before anything is written, from the flag and from a hand-edited task.json alike.
    func testNamesThatBecomePathsCannotLeaveOut() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-names-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let lang = try tinyLanguage(root)
        let deep = root.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        let before = tree(root)
        for name in ["../../escape", "", "a/b", "../x", ".hidden"] {
            let r = try runLMProbe(["synth", "task", "--hmm", lang + "/hmm", "--out", deep.appendingPathComponent("task").path,
                                    "--name", name, "--length", "4", "--train", "20", "--test", "10"])
            XCTAssertEqual(r.status, 64, "--name '\(name)': \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--name '\(name)'"), r.stderr)
            XCTAssertEqual(r.stderr.components(separatedBy: "Error:").count, 2, "one error line: \(r.stderr)")
        }
        XCTAssertEqual(tree(root), before, "a refused task writes nothing")

        // A valid task whose task.json was edited to climb out, and an --lm NAME that climbs out.
        let task = deep.appendingPathComponent("task").path
        var r = try runLMProbe(["synth", "task", "--hmm", lang + "/hmm", "--out", task, "--kind", "control", "--lag", "1",
                                "--length", "4", "--train", "20", "--test", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = deep.appendingPathComponent("report").path
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--lm", "../../x=" + root.path,
                            "--out", out])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--lm NAME '../../x'"), r.stderr)
        let specURL = URL(fileURLWithPath: task + "/task.json")
        let edited = try String(contentsOf: specURL, encoding: .utf8)
            .replacingOccurrences(of: "\"name\" : \"task\"", with: "\"name\" : \"..\\/..\\/escape\"")
            .replacingOccurrences(of: "\"name\":\"task\"", with: "\"name\":\"..\\/..\\/escape\"")
        XCTAssertTrue(edited.contains("escape"), "task.json edited")
        try edited.write(to: specURL, atomically: true, encoding: .utf8)
        let withTask = tree(root)
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--lm", "CE=" + root.path, "--out", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("task name '../../escape'"), r.stderr)
        XCTAssertEqual(tree(root), withTask, "a refused measure writes nothing")
    }

    /// `synth generate` puts hmm/ and tokens/ in place together: a run killed while writing tokens (here by the
    /// file-size limit, SIGXFSZ) leaves no hmm/ behind, and the next run succeeds into the same --out.
    func testGenerateIsAllOrNothingAfterAKill() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let lang = root.appendingPathComponent("lang").path
        let args = ["synth", "generate", "--out", lang, "--states", "4", "--words", "24", "--class-size", "3",
                    "--train-tokens", "200000", "--val-tokens", "1000", "--threads", "1"]
        let killed = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/sh"),
                                                           ["-c", "ulimit -f 64; exec \"$0\" \"$@\"", lmprobeBinary.path] + args))
        XCTAssertNotEqual(killed.status, 0, "the 400 KB train split exceeds the 64 KiB file-size limit")
        XCTAssertFalse(FileManager.default.fileExists(atPath: lang), "nothing in place: \(tree(root))")
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["hmm/hmm.json", "tokens/tokens.json", "tokens/train.bin", "tokens/val.bin"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: lang + "/" + f), f)
        }
        XCTAssertEqual(tree(root).filter { $0.hasPrefix(".") }, [], "the killed run's staging folder is gone")
    }

    /// `synth task` puts its folder in place whole: a run killed while writing train.ids leaves no partial task, and
    /// the next run into the same --out succeeds.
    func testTaskIsAllOrNothingAfterAKill() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-taskkill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let lang = try tinyLanguage(root)
        let task = root.appendingPathComponent("task").path
        let args = ["synth", "task", "--hmm", lang + "/hmm", "--out", task, "--kind", "control", "--lag", "1",
                    "--length", "40", "--train", "4000", "--test", "10", "--threads", "1"]
        let killed = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/sh"),
                                                           ["-c", "ulimit -f 64; exec \"$0\" \"$@\"", lmprobeBinary.path] + args))
        XCTAssertNotEqual(killed.status, 0, "train.ids (4000 × 40 ids) exceeds the 64 KiB file-size limit")
        XCTAssertFalse(FileManager.default.fileExists(atPath: task), "nothing in place: \(tree(root))")
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: task + "/task.json"))
    }

    /// Bad sizes and folders are one-line errors: a negative number says what the option accepts (not "Missing
    /// value"), --out naming a file says so, zero checkpoints or iterations are usage errors.
    func testSynthFlagsRefuseBadValuesInOneLine() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-flags-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var r = try runLMProbe(["synth", "generate", "--out", root.appendingPathComponent("x").path, "--states", "-1"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--states must be in 1...4096 (got -1)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr)
        r = try runLMProbe(["synth", "task", "--hmm", "h", "--out", root.appendingPathComponent("t").path, "--length", "-3"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--length must be at least 1 (got -3)"), r.stderr)

        let file = root.appendingPathComponent("afile")
        try Data("x".utf8).write(to: file)
        r = try runLMProbe(["synth", "generate", "--out", file.path, "--states", "4", "--words", "24", "--class-size", "3",
                            "--train-tokens", "1000", "--val-tokens", "100"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("is a file, not a folder"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)

        r = try runLMProbe(["synth", "measure", "--hmm", "h", "--task", "t", "--lm", "A=r1", "--lm", "A=r2", "--out", root.path])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("two --lm runs are named 'A'"), r.stderr)
        for (flag, value) in [("--max-checkpoints", "0"), ("--max-iterations", "0"), ("--windows", "1"), ("--folds", "1")] {
            r = try runLMProbe(["synth", "measure", "--hmm", "h", "--task", "t", "--lm", "run", "--out", root.path, flag, value])
            XCTAssertEqual(r.status, 64, "\(flag) \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("\(flag) must be at least"), r.stderr)
        }
    }

    /// Sizes from flags are checked against the memory this process may allocate before anything is allocated:
    /// a huge HMM or an n × V table of exact probabilities that does not fit is one line with the size it needs.
    func testSynthSizesBeyondMemoryAreRefusedBeforeAllocating() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-mem-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let lang = try tinyLanguage(root)
        func limited(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/sh"),
                                                  ["-c", "ulimit -v 4000000; exec \"$0\" \"$@\"", lmprobeBinary.path] + args))
        }
        var r = try limited(["synth", "generate", "--out", root.appendingPathComponent("big").path, "--states", "4096",
                             "--words", "65535", "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("needs 5.1 GB of memory"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("big").path))
        r = try limited(["synth", "task", "--hmm", lang + "/hmm", "--out", root.appendingPathComponent("t").path,
                         "--train", "100000000", "--length", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("n × V table") && r.stderr.contains("GB of memory"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    /// `synth degrade` scores p* degraded to each target ε without training: the report holds one row per target and
    /// degradation with its ε, and the log–log chart; the output appears whole.
    func testSynthDegradeScoresEachTargetEpsilon() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-degrade-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let lang = try tinyLanguage(root)
        let task = root.appendingPathComponent("nat").path
        var r = try runLMProbe(["synth", "task", "--hmm", lang + "/hmm", "--out", task, "--length", "6", "--train", "60",
                                "--test", "60", "--label", "sign"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = root.appendingPathComponent("deg").path
        r = try runLMProbe(["synth", "degrade", "--hmm", lang + "/hmm", "--task", task, "--out", out, "--epsilon-from", "1e-3",
                            "--epsilon-to", "1e-2", "--per-decade", "1", "--degradation", "mix", "--folds", "2", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any]
        let pts = try XCTUnwrap(json?["degraded"] as? [[String: Any]])
        XCTAssertEqual(pts.count, 2)
        for (p, target) in zip(pts, [1e-3, 1e-2]) {
            XCTAssertEqual(p["degradation"] as? String, "mix")
            XCTAssertEqual(try XCTUnwrap(p["epsilon"] as? Double), target, accuracy: 1e-9)
            XCTAssertNotNil(p["bound"] as? Double)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/nat-degraded.svg"))
        // A `synth measure` folder (its points cache) is never replaced by a degrade report.
        let measured = root.appendingPathComponent("measured")
        try FileManager.default.createDirectory(at: measured.appendingPathComponent("points"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: measured.appendingPathComponent("report.json"))
        r = try runLMProbe(["synth", "degrade", "--hmm", lang + "/hmm", "--task", task, "--out", measured.path, "--per-decade", "1",
                            "--epsilon-from", "1e-2", "--epsilon-to", "1e-2", "--degradation", "mix", "--folds", "2"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("holds a `synth measure` report"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: measured.appendingPathComponent("points").path))
        r = try runLMProbe(["synth", "degrade", "--hmm", lang + "/hmm", "--task", task, "--out", out, "--epsilon-from", "-1"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--epsilon-from must be positive"), r.stderr)
    }

    /// A zero iteration cap (once a SIGILL deep inside L-BFGS) or a single fold is a usage error before any work.
    func testSynthMeasureRefusesAZeroIterationCapAsAUsageError() throws {
        for (args, expected) in [(["--max-iterations", "0"], "--max-iterations must be at least 1"),
                                 (["--folds", "1"], "--folds must be at least 2")] {
            let r = try runLMProbe(["synth", "measure", "--hmm", "h", "--task", "t", "--lm", "r", "--out", "o"] + args)
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
        }
    }
}
