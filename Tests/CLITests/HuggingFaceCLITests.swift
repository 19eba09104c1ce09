import Foundation
import Model
import XCTest

/// `--checkpoint` with Hugging Face GPT-2 folders, and `lmprobe export`, as whole commands.
final class HuggingFaceCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelTests/Fixtures/hf-gpt2-tiny").path

    func testExportToHuggingFaceThenExtractGivesIdenticalFeatures() throws {
        let p = try TinyPipeline.fixture().path
        var r = try runLMProbe(["export", "--checkpoint", p + "/run", "--out", p + "/hf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: p + "/hf/" + f), f)
        }
        r = try runLMProbe(["export", "--checkpoint", p + "/run", "--out", p + "/hf"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("already exists"), r.stderr)
        for (ck, out) in [(p + "/run", p + "/feat-run"), (p + "/hf", p + "/feat-hf")] {
            r = try runLMProbe(["extract", "--checkpoint", ck, "--dataset", p + "/data.tsv", "--prompt", " The movie is",
                                "--out", out, "--threads", "2"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        for f in ["f.npy", "phip.npy", "p.npy"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p + "/feat-run/" + f)),
                           try Data(contentsOf: URL(fileURLWithPath: p + "/feat-hf/" + f)), f)
        }
        // Weights-only lmprobe checkpoint: loads where --checkpoint is accepted, a third of the size.
        r = try runLMProbe(["export", "--checkpoint", p + "/run", "--out", p + "/w", "--format", "lmprobe"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let full = try FileManager.default.attributesOfItem(atPath: p + "/run/final.safetensors")[.size] as! Int
        let small = try FileManager.default.attributesOfItem(atPath: p + "/w/final.safetensors")[.size] as! Int
        XCTAssertLessThan(small * 2, full)
        r = try runLMProbe(["extract", "--checkpoint", p + "/w", "--dataset", p + "/data.tsv", "--prompt", " The movie is",
                            "--out", p + "/feat-w", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p + "/feat-run/f.npy")),
                       try Data(contentsOf: URL(fileURLWithPath: p + "/feat-w/f.npy")))
        // Φ from a HF folder, and a fine-tune start from one.
        r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/quad", "--objective", "quad", "--untied-phi",
                            "--phi-from", p + "/hf", "--freeze-phi", "--layers", "1", "--dim", "16", "--heads", "2",
                            "--context", "16", "--batch", "4", "--steps", "2", "--warmup", "1", "--eval-every", "2",
                            "--eval-batches", "1", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/ft", "--init-from", p + "/hf",
                            "--batch", "4", "--steps", "2", "--warmup", "1", "--eval-every", "2", "--eval-batches", "1",
                            "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("fine-tuning from"), r.stderr)
        // The committed HF fixture has another tokenizer: refused by name.
        r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/ft2", "--init-from", Self.fixture, "--steps", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("vocabulary 300"), r.stderr)
    }

    func testExtractFromCommittedHuggingFaceFolder() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["extract", "--checkpoint", Self.fixture, "--dataset", p + "/data.tsv",
                                "--out", p + "/feat-fixture", "--threads", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(m.first?["d"] as? Int, 64)
        XCTAssertEqual(m.first?["vocab_size"] as? Int, 300)
    }

    static let layouts = URL(fileURLWithPath: fixture).deletingLastPathComponent().appendingPathComponent("hf-layouts").path

    /// A fresh folder for one test (removed at the end of the test).
    func scratch() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-hfcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d.path
    }

    /// The committed tiny HF model saved as an lmprobe checkpoint (recording the fixture's tokenizer), with its
    /// config and parameters edited.
    func editedCheckpoint(in dir: String, objective: Objective = .ce,
                          _ edit: (UnsafeMutablePointer<Float>, ParameterLayout) -> Void = { _, _ in }) throws -> String {
        let source = try Checkpoint.load(url: URL(fileURLWithPath: Self.fixture)).model
        var c = source.config
        c.objective = objective
        let m = try GPT(config: c) { block, layout in
            block.update(from: source.parameters.pointer, count: layout.count)
            edit(block, layout)
        }
        let path = dir + "/edited.safetensors"
        try Checkpoint.save(to: URL(fileURLWithPath: path), model: m, step: 5, optimizer: nil, state: nil,
                            tokenizer: Self.fixture, tokensHash: nil, dataDirectory: nil, validation: [])
        return path
    }

    func testExtractRefusesNonFiniteFeaturesFromHugeFiniteWeights() throws {
        let d = try scratch(), p = try TinyPipeline.fixture().path
        let ck = try editedCheckpoint(in: d) { block, layout in
            for i in 0..<(300 * 64) { block[layout.wte + i] = 3e38 }
        }
        let r = try runLMProbe(["extract", "--checkpoint", ck, "--dataset", p + "/data.tsv", "--out", d + "/feat", "--threads", "2"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("NaN or infinite"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("NaN") }.count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/feat/f.npy"))
    }

    func testExportFloat16RefusesWeightsBeyondHalfRange() throws {
        let d = try scratch()
        let ck = try editedCheckpoint(in: d) { block, layout in block[layout.wpe + 3] = 70_000 }
        for format in ["hf", "lmprobe"] {
            let r = try runLMProbe(["export", "--checkpoint", ck, "--out", d + "/out-" + format, "--float16", "--format", format])
            XCTAssertNotEqual(r.status, 0, format)
            XCTAssertTrue(r.stderr.contains("65504") && r.stderr.contains("drop --float16"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/out-" + format), format)
        }
        let r = try runLMProbe(["export", "--checkpoint", ck, "--out", d + "/out32"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testQuadExportIsMarkedAndWarnedAbout() throws {
        let d = try scratch()
        let help = try runLMProbe(["export", "--help"])
        let helpText = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")   // unwrapped
        XCTAssertTrue(helpText.contains("logits Φf are not log-probabilities"), help.stdout)
        let ck = try editedCheckpoint(in: d, objective: .quad)
        var r = try runLMProbe(["export", "--checkpoint", ck, "--out", d + "/quad"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("warning: Quad model"), r.stdout)
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/quad/config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["lmprobe_objective"] as? String, "quad")
        XCTAssertNotNil(cfg["lmprobe_warning"])
        // Imported back, it is Quad again (and its step is unknown).
        let back = try Checkpoint.load(url: URL(fileURLWithPath: d + "/quad"))
        XCTAssertEqual(back.config.objective, .quad)
        XCTAssertNil(back.recordedStep)
        let ce = try editedCheckpoint(in: d)   // the same weights as CE: no warning
        r = try runLMProbe(["export", "--checkpoint", ce, "--out", d + "/ce"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("warning"), r.stdout)
    }

    func testExportTokenizerMustEncodeAsTheCheckpointsTokenizer() throws {
        let d = try scratch()
        let ck = try editedCheckpoint(in: d)
        // Same size, two merges swapped: ids would change.
        let tok = d + "/swapped"
        try FileManager.default.createDirectory(atPath: tok, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture + "/vocab.json", toPath: tok + "/vocab.json")
        var lines = try String(contentsOfFile: Self.fixture + "/merges.txt", encoding: .utf8).components(separatedBy: "\n")
        lines.swapAt(1, 2)
        try lines.joined(separator: "\n").write(toFile: tok + "/merges.txt", atomically: true, encoding: .utf8)
        var r = try runLMProbe(["export", "--checkpoint", ck, "--out", d + "/a", "--tokenizer", tok])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("its merges differ from those of the tokenizer") && r.stderr.contains("merge 1"), r.stderr)
        // The same tokenizer in transformers 5's tokenizer.json form is accepted.
        r = try runLMProbe(["export", "--checkpoint", ck, "--out", d + "/b", "--tokenizer", Self.layouts + "/tokenizer-json"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testExportOfModelVocabularyLargerThanTokenizer() throws {
        let d = try scratch()
        var r = try runLMProbe(["export", "--checkpoint", Self.layouts + "/padded-vocab", "--out", d + "/hf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("20 vocabulary rows past the tokenizer"), r.stdout)
        XCTAssertEqual(try Checkpoint.load(url: URL(fileURLWithPath: d + "/hf")).config.vocabSize, 320)
        r = try runLMProbe(["export", "--checkpoint", Self.layouts + "/padded-vocab", "--out", d + "/lm", "--format", "lmprobe"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--format hf"), r.stderr)
    }
}
