import Foundation
import XCTest

/// Whole-command tests of `lmprobe extract` errors and `lmprobe compare` on the tiny pipeline fixture.
final class CompareCLITests: XCTestCase {
    override class func tearDown() { TinyPipeline.cleanUp() }

    func tasksFile(_ dir: String) throws -> String {
        let spec = """
        [{"name": "tiny", "train": {"path": "\(dir)/data.tsv", "format": "tsv", "textColumn": "text",
          "labelColumn": "label", "detokenizePTB": false},
          "testFraction": 0.25, "seed": 0, "prompt": " The movie is",
          "words": ["great", "boring", "sad", "happy", "zzqx"], "classWords": [["boring", "sad"], ["great", "happy"]]}]
        """
        let url = dir + "/tasks.json"
        try spec.write(toFile: url, atomically: true, encoding: .utf8)
        return url
    }

    func testCompareWritesTableJSONAndChartsAndReusesFeatures() throws {
        let p = try TinyPipeline.fixture().path
        let tasks = try tasksFile(p)
        let args = ["compare", "--checkpoint", "tiny=" + p + "/run", "--tasks-file", tasks, "--methods", "ridge,logistic",
                    "--out", p + "/cmp", "--threads", "2"]
        let r = try runLMProbe(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| features |"), r.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: p + "/cmp/report.json"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        // 5 families × ridge + 4 families × logistic (p skipped) + BoW + zero-shot, for each prompt setting.
        XCTAssertEqual(results.count, 2 * (5 + 4 + 2), "\(results.map { $0["feature"] ?? "" })")
        for r in results {
            let acc = try XCTUnwrap(r["accuracy"] as? Double)
            XCTAssertTrue(acc >= 0 && acc <= 1, "\(r)")
        }
        XCTAssertEqual(Set(results.compactMap { $0["prompt"] as? String }), [" The movie is"])
        let task = try XCTUnwrap((report["tasks"] as? [[String: Any]])?.first)
        XCTAssertEqual(task["trainCount"] as? Int, 44)   // stratified: round(30 · 0.25) = 8 per class to test
        XCTAssertEqual(task["testCount"] as? Int, 16)
        XCTAssertNotNil(task["bagOfWords"] as? [String: Any])
        let leakage = try XCTUnwrap(task["leakage"] as? [String: Any])
        XCTAssertNotNil(leakage["tiny"], "leakage checked against the run's own token files")
        for f in ["report.md", "tiny.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: p + "/cmp/" + f), f)
        }
        // The manifest records the word that has no single-token variant.
        let again = try runLMProbe(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("reusing features"), again.stderr)
        XCTAssertTrue(again.stderr.contains("reusing bag-of-words"), again.stderr)
        let data2 = try Data(contentsOf: URL(fileURLWithPath: p + "/cmp/report.json"))
        let results2 = try XCTUnwrap((try JSONSerialization.jsonObject(with: data2) as? [String: Any])?["results"] as? [[String: Any]])
        XCTAssertEqual(results2.map { $0["accuracy"] as? Double }, results.map { $0["accuracy"] as? Double })
    }

    func testCompareAndExtractRefuseBadInputWithOneLineErrors() throws {
        let p = try TinyPipeline.fixture().path
        var r = try runLMProbe(["compare", "--checkpoint", p + "/run", "--task", "nope", "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown task 'nope'"), r.stderr)
        r = try runLMProbe(["compare", "--checkpoint", p + "/missing-run", "--tasks-file", try tasksFile(p), "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing-run"), r.stderr)
        r = try runLMProbe(["compare", "--checkpoint", p + "/run", "--tasks-file", try tasksFile(p), "--families", "f,q",
                            "--out", p + "/x"])
        XCTAssertEqual(r.status, 64)   // a usage error: the families are a closed set
        XCTAssertTrue(r.stderr.contains("'f,q' is invalid for '--families"), r.stderr)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--words", "zzqx qqzz",
                            "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--words"), r.stderr)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv", "--class-words", "great",
                            "--out", p + "/x"])
        XCTAssertTrue(r.stderr.contains("--class-words"), r.stderr)
        try "1\tfine\nnot a row\n".write(toFile: p + "/bad.tsv", atomically: true, encoding: .utf8)
        r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/bad.tsv", "--out", p + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bad.tsv") && r.stderr.contains("2"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { !$0.isEmpty }.count, 1, r.stderr)
    }

    func testExtractWritesNumpyReadableFeaturesWithTestSplit() throws {
        let p = try TinyPipeline.fixture().path
        let r = try runLMProbe(["extract", "--checkpoint", p + "/run", "--dataset", p + "/data.tsv",
                                "--test-fraction", "0.5", "--prompt", "{text} The movie is", "--class-words", "boring|great",
                                "--p-dtype", "float16", "--out", p + "/ex", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifests = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(manifests.count, 2)
        XCTAssertEqual(manifests.map { $0["n"] as? Int }, [30, 30])
        XCTAssertNotNil(manifests[1]["zero_shot_accuracy"] as? Double)
        let files = try XCTUnwrap(manifests[0]["files"] as? [String: [String: Any]])
        XCTAssertEqual(files["p"]?["dtype"] as? String, "<f2")
        XCTAssertEqual(files["p"]?["shape"] as? [Int], [30, try XCTUnwrap(manifests[0]["vocab_size"] as? Int)])
        let probe = try runLMProbe(["probe", "--train", p + "/ex/train", "--test", p + "/ex/test", "--feature", "phip", "--json"])
        XCTAssertEqual(probe.status, 0, probe.stderr)
    }
}
