import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Analysis
import Linalg
import Model
import Probes
import Text
import XCTest

/// Whole-command tests of `lmprobe analyze` on a tiny model pretrained here (tokenize → pretrain → extract → analyze).
struct FixtureError: Error, CustomStringConvertible { let description: String }

/// A tiny corpus, tokenizer, 20-step run (checkpoints at 10 and 20), a 60-row TSV task and its features, built once
/// per test process and shared by the whole-command tests of `extract`, `analyze` and `compare`.
enum TinyPipeline {
    /// Removes the fixture folder (a later `fixture()` call builds it again).
    static func cleanUp() {
        if let d = workDir { try? FileManager.default.removeItem(at: d) }
        workDir = nil
    }

    nonisolated(unsafe) static var workDir: URL?

    /// Builds (once) a tiny corpus, tokenizer, 20-step run with checkpoints at 10 and 20, a TSV task, and features.
    static func fixture() throws -> URL {
        if let d = Self.workDir { return d }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-analyze-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pos = "great charming happy fantastic exciting strong classic interesting".split(separator: " ")
        let neg = "boring sad terrible flawed dull awful bad weak".split(separator: " ")
        let nouns = "movie film story plot actor scene ending cast".split(separator: " ")
        var lines: [String] = [], rows: [String] = []
        var state: UInt64 = 12345   // a fixed LCG: the corpus is the same on every run, and mostly distinct lines
        func pick(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let adjectives = pos + neg
        for _ in 0..<400 {
            lines.append("The \(nouns[pick(8)]) is \(adjectives[pick(16)]) and the \(nouns[pick(8)]) was \(adjectives[pick(16)]).")
        }
        for i in 0..<60 {
            let label = i % 2
            let w = label == 1 ? pos[(i / 2) % 8] : neg[(i / 2) % 8]
            rows.append("\(label)\tthe \(nouns[(i * 3) % 8]) was \(w)")
        }
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        try (rows.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("data.tsv"), atomically: true, encoding: .utf8)
        let p = dir.path
        for args in [
            ["tokenize", "--out", p + "/tok", "--vocab-size", "400", "--doc-split", "line", p + "/corpus.txt"],
            ["pretrain", "--data", p + "/tok", "--out", p + "/run", "--layers", "1", "--dim", "16", "--heads", "2",
             "--context", "16", "--batch", "4", "--steps", "20", "--checkpoint-every", "10", "--eval-every", "20",
             "--eval-batches", "2", "--warmup", "2", "--keep-checkpoints", "--threads", "2"],
            ["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--test-fraction", "0.25",
             "--words", "paper", "--out", p + "/feat"],
        ] {
            let r = try runLMProbe(args)
            guard r.status == 0 else { throw FixtureError(description: "fixture step \(args[0]) failed: \(r.stderr)") }
        }
        Self.workDir = dir
        return dir
    }


}

final class AnalyzeCLITests: XCTestCase {
    func fixture() throws -> URL { try TinyPipeline.fixture() }
    override class func tearDown() { TinyPipeline.cleanUp() }

