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

        let report = root.appendingPathComponent("report").path
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--lm", "CE=" + run,
                            "--out", report, "--windows", "4", "--folds", "2", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| CE | ce | 2 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| CE | ce | 6 |"), r.stdout)
        for f in ["report.json", "report.md", "task.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: report + "/" + f), f)
        }
        // A re-run reuses every checkpoint's cached result.
        r = try runLMProbe(["synth", "measure", "--hmm", lang + "/hmm", "--task", task, "--lm", "CE=" + run,
                            "--out", report, "--windows", "4", "--folds", "2", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: ": cached").count - 1, 2, r.stderr)
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
