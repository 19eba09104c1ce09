import Foundation
import Linalg
import Text
import XCTest
@testable import Model

/// The folder layouts transformers 5 writes (experiments/hf/make_fixtures.py layouts: each folder made by
/// transformers 5.25 with the logits it computes in ref/), and the refusals around them.
final class HuggingFaceLayoutTests: XCTestCase {
    static let layouts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf-layouts")

    func folder(_ name: String) -> URL { Self.layouts.appendingPathComponent(name) }

    /// Max |lmprobe − transformers| over every position's logits (all V rows) for ref/sequence.json.
    func assertLogitsMatchTransformers(_ ck: Checkpoint, _ dir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let seq = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("ref/sequence.json"))) as! [Int]
        let ref = try NPY.readMatrix(dir.appendingPathComponent("ref/logits.npy"), as: Float.self)
        let f = try ck.model.contextEmbeddings(tokens: seq.map(Int32.init), batch: 1, length: seq.count)
        let logits = Matrix<Float>(rows: seq.count, cols: ck.config.vocabSize)
        try BLAS.gemm(transB: true, f, ck.model.phi, into: logits)
        XCTAssertEqual(ref.rows, seq.count, file: file, line: line)
        XCTAssertEqual(ref.cols, ck.config.vocabSize, file: file, line: line)
        XCTAssertLessThan(try logits.maxAbsDifference(ref), 1e-4, dir.lastPathComponent, file: file, line: line)
    }

    func assertIDsMatchTransformers(_ tok: BPETokenizer, _ dir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("ref/ids.json"))) as! [[String: Any]]
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            XCTAssertEqual(tok.encode(c["text"] as! String), c["ids"] as! [Int], c["text"] as! String, file: file, line: line)
        }
    }

    func testTokenizerJSONOnlyFolderLoadsAndEncodesAsTransformers() throws {
        let dir = folder("tokenizer-json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("vocab.json").path))
        let tok = try BPETokenizer(directory: dir)
        XCTAssertEqual(tok.vocabSize, 300)
        XCTAssertEqual(tok.eotToken, 0)
        try assertIDsMatchTransformers(tok, dir)
        // The same tokenizer as the vocab.json + merges.txt it was made from.
        let classic = try BPETokenizer(directory: HuggingFaceTests.fixture)
        XCTAssertNil(tok.firstDifference(from: classic))
        let ck = try Checkpoint.load(url: dir)
        try assertLogitsMatchTransformers(ck, dir)
        XCTAssertEqual(try ck.rowsPastTokenizer(vocabularySize: tok.vocabSize, tokenizer: dir.path), 0)
    }

    func testTokenizerJSONOtherThanByteLevelBPERefusedNamingTheField() throws {
        let tmp = TempDir()
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: folder("tokenizer-json").appendingPathComponent("tokenizer.json"))) as! [String: Any]
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("wordpiece", { var m = $0["model"] as! [String: Any]; m["type"] = "WordPiece"; $0["model"] = m }, "model type WordPiece"),
            ("prefix", { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true] }, "add_prefix_space"),
            ("meta", { $0["pre_tokenizer"] = ["type": "Metaspace"] }, "pre_tokenizer"),
            ("norm", { $0["normalizer"] = ["type": "NFKC"] }, "normalizer"),
            ("ignore", { var m = $0["model"] as! [String: Any]; m["ignore_merges"] = true; $0["model"] = m }, "ignore_merges"),
        ]
        for (name, edit, needle) in cases {
            var o = original
            edit(&o)
            let d = tmp.url.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: o).write(to: d.appendingPathComponent("tokenizer.json"))
            XCTAssertThrowsError(try BPETokenizer(directory: d), name) { XCTAssertTrue("\($0)".contains(needle), "\(name): \($0)") }
        }
    }

    func testShardedSafetensorsLoadAsTransformers() throws {
        let dir = folder("sharded")
        XCTAssertEqual(try Checkpoint.resolve(dir).lastPathComponent, "model.safetensors.index.json")
        let ck = try Checkpoint.load(url: dir)
        try assertLogitsMatchTransformers(ck, dir)
        XCTAssertEqual(ck.tokenizerDirectory, dir.path)
        XCTAssertEqual(ck.sha256.count, 64)
        XCTAssertEqual(try Checkpoint.load(url: dir).sha256, ck.sha256, "the identity is deterministic")
    }

    func testShardIndexThatDisagreesWithItsShardsIsRefused() throws {
        let tmp = TempDir()
        let src = folder("sharded")
        func copy(_ name: String, edit: (inout [String: String]) -> Void) throws -> URL {
            let d = tmp.url.appendingPathComponent(name)
            try FileManager.default.copyItem(at: src, to: d)
            let idx = d.appendingPathComponent("model.safetensors.index.json")
            var o = try JSONSerialization.jsonObject(with: Data(contentsOf: idx)) as! [String: Any]
            var map = o["weight_map"] as! [String: String]
            edit(&map)
            o["weight_map"] = map
            try JSONSerialization.data(withJSONObject: o).write(to: idx)
            return d
        }
        let cases: [(String, (inout [String: String]) -> Void, String)] = [
            ("moved", { $0["transformer.wpe.weight"] = $0["transformer.wpe.weight"] == "model-00003-of-00004.safetensors" ? "model-00002-of-00004.safetensors" : "model-00003-of-00004.safetensors" }, "transformer.wpe.weight"),
            ("escape", { $0["transformer.wpe.weight"] = "../x.safetensors" }, "must be a .safetensors file name"),
            ("phantom", { $0["transformer.h.7.ln_1.weight"] = "model-00001-of-00004.safetensors" }, "transformer.h.7.ln_1.weight"),
        ]
        for (name, edit, needle) in cases {
            let d = try copy(name, edit: edit)
            XCTAssertThrowsError(try Checkpoint.load(url: d), name) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(name): \(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
    }

    func testPyTorchOnlyFolderRefusedWithTheConversionCommand() throws {
        let dir = folder("pytorch-only")
        XCTAssertThrowsError(try Checkpoint.load(url: dir)) { e in
            let s = "\(e)"
            XCTAssertFalse(s.contains("\n"), s)
            XCTAssertTrue(s.contains("pytorch_model.bin"), s)
            XCTAssertTrue(s.hasSuffix(HuggingFaceGPT2.conversionCommand(dir)), s)
        }
        XCTAssertEqual(HuggingFaceGPT2.conversionCommand(URL(fileURLWithPath: "/m/it's")),
                       "python -c 'import sys; from transformers import GPT2LMHeadModel as M; M.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[1])' '/m/it'\\''s'")
    }

    func testModelVocabularyLargerThanTokenizerLoadsAsTransformers() throws {
        let dir = folder("padded-vocab")
        let ck = try Checkpoint.load(url: dir)
        XCTAssertEqual(ck.config.vocabSize, 320)
        try assertLogitsMatchTransformers(ck, dir)
        let tok = try BPETokenizer(directory: dir)
        XCTAssertEqual(tok.vocabSize, 300)
        XCTAssertEqual(try ck.rowsPastTokenizer(vocabularySize: tok.vocabSize, tokenizer: dir.path), 20)
        XCTAssertEqual(try ck.checkTokenizer(tok, path: dir.path, recorded: try BPETokenizer(directory: folder("tokenizer-json"))), 20)
        // Fewer model rows than tokens is refused, and so is any mismatch for an lmprobe checkpoint.
        XCTAssertThrowsError(try ck.rowsPastTokenizer(vocabularySize: 321, tokenizer: "t")) { XCTAssertTrue("\($0)".contains("not fewer"), "\($0)") }
        let tmp = TempDir()
        let own = tmp.url.appendingPathComponent("own.safetensors")
        try Checkpoint.save(to: own, model: ck.model, step: 3, optimizer: nil, state: nil, tokenizer: nil, tokensHash: nil,
                            dataDirectory: nil, validation: [])
        XCTAssertThrowsError(try Checkpoint.load(url: own).rowsPastTokenizer(vocabularySize: 300, tokenizer: "t")) {
            XCTAssertTrue("\($0)".contains("has a vocabulary of 320"), "\($0)")
        }
    }

    func testPadTokenAddedAndResizedLoadsWithItsTokenizer() throws {
        let dir = folder("pad-token")
        let ck = try Checkpoint.load(url: dir)
        let tok = try BPETokenizer(directory: dir)
        XCTAssertEqual(tok.vocabSize, 301)
        XCTAssertEqual(ck.config.vocabSize, 301)
        XCTAssertEqual(tok.id(forToken: "<|pad|>"), 300)
        try assertIDsMatchTransformers(tok, dir)
        try assertLogitsMatchTransformers(ck, dir)
    }

    func testTiedConfigWithDifferentLMHeadLoadsUntiedAsTransformers() throws {
        let dir = folder("tied-conflict")
        let ck = try Checkpoint.load(url: dir)
        XCTAssertTrue(ck.config.untiedPhi)
        try assertLogitsMatchTransformers(ck, dir)
        let all = ck.model.parameters.toArray(), wte = ck.model.layout.wte
        XCTAssertNotEqual(ck.model.phi.toArray(), Array(all[wte..<(wte + 300 * 16)]))
    }

    func testImportedFolderReportsItsObjectiveAndUnknownStep() throws {
        let tmp = TempDir()
        let c = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 40, objective: .quad, untiedPhi: true)
        let dir = tmp.url.appendingPathComponent("quad")
        try HuggingFaceGPT2.writeFolder(try GPT(config: c, seed: 1), to: dir, dtype: .f32, eosTokenId: nil) { _ in }
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["lmprobe_objective"] as? String, "quad")
        XCTAssertTrue((cfg[HuggingFaceGPT2.quadNoteKey] as? String)?.contains("not log-probabilities") == true)
        let ck = try Checkpoint.load(url: dir)
        XCTAssertEqual(ck.config.objective, .quad)
        XCTAssertTrue(ck.config.description.contains("objective=quad"))
        XCTAssertTrue(ck.isImported)
        XCTAssertNil(ck.recordedStep)
        XCTAssertEqual(ck.stepDescription, "step: unknown")
        // A CE export carries no warning; a transformers folder without the field is CE.
        let ce = tmp.url.appendingPathComponent("ce")
        try HuggingFaceGPT2.writeFolder(try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 40), seed: 1),
                                        to: ce, dtype: .f32, eosTokenId: nil) { _ in }
        let ceCfg = try JSONSerialization.jsonObject(with: Data(contentsOf: ce.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertNil(ceCfg[HuggingFaceGPT2.quadNoteKey])
        XCTAssertEqual(try Checkpoint.load(url: folder("sharded")).config.objective, .ce)
        // An lmprobe checkpoint knows its step.
        let own = tmp.url.appendingPathComponent("own.safetensors")
        try Checkpoint.save(to: own, model: ck.model, step: 12, optimizer: nil, state: nil, tokenizer: nil, tokensHash: nil,
                            dataDirectory: nil, validation: [])
        XCTAssertEqual(try Checkpoint.load(url: own).stepDescription, "step 12")
    }

    func testConfigFieldsOfTheWrongJSONTypeAreRefusedSayingSo() throws {
        let t = TempDir()
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("bool-heads", { $0["n_head"] = true }, "field n_head must be an integer in 1...1e9 (got true)"),
            ("string-dim", { $0["n_embd"] = "32" }, "field n_embd must be an integer in 1...1e9 (got the string \"32\")"),
            ("int-tie", { $0["tie_word_embeddings"] = 1 }, "field tie_word_embeddings must be true or false (got 1)"),
            ("objective", { $0["lmprobe_objective"] = "mse" }, "field lmprobe_objective must be one of ce, quad"),
        ]
        for (name, edit, needle) in cases {
            let dir = t.url.appendingPathComponent(name)
            try FileManager.default.copyItem(at: folder("sharded"), to: dir)
            let url = dir.appendingPathComponent("config.json")
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: url)
            XCTAssertThrowsError(try Checkpoint.load(url: dir), name) { XCTAssertTrue("\($0)".contains(needle), "\(name): \($0)") }
        }
    }

    func testFolderWithWeightsButNoConfigSaysConfigIsMissing() throws {
        let tmp = TempDir()
        let dir = tmp.url.appendingPathComponent("noconfig")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: folder("tokenizer-json").appendingPathComponent("model.safetensors"),
                                         to: dir.appendingPathComponent("model.safetensors"))
        for url in [dir, dir.appendingPathComponent("model.safetensors")] {
            XCTAssertThrowsError(try Checkpoint.load(url: url)) { e in
                XCTAssertTrue("\(e)".contains("config.json: missing"), "\(e)")
                XCTAssertFalse("\(e)".contains("checkpoint pointer"), "\(e)")
            }
        }
    }

    func testEndOfTextSpellingGetsTheSpecialIdInCorpusAndLabelledText() throws {
        let dir = folder("tokenizer-json")
        let tok = try BPETokenizer(directory: dir)
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("ref/ids.json"))) as! [[String: Any]]
        let texts = cases.map { $0["text"] as! String }
        XCTAssertTrue(texts.contains { $0.contains("<|endoftext|>") })
        // encodeBatch is tokenize's corpus path; encode is extract's: both give transformers' ids.
        XCTAssertEqual(tok.encodeBatch(texts).map { $0.map(Int.init) }, cases.map { $0["ids"] as! [Int] })
        XCTAssertEqual(tok.encodeBatch(["a<|endoftext|>b"])[0].map(Int.init), tok.encode("a<|endoftext|>b"))
        XCTAssertTrue(tok.encode("a<|endoftext|>b").contains(tok.eotToken!))
    }
}
