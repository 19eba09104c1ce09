import Foundation
import Linalg
import XCTest

/// `extract --shard k/n` run through the Slurm array script (experiments/cluster/extract.sbatch, with the array
/// variables set by hand), and `probe` over the shard folders and over their merged statistics.
final class ShardCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    /// Runs the array script as task k of n.
    func arrayTask(_ k: Int, of n: Int, out: String, fixture p: String, prompt: String? = nil) throws -> (status: Int32, stderr: String) {
        var env = ["SLURM_ARRAY_TASK_ID": "\(k)", "SLURM_ARRAY_TASK_COUNT": "\(n)", "LMPROBE": lmprobeBinary.path,
                   "CHECKPOINT": p + "/run", "DATASET": p + "/data.tsv", "OUT": out,
                   "EXTRACT_ARGS": "--test-fraction 0.25 --words paper"]
        if let prompt { env["PROMPT"] = prompt }
        let r = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/sh"),
            [repositoryRoot.appendingPathComponent("experiments/cluster/extract.sbatch").path], environment: env))
        return (r.status, r.stderr)
    }

    func json(_ args: [String]) throws -> [String: Any] {
        let r = try runLMProbe(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func testShardsFromTheArrayScriptProbeLikeOneExtraction() throws {
        let p = try TinyPipeline.fixture().path
        let out = p + "/shards"
        for k in 0..<3 {
            let r = try arrayTask(k, of: 3, out: out, fixture: p)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        // Manifests record the shard, and the same checkpoint and dataset hashes as the unsharded extraction.
        let whole = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p + "/feat/train/manifest.json"))) as! [String: Any]
        let m1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/shard-1/train/manifest.json"))) as! [String: Any]
        let prov = m1["provenance"] as! [String: Any], wholeProv = whole["provenance"] as! [String: Any]
        let shard = prov["shard"] as! [String: Any]
        XCTAssertEqual(shard["index"] as? Int, 1)
        XCTAssertEqual(shard["count"] as? Int, 3)
        XCTAssertEqual(shard["split_rows"] as? Int, whole["n"] as? Int)
        XCTAssertEqual(prov["checkpoint_sha256"] as? String, wholeProv["checkpoint_sha256"] as? String)
        XCTAssertEqual(prov["dataset_sha256"] as? String, wholeProv["dataset_sha256"] as? String)

        // The shards' rows, concatenated, are the unsharded features (to rounding: batches differ).
        let full: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: p + "/feat/train/f.npy"))
        var row = 0
        for k in 0..<3 {
            let part: Matrix<Float> = try NPY.readMatrix(URL(fileURLWithPath: out + "/shard-\(k)/train/f.npy"))
            XCTAssertEqual(part.cols, full.cols)
            for i in 0..<part.rows {
                for j in 0..<part.cols {
                    XCTAssertEqual(part[i, j], full[row + i, j], accuracy: 1e-4 * max(1, abs(full[row + i, j])))
                }
            }
            row += part.rows
        }
        XCTAssertEqual(row, full.rows)
        let wholeLabels = try NPY.readIntegers(URL(fileURLWithPath: p + "/feat/train/labels.npy"))

        // probe over the shard folders (given out of order) = probe over the merged statistics.
        let train = [2, 0, 1].map { "\(out)/shard-\($0)/train" }, test = [1, 2, 0].map { "\(out)/shard-\($0)/test" }
        let direct = try json(["probe", "--train"] + train + ["--test"] + test)
        XCTAssertEqual(direct["n_train"] as? Int, wholeLabels.count)
        let stats = try json(["probe", "--stats"] + [1, 2, 0].map { "\(out)/shard-\($0)/stats" } + ["--test"] + test)
        XCTAssertEqual(stats["alpha"] as? Double, direct["alpha"] as? Double)
        XCTAssertEqual(stats["n_train"] as? Int, direct["n_train"] as? Int)
        XCTAssertEqual(stats["test_accuracy"] as? Double, direct["test_accuracy"] as? Double)
        XCTAssertEqual(stats["train_accuracy"] as? Double, direct["train_accuracy"] as? Double)
        let a = stats["loo_mse"] as? [Double] ?? [], b = direct["loo_mse"] as? [Double] ?? [1]
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9 * abs(y)) }

        // Refused: a missing shard, a repeated one, and one of another extraction (another prompt).
        let missing = try runLMProbe(["probe", "--train", out + "/shard-0/train", out + "/shard-1/train"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("shard 2/3 missing"), missing.stderr)
        let twice = try runLMProbe(["probe", "--train"] + train + [out + "/shard-0/train"])
        XCTAssertNotEqual(twice.status, 0)
        XCTAssertTrue(twice.stderr.contains("shard 0/3 given twice"), twice.stderr)
        let other = p + "/shards-prompt"
        XCTAssertEqual(try arrayTask(2, of: 3, out: other, fixture: p, prompt: " It was").status, 0)
        let mixed = try runLMProbe(["probe", "--train", out + "/shard-0/train", out + "/shard-1/train", other + "/shard-2/train"])
        XCTAssertNotEqual(mixed.status, 0)
        XCTAssertTrue(mixed.stderr.contains("prompt"), mixed.stderr)
        let mixedStats = try runLMProbe(["probe", "--stats", out + "/shard-0/stats", out + "/shard-1/stats", other + "/shard-2/stats"])
        XCTAssertNotEqual(mixedStats.status, 0)
        XCTAssertTrue(mixedStats.stderr.contains("prompt"), mixedStats.stderr)
        let statsMissing = try runLMProbe(["probe", "--stats", out + "/shard-0/stats", out + "/shard-2/stats"])
        XCTAssertTrue(statsMissing.stderr.contains("shard 1/3 missing"), statsMissing.stderr)
        let statsTwice = try runLMProbe(["probe", "--stats", out + "/shard-0/stats", out + "/shard-1/stats",
                                         out + "/shard-2/stats", out + "/shard-1/stats"])
        XCTAssertTrue(statsTwice.stderr.contains("given twice"), statsTwice.stderr)
        let family = try runLMProbe(["probe", "--stats"] + [0, 1, 2].map { "\(out)/shard-\($0)/stats" } + ["--test"] + test
                                    + ["--feature", "phip"])
        XCTAssertTrue(family.stderr.contains("the statistics are of f.npy but --feature is phip"), family.stderr)
        let bad = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--shard", "3/3",
                                  "--out", p + "/nope"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--shard must be k/n with 0 ≤ k < n (got '3/3')"), bad.stderr)
        // A negative shard is a value refused by range, not a missing value.
        let negative = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--shard", "-1/3",
                                       "--out", p + "/nope"])
        XCTAssertEqual(negative.status, 64, negative.stderr)
        XCTAssertTrue(negative.stderr.contains("got '-1/3'"), negative.stderr)
    }

    /// Shards 0…2 of the fixture in `out` (each with its statistics file).
    func shards(_ out: String, fixture p: String) throws {
        for k in 0..<3 {
            let r = try arrayTask(k, of: 3, out: out, fixture: p)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    func testAFeatureFileSwappedBetweenShardsIsRefused() throws {
        let p = try TinyPipeline.fixture().path
        let out = p + "/shards-swap"
        try shards(out, fixture: p)
        // Shards 1 and 2 of the 44 training rows hold 15 rows each: the swap keeps every shape.
        let fm = FileManager.default
        let a = out + "/shard-1/train/f.npy", b = out + "/shard-2/train/f.npy", tmp = out + "/f.tmp"
        try fm.moveItem(atPath: a, toPath: tmp); try fm.moveItem(atPath: b, toPath: a); try fm.moveItem(atPath: tmp, toPath: b)
        let r = try runLMProbe(["probe", "--train"] + (0..<3).map { "\(out)/shard-\($0)/train" })
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("shard-1/train/f.npy: its bytes are not the ones manifest.json records"), r.stderr)
        let stats = try runLMProbe(["probe", "--train", out + "/shard-1/train", "--stats-out", out + "/again.stats"])
        XCTAssertEqual(stats.status, 1, stats.stderr)
        XCTAssertTrue(stats.stderr.contains("manifest.json records"), stats.stderr)
    }

    func testStatisticsScoredOnAnotherModelsTestFolderAreRefused() throws {
        let p = try TinyPipeline.fixture().path
        let out = p + "/shards-model"
        try shards(out, fixture: p)
        let statistics = (0..<3).map { "\(out)/shard-\($0)/stats" }
        let early = try runLMProbe(["extract", "--checkpoint", p + "/run/ckpt-10.safetensors", "--dataset", p + "/data.tsv",
                                    "--test-fraction", "0.25", "--words", "paper", "--out", p + "/feat-early"])
        XCTAssertEqual(early.status, 0, early.stderr)
        let other = try runLMProbe(["probe", "--stats"] + statistics + ["--test", p + "/feat-early/test"])
        XCTAssertEqual(other.status, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("extracted differently from the --stats rows: checkpoint"), other.stderr)
        // The statistics' own rows are not a test split either; the matching test shards are accepted.
        let own = try runLMProbe(["probe", "--stats"] + statistics + ["--test"] + (0..<3).map { "\(out)/shard-\($0)/train" })
        XCTAssertEqual(own.status, 1, own.stderr)
        XCTAssertTrue(own.stderr.contains("rows the --stats were accumulated from"), own.stderr)
        let good = try json(["probe", "--stats"] + statistics + ["--test"] + (0..<3).map { "\(out)/shard-\($0)/test" })
        XCTAssertNotNil(good["test_accuracy"] as? Double)
    }
}
