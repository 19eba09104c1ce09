import Foundation
import Linalg
import XCTest
@testable import Model

/// Hugging Face GPT-2 import/export against the committed fixture (experiments/hf/make_fixtures.py tiny: a random
/// GPT-2 with 2 layers, d = 64, V = 300, saved by transformers, with transformers' logits and f(s)).
final class HuggingFaceTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf-gpt2-tiny")

    func sequences() throws -> [[Int32]] {
        let d = try Data(contentsOf: Self.fixture.appendingPathComponent("ref/sequences.json"))
        return (try JSONSerialization.jsonObject(with: d) as! [[Int]]).map { $0.map(Int32.init) }
    }

    /// Max |lmprobe − transformers| over every position's logits and the last position's f(s).
    func assertMatchesReference(_ model: GPT, tol: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) throws {
        let hidden = try NPY.readMatrix(Self.fixture.appendingPathComponent("ref/hidden-last.npy"), as: Float.self)
        for (k, s) in try sequences().enumerated() {
            let T = s.count
            let f = try model.contextEmbeddings(tokens: s, batch: 1, length: T)           // T × d
            let logits = Matrix<Float>(rows: T, cols: model.config.vocabSize)
            try BLAS.gemm(transB: true, f, model.phi, into: logits)                      // T × V
            let ref = try NPY.readMatrix(Self.fixture.appendingPathComponent("ref/logits-\(k).npy"), as: Float.self)
            XCTAssertEqual(ref.rows, T, file: file, line: line)
            var worst: Float = 0
            for i in 0..<T { for j in 0..<ref.cols { worst = max(worst, abs(logits[i, j] - ref[i, j])) } }
            XCTAssertLessThan(worst, tol, "logits of sequence \(k)", file: file, line: line)
            var worstF: Float = 0
            for j in 0..<model.config.dim { worstF = max(worstF, abs(f[T - 1, j] - hidden[k, j])) }
            XCTAssertLessThan(worstF, tol, "f(s) of sequence \(k)", file: file, line: line)
        }
    }

    func testImportMatchesTransformersLogitsAndFeatures() throws {
        let ck = try Checkpoint.load(url: Self.fixture)
        XCTAssertEqual(ck.config, GPTConfig(layers: 2, dim: 64, heads: 4, context: 32, vocabSize: 300))
        XCTAssertEqual(ck.tokenizerDirectory, Self.fixture.path)
        try assertMatchesReference(ck.model)
        // A wrong layout would be far off: the reference is sensitive to a transposed Conv1D.
        let broken = try GPT(config: ck.config) { block, layout in
            block.update(from: ck.model.parameters.pointer, count: layout.count)
            let q = layout.tensor(named: "blocks.attn.proj.weight")!
            let C = ck.config.dim
            for i in 0..<C { for j in 0..<i { swap(&block[q.offset + i * C + j], &block[q.offset + j * C + i]) } }
        }
        let s = try sequences()[3]
        let a = try ck.model.contextEmbeddings(tokens: s, batch: 1, length: s.count)
        let b = try broken.contextEmbeddings(tokens: s, batch: 1, length: s.count)
        var diff: Float = 0
        for i in 0..<a.count { diff = max(diff, abs(a.pointer[i] - b.pointer[i])) }
        XCTAssertGreaterThan(diff, 1e-2)
    }

    /// Rewrites the fixture's model.safetensors with renamed/added tensors into a new folder.
    func variant(_ tmp: TempDir, name: String, config edit: (inout [String: Any]) -> Void = { _ in },
                 tensors map: (inout [(String, [Int], [Float])]) -> Void = { _ in }) throws -> URL {
        let dir = tmp.url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = try SafeTensors.read(Self.fixture.appendingPathComponent("model.safetensors"))
        var list: [(String, [Int], [Float])] = []
        for (n, t) in file.tensors.sorted(by: { $0.key < $1.key }) {
            var v = [Float](repeating: 0, count: t.count)
            try v.withUnsafeMutableBufferPointer { try file.copy(n, shape: t.shape, into: $0.baseAddress!) }
            list.append((n, t.shape, v))
        }
        map(&list)
        let bufs = list.map { ($0.0, $0.1, UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, $0.2.count))) }
        defer { for b in bufs { b.2.deallocate() } }
        for (i, t) in list.enumerated() { _ = bufs[i].2.initialize(from: t.2) }
        try SafeTensors.write(to: dir.appendingPathComponent("model.safetensors"),
                              tensors: bufs.map { ($0.0, $0.1, UnsafeBufferPointer(start: $0.2.baseAddress, count: $0.1.reduce(1, *))) },
                              metadata: ["format": "pt"], digests: false)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    func testImportWithoutPrefixWithMaskBuffersAndTiedHead() throws {
        let tmp = TempDir()
        let ref = try Checkpoint.load(url: Self.fixture).model
        let dir = try variant(tmp, name: "noprefix", tensors: { list in
            list = list.map { (String($0.0.dropFirst($0.0.hasPrefix("transformer.") ? 12 : 0)), $0.1, $0.2) }
            for l in 0..<2 {
                list.append(("h.\(l).attn.bias", [1, 1, 32, 32], [Float](repeating: 1, count: 32 * 32)))
                list.append(("h.\(l).attn.masked_bias", [], [-1e4]))
            }
            let wte = list.first { $0.0 == "wte.weight" }!
            list.append(("lm_head.weight", wte.1, wte.2))
        })
        let m = try HuggingFaceGPT2.load(folder: dir)
        XCTAssertEqual(m.parameters.toArray(), ref.parameters.toArray())
    }

    func testRefusesUnsupportedVariantsNamingTheField() throws {
        let tmp = TempDir()
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("act", { $0["activation_function"] = "relu" }, "activation_function relu"),
            ("gelu", { $0["activation_function"] = "gelu" }, "activation_function gelu"),
            ("eps", { $0["layer_norm_epsilon"] = 1e-6 }, "layer_norm_epsilon"),
            ("inner", { $0["n_inner"] = 100 }, "n_inner 100"),
            ("scale", { $0["scale_attn_weights"] = false }, "scale_attn_weights"),
            ("invidx", { $0["scale_attn_by_inverse_layer_idx"] = true }, "scale_attn_by_inverse_layer_idx"),
            ("cross", { $0["add_cross_attention"] = true }, "add_cross_attention"),
            ("arch", { $0["architectures"] = ["GPT2ForSequenceClassification"] }, "architectures"),
            ("type", { $0["model_type"] = "gptj" }, "model_type gptj"),
            ("nolayer", { $0["n_layer"] = nil }, "n_layer is missing"),
            ("heads", { $0["n_head"] = 5 }, "not a multiple of heads"),
            ("untied", { $0["tie_word_embeddings"] = false }, "lm_head.weight"),
            ("layers", { $0["n_layer"] = 1 }, "h.1."),
            ("vocab", { $0["vocab_size"] = 301 }, "wte.weight"),
            ("huge", { $0["n_layer"] = 1_000_000_000; $0["n_embd"] = 1_000_000_000 }, "above the limit"),
            ("deep", { $0["n_layer"] = 1000 }, "needs 12000 block tensors"),
        ]
        for (name, edit, needle) in cases {
            let dir = try variant(tmp, name: name, config: edit)
            XCTAssertThrowsError(try Checkpoint.load(url: dir), name) { e in
                let s = "\(e)"
                XCTAssertTrue(s.contains(needle), "\(name): \(s)")
                XCTAssertFalse(s.contains("\n"), "\(name): one line")
            }
        }
        let extra = try variant(tmp, name: "extra", tensors: { $0.append(("score.weight", [2, 64], [Float](repeating: 0, count: 128))) })
        XCTAssertThrowsError(try Checkpoint.load(url: extra)) { XCTAssertTrue("\($0)".contains("score.weight"), "\($0)") }
    }

    func testExportReimportIsBitIdenticalTiedAndUntied() throws {
        let tmp = TempDir()
        for untied in [false, true] {
            let c = GPTConfig(layers: 2, dim: 16, heads: 2, context: 8, vocabSize: 40, untiedPhi: untied)
            let m = try GPT(config: c, seed: 3)
            let dir = tmp.url.appendingPathComponent("hf-\(untied)")
            try HuggingFaceGPT2.writeFolder(m, to: dir, dtype: .f32, eosTokenId: 39) { _ in }
            let back = try HuggingFaceGPT2.load(folder: dir)
            XCTAssertEqual(back.config, c)
            XCTAssertEqual(back.parameters.toArray(), m.parameters.toArray(), "untied \(untied)")
            let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
            XCTAssertEqual(cfg["tie_word_embeddings"] as? Bool, !untied)
            let file = try SafeTensors.read(dir.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(file.tensors["lm_head.weight"] != nil, untied)
            XCTAssertEqual(file.metadata["format"], "pt")
            // float16: every parameter within half-precision rounding.
            let half = tmp.url.appendingPathComponent("f16-\(untied)")
            try HuggingFaceGPT2.writeFolder(m, to: half, dtype: .f16, eosTokenId: nil) { _ in }
            let h = try HuggingFaceGPT2.load(folder: half)
            let a = m.parameters.toArray(), b = h.parameters.toArray()
            for i in 0..<a.count { XCTAssertEqual(b[i], a[i], accuracy: abs(a[i]) / 1024 + 1e-7) }
            // The output folder is complete or absent: a second export into it is refused.
            XCTAssertThrowsError(try HuggingFaceGPT2.writeFolder(m, to: dir, dtype: .f32, eosTokenId: nil) { _ in }) {
                XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
            }
        }
        // A model with an output scale c: GPT-2 has none, so c is folded into ln_f; the re-imported model (c = 1)
        // gives the same f(s) up to rounding.
        let scaled = try GPT(config: GPTConfig(layers: 2, dim: 16, heads: 2, context: 8, vocabSize: 40,
                                               objective: .quad, untiedPhi: true), seed: 4).withOutputScale(0.05)
        let sdir = tmp.url.appendingPathComponent("hf-scaled")
        try HuggingFaceGPT2.writeFolder(scaled, to: sdir, dtype: .f32, eosTokenId: nil) { _ in }
        let sback = try HuggingFaceGPT2.load(folder: sdir)
        XCTAssertEqual(sback.config.outputScale, 1)
        let toks: [Int32] = [3, 9, 27, 1, 0, 39, 12, 5]
        let fa = try scaled.contextEmbeddings(tokens: toks, batch: 1, length: 8)
        let fb = try sback.contextEmbeddings(tokens: toks, batch: 1, length: 8)
        for i in 0..<8 { for j in 0..<16 { XCTAssertEqual(fb[i, j], fa[i, j], accuracy: 1e-6 + abs(fa[i, j]) * 1e-5) } }
        XCTAssertGreaterThan(fa.toArray().map(abs).max()!, 1e-3, "f must not be trivially zero")
        // The fixture through export → import is bit-identical too.
        let fx = try Checkpoint.load(url: Self.fixture).model
        let out = tmp.url.appendingPathComponent("fixture-out")
        try HuggingFaceGPT2.writeFolder(fx, to: out, dtype: .f32, eosTokenId: 0) { _ in }
        XCTAssertEqual(try HuggingFaceGPT2.load(folder: out).parameters.toArray(), fx.parameters.toArray())
    }

    func testHalfPrecisionConversionRoundTrips() {
        for bits in stride(from: 0, through: 0xFFFF, by: 1) {
            let h = UInt16(bits)
            let f = halfToFloat(h)
            if f.isNaN { XCTAssertTrue(halfToFloat(floatToHalf(f)).isNaN); continue }
            XCTAssertEqual(floatToHalf(f), h, "bits \(bits)")
        }
        XCTAssertEqual(floatToHalf(1 + 1.0 / 2048), floatToHalf(1))            // ties to even
        XCTAssertEqual(floatToHalf(70000), 0x7C00)                             // overflow → inf
        XCTAssertEqual(halfToFloat(floatToHalf(0.1)), 0.0999755859375)
    }
}
