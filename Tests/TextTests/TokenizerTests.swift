import Foundation
import XCTest
@testable import Text
import Support

let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

func fixtureDocuments() throws -> [String] {
    Corpus.split(try String(contentsOf: fixtures.appendingPathComponent("train_corpus.txt"), encoding: .utf8), .blankLine)
}

struct HFCase: Decodable { let text: String; let words: [String]; let ids: [Int] }
struct HFExpected: Decodable { let documents: Int; let cases: [HFCase] }

func hfExpected() throws -> HFExpected {
    try JSONDecoder().decode(HFExpected.self, from: Data(contentsOf: fixtures.appendingPathComponent("hf_expected.json")))
}

/// GPT-2's `bpe()` written the slow, obvious way on token strings (the reference for the fast encoder).
func referenceEncode(_ tok: BPETokenizer, _ text: String) -> [Int] { referenceEncode(tok, bytes: Array(text.utf8)) }

func referenceEncode(_ tok: BPETokenizer, bytes: [UInt8]) -> [Int] {
    var rank: [String: Int] = [:]
    for (r, m) in tok.merges.enumerated() { rank[tok.tokenStrings[m.left] + " " + tok.tokenStrings[m.right]] = rank[tok.tokenStrings[m.left] + " " + tok.tokenStrings[m.right]] ?? r }
    var ids: [Int] = []
    for w in PreTokenizer.words(bytes) {
        var parts = w.map { ByteLevel.encode([$0]) }
        while parts.count > 1 {
            var best: (Int, Int)? = nil
            for i in 0..<(parts.count - 1) {
                if let r = rank[parts[i] + " " + parts[i + 1]], best == nil || r < best!.0 { best = (r, i) }
            }
            guard let (_, i) = best else { break }
            let a = parts[i], b = parts[i + 1]
            var next: [String] = [], j = 0
            while j < parts.count {
                if j + 1 < parts.count, parts[j] == a, parts[j + 1] == b { next.append(a + b); j += 2 } else { next.append(parts[j]); j += 1 }
            }
            parts = next
        }
        ids += parts.map { tok.id(forTokenString: $0)! }
    }
    return ids
}

final class TokenizerTests: XCTestCase {
    func testByteLevelTable() {
        XCTAssertEqual(ByteLevel.encode(Array(" \n".utf8)), "ĠĊ")
        XCTAssertEqual(ByteLevel.encode([0x21, 0x7E, 0xA1, 0xFF, 0x00]), "!~¡ÿĀ")
        XCTAssertEqual(Set(ByteLevel.scalar).count, 256)
        for b in 0..<256 { XCTAssertEqual(ByteLevel.byte(forScalar: ByteLevel.scalar[b]), UInt8(b)) }
        XCTAssertNil(ByteLevel.decode("a b"))  // a raw space is not in the table
    }

