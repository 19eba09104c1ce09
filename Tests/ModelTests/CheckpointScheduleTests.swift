import Foundation
import XCTest
@testable import Model
import Text

final class CheckpointScheduleTests: XCTestCase {
    /// `checkpointAt` adds checkpoints at arbitrary (e.g. log-spaced) steps next to the periodic ones, kept with
    /// `keepCheckpoints`; the final step is saved once, as final.
    func testCheckpointAtAddsTheListedSteps() throws {
        let tmp = TempDir()
        let data = tmp.url.appendingPathComponent("tokens")
        try writeSyntheticTokens(to: data, vocab: 32, train: 3000, val: 800)
        var o = TrainingOptions()
        o.batch = 2; o.steps = 9; o.warmup = 1; o.evalEvery = 100; o.evalBatches = 1; o.logEvery = 100
        o.checkpointEvery = 4; o.checkpointAt = [1, 2, 5, 9]; o.keepCheckpoints = true
        let run = tmp.url.appendingPathComponent("run")
        let t = try Trainer(model: GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32), seed: 1),
                            dataset: TokenDataset(directory: data), options: o, runDirectory: run)
        _ = try t.run()
        let names = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("ckpt-") }.sorted()
        XCTAssertEqual(names, ["ckpt-1.safetensors", "ckpt-2.safetensors", "ckpt-4.safetensors", "ckpt-5.safetensors",
                               "ckpt-8.safetensors", "ckpt-9.safetensors"])
        o.checkpointAt = [0]
        XCTAssertThrowsError(try o.validate())
    }
}
