import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Whole-command tests of the readouts (`extract --pool/--layer`, compare's f_mean and best-layer rows), class
/// names in probe output, training curves and multi-run transfer, on the tiny pipeline fixture.
final class FeaturesCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func parsesAsXML(_ path: String) -> Bool { XMLParser(contentsOf: URL(fileURLWithPath: path))?.parse() ?? false }

    func testExtractPoolAndLayerAndProbeClassNames() throws {
        let p = try TinyPipeline.fixture().path
        // The fixture task with named classes.
        let tsv = try String(contentsOfFile: p + "/data.tsv", encoding: .utf8)
        let named = tsv.split(separator: "\n").map { line -> String in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return (parts[0] == "1" ? "positive" : "negative") + "\t" + parts[1]
        }.joined(separator: "\n") + "\n"
        try named.write(toFile: p + "/named.tsv", atomically: true, encoding: .utf8)
        let r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/named.tsv", "--test-fraction", "0.25",
                                "--prompt", " The movie is", "--pool", "mean", "--layer", "1", "--out", p + "/mean1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifests = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        for m in manifests {
            XCTAssertEqual(m["pooling"] as? String, "mean")
            XCTAssertEqual(m["layer"] as? Int, 1)
            XCTAssertEqual(m["readout"] as? String, "residual stream after block 1, mean over all tokens (prompt included)")
            XCTAssertEqual(Set((m["files"] as? [String: Any] ?? [:]).keys), ["f", "labels"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/mean1/train/phip.npy"))
        // The default readout records itself too.
        let d = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/named.tsv", "--no-p",
                                "--out", p + "/last", "--json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let dm = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertEqual(dm["pooling"] as? String, "last")
        XCTAssertNil(dm["layer"])
        XCTAssertEqual(dm["readout"] as? String, "final LayerNorm output f(s), last token")

        // Probe output names the classes from the manifest.
        let probe = try runLMProbe(["probe", "--train", p + "/mean1/train", "--test", p + "/mean1/test"])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        XCTAssertTrue(probe.stdout.contains("  negative") && probe.stdout.contains("  positive"), probe.stdout)
        XCTAssertFalse(probe.stdout.contains("class 0"), probe.stdout)
        let pj = try runLMProbe(["probe", "--train", p + "/mean1/train", "--test", p + "/mean1/test", "--json"])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(pj.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["class_names"] as? [String], ["negative", "positive"])

        // Errors: a layer the model does not have, subset words with a non-default readout, a bad pool.
        var e = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/named.tsv", "--layer", "2",
                                "--out", p + "/x"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("--layer 2") && e.stderr.contains("0...1"), e.stderr)
        e = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/named.tsv", "--pool", "mean",
                            "--words", "paper", "--out", p + "/x"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("--words"), e.stderr)
        e = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/named.tsv", "--pool", "max",
                            "--out", p + "/x"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("--pool"), e.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/x"))
    }

    func testCompareAddsMeanPooledAndBestLayerRows() throws {
        let p = try TinyPipeline.fixture().path
        let spec = """
        [{"name": "tiny", "train": {"path": "\(p)/data.tsv", "format": "tsv", "textColumn": "text",
          "labelColumn": "label", "detokenizePTB": false}, "testFraction": 0.25, "seed": 0, "prompt": " The movie is",
          "words": [], "classWords": null}]
        """
        try spec.write(toFile: p + "/tasks-rows.json", atomically: true, encoding: .utf8)
        let args = ["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", p + "/tasks-rows.json",
                    "--families", "f", "--prompts", "with", "--no-bow", "--no-leakage-check", "--best-layer",
                    "--out", p + "/cmp-rows"]
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try json(p + "/cmp-rows/report.json") as? [String: Any])
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        XCTAssertEqual(results.compactMap { $0["feature"] as? String },
                       ["f(s) · ridge", "f_mean(s) · ridge", "f best layer (LOO) · ridge"])
        let best = try XCTUnwrap(results.last?["probe"] as? String)
        XCTAssertTrue(best.contains("layer 0 of 0…1") || best.contains("layer 1 of 0…1"), best)
        XCTAssertTrue(r.stderr.contains("layer 0: LOO") && r.stderr.contains("layer 1: LOO"), r.stderr)
        XCTAssertTrue(r.stdout.contains("f_mean(s)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2 classes: 0, 1"), r.stdout)
        // The readout folders are cached apart and reused.
        let again = try runLMProbe(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("sentences/s"), again.stderr)
        let folders = try FileManager.default.contentsOfDirectory(atPath: p + "/cmp-rows/features")
        XCTAssertEqual(folders.filter { $0.contains("-mean-") }.count, 1, "\(folders)")
        XCTAssertEqual(folders.filter { $0.contains("-last-layer") }.count, 2, "\(folders)")
    }

    func testTrainingCurvesAndEvenlySpacedCheckpoints() throws {
        let p = try TinyPipeline.fixture().path
        XCTAssertTrue(parsesAsXML(p + "/run/curve.svg"), "pretrain writes RUNDIR/curve.svg")
        let r = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/run4", "--layers", "1", "--dim", "16",
                                "--heads", "2", "--context", "16", "--batch", "4", "--steps", "20", "--checkpoints", "4",
                                "--eval-every", "10", "--eval-batches", "2", "--warmup", "2", "--keep-checkpoints",
                                "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ckpts = try FileManager.default.contentsOfDirectory(atPath: p + "/run4").filter { $0.hasPrefix("ckpt-") }
        XCTAssertEqual(Set(ckpts), ["ckpt-5.safetensors", "ckpt-10.safetensors", "ckpt-15.safetensors", "ckpt-20.safetensors"])
        // A log written before the "tokens" field: tokens come from the checkpoint (B·T = 4·16 per step).
        try FileManager.default.copyItem(atPath: p + "/run4", toPath: p + "/old")
        let log = try String(contentsOfFile: p + "/old/log.jsonl", encoding: .utf8)
        let stripped = log.replacingOccurrences(of: #""tokens":\d+,"#, with: "", options: .regularExpression)
        XCTAssertNotEqual(stripped, log)
        try stripped.write(toFile: p + "/old/log.jsonl", atomically: true, encoding: .utf8)
        let c = try runLMProbe(["analyze", "curve", p + "/run", p + "/run4", p + "/old", "--out", p + "/curves.svg"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(parsesAsXML(p + "/curves.svg"))
        XCTAssertTrue(c.stdout.contains("| run4 | 20 | 1280 |"), c.stdout)
        XCTAssertTrue(c.stdout.contains("| old | 20 | 1280 |"), c.stdout)
        let svg = try String(contentsOfFile: p + "/curves.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("run4 · validation loss") && svg.contains("stroke-dasharray"), svg)
        // Bad input: a line that is not JSON is named with its line number.
        try (log + "not json\n").write(toFile: p + "/old/log.jsonl", atomically: true, encoding: .utf8)
        let bad = try runLMProbe(["analyze", "curve", p + "/old", "--out", p + "/bad.svg"])
        XCTAssertNotEqual(bad.status, 0)
        let lines = log.split(separator: "\n").count
        XCTAssertTrue(bad.stderr.contains("log.jsonl:\(lines + 1)"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/bad.svg"))
    }

    func testTransferOverSeveralRunsWithMeanPooling() throws {
        let p = try TinyPipeline.fixture().path
        if !FileManager.default.fileExists(atPath: p + "/run-b") {
            try FileManager.default.copyItem(atPath: p + "/run", toPath: p + "/run-b")
        }
        let r = try runLMProbe(["analyze", "transfer", "--run", p + "/run", "--run", p + "/run-b", "--dataset",
                                p + "/data.tsv", "--test-fraction", "0.25", "--f-mean", "--out", p + "/tr2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try json(p + "/tr2/transfer.json") as? [String: Any])
        let cps = try XCTUnwrap((doc["result"] as? [String: Any])?["checkpoints"] as? [[String: Any]])
        XCTAssertEqual(cps.compactMap { $0["label"] as? String }, ["run/ckpt-10", "run/ckpt-20", "run-b/ckpt-10", "run-b/ckpt-20"])
        XCTAssertEqual(cps.compactMap { $0["tokens_seen"] as? Int }, [640, 1280, 640, 1280])
        for c in cps { XCTAssertNotNil((c["probes"] as? [String: Any])?["f_mean"], "\(c)") }
        // Same checkpoints, same estimator: the two copies agree exactly.
        XCTAssertEqual(cps[0]["validation_loss"] as? Double, cps[2]["validation_loss"] as? Double)
        for svg in ["transfer-ce.svg", "transfer-sqrt.svg", "transfer-tokens.svg"] {
            XCTAssertTrue(parsesAsXML(p + "/tr2/" + svg), svg)
        }
        let tokens = try String(contentsOfFile: p + "/tr2/transfer-tokens.svg", encoding: .utf8)
        XCTAssertTrue(tokens.contains("run-b · f_mean"), tokens)
        // Steps of two runs are not one loss curve: ℓ* is the smallest loss, and the report says why.
        XCTAssertTrue((try String(contentsOfFile: p + "/tr2/transfer.md", encoding: .utf8)).contains("checkpoints of 2 runs"))
    }
}
