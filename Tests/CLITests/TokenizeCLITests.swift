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

    /// A small plain-text corpus (one document per line) and the token files `tokenize` makes of it as a regular file.
    func lineCorpus(in dir: URL) throws -> (file: URL, tokens: URL) {
        let file = dir.appendingPathComponent("corpus.txt")
        try (0..<60).map { "review \($0): the movie was \($0 % 2 == 0 ? "great" : "dull") and I'd see it \($0) times." }
            .joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("tok-file")
        let r = try runLMProbe(["tokenize", "--out", out.path, "--vocab-size", "300", "--doc-split", "line", file.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (file, out)
    }

    func assertSameTokens(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        for f in ["vocab.json", "merges.txt", "train.bin", "val.bin"] {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(f)), try Data(contentsOf: b.appendingPathComponent(f)),
                           f, file: file, line: line)
        }
    }

    func testTokenizeReadsDashAsStandardInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cli-stdin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, tokens) = try lineCorpus(in: dir)
        let out = dir.appendingPathComponent("tok-stdin")
        let p = configuredProcess(lmprobeBinary, ["tokenize", "--out", out.path, "--vocab-size", "300", "--doc-split", "line", "-"])
        let input = Pipe()
        p.standardInput = input
        let text = try Data(contentsOf: file)
        DispatchQueue.global().async {
            input.fileHandleForWriting.write(text)
            try? input.fileHandleForWriting.close()
        }
        let r = try runToCompletion(p)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("60 documents"), r.stdout)
        try assertSameTokens(out, tokens)
        let twice = try runLMProbe(["tokenize", "--out", out.path, "--vocab-size", "300", "-", "-"])
        XCTAssertEqual(twice.status, 64, twice.stderr)
        XCTAssertTrue(twice.stderr.contains("- (standard input) can be given only once"), twice.stderr)
    }

    func testTokenizeReadsProcessSubstitutionAndAFIFO() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/bash") else { throw XCTSkip("no /bin/bash for <(…)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cli-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, tokens) = try lineCorpus(in: dir)
        // As the issue wrote it: <(head -c N corpus) — here N covers the whole file, so the tokens must match.
        let size = try Data(contentsOf: file).count
        let sub = dir.appendingPathComponent("tok-sub")
        let r = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/bash"), ["-c",
            "'\(lmprobeBinary.path)' tokenize --out '\(sub.path)' --vocab-size 300 --doc-split line <(head -c \(size) '\(file.path)')"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertSameTokens(sub, tokens)
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: sub.appendingPathComponent("tokens.json"))) as? [String: Any]
        let sources = header?["sources"] as? [[String: Any]]
        XCTAssertTrue((sources?.first?["path"] as? String ?? "").hasPrefix("/dev/fd/"), "\(sources ?? [])")
        // A named FIFO, fed by another process.
        let fifo = dir.appendingPathComponent("corpus.fifo")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let writer = configuredProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "cat '\(file.path)' > '\(fifo.path)'"])
        try writer.run()
        let viaFIFO = dir.appendingPathComponent("tok-fifo")
        let f = try runLMProbe(["tokenize", "--out", viaFIFO.path, "--vocab-size", "300", "--doc-split", "line", fifo.path])
        writer.waitUntilExit()
        XCTAssertEqual(f.status, 0, f.stderr)
        try assertSameTokens(viaFIFO, tokens)
    }

    func testTokenizeExcludeReadsAProcessSubstitution() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/bash") else { throw XCTSkip("no /bin/bash for <(…)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cli-excl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, _) = try lineCorpus(in: dir)
        let out = dir.appendingPathComponent("tok-excl")
        // Two of the corpus's documents, as label<TAB>sentence lines from a pipe.
        let r = try runToCompletion(configuredProcess(URL(fileURLWithPath: "/bin/bash"), ["-c",
            "'\(lmprobeBinary.path)' tokenize --out '\(out.path)' --vocab-size 300 --doc-split line " +
            "--exclude <(grep -E '^review (3|8):' '\(file.path)' | sed 's/^/1\t/') '\(file.path)'"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("58 documents"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2 excluded"), r.stdout)
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
