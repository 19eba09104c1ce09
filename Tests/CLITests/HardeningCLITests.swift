import Foundation
import XCTest

/// Issue 16's reproductions run as whole commands: each ends in a one-line error (or correct behaviour), with
/// nothing written outside --out and nothing mixed left behind.
final class HardeningCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    func files(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func testReExtractLeavesNoStaleFilesAndProbeRefusesMixedFolders() throws {
        let p = try TinyPipeline.fixture().path
        let out = p + "/hfeat"
        var r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--test-fraction", "0.25",
                                "--words", "paper", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(files(out + "/train").contains("subset_probs.npy"), "\(files(out + "/train"))")
        // Without --words and without a split: the subset files and train/test of the first run must not survive.
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--no-p", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(files(out), ["f.npy", "labels.npy", "manifest.json", "phip.npy"])
        XCTAssertFalse(files(p).contains { $0.hasPrefix(".hfeat") }, "staging folders left: \(files(p))")
        // A folder lmprobe did not write is refused, not emptied.
        let mine = p + "/mine"
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
        try "x".write(toFile: mine + "/notes.txt", atomically: true, encoding: .utf8)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--out", mine])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("non-empty folder that lmprobe did not write"), r.stderr)
        XCTAssertEqual(files(mine), ["notes.txt"])

        // Train and test folders from different extractions (here: different prompts) are refused by probe.
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--test-fraction", "0.25",
                            "--prompt", " It was", "--out", p + "/hfeat2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try runLMProbe(["probe", "--train", p + "/feat/train", "--test", p + "/hfeat2/test"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("were extracted differently: prompt"), r.stderr)
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
        r = try runLMProbe(["probe", "--train", p + "/hfeat2/train", "--test", p + "/hfeat2/test"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testThreadsAboveTheCoreCountAreCapped() throws {
        let r = try runLMProbe(["bench", "gemm", "--json", "--sizes", "64", "--seconds", "0.01", "--threads", "4096"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("note: --threads 4096 capped at the"), r.stderr)
    }

    func testBadFlagsAndTaskNamesAreOneLineErrors() throws {
        let p = try TinyPipeline.fixture().path
        let base = ["pretrain", "--data", p + "/tok", "--layers", "1", "--dim", "16", "--heads", "2", "--context", "16",
                    "--batch", "2", "--steps", "2", "--eval-batches", "1"]
        for (extra, expected) in [(["--clip", "nan"], "--clip"), (["--min-lr", "nan"], "--min-lr"),
                                  (["--weight-decay", "nan"], "--weight-decay"),
                                  (["--context", "1000000000000"], "context 1000000000000 is above the limit"),
                                  (["--dim", "1000000000000"], "dim 1000000000000 is above the limit"),
                                  (["--layers", "1000000000000"], "layers 1000000000000 is above the limit"),
                                  (["--batch", "1000000000000"], "--batch must be in 1...65536")] {
            let out = p + "/hrun-\(extra[0].dropFirst(2))"
            let r = try runLMProbe(base + extra + ["--out", out])
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/latest"))
        }
        var r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/hrun-tb", "--time-budget", "inf"])
        XCTAssertTrue(r.stderr.contains("--time-budget"), r.stderr)

        // A task name that climbs out of --out is refused before anything is written.
        let evil = p + "/evil-target"
        let spec = """
        [{"name": "../evil-target/x", "train": {"path": "\(p)/data.tsv", "format": "tsv", "textColumn": "text",
          "labelColumn": "label", "detokenizePTB": false}, "testFraction": 0.25, "seed": 0, "prompt": " The movie is",
          "words": ["great"], "classWords": null}]
        """
        try spec.write(toFile: p + "/evil-tasks.json", atomically: true, encoding: .utf8)
        r = try runLMProbe(["compare", "--checkpoint", p + "/run", "--tasks-file", p + "/evil-tasks.json", "--no-bow",
                            "--out", p + "/hcmp/out"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("task name '../evil-target/x' contains '/'"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: evil))
    }
}