    func testPreTokenizerCases() {
        XCTAssertEqual(PreTokenizer.words("Hello world! It's"), ["Hello", " world", "!", " It", "'s"])
        XCTAssertEqual(PreTokenizer.words("don't 'sam ?'s"), ["don", "'t", " '", "sam", " ?'", "s"])
        XCTAssertEqual(PreTokenizer.words("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(PreTokenizer.words("a \n\nb"), ["a", " \n", "\n", "b"])
        XCTAssertEqual(PreTokenizer.words("x  "), ["x", "  "])
        XCTAssertEqual(PreTokenizer.words("abc123 45"), ["abc", "123", " 45"])
        XCTAssertEqual(PreTokenizer.words(""), [])
        XCTAssertEqual(PreTokenizer.words([0xFF, 0x61, 0xC3]), [[0xFF], [0x61], [0xC3]])
    }

    /// The pre-tokeniser splits every fixture case exactly as HF's ByteLevel pre-tokenizer did.
    func testPreTokenizerMatchesHF() throws {
        for c in try hfExpected().cases {
            let ours = PreTokenizer.words(Array(c.text.utf8)).map { ByteLevel.encode($0) }
            XCTAssertEqual(ours, c.words, "case \(c.text.debugDescription)")
        }
    }

    /// Trained on the same documents, lmprobe's trainer gives HF's vocabulary and merges exactly.
    func testTrainingMatchesHF() throws {
        let docs = try fixtureDocuments()
        XCTAssertEqual(docs.count, try hfExpected().documents)
        for (dir, vocab, minFreq) in [("hf_bpe", 600, 2), ("hf_bpe_min1", 900, 1)] {
            let hf = try BPETokenizer(directory: fixtures.appendingPathComponent(dir))
            let ours = try BPETrainer(vocabSize: vocab, minFrequency: minFreq).train(documents: docs)
            XCTAssertEqual(ours.tokenStrings, hf.tokenStrings, dir)
            XCTAssertEqual(ours.merges.map { "\($0.left) \($0.right) \($0.merged)" }, hf.merges.map { "\($0.left) \($0.right) \($0.merged)" }, dir)
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-bpe-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: tmp) }
            try ours.save(directory: tmp)
            XCTAssertEqual(try String(contentsOf: tmp.appendingPathComponent("merges.txt"), encoding: .utf8),
                           try String(contentsOf: fixtures.appendingPathComponent(dir + "/merges.txt"), encoding: .utf8))
            let a = try JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent("vocab.json"))) as! [String: Int]
            let b = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(dir + "/vocab.json"))) as! [String: Int]
            XCTAssertEqual(a, b)
        }
    }

    /// Encoding with HF's files gives HF's ids, and the fast encoder agrees with the slow reference.
    func testEncodingMatchesHF() throws {
        let hf = try BPETokenizer(directory: fixtures.appendingPathComponent("hf_bpe"))
        for c in try hfExpected().cases {
            XCTAssertEqual(hf.encode(c.text), c.ids, "case \(c.text.debugDescription)")
            XCTAssertEqual(referenceEncode(hf, c.text), c.ids, "reference, case \(c.text.debugDescription)")
            XCTAssertEqual(hf.decode(c.ids), c.text)
        }
        let big = try hfExpected().cases.last!.text
        let batch = hf.encodeBatch(try hfExpected().cases.map(\.text))
        XCTAssertEqual(batch.map { $0.map(Int.init) }, try hfExpected().cases.map(\.ids))
        let corpus = String(repeating: big + "\n", count: 20)
        for t in [1, 2] {
            Threads.set(t)
            var c = corpus
            let ids = c.withUTF8 { hf.encodeCorpus($0) }
            XCTAssertEqual(ids.map(Int.init), hf.encode(corpus), "threads \(t)")
        }
        Threads.set(0)
    }

    /// decode(encode(x)) == x for random byte strings (invalid UTF-8, controls, multibyte, long runs).
    func testRoundTripRandomBytes() throws {
        let tok = try BPETokenizer(directory: fixtures.appendingPathComponent("hf_bpe_min1"))
        var rng = SeededRandom(seed: 7)
        let pieces: [[UInt8]] = [Array(" the".utf8), Array("'s".utf8), Array("é".utf8), Array("東".utf8), Array("🎬".utf8),
                                 [0x0A], [0x20, 0x20], [0xFF], [0xC3], [0x00], Array("movie".utf8), Array("123".utf8)]
        for trial in 0..<300 {
            var x: [UInt8] = []
            for _ in 0..<rng.int(below: 40) {
                if rng.int(below: 2) == 0 { x.append(UInt8(rng.int(below: 256))) } else { x += pieces[rng.int(below: pieces.count)] }
            }
            let ids = tok.encode(bytes: x)
            XCTAssertEqual(tok.decodeBytes(ids), x, "trial \(trial)")
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < tok.vocabSize })
            XCTAssertEqual(ids, referenceEncode(tok, bytes: x), "trial \(trial)")
        }
        XCTAssertEqual(tok.encode(""), [])
        XCTAssertEqual(tok.decode([]), "")
        XCTAssertEqual(tok.decodeBytes([tok.vocabSize]), [0xEF, 0xBF, 0xBD])
    }

    func testTrainingIsDeterministicAndThreadIndependent() throws {
        let docs = try fixtureDocuments() + (0..<50).map { "document \($0) says the film is \($0 % 3 == 0 ? "great" : "bad")" }
        Threads.set(1)
        let a = try BPETrainer(vocabSize: 700, minFrequency: 1).train(documents: docs)
        Threads.set(2)
        let b = try BPETrainer(vocabSize: 700, minFrequency: 1).train(documents: docs)
        Threads.set(0)
        XCTAssertEqual(a.tokenStrings, b.tokenStrings)
        XCTAssertEqual(a.merges.map(\.merged), b.merges.map(\.merged))
        XCTAssertEqual(a.vocabSize, 700)
        XCTAssertEqual(a.eotToken, 0)
        XCTAssertEqual(a.specialTokens, [0])
        XCTAssertThrowsError(try BPETrainer(vocabSize: 100).train(documents: docs))
    }

    func testLookupAndFiles() throws {
        let tok = try BPETokenizer(directory: fixtures.appendingPathComponent("hf_bpe"))
        XCTAssertEqual(tok.id(forToken: " the"), tok.id(forTokenString: "Ġthe"))
        XCTAssertNotNil(tok.id(forToken: " the"))
        XCTAssertNil(tok.id(forToken: " nonexistentword"))
        XCTAssertEqual(tok.id(forToken: "<|endoftext|>"), 0)
        XCTAssertEqual(tok.encode(" the"), [tok.id(forToken: " the")!])
        // Malformed files: one-line errors naming file and line.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try tok.save(directory: tmp)
        let merges = tmp.appendingPathComponent("merges.txt")
        try "#version: 0.2\nĠ t\nh e e\n".write(to: merges, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BPETokenizer(directory: tmp)) { e in XCTAssertTrue("\(e)".hasSuffix("merges.txt:3: expected two tokens separated by one space, got \"h e e\""), "\(e)") }
        try "#version: 0.2\nĠ t\nq zzz\n".write(to: merges, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BPETokenizer(directory: tmp)) { e in XCTAssertTrue("\(e)".contains("merges.txt:3: merge token \"zzz\""), "\(e)") }
        try "{\"a\": 0}".write(to: tmp.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BPETokenizer(directory: tmp)) { e in XCTAssertTrue("\(e)".contains("lacks the single-byte token"), "\(e)") }
        try "[1,2]".write(to: tmp.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BPETokenizer(directory: tmp)) { e in XCTAssertTrue("\(e)".contains("vocab.json: expected a JSON object"), "\(e)") }
    }
}
