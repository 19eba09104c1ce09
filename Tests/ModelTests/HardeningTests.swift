import Foundation
import Text
import XCTest
@testable import Model

/// Issue 16's reproductions for pretraining: sizes from flags and checkpoints are validated before anything is
/// allocated, a run folder has one writer, and its log neither follows symlinks nor repeats redone steps.
final class HardeningTests: XCTestCase, TinyPretraining {
    let config = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32)

    func testHugeShapesAreValidationErrorsNotAllocationAborts() throws {
        for (c, message) in [
            (GPTConfig(layers: 4, dim: 256, heads: 4, context: 1 << 40, vocabSize: 100), "context 1099511627776 is above the limit of 65536"),
            (GPTConfig(layers: 1 << 40, dim: 256, heads: 4, context: 128, vocabSize: 100), "layers 1099511627776 is above the limit"),
            (GPTConfig(layers: 4, dim: 1 << 40, heads: 4, context: 128, vocabSize: 100), "dim 1099511627776 is above the limit"),
            (GPTConfig(layers: 4, dim: 256, heads: 4, context: 128, vocabSize: Int(Int32.max)), "vocab-size 2147483647 is above the limit"),
            (GPTConfig(layers: 1024, dim: 65536, heads: 4, context: 128, vocabSize: 100), "this process may allocate"),
            (GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32, outputScale: 0), "output-scale must be a positive finite number"),
            (GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32, outputScale: .nan), "output-scale must be a positive finite number"),
            (GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32, outputScale: -2), "output-scale must be a positive finite number"),
        ] {
            XCTAssertThrowsError(try GPT(config: c, seed: 1)) { e in XCTAssertTrue("\(e)".contains(message), "\(e)") }
        }
        // A checkpoint config written before the output scale existed means c = 1; one with c round-trips.
        let old = #"{"layers":1,"dim":16,"heads":2,"context":8,"vocabSize":32,"objective":"quad","untiedPhi":true}"#
        let decoded = try JSONDecoder().decode(GPTConfig.self, from: Data(old.utf8))
        XCTAssertEqual(decoded.outputScale, 1)
        XCTAssertEqual(decoded.objective, .quad)
        var scaled = decoded; scaled.outputScale = 0.0625
        XCTAssertEqual(try JSONDecoder().decode(GPTConfig.self, from: JSONEncoder().encode(scaled)), scaled)
        // The checked parameter count is the layout's.
        for c in [config, GPTConfig(layers: 3, dim: 24, heads: 3, context: 5, vocabSize: 50, untiedPhi: true)] {
            XCTAssertEqual(c.parameterCount, ParameterLayout(c).count)
        }
        // A batch whose activations the machine cannot hold is refused before the first step.
        let tmp = TempDir()
        var o = options(steps: 2); o.batch = 1 << 16
        let big = GPTConfig(layers: 4, dim: 256, heads: 4, context: 64, vocabSize: 32)
        XCTAssertThrowsError(try Trainer(model: GPT(config: big, seed: 1), dataset: dataset(tmp), options: o,
                                         runDirectory: tmp.url.appendingPathComponent("run"))) { e in
            XCTAssertTrue("\(e)".contains("at --batch 65536 needs"), "\(e)")
        }
    }

    func testNonFiniteFloatFlagsAreRefused() {
        let cases: [(WritableKeyPath<TrainingOptions, Double>, Double, String)] = [
            (\.clip, .nan, "--clip"), (\.clip, .infinity, "--clip"), (\.minLR, .nan, "--min-lr"),
            (\.weightDecay, .nan, "--weight-decay"), (\.weightDecay, .infinity, "--weight-decay"), (\.lr, .nan, "--lr"),
        ]
        for (key, value, flag) in cases {
            var o = options(steps: 5)
            o[keyPath: key] = value
            XCTAssertThrowsError(try o.validate()) { e in XCTAssertTrue("\(e)".contains(flag), "\(flag) \(value): \(e)") }
        }
        var o = options(steps: 5); o.steps = nil; o.timeBudgetMinutes = .infinity
        XCTAssertThrowsError(try o.validate()) { e in XCTAssertTrue("\(e)".contains("--time-budget"), "\(e)") }
        o.timeBudgetMinutes = .nan
        XCTAssertThrowsError(try o.validate()) { e in XCTAssertTrue("\(e)".contains("--time-budget"), "\(e)") }
    }

    /// `--resume` used to trust the stored options: logEvery 0 divided by zero, batch −1 crashed, evalBatches
    /// 2³²−1 allocated 68 GB. They are validated like flags now.
    func testResumedOptionsAreValidatedLikeFreshOnes() throws {
        let tmp = TempDir()
        let ds = try dataset(tmp)
        let run = tmp.url.appendingPathComponent("run")
        let t = try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 6), runDirectory: run)
        let s = try t.run(stopAfter: 2)
        let ckpt = try XCTUnwrap(s.checkpoint)
        let (model, opt, state, _) = try Checkpoint.loadForResume(url: ckpt)
        let tampered: [(WritableKeyPath<TrainingOptions, Int>, Int, String)] = [
            (\.logEvery, 0, "--log-every"), (\.evalEvery, 0, "--eval-every"), (\.checkpointEvery, 0, "--checkpoint-every"),
            (\.batch, -1, "--batch"), (\.evalBatches, (1 << 32) - 1, "--eval-batches"),
        ]
        for (key, value, flag) in tampered {
            var st = state
            st.options[keyPath: key] = value
            try Checkpoint.save(to: ckpt, model: model, step: st.step, optimizer: opt, state: st,
                                tokenizer: ds.tokenizerDirectory.path, tokensHash: ds.hash, dataDirectory: ds.directory.path,
                                validation: st.validation)
            XCTAssertThrowsError(try Trainer(resuming: run, dataset: ds)) { e in
                XCTAssertTrue("\(e)".contains("stored training options") && "\(e)".contains(flag), "\(e)")
            }
        }
    }

    func testRunFolderHasOneWriterAndItsLogStaysClean() throws {
        let tmp = TempDir()
        let ds = try dataset(tmp)
        let run = tmp.url.appendingPathComponent("run")
        let a = try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 8), runDirectory: run)
        // A second writer (same process or another) is refused while the first holds the folder.
        XCTAssertThrowsError(try Trainer(model: GPT(config: config, seed: 2), dataset: ds, options: options(steps: 8),
                                         runDirectory: run)) { e in
            XCTAssertTrue("\(e)".contains("is in use by another pretrain (pid \(getpid()))"), "\(e)")
        }
        XCTAssertThrowsError(try Trainer(resuming: run, dataset: ds)) { e in XCTAssertTrue("\(e)".contains("in use"), "\(e)") }
        try a.run(stopAfter: 4)
        // A fresh run into a folder holding a run is refused; a resume is not.
        XCTAssertThrowsError(try Trainer(model: GPT(config: config, seed: 2), dataset: ds, options: options(steps: 8),
                                         runDirectory: run)) { e in XCTAssertTrue("\(e)".contains("already holds a run"), "\(e)") }

        // As if the process had been killed after logging steps 5-6 and during a checkpoint write: the redone
        // steps' lines, a torn last line and the temporary file must not survive the resume.
        let log = run.appendingPathComponent("log.jsonl")
        let h = try FileHandle(forWritingTo: log)
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"step\":5,\"loss\":1}\n{\"step\":6,\"loss\":1}\n{\"step\":7,\"lo".utf8))
        try h.close()
        let orphan = run.appendingPathComponent(".ckpt-6.safetensors.tmp-999999")
        try Data(count: 1000).write(to: orphan)
        let b = try Trainer(resuming: run, dataset: ds)
        XCTAssertFalse(FileManager.default.fileExists(atPath: orphan.path))
        try b.run()
        var steps: [Int] = []
        for line in try String(contentsOf: log, encoding: .utf8).split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            if obj["loss"] != nil, let s = obj["step"] as? Int { steps.append(s) }
        }
        XCTAssertEqual(steps, Array(1...8), "each step logged once")

        // A planted log.jsonl symlink is refused, not followed.
        let run2 = tmp.url.appendingPathComponent("run2")
        try FileManager.default.createDirectory(at: run2, withIntermediateDirectories: true)
        let elsewhere = tmp.url.appendingPathComponent("elsewhere.txt")
        try Data("keep\n".utf8).write(to: elsewhere)
        try FileManager.default.createSymbolicLink(at: run2.appendingPathComponent("log.jsonl"), withDestinationURL: elsewhere)
        let c = try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 2), runDirectory: run2)
        XCTAssertThrowsError(try c.run()) { e in XCTAssertTrue("\(e)".contains("log.jsonl: is a symbolic link"), "\(e)") }
        XCTAssertEqual(try String(contentsOf: elsewhere, encoding: .utf8), "keep\n")
    }
}
