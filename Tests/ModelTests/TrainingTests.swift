import Foundation
import Text
import XCTest
@testable import Model

/// Training loop, checkpoints and token files, on synthetic token streams written by the tests.
final class TrainingTests: XCTestCase {
    let config = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32)

    func options(steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.batch = 4; o.gradAccum = 2; o.steps = steps; o.warmup = 2; o.lr = 3e-3; o.minLR = 3e-4
        o.evalEvery = 3; o.evalBatches = 2; o.checkpointEvery = 3; o.logEvery = 2; o.seed = 77
        return o
    }

    func testStraightRunEqualsInterruptedAndResumedRunBitForBit() throws {
        try checkResumeIsBitIdentical(config: config)
    }

    /// The same for Quad with an output scale (`GPTConfig.outputScale`): the scale comes back from the checkpoint.
    func testResumeKeepsTheOutputScaleBitForBit() throws {
        var c = config; c.objective = .quad; c.untiedPhi = true; c.outputScale = 0.125
        try checkResumeIsBitIdentical(config: c)
    }

    func checkResumeIsBitIdentical(config: GPTConfig) throws {
        let tmp = TempDir()
        let data = tmp.url.appendingPathComponent("tokens")
        try writeSyntheticTokens(to: data, vocab: 32, train: 3000, val: 800)
        let ds = try TokenDataset(directory: data)
        let K = 5
        let a = try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 2 * K),
                            runDirectory: tmp.url.appendingPathComponent("A"))
        let sa = try a.run()
        XCTAssertEqual(sa.steps, 2 * K)
        XCTAssertFalse(sa.interrupted)
        let runB = tmp.url.appendingPathComponent("B")
        let b1 = try Trainer(model: GPT(config: config, seed: 1), dataset: ds, options: options(steps: 2 * K),
                             runDirectory: runB)
        let s1 = try b1.run(stopAfter: K)
        XCTAssertTrue(s1.interrupted)
        XCTAssertEqual(s1.steps, K)
        let b2 = try Trainer(resuming: runB, dataset: ds)
        let s2 = try b2.run()
        XCTAssertEqual(s2.steps, 2 * K)
        XCTAssertEqual(a.model.parameters.toArray(), b2.model.parameters.toArray(), "parameters must be bit-identical")
        XCTAssertEqual(a.optimizer.m.toArray(), b2.optimizer.m.toArray())
        XCTAssertEqual(a.optimizer.v.toArray(), b2.optimizer.v.toArray())
        XCTAssertEqual(a.state.validation, b2.state.validation)
        // Run layout: final checkpoint, latest pointer, a JSONL log that parses line by line.
        let final = try Checkpoint.load(url: runB)
        XCTAssertEqual(final.step, 2 * K)
        XCTAssertEqual(final.config, config)
        XCTAssertEqual(final.tokensHash, ds.hash)
        XCTAssertEqual(final.tokenizerDirectory, data.standardizedFileURL.path)
        XCTAssertEqual(final.validation.count, 4)  // steps 3, 6, 9, 10
        XCTAssertEqual(final.model.parameters.toArray(), a.model.parameters.toArray())
        let log = try String(contentsOf: runB.appendingPathComponent("log.jsonl"), encoding: .utf8)
        for line in log.split(separator: "\n") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)), String(line))
        }
        XCTAssertTrue(log.contains("\"val_loss\""))
        // Only the newest periodic checkpoint is kept without keepCheckpoints.
        let files = try FileManager.default.contentsOfDirectory(atPath: runB.path).filter { $0.hasPrefix("ckpt-") }
        XCTAssertEqual(files, ["ckpt-10.safetensors"])
    }

    func testQuadTrainingLowersValidationLossWithFrozenCopiedPhi() throws {
        let tmp = TempDir()
        let data = tmp.url.appendingPathComponent("tokens")
        try writeSyntheticTokens(to: data, vocab: 32, train: 3000, val: 800)
        let ds = try TokenDataset(directory: data)
        let ceModel = try GPT(config: config, seed: 4)
        var qc = config; qc.objective = .quad; qc.untiedPhi = true
        let q = try GPT(config: qc, seed: 5)
        try q.copyPhi(from: ceModel)
        XCTAssertEqual(q.phi.toArray(), ceModel.phi.toArray())
        var o = options(steps: 12); o.freezePhi = true; o.lr = 1e-2; o.evalEvery = 1; o.keepCheckpoints = true
        let t = try Trainer(model: q, dataset: ds, options: o, runDirectory: tmp.url.appendingPathComponent("Q"))
        let phiBefore = q.phi.toArray()
        try t.run()
        XCTAssertEqual(q.phi.toArray(), phiBefore, "frozen Φ must not move")
        let v = t.state.validation
        XCTAssertLessThan(v.last!.loss, v.first!.loss)
        let kept = try FileManager.default.contentsOfDirectory(atPath: t.runDirectory.path).filter { $0.hasPrefix("ckpt-") }
        XCTAssertEqual(Set(kept), ["ckpt-3.safetensors", "ckpt-6.safetensors", "ckpt-9.safetensors", "ckpt-12.safetensors"])
    }

    func testNonFiniteLossStopsWithClearError() throws {
        let tmp = TempDir()
        let data = tmp.url.appendingPathComponent("tokens")
        try writeSyntheticTokens(to: data, vocab: 32, train: 1000, val: 300)
        let m = try GPT(config: config, seed: 1)
        m.parameters.pointer[m.layout.lnfw] = .nan
        let t = try Trainer(model: m, dataset: TokenDataset(directory: data), options: options(steps: 4),
                            runDirectory: tmp.url.appendingPathComponent("N"))
        XCTAssertThrowsError(try t.run()) { e in
            XCTAssertTrue("\(e)".contains("non-finite loss"), "\(e)")
        }
    }

    func testCorruptedOrTruncatedCheckpointIsRefused() throws {
        let tmp = TempDir()
        let m = try GPT(config: config, seed: 1)
        let url = tmp.url.appendingPathComponent("c.safetensors")
        try Checkpoint.save(to: url, model: m, step: 3, optimizer: nil, state: nil, tokenizer: "/tok", tokensHash: "ab",
                            dataDirectory: nil, validation: [])
        let ok = try Checkpoint.load(url: url)
        XCTAssertEqual(ok.model.parameters.toArray(), m.parameters.toArray())
        XCTAssertEqual(ok.step, 3)
        var bytes = try Data(contentsOf: url)
        func expectRefusal(_ d: Data, _ needle: String) throws {
            let bad = tmp.url.appendingPathComponent("bad.safetensors")
            try d.write(to: bad)
            XCTAssertThrowsError(try Checkpoint.load(url: bad)) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e)")
                XCTAssertTrue("\(e)".contains("bad.safetensors"), "\(e)")
            }
        }
        let flipped = bytes.count - 100
        bytes[flipped] ^= 0x40
        try expectRefusal(bytes, "digest mismatch")
        bytes[flipped] ^= 0x40
        try expectRefusal(bytes.prefix(bytes.count - 64), "truncated")
        try expectRefusal(bytes.prefix(5), "shorter than")
        try expectRefusal(Data(repeating: 0xFF, count: 64), "header length")
    }

    func testTokenDatasetRejectsBadFiles() throws {
        let tmp = TempDir()
        let dir = tmp.url.appendingPathComponent("t")
        try writeSyntheticTokens(to: dir, vocab: 32, train: 100, val: 50, dtype: "uint32")
        let ds = try TokenDataset(directory: dir)
        XCTAssertEqual(ds.trainCount, 100)
        var x = [Int32](repeating: 0, count: 4), y = x
        ds.fillBatch(.train, starts: [10], length: 4, inputs: &x, targets: &y)
        XCTAssertEqual(Array(x[1...]), Array(y[..<3]))
        // Corrupt copies in fresh directories (never rewrite a file that a live dataset has memory-mapped).
        let full = try Data(contentsOf: dir.appendingPathComponent("train.bin"))
        let short = tmp.url.appendingPathComponent("short")
        try writeSyntheticTokens(to: short, vocab: 32, train: 100, val: 50, dtype: "uint32")
        try full.prefix(full.count - 4).write(to: short.appendingPathComponent("train.bin"))
        XCTAssertThrowsError(try TokenDataset(directory: short)) { XCTAssertTrue("\($0)".contains("train.bin"), "\($0)") }
        let big = tmp.url.appendingPathComponent("big")
        try writeSyntheticTokens(to: big, vocab: 32, train: 100, val: 50, dtype: "uint32")
        var d = full; d[8] = 200
        try d.write(to: big.appendingPathComponent("train.bin"))
        XCTAssertThrowsError(try TokenDataset(directory: big)) { XCTAssertTrue("\($0)".contains("vocab_size"), "\($0)") }
        XCTAssertThrowsError(try TokenDataset(directory: tmp.url.appendingPathComponent("missing")))
    }

    /// The checkpoint loads in Python's `safetensors` (skipped with a printed reason when it is not installed).
    func testSafetensorsFileLoadsInPython() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import safetensors.numpy, numpy"]
        probe.standardError = FileHandle.nullDevice
        do { try probe.run(); probe.waitUntilExit() } catch { throw XCTSkip("python3 not runnable: \(error)") }
        guard probe.terminationStatus == 0 else {
            print("SKIP testSafetensorsFileLoadsInPython: python3 module 'safetensors' is not installed")
            throw XCTSkip("python3 module 'safetensors' is not installed")
        }
        let tmp = TempDir()
        var c = config; c.untiedPhi = true
        let m = try GPT(config: c, seed: 8)
        let url = tmp.url.appendingPathComponent("py.safetensors")
        try Checkpoint.save(to: url, model: m, step: 1, optimizer: AdamW(layout: m.layout, dim: c.dim), state: nil,
                            tokenizer: nil, tokensHash: nil, dataDirectory: nil, validation: [])
        let script = """
        import json, sys
        from safetensors.numpy import load_file
        from safetensors import safe_open
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="numpy") as f: meta = f.metadata()
        print(json.dumps({"config": json.loads(meta["config"]),
                          "tensors": {k: [list(v.shape), float(v.astype("float64").sum())] for k, v in t.items()}}))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, url.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let obj = try JSONSerialization.jsonObject(with: out.fileHandleForReading.readDataToEndOfFile()) as! [String: Any]
        let tensors = obj["tensors"] as! [String: [Any]]
        XCTAssertEqual((obj["config"] as! [String: Any])["dim"] as? Int, 16)
        for t in m.layout.tensors {
            let entry = try XCTUnwrap(tensors[t.name], t.name)
            XCTAssertEqual(entry[0] as? [Int], t.shape)
            var s = 0.0
            for i in t.range { s += Double(m.parameters.pointer[i]) }
            XCTAssertEqual(entry[1] as! Double, s, accuracy: 1e-6 * max(1, abs(s)), t.name)
        }
        XCTAssertNotNil(tensors["optimizer.m"])
    }

    func testScheduleWarmupThenCosine() {
        let s = LearningRateSchedule(maxLR: 1, minLR: 0.1, warmup: 4, totalSteps: 14)
        XCTAssertEqual(s.lr(at: 0), 0.25, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 3), 1, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 4), 1, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 9), 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.lr(at: 14), 0.1, accuracy: 1e-12)
    }
}