    func json(_ url: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: url)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], url.path)
    }

    func testLinearityFromPhipAgreesWithComputedFromPhi() throws {
        let p = try fixture().path
        let a = try runLMProbe(["analyze", "linearity", "--checkpoint", p + "/run", "--features", p + "/feat",
                                "--out", p + "/lin-a"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("### Linearity"), a.stdout)
        let ja = try json(URL(fileURLWithPath: p + "/lin-a/linearity.json"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: p + "/lin-a/linearity.md"))
        let ra = try XCTUnwrap(ja["result"] as? [String: Any])
        XCTAssertEqual(ra["contexts"] as? Int, 60)          // train and test folders pooled
        XCTAssertEqual(ra["dimension"] as? Int, 16)
        let r2a = try XCTUnwrap(ra["held_out_r2"] as? Double)
        // Known answer: the library's check on the same f and Φp_f files (train then test, pooled).
        func stack(_ name: String) throws -> Matrix<Float> {
            let a: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: "\(p)/feat/train/\(name).npy"))
            let b: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: "\(p)/feat/test/\(name).npy"))
            let m = Matrix<Float>(rows: a.rows + b.rows, cols: a.cols)
            try m.rows(0..<a.rows).assign(a); try m.rows(a.rows..<(a.rows + b.rows)).assign(b)
            return m
        }
        let library = try LinearityCheck.run(f: try stack("f"), conditionalMean: try stack("phip"))
        XCTAssertEqual(r2a, library.heldOutR2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ra["train_r2"] as? Double), library.trainR2, accuracy: 1e-12)
        // The zero-parameter baseline and the spread are reported beside it.
        XCTAssertNotNil(ra["taylor_held_out_r2"] as? Double)
        let spread = try XCTUnwrap(ra["spread"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(spread["relative_spread"] as? Double), try XCTUnwrap(library.spread).relativeSpread,
                       accuracy: 1e-12)
        XCTAssertTrue(a.stdout.contains("zero-parameter Taylor"), a.stdout)
        XCTAssertEqual((ra["held_out_r2_per_dimension"] as? [Any])?.count, 16)
        // The final LayerNorm puts every f on a hyperplane.
        let plane = try XCTUnwrap(ja["hyperplane"] as? [String: Any])
        XCTAssertEqual(plane["on_hyperplane"] as? Bool, true)
        XCTAssertLessThan(try XCTUnwrap(plane["max_relative_residual"] as? Double), 1e-4)

        // Without phip.npy, Φp_f is recomputed from f.npy and Φ: the extractor's Φp_f and the analysis' must agree.
        let copy = p + "/feat-nophip"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: p + "/feat", toPath: copy)
        for s in ["train", "test"] { try FileManager.default.removeItem(atPath: "\(copy)/\(s)/phip.npy") }
        let b = try runLMProbe(["analyze", "linearity", "--checkpoint", p + "/run", "--features", copy, "--out", p + "/lin-b"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let rb = try XCTUnwrap(try json(URL(fileURLWithPath: p + "/lin-b/linearity.json"))["result"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(rb["held_out_r2"] as? Double), r2a, accuracy: 1e-4)
        XCTAssertEqual(rb["vocabulary_size"] as? Int, ra["vocabulary_size"] as? Int)
    }

    func testLogPartitionBothMethods() throws {
        let p = try fixture().path
        for (method, extra) in [("pca", ["--k", "4"]), ("kernel", [])] {
            let out = p + "/lz-" + method
            let r = try runLMProbe(["analyze", "log-partition", "--checkpoint", p + "/run", "--features", p + "/feat",
                                    "--method", method, "--out", out] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("### Quadratic log-partition"), r.stdout)
            let res = try XCTUnwrap(try json(URL(fileURLWithPath: out + "/log-partition.json"))["result"] as? [String: Any])
            let quad = try XCTUnwrap(res["quadratic"] as? [String: Any]), lin = try XCTUnwrap(res["linear"] as? [String: Any])
            if method == "pca" { XCTAssertEqual(quad["parameters"] as? Int, 4 * 5 / 2 + 16 + 1) }
            // A relative-error bound alone is passed by a constant predictor (log Z ≈ ln V varies by little);
            // R² is not: the constant's held-out R² is ≤ 0. Known answers: the library's fit on the same θ and log Z.
            let f = try stackedF(p)
            let library = try LogPartitionCheck.run(f: f, phi: try checkpointPhi(p),
                                                    method: method == "pca" ? .principalComponents(k: 4)
                                                                            : .polynomialKernel(relativeRidge: 1e-6))
            for (q, l) in [(quad, library.quadratic), (lin, library.linear)] {
                XCTAssertEqual(try XCTUnwrap(q["held_out_r2"] as? Double), l.heldOutR2, accuracy: 1e-9, "\(q)")
            }
            XCTAssertNotNil(res["taylor_first_order"] as? [String: Any])
            let summary = try XCTUnwrap(res["log_partition_summary"] as? [String: Any])
            XCTAssertEqual(try XCTUnwrap(summary["count"] as? Int), 60)
            XCTAssertEqual(try XCTUnwrap(summary["mean"] as? Double), library.logPartitionSummary.mean, accuracy: 1e-9)
        }
    }

    /// `compare` and `analyze transfer` probe through one code path: the same checkpoint, split and family give the
    /// same test accuracy in both reports.
    func testCompareAndTransferAgree() throws {
        let p = try fixture().path
        let task = """
        [{"name": "toy", "train": {"path": "\(p)/data.tsv", "format": "tsv", "textColumn": "text", "labelColumn": "label",
          "detokenizePTB": false}, "testFraction": 0.25, "seed": 0, "prompt": "", "words": [], "classWords": null}]
        """
        try task.write(toFile: p + "/toy-task.json", atomically: true, encoding: .utf8)
        let c = try runLMProbe(["compare", "--checkpoint", "M=" + p + "/run/final.safetensors", "--tasks-file",
                                p + "/toy-task.json", "--prompts", "without", "--families", "f,phip", "--no-bow",
                                "--no-leakage-check", "--out", p + "/cmp-agree"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let report = try json(URL(fileURLWithPath: p + "/cmp-agree/report.json"))
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        func compared(_ feature: String) throws -> Double {
            try XCTUnwrap(results.first { $0["feature"] as? String == feature }?["accuracy"] as? Double, feature)
        }
        let t = try runLMProbe(["analyze", "transfer", "--run", p + "/run", "--dataset", p + "/data.tsv",
                                "--test-fraction", "0.25", "--out", p + "/tr-agree"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let res = try XCTUnwrap(try json(URL(fileURLWithPath: p + "/tr-agree/transfer.json"))["result"] as? [String: Any])
        let final = try XCTUnwrap((res["checkpoints"] as? [[String: Any]])?.last)
        let probes = try XCTUnwrap(final["probes"] as? [String: [String: Any]])
        XCTAssertEqual(try XCTUnwrap(probes["f"]?["accuracy"] as? Double), try compared("f(s) · ridge"))
        XCTAssertEqual(try XCTUnwrap(probes["phip"]?["accuracy"] as? Double), try compared("Φp_f(s) · ridge"))
        // Every cell carries its interval.
        XCTAssertNotNil(results.first?["interval"] as? [String: Any])
    }

    /// f of the fixture's train and test folders, stacked.
    func stackedF(_ p: String) throws -> Matrix<Float> {
        let a: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: "\(p)/feat/train/f.npy"))
        let b: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: "\(p)/feat/test/f.npy"))
        let m = Matrix<Float>(rows: a.rows + b.rows, cols: a.cols)
        try m.rows(0..<a.rows).assign(a); try m.rows(a.rows..<(a.rows + b.rows)).assign(b)
        return m
    }

    /// Φ of the fixture run's final checkpoint.
    func checkpointPhi(_ p: String) throws -> Matrix<Float> {
        let url = try Checkpoint.resolve(URL(fileURLWithPath: p + "/run"))
        return try Checkpoint.load(url: url).model.phi.copy()
    }

    /// The plug-in value of a reference CE model, and a Quad model on its frozen Φ scored on the same windows; a
    /// model with another Φ is refused in one line.
    func testPlugInQuadLoss() throws {
        let p = try fixture().path
        let quad = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/quad", "--layers", "1", "--dim", "16",
                                   "--heads", "2", "--context", "16", "--batch", "4", "--steps", "6", "--eval-every", "6",
                                   "--eval-batches", "1", "--warmup", "1", "--objective", "quad", "--untied-phi",
                                   "--phi-from", p + "/run/final.safetensors", "--freeze-phi", "--threads", "2",
                                   "--output-scale", "auto"])
        XCTAssertEqual(quad.status, 0, quad.stderr)
        // --output-scale auto: c = 1/‖Φ‖_F of the copied Φ, stored in the checkpoint.
        let refPhi = try Checkpoint.load(url: URL(fileURLWithPath: p + "/run/final.safetensors")).model.phi.toArray()
        let norm = refPhi.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let quadConfig = try Checkpoint.load(url: URL(fileURLWithPath: p + "/quad/final.safetensors")).config
        XCTAssertEqual(Double(quadConfig.outputScale), 1 / norm, accuracy: 1e-6 / norm)
        let badScale = try runLMProbe(["pretrain", "--data", p + "/tok", "--out", p + "/quad-bad", "--objective", "quad",
                                       "--steps", "1", "--output-scale", "-1"])
        XCTAssertNotEqual(badScale.status, 0)
        XCTAssertTrue(badScale.stderr.contains("--output-scale"), badScale.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/quad-bad"))
        let r = try runLMProbe(["analyze", "plug-in", "--checkpoint", p + "/run", "--quad", p + "/quad",
                                "--out", p + "/plug"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Plug-in Quad loss") && r.stdout.contains("relative gap"), r.stdout)
        let doc = try json(URL(fileURLWithPath: p + "/plug/plug-in.json"))
        let plug = try XCTUnwrap(doc["plug_in"] as? [String: Any]), q = try XCTUnwrap(doc["quad"] as? [String: Any])
        // Known answers: the library on the same files.
        let ref = try Checkpoint.load(url: try Checkpoint.resolve(URL(fileURLWithPath: p + "/run")))
        let tokens = try TokenDataset(directory: URL(fileURLWithPath: p + "/tok"))
        let library = try PlugInQuadLoss.compute(reference: ref.model, data: tokens)
        XCTAssertEqual(try XCTUnwrap(plug["loss"] as? Double), library.loss, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(plug["windows"] as? Int), library.windows)
        let quadModel = try Checkpoint.load(url: try Checkpoint.resolve(URL(fileURLWithPath: p + "/quad"))).model
        XCTAssertEqual(try XCTUnwrap(q["objective"] as? Double), try quadModel.splitLoss(data: tokens, batch: 8).objective,
                       accuracy: 1e-9)
        let bad = try runLMProbe(["analyze", "plug-in", "--checkpoint", p + "/run", "--quad", p + "/run", "--out", p + "/plug2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("not a Quad model"), bad.stderr)
    }

    func testTransferOverCheckpointsAndReuse() throws {
        let p = try fixture().path
        let args = ["analyze", "transfer", "--run", p + "/run", "--dataset", p + "/data.tsv", "--test-fraction", "0.25",
                    "--out", p + "/tr"]
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("### Transfer"), r.stdout)
        XCTAssertTrue(r.stderr.contains("features extracted"), r.stderr)
        XCTAssertTrue(r.stderr.contains("whole validation split"), r.stderr)   // every checkpoint measured the same way
        XCTAssertFalse(r.stderr.contains("(metadata)"), r.stderr)   // not even ckpt-20, which records one
        let res = try XCTUnwrap(try json(URL(fileURLWithPath: p + "/tr/transfer.json"))["result"] as? [String: Any])
        let cps = try XCTUnwrap(res["checkpoints"] as? [[String: Any]])
        XCTAssertEqual(cps.map { $0["step"] as? Int }, [10, 20])   // final.safetensors is step 20: not repeated
        // Known answer: each row's CE is the checkpoint's whole-split loss.
        let tokens = try TokenDataset(directory: URL(fileURLWithPath: p + "/tok"))
        for (c, name) in zip(cps, ["ckpt-10", "ckpt-20"]) {
            let ce = try XCTUnwrap(c["validation_loss"] as? Double)
            let model = try Checkpoint.load(url: URL(fileURLWithPath: p + "/run/\(name).safetensors")).model
            XCTAssertEqual(ce, try model.splitLoss(data: tokens).crossEntropy, accuracy: 1e-9)
            let probes = try XCTUnwrap(c["probes"] as? [String: [String: Any]])
            XCTAssertEqual(Set(probes.keys), ["f", "phip", "subset_logits", "subset_probs"])
            for (_, o) in probes {
                // The interval is the Wilson interval of the accuracy over the 16 test sentences (8 per class).
                let acc = try XCTUnwrap(o["accuracy"] as? Double)
                let ci = try XCTUnwrap(o["interval"] as? [String: Any])
                let w = try Intervals.wilson(successes: Int((acc * 16).rounded()), trials: 16)
                XCTAssertEqual(try XCTUnwrap(ci["lower"] as? Double), w.lower, accuracy: 1e-12)
                XCTAssertEqual(try XCTUnwrap(ci["upper"] as? Double), w.upper, accuracy: 1e-12)
                XCTAssertNotNil(o["loss"] as? Double)
            }
        }
        let best = try XCTUnwrap(res["best_validation_loss"] as? Double)   // two checkpoints: no ℓ(t) fit
        XCTAssertEqual(best, cps.compactMap { $0["validation_loss"] as? Double }.min()!, accuracy: 1e-12)
        XCTAssertEqual((res["correlations"] as? [Any])?.count, 4)
        for svg in ["transfer-ce.svg", "transfer-sqrt.svg"] {
            let parser = XMLParser(contentsOf: URL(fileURLWithPath: p + "/tr/" + svg))
            XCTAssertEqual(parser?.parse(), true, svg)
        }
        // Same inputs again: the content-addressed feature folders are reused, the numbers are identical.
        let again = try runLMProbe(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("features extracted"), again.stderr)
        XCTAssertTrue(again.stderr.contains("features reused"), again.stderr)
        XCTAssertTrue(again.stderr.contains("tokens scored, reused"), again.stderr)   // validation CE not re-measured
        let res2 = try XCTUnwrap(try json(URL(fileURLWithPath: p + "/tr/transfer.json"))["result"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: res2), NSDictionary(dictionary: res))
        // Another output folder sharing the first one as --cache (as a study over several tasks does): nothing is
        // measured again, the report is the same.
        var shared = args
        shared[shared.firstIndex(of: p + "/tr")!] = p + "/tr-shared"
        let viaCache = try runLMProbe(shared + ["--cache", p + "/tr"])
        XCTAssertEqual(viaCache.status, 0, viaCache.stderr)
        XCTAssertTrue(viaCache.stderr.contains("features reused"), viaCache.stderr)
        XCTAssertTrue(viaCache.stderr.contains("tokens scored, reused"), viaCache.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + "/tr-shared/features"))
        let res3 = try XCTUnwrap(try json(URL(fileURLWithPath: p + "/tr-shared/transfer.json"))["result"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: res3), NSDictionary(dictionary: res))
        // A different window cap is a different measurement: not taken from the cache.
        let capped = try runLMProbe(shared + ["--cache", p + "/tr", "--max-windows", "1"])
        XCTAssertEqual(capped.status, 0, capped.stderr)
        XCTAssertFalse(capped.stderr.contains("tokens scored, reused"), capped.stderr)
    }

    func testBadInputsGiveOneLineErrors() throws {
        let p = try fixture().path
        let missing = try runLMProbe(["analyze", "linearity", "--checkpoint", p + "/run", "--features", p + "/nope"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(p + "/nope"), missing.stderr)
        let noSplit = try runLMProbe(["analyze", "transfer", "--run", p + "/run", "--dataset", p + "/data.tsv", "--out", p + "/x"])
        XCTAssertNotEqual(noSplit.status, 0)
        XCTAssertTrue(noSplit.stderr.contains("--test-fraction"), noSplit.stderr)
        let method = try runLMProbe(["analyze", "log-partition", "--checkpoint", p + "/run", "--features", p + "/feat",
                                     "--method", "cubic"])
        XCTAssertNotEqual(method.status, 0)
        XCTAssertTrue(method.stderr.contains("--method"), method.stderr)
        let noRun = try runLMProbe(["analyze", "transfer", "--run", p + "/feat", "--dataset", p + "/data.tsv",
                                    "--test-fraction", "0.25", "--out", p + "/x"])
        XCTAssertNotEqual(noRun.status, 0)
        XCTAssertTrue(noRun.stderr.contains("ckpt-"), noRun.stderr)
    }
}

final class AnalyzeContextsCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    /// --contexts corpus-prefixes: random prefixes of the run's validation tokens are extracted under OUT (reused the
    /// second time), the check names its context set, and --features with --contexts is refused.
    func testCorpusPrefixContexts() throws {
        let p = try TinyPipeline.fixture().path
        let args = ["analyze", "linearity", "--checkpoint", p + "/run", "--contexts", "corpus-prefixes",
                    "--context-count", "40", "--out", p + "/ctx"]
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("40 contexts, features extracted"), r.stderr)
        XCTAssertTrue(r.stdout.contains("Contexts: preset corpus-prefixes"), r.stdout)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: p + "/ctx/linearity.json"))) as? [String: Any])
        XCTAssertEqual((doc["result"] as? [String: Any])?["contexts"] as? Int, 40)
        let again = try runLMProbe(args)
        XCTAssertTrue(again.stderr.contains("features reused"), again.stderr)
        let both = try runLMProbe(["analyze", "linearity", "--checkpoint", p + "/run", "--contexts", "sst-prompt",
                                   "--features", p + "/feat", "--out", p + "/ctx2"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("exactly one of --features and --contexts"), both.stderr)
        let noSST = try runLMProbe(["analyze", "linearity", "--checkpoint", p + "/run", "--contexts", "sst-prompt",
                                    "--out", p + "/ctx3"])
        XCTAssertNotEqual(noSST.status, 0)
        XCTAssertTrue(noSST.stderr.contains("--sst-dir"), noSST.stderr)
    }
}
