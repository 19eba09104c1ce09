import Foundation
import XCTest

/// `lmprobe tokenize` and `lmprobe bench tokenizer` run as whole commands.
final class TokenizeCLITests: XCTestCase {
    func testTokenizeWritesTheContractFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cli-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("reviews.csv")
        var rows = ["text,label,source"]
        for i in 0..<30 { rows.append("\"Review \(i): a \(i % 2 == 0 ? "great" : "dull") film.<br /><br />Really.\",\(i % 2),imdb") }
        rows.append("\"A sentence from elsewhere .\",1,rotten_tomatoes")
        try rows.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("tok")
        let r = try runLMProbe(["tokenize", "--out", out.path, "--vocab-size", "300", "--csv-filter", "source=imdb",
                                "--strip-html-breaks", "--val-fraction", "0.1", "--seed", "1", "--threads", "2", csv.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("30 documents (27 train, 3 val), 0 duplicates removed"), r.stdout)
        for f in ["vocab.json", "merges.txt", "train.bin", "val.bin", "tokens.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        let h = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("tokens.json"))) as! [String: Any]
        XCTAssertEqual(h["format"] as? String, "lmprobe-tokens-1")
        XCTAssertEqual(h["dtype"] as? String, "uint16")
        XCTAssertEqual(h["documents"] as? Int, 30)
        let trainBytes = try Data(contentsOf: out.appendingPathComponent("train.bin")).count
        XCTAssertEqual(trainBytes, 2 * (h["train_tokens"] as? Int ?? -1))
        // Reusing the tokenizer; bad arguments give one-line errors.
        let r2 = try runLMProbe(["tokenize", "--out", dir.appendingPathComponent("tok2").path, "--tokenizer", out.path,
                                 "--csv-filter", "source=imdb", csv.path])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stdout.contains("(reused)"), r2.stdout)
        let bad = try runLMProbe(["tokenize", "--out", out.path, "--vocab-size", "300", "--csv-column", "body", csv.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("\(csv.path):1: no column \"body\""), bad.stderr)
        let both = try runLMProbe(["tokenize", "--out", out.path, csv.path])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("give exactly one of --vocab-size"), both.stderr)
    }

    func testBenchTokenizerJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cli-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("t.txt")
        try String(repeating: "The movie was great, and the film was not bad at all.\nI'd see it again!\n", count: 200)
            .write(to: f, atomically: true, encoding: .utf8)
        let r = try runLMProbe(["bench", "tokenizer", f.path, "--vocab-size", "300", "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(o?["train_s"] as? Double ?? -1, 0)
        XCTAssertGreaterThan(o?["encode_mb_per_s"] as? Double ?? -1, 0)
        XCTAssertGreaterThan(o?["tokens"] as? Int ?? -1, 0)
        XCTAssertEqual(o?["vocab_size"] as? Int, 300)
    }
}
