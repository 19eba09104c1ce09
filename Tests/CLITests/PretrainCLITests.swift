import Foundation
import XCTest

/// `lmprobe pretrain` as a user types it: option groups, cross-option rules as usage errors, and `--resume` that
/// keeps a run's recorded options (issues 25 and 27).
final class PretrainCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    /// A copy of the fixture's finished 20-step run (L1 d16 h2 T16, batch 4, checkpoint-every 10).
    func finishedRun(_ name: String) throws -> (tok: String, run: String) {
        let p = try TinyPipeline.fixture().path
        let copy = p + "/" + name
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: p + "/run", toPath: copy)
        return (p + "/tok", copy)
    }

    func testPretrainWithNeitherStepsNorTimeBudgetIsAUsageError() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/never"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("give --steps N or --time-budget MINUTES"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Usage: lmprobe pretrain"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/never"))
        let both = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/never", "--resume", "--init-from", p + "/run"])
        XCTAssertEqual(both.status, 64, both.stderr)
        XCTAssertTrue(both.stderr.contains("--init-from"), both.stderr)
    }

    func testPretrainHelpShowsTitledOptionGroups() throws {
        let r = try runLMProbe(["pretrain", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var last = r.stdout.startIndex
        for title in ["DATA:", "MODEL SHAPE:", "OBJECTIVE AND Φ:", "OPTIMISER:", "SCHEDULE:", "CHECKPOINTS:"] {
            guard let range = r.stdout.range(of: "\n" + title + "\n", range: last..<r.stdout.endIndex) else {
                return XCTFail("no group \(title) (in order) in:\n\(r.stdout)")
            }
            last = range.upperBound
        }
        XCTAssertTrue(r.stdout.contains("Peak learning rate (default 0.001)"), r.stdout)
    }

    func testPretrainWithoutATokenFolderSaysHowToMakeOne() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["pretrain", "--data", p + "/no-such-tokens", "--out", p + "/never", "--steps", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("lmprobe tokenize") && r.stderr.contains("make data"), r.stderr)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
    }

    func testResumeWithAnotherValueOfARecordedOptionIsRefusedNamingIt() throws {
        let (tok, run) = try finishedRun("resume-differs")
        let before = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
        let log = try Data(contentsOf: URL(fileURLWithPath: run + "/log.jsonl"))
        for (extra, flag) in [(["--steps", "40"], "--steps 40"), (["--dim", "32"], "--dim 32"), (["--lr", "0.01"], "--lr 0.01"),
                              (["--objective", "quad"], "--objective quad"), (["--seed", "7"], "--seed 7"),
                              (["--keep-checkpoints", "--batch", "8"], "--batch 8")] {
            let r = try runLMProbe(["pretrain", "--data", tok, "--out", run, "--resume"] + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains("\(flag) differs from this run's recorded"), "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run).sorted(), before)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/log.jsonl")), log)
        // Repeating the recorded values is accepted (a script may pass its arguments again).
        let same = try runLMProbe(["pretrain", "--data", tok, "--out", run, "--resume", "--steps", "20", "--dim", "16",
                                   "--batch", "4", "--keep-checkpoints", "--objective", "ce"])
        XCTAssertEqual(same.status, 0, same.stderr)
    }

    func testResumingAFinishedRunSaysItIsFinished() throws {
        let (tok, run) = try finishedRun("resume-finished")
        let r = try runLMProbe(["pretrain", "--data", tok, "--out", run, "--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("already finished at step 20/20: nothing to resume"), r.stdout)
        XCTAssertFalse((r.stdout + r.stderr).contains("nan"), r.stdout + r.stderr)
    }
}

/// Commands that read a run's checkpoints through THE model loader.
final class RunCheckpointsCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    func testAnalyzeTransferWithoutTheDefaultDataSaysMakeData() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["analyze", "transfer", "--run", p + "/run", "--task", "rt", "--data-dir", p + "/no-data",
                                "--out", p + "/transfer-no-data"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--task rt:") && r.stderr.contains("run `make data`"), r.stderr)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
    }
}

extension RunCheckpointsCLITests {
    /// `--tokenizer` may point at a moved or copied tokenizer, not at another one of the same size (export used to
    /// check the size only).
    func testATokenizerOverrideWithOtherTokensIsRefused() throws {
        let p = try TinyPipeline.fixture().path
        let fm = FileManager.default
        for name in ["tok-copy", "tok-swapped"] {
            try? fm.removeItem(atPath: p + "/" + name)
            try fm.createDirectory(atPath: p + "/" + name, withIntermediateDirectories: true)
            for f in ["vocab.json", "merges.txt"] { try fm.copyItem(atPath: p + "/tok/" + f, toPath: p + "/\(name)/" + f) }
        }
        // The same size, two token ids exchanged: every other word for those ids.
        let url = URL(fileURLWithPath: p + "/tok-swapped/vocab.json")
        var vocab = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Int])
        let a = try XCTUnwrap(vocab.first { $0.value == 40 }?.key), b = try XCTUnwrap(vocab.first { $0.value == 41 }?.key)
        vocab[a] = 41; vocab[b] = 40
        try JSONSerialization.data(withJSONObject: vocab).write(to: url)
        let bad = try runLMProbe(["export", "--checkpoint", p + "/run", "--tokenizer", p + "/tok-swapped", "--out", p + "/exp-swapped"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("its tokens differ from those of the tokenizer"), bad.stderr)
        XCTAssertFalse(fm.fileExists(atPath: p + "/exp-swapped"))
        let ok = try runLMProbe(["export", "--checkpoint", p + "/run", "--tokenizer", p + "/tok-copy", "--out", p + "/exp-copy"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }
}

extension RunCheckpointsCLITests {
    /// The main options (runs, task, output) come before the dataset group in `analyze transfer --help`.
    func testAnalyzeTransferHelpPutsTheRunsBeforeTheDatasetOptions() throws {
        let r = try runLMProbe(["analyze", "transfer", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let runs = try XCTUnwrap(r.stdout.range(of: "RUNS, TASK AND OUTPUT:"), r.stdout)
        let dataset = try XCTUnwrap(r.stdout.range(of: "YOUR OWN TASK"), r.stdout)
        XCTAssertLessThan(runs.lowerBound, dataset.lowerBound)
        XCTAssertLessThan(try XCTUnwrap(r.stdout.range(of: "--run <run>")).lowerBound, dataset.lowerBound)
    }
}
