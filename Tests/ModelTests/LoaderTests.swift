import Foundation
import Linalg
import Text
import XCTest
@testable import Model

/// One reader per file kind in Model: the run's checkpoint listing and the training log (issue 25).
final class LoaderTests: XCTestCase, TinyPretraining {
    let config = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32)

    /// Listing a run's checkpoints reads names and, for a final.safetensors that is not a hard link of a listed
    /// checkpoint, its header's step — never its weights: a final whose tensor bytes are damaged is still listed
    /// (its load, later, is what refuses it).
    func testListingARunReadsNoCheckpointWeights() throws {
        let tmp = TempDir()
        let run = tmp.url.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let model = try GPT(config: config, seed: 1)
        func save(_ name: String, step: Int) throws -> URL {
            let url = run.appendingPathComponent(name)
            try Checkpoint.save(to: url, model: model, step: step, optimizer: nil, state: nil, tokenizer: nil,
                                tokensHash: nil, dataDirectory: nil, validation: [])
            return url
        }
        _ = try save("ckpt-3.safetensors", step: 3)
        _ = try save("ckpt-12.safetensors", step: 12)
        let final = try save("final.safetensors", step: 20)
        // Damage the last weight bytes of final (the header and its step stay intact).
        var bytes = try Data(contentsOf: final)
        for i in (bytes.count - 16)..<bytes.count { bytes[i] ^= 0xFF }
        try bytes.write(to: final)
        XCTAssertThrowsError(try ModelLoader.checkpoint(final.path))
        let listed = try Checkpoint.list(in: run)
        XCTAssertEqual(listed.map(\.label), ["ckpt-3", "ckpt-12", "final"])
        XCTAssertEqual(listed.map(\.step), [3, 12, 20])
        // A final that is a hard link of the last checkpoint (what pretrain writes) is that checkpoint.
        try FileManager.default.removeItem(at: final)
        try FileManager.default.linkItem(at: run.appendingPathComponent("ckpt-12.safetensors"), to: final)
        XCTAssertEqual(try Checkpoint.list(in: run).map(\.label), ["ckpt-3", "ckpt-12"])
        XCTAssertThrowsError(try Checkpoint.list(in: tmp.url)) { e in XCTAssertTrue("\(e)".contains("no ckpt-*.safetensors"), "\(e)") }
    }

    /// The one log rule: a last line without its newline is a write cut short (kill -9, a full disk), not a record —
    /// curves ignore it, as `--resume` drops it.
    func testAnUnterminatedLastLogLineIsNotARecord() throws {
        let tmp = TempDir()
        let url = tmp.url.appendingPathComponent("log.jsonl")
        try Data("{\"step\":1,\"tokens\":8,\"loss\":2.5}\n{\"step\":2,\"tokens\":16,\"loss\":2.4}\n{\"step\":3,\"to".utf8).write(to: url)
        let log = try TrainingLog.read(url)
        XCTAssertEqual(log.train.map(\.step), [1, 2])
        XCTAssertEqual(try TrainingLog.records(url).map(\.line), [1, 2])
    }

    /// The same rule on resume as in curves: a complete line that is not JSON is damage, refused naming FILE:LINE
    /// (it used to be dropped silently on resume while `analyze curve` refused it).
    func testADamagedLogLineIsRefusedOnResumeNamingTheLine() throws {
        let tmp = TempDir()
        let ds = try dataset(tmp)
        let run = tmp.url.appendingPathComponent("run")
        try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 6), runDirectory: run)
            .run(stopAfter: 3)
        let log = run.appendingPathComponent("log.jsonl")
        var text = try String(contentsOf: log, encoding: .utf8)
        let lines = text.split(separator: "\n").count
        text += "garbage\n"
        try text.write(to: log, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Trainer(resuming: run, dataset: ds)) { e in
            XCTAssertTrue("\(e)".contains("log.jsonl:\(lines + 1): not a JSON object"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOf: log, encoding: .utf8), text, "the log is left as it was")
    }

    /// `Trainer(resuming:accept:)` lets the caller refuse a resumption on the recorded config and state before the
    /// run folder changes (the log keeps the lines a resume would drop).
    func testAResumeRefusedOnItsRecordedOptionsLeavesTheRunFolderAlone() throws {
        let tmp = TempDir()
        let ds = try dataset(tmp)
        let run = tmp.url.appendingPathComponent("run")
        try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 6), runDirectory: run)
            .run(stopAfter: 4)
        let log = run.appendingPathComponent("log.jsonl")
        let h = try FileHandle(forWritingTo: log)
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"step\":5,\"loss\":1}\n".utf8))
        try h.close()
        let before = try Data(contentsOf: log)
        struct Refused: Error {}
        var seen: (GPTConfig, TrainingState)?
        XCTAssertThrowsError(try Trainer(resuming: run, dataset: ds) { c, s in seen = (c, s); throw Refused() })
        XCTAssertEqual(seen?.0, config)
        XCTAssertEqual(seen?.1.options.steps, 6)
        XCTAssertEqual(seen?.1.step, 4)   // stopped after 4: an interrupt checkpoint
        XCTAssertEqual(try Data(contentsOf: log), before)
    }

    /// Weights to train from (`pretrain --init-from`/`--phi-from`) come through the loader, which refuses another
    /// vocabulary than the token files', naming the flag (this check used to be pretrain's own copy).
    func testWeightsToTrainFromMustHaveTheTokenFilesVocabulary() throws {
        let tmp = TempDir()
        let ds = try dataset(tmp)
        func save(_ c: GPTConfig, tokenizer: String?) throws -> String {
            let url = tmp.url.appendingPathComponent("v\(c.vocabSize)-\(UUID().uuidString).safetensors")
            try Checkpoint.save(to: url, model: GPT(config: c, seed: 1), step: 0, optimizer: nil, state: nil,
                                tokenizer: tokenizer, tokensHash: nil, dataDirectory: nil, validation: [])
            return url.path
        }
        let other = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 40)
        XCTAssertThrowsError(try ModelLoader.checkpoint(try save(other, tokenizer: nil), trainingOn: ds, flag: "--phi-from")) { e in
            XCTAssertTrue("\(e)".hasPrefix("--phi-from ") && "\(e)".contains("vocabulary 40 but the token files have 32"), "\(e)")
        }
        let same = try ModelLoader.checkpoint(try save(config, tokenizer: ds.tokenizerDirectory.path), trainingOn: ds,
                                              flag: "--init-from")
        XCTAssertEqual(same.config, config)
    }
}
