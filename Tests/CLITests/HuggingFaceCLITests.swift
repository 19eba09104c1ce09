import Foundation
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
}
