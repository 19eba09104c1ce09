import Foundation
import XCTest
@testable import Text
import Support

func tempDir(_ name: String) throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

final class CorpusTests: XCTestCase {
    /// Reads a token file back the independent way (raw little-endian bytes).
    func rawIds(_ url: URL, wide: Bool) throws -> [Int] {
        let b = [UInt8](try Data(contentsOf: url))
        if wide { return stride(from: 0, to: b.count, by: 4).map { Int(b[$0]) | Int(b[$0 + 1]) << 8 | Int(b[$0 + 2]) << 16 | Int(b[$0 + 3]) << 24 } }
        return stride(from: 0, to: b.count, by: 2).map { Int(b[$0]) | Int(b[$0 + 1]) << 8 }
    }

    func testTokenizeTextFolderWritesConsistentFiles() throws {
        let dir = try tempDir("corpus"), out = dir.appendingPathComponent("tok")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        var docs: [String] = []
        for i in 0..<40 { docs.append("Review \(i): the movie was \(i % 2 == 0 ? "great" : "terrible").<br /><br />I'd watch it \(i) times.") }
        try (docs + [docs[3], docs[5]]).joined(separator: "\n\n").write(to: input.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        var o = Corpus.Options()
        o.docSplit = .blankLine; o.stripHTMLBreaks = true; o.vocabSize = 300; o.valFraction = 0.1; o.seed = 3
        let s = try Corpus.tokenize(inputs: [input], out: out, options: o)
        XCTAssertEqual(s.documents, 40)
        XCTAssertEqual(s.duplicatesRemoved, 2)
        XCTAssertEqual(s.valDocuments, 4)
        XCTAssertEqual(s.dtype, "uint16")
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("tokens.json"))) as! [String: Any]
        XCTAssertEqual(header["format"] as? String, "lmprobe-tokens-1")
        XCTAssertEqual(header["vocab_size"] as? Int, 300)
        XCTAssertEqual(header["tokenizer"] as? String, ".")
        XCTAssertEqual(header["duplicates_removed"] as? Int, 2)
        XCTAssertEqual((header["sources"] as? [[String: String]])?.first?["sha256"]?.count, 64)
        let tok = try BPETokenizer(directory: out)
        let eot = tok.eotToken!
        let train = try rawIds(out.appendingPathComponent("train.bin"), wide: false)
        let val = try rawIds(out.appendingPathComponent("val.bin"), wide: false)
        XCTAssertEqual(train.count, header["train_tokens"] as? Int)
        XCTAssertEqual(val.count, header["val_tokens"] as? Int)
        // The streams are EOT + document, for each document, and decode to the cleaned documents.
        XCTAssertEqual(train.first, eot); XCTAssertEqual(val.first, eot)
        let all = (train + val)
        XCTAssertEqual(all.filter { $0 == eot }.count, 40)
        let decoded = (tok.decode(train) + tok.decode(val)).components(separatedBy: "<|endoftext|>").dropFirst()
        XCTAssertEqual(Set(decoded), Set(docs.map { $0.replacingOccurrences(of: "<br />", with: " ") }))
        XCTAssertFalse(decoded.contains { $0.contains("<br") })
        // TokenFile agrees with the raw bytes.
        let tf = try TokenFile(directory: out, split: .train)
        XCTAssertEqual(tf.count, train.count)
        XCTAssertEqual(tf.tokens(0..<tf.count).map(Int.init), train)
        XCTAssertEqual(Int(tf[5]), train[5])
        XCTAssertEqual(tf.header.eotToken, eot)
        // Same seed → same split; reusing the tokenizer gives the same files.
        var o2 = o; o2.vocabSize = nil; o2.tokenizer = out
        let out2 = dir.appendingPathComponent("tok2")
        _ = try Corpus.tokenize(inputs: [input], out: out2, options: o2)
        XCTAssertEqual(try Data(contentsOf: out2.appendingPathComponent("train.bin")), try Data(contentsOf: out.appendingPathComponent("train.bin")))
        XCTAssertEqual(try Data(contentsOf: out2.appendingPathComponent("val.bin")), try Data(contentsOf: out.appendingPathComponent("val.bin")))
    }

    func testCSVFilterJSONLAndExclude() throws {
        let dir = try tempDir("csv"), out = dir.appendingPathComponent("tok")
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("reviews.csv")
        try """
        text,label,source
        "A long review, with a comma and ""quotes"".",1,imdb
        "This is n't a new idea .",0,rotten_tomatoes
        "Honestly, this isn't a new idea. Skip it.",0,imdb
        "Multi
        line review",1,imdb
        """.write(to: csv, atomically: true, encoding: .utf8)
        let jsonl = dir.appendingPathComponent("more.jsonl")
        try "{\"text\": \"json doc one\"}\n\n{\"text\": \"json doc two\", \"x\": 1}\n".write(to: jsonl, atomically: true, encoding: .utf8)
        let ex = dir.appendingPathComponent("sst.txt")
        try "1\tThis is n't a new idea .\r\n0\tNever in any document .\r\n".write(to: ex, atomically: true, encoding: .utf8)
        var o = Corpus.Options()
        o.csvFilter = ("source", "imdb"); o.vocabSize = 260; o.valFraction = 0; o.exclude = ex; o.excludeMinimumLength = 10
        let s = try Corpus.tokenize(inputs: [csv, jsonl], out: out, options: o)
        XCTAssertEqual(s.excluded, 1)
        XCTAssertEqual(s.documents, 4)
        let tok = try BPETokenizer(directory: out)
        let text = tok.decode(try TokenFile(directory: out, split: .train).tokens(0..<s.trainTokens).map(Int.init))
        XCTAssertEqual(text, "<|endoftext|>A long review, with a comma and \"quotes\".<|endoftext|>Multi\nline review<|endoftext|>json doc one<|endoftext|>json doc two")
        XCTAssertEqual(try TokenFile(directory: out, split: .val).count, 0)
        // Errors name file and line.
        o.csvColumn = "body"
        XCTAssertThrowsError(try Corpus.tokenize(inputs: [csv], out: out, options: o)) { e in
            XCTAssertEqual("\(e)", "\(csv.path):1: no column \"body\" (columns: text, label, source)")
        }
        try "{\"text\": 1}\n".write(to: jsonl, atomically: true, encoding: .utf8)
        o.csvColumn = "text"
        XCTAssertThrowsError(try Corpus.tokenize(inputs: [jsonl], out: out, options: o)) { e in
            XCTAssertEqual("\(e)", "\(jsonl.path):1: field \"text\" is not a string")
        }
    }

    func testPTBDetokenisation() {
        XCTAssertEqual(PTB.detokenize("co-writer\\/director ca n't do it ... they 're here ; \\* 50 %"), "co-writer/director can't do it... they're here; * 50%")
    }

    func testValidationSplitIsSeededAndSized() {
        let a = Corpus.validationIndices(count: 100, fraction: 0.05, seed: 1)
        XCTAssertEqual(a.count, 5)
        XCTAssertEqual(a, Corpus.validationIndices(count: 100, fraction: 0.05, seed: 1))
        XCTAssertNotEqual(a, Corpus.validationIndices(count: 100, fraction: 0.05, seed: 2))
        XCTAssertEqual(Corpus.validationIndices(count: 3, fraction: 0.01, seed: 1).count, 1)
        XCTAssertEqual(Corpus.validationIndices(count: 1, fraction: 0.5, seed: 1), [])
    }

    func testTokenFileRejectsBadFiles() throws {
        let dir = try tempDir("tokfile")
        defer { try? FileManager.default.removeItem(at: dir) }
        func header(_ v: Int, _ dtype: String, _ train: Int) throws {
            let h: [String: Any] = ["format": "lmprobe-tokens-1", "vocab_size": v, "dtype": dtype, "train_tokens": train,
                                    "val_tokens": 0, "eot_token": 0, "tokenizer": "."]
            try JSONSerialization.data(withJSONObject: h).write(to: dir.appendingPathComponent("tokens.json"))
        }
        try header(10, "uint16", 3)
        try Data([1, 0, 2, 0, 9, 0]).write(to: dir.appendingPathComponent("train.bin"))
        XCTAssertEqual(try TokenFile(directory: dir, split: .train).tokens(0..<3), [1, 2, 9])
        try header(10, "uint16", 4)
        XCTAssertThrowsError(try TokenFile(directory: dir, split: .train)) { e in XCTAssertTrue("\(e)".contains("train.bin: size 6 bytes, but tokens.json says 4 uint16 ids (8 bytes)"), "\(e)") }
        try header(9, "uint16", 3)
        XCTAssertThrowsError(try TokenFile(directory: dir, split: .train)) { e in XCTAssertTrue("\(e)".contains("train.bin: token 2 is 9, not below vocab_size 9"), "\(e)") }
        try header(70000, "uint32", 1)
        try Data([0x70, 0x01, 0x01, 0x00]).write(to: dir.appendingPathComponent("train.bin"))
        XCTAssertEqual(try TokenFile(directory: dir, split: .train)[0], 0x10170)
        try header(70000, "uint16", 2)
        XCTAssertThrowsError(try TokenFile(directory: dir, split: .train)) { e in XCTAssertTrue("\(e)".contains("does not fit dtype uint16"), "\(e)") }
        XCTAssertThrowsError(try TokenFile(directory: dir.appendingPathComponent("nope"), split: .val)) { e in XCTAssertTrue("\(e)".contains("tokens.json: cannot read (No such file or directory"), "\(e)") }
    }

    /// Issue 16: sizes in tokens.json are checked with overflow-reporting arithmetic against the bytes present, and
    /// vocab_size against a limit and the tokenizer's vocab.json, before anything is mapped or allocated.
    func testTokenHeaderSizesAreCheckedBeforeUse() throws {
        let dir = try tempDir("tokhuge")
        defer { try? FileManager.default.removeItem(at: dir) }
        func header(_ v: Int, _ dtype: String, _ train: Int) throws {
            let h: [String: Any] = ["format": "lmprobe-tokens-1", "vocab_size": v, "dtype": dtype, "train_tokens": train,
                                    "val_tokens": 0, "eot_token": 0, "tokenizer": "."]
            try JSONSerialization.data(withJSONObject: h).write(to: dir.appendingPathComponent("tokens.json"))
        }
        // 2⁶²+1024 uint32 ids × 4 bytes wraps to 4096: the 4 KB train.bin used to be accepted, then read past.
        try Data(count: 4096).write(to: dir.appendingPathComponent("train.bin"))
        try Data().write(to: dir.appendingPathComponent("val.bin"))
        try header(100, "uint32", (1 << 62) + 1024)
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("train.bin: size 4096 bytes, but tokens.json says 4611686018427388928 uint32 ids (more bytes than can be addressed)"), "\(e)") }
        try header(100, "uint16", (1 << 62) + 2048)
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("train.bin: size 4096"), "\(e)") }
        // vocab_size 2³¹−1 in a few hundred bytes of token files: refused by the header, not by a 275 GB allocation.
        try header(Int(Int32.max), "uint32", 1024)
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("vocab_size 2147483647 is above the limit of 2097152"), "\(e)") }
        try header(1 << 24, "uint32", 1024)
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("above the limit"), "\(e)") }
        // With the tokenizer's files present, vocab_size must be its vocabulary size.
        try header(1000, "uint32", 1024)
        XCTAssertEqual(try TokenDataset(directory: dir).trainCount, 1024)
        try Data(#"{"a": 0, "b": 1, "<|endoftext|>": 2}"#.utf8).write(to: dir.appendingPathComponent("vocab.json"))
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("vocab_size 1000 does not match the 3 entries of"), "\(e)") }
        try Data("{\"a\": 0,\n \"b\": x}".utf8).write(to: dir.appendingPathComponent("vocab.json"))
        XCTAssertThrowsError(try TokenDataset(directory: dir)) { e in XCTAssertTrue("\(e)".contains("vocab.json: not valid JSON (Invalid value at line 2, column 7.)"), "\(e)") }
    }
}

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
