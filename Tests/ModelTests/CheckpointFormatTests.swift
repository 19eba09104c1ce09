import Foundation
import Text
import XCTest
@testable import Model
import Support

/// The checkpoint format: per-tensor digests that survive re-serialisation, hostile headers refused before any
/// allocation, weights-only checkpoints, and mutated files that never crash.
final class CheckpointFormatTests: XCTestCase {
    let config = GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 32)

    func saved(_ tmp: TempDir, untied: Bool = false) throws -> (GPT, URL) {
        var c = config; c.untiedPhi = untied
        let m = try GPT(config: c, seed: 5)
        let url = tmp.url.appendingPathComponent("c.safetensors")
        try Checkpoint.save(to: url, model: m, step: 7, optimizer: AdamW(layout: m.layout, dim: c.dim), state: nil,
                            tokenizer: "/tok", tokensHash: "ab", dataDirectory: nil, validation: [])
        return (m, url)
    }

    /// Re-serialises a file the way another writer would: tensors in reverse order (other offsets), compact JSON
    /// header without padding, same tensors and metadata.
    func reserialised(_ url: URL, to out: URL, edit: (inout [String: String]) -> Void = { _ in }) throws {
        let f = try SafeTensors.read(url)
        var header: [String: Any] = [:]
        var body = Data()
        for (name, t) in f.tensors.sorted(by: { $0.key > $1.key }) {
            let bytes = try f.rawBytes(t)
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [body.count, body.count + bytes.count]]
            body.append(bytes)
        }
        var meta = f.metadata
        edit(&meta)
        header["__metadata__"] = meta
        let json = try JSONSerialization.data(withJSONObject: header)
        var d = Data(count: 8)
        d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self) }
        d.append(json); d.append(body)
        try d.write(to: out)
    }

    func testResavedWithIdenticalTensorsAndMetadataLoads() throws {
        let tmp = TempDir()
        let (m, url) = try saved(tmp, untied: true)
        let other = tmp.url.appendingPathComponent("resaved.safetensors")
        try reserialised(url, to: other)
        XCTAssertNotEqual(try Data(contentsOf: other), try Data(contentsOf: url))
        let back = try Checkpoint.load(url: other)
        XCTAssertEqual(back.model.parameters.toArray(), m.parameters.toArray())
        XCTAssertEqual(back.step, 7)
        // Changed metadata is refused.
        let edited = tmp.url.appendingPathComponent("edited.safetensors")
        try reserialised(url, to: edited) { $0["step"] = "8" }
        XCTAssertThrowsError(try Checkpoint.load(url: edited)) { XCTAssertTrue("\($0)".contains("metadata digest mismatch"), "\($0)") }
    }

    /// The identity is computed while loading, without hashing the tensor bytes a second time: for lmprobe files
    /// the SHA-256 of the length prefix and header (which carries every tensor's digest), for files without digests
    /// the SHA-256 of the whole file (= `sha256sum`). Different weights give different identities.
    func testIdentityHashesTheHeaderOfDigestedFilesAndTheWholeFileOtherwise() throws {
        let tmp = TempDir()
        let (_, url) = try saved(tmp)
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let loaded = try Checkpoint.load(url: url)
        XCTAssertEqual(loaded.sha256, SHA256.hex(Array(bytes[0..<(8 + n)])))
        XCTAssertNotEqual(loaded.sha256, SHA256.hex(bytes))

        // Another model (other seed): another identity; the same file loaded twice: the same one.
        let m2 = try GPT(config: config, seed: 6)
        let url2 = tmp.url.appendingPathComponent("c2.safetensors")
        try Checkpoint.save(to: url2, model: m2, step: 7, optimizer: AdamW(layout: m2.layout, dim: config.dim), state: nil,
                            tokenizer: "/tok", tokensHash: "ab", dataDirectory: nil, validation: [])
        XCTAssertNotEqual(try Checkpoint.load(url: url2).sha256, loaded.sha256)
        XCTAssertEqual(try Checkpoint.load(url: url).sha256, loaded.sha256)

        // Without digests (the metadata entry removed, as in a foreign file): the whole file's SHA-256.
        let bare = tmp.url.appendingPathComponent("bare.safetensors")
        try reserialised(url, to: bare) { $0[SafeTensors.digestsKey] = nil }
        let file = try SafeTensors.read(bare)
        XCTAssertFalse(file.hasTensorDigests)
        XCTAssertEqual(file.identity(), SHA256.hex([UInt8](try Data(contentsOf: bare))))
    }

    /// A training checkpoint written before JSON keys were snake_case (camelCase `config` and `training`, `minLR`)
    /// still loads and resumes; a new one writes snake_case and reads back the same state.
    func testCamelCaseCheckpointMetadataFromBeforeSnakeCaseStillResumes() throws {
        let legacy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../FuzzTargetsTests/Cases/safetensors/seed-training-ckpt.safetensors").standardizedFileURL
        XCTAssertTrue(try SafeTensors.read(legacy).metadata["config"]!.contains("vocabSize"))
        let (model, _, state, _) = try Checkpoint.loadForResume(url: legacy)
        XCTAssertEqual(model.config.vocabSize, 280)
        XCTAssertEqual(state.options.minLR, 1e-4)
        XCTAssertEqual(state.schedule.maxLR, 1e-3)
        XCTAssertEqual(state.schedule.minLR, 1e-4)
        XCTAssertEqual(state.tokensSeen, 8)
        XCTAssertEqual(state.validation.first?.crossEntropy ?? 0, 5.623123526573181, accuracy: 1e-12)

        let tmp = TempDir()
        let out = tmp.url.appendingPathComponent("new.safetensors")
        let (m2, opt, _, _) = try Checkpoint.loadForResume(url: legacy)
        try Checkpoint.save(to: out, model: m2, step: state.step, optimizer: opt, state: state, tokenizer: nil,
                            tokensHash: nil, dataDirectory: nil, validation: state.validation)
        let meta = try SafeTensors.read(out).metadata
        XCTAssertTrue(meta["config"]!.contains("\"vocab_size\":280"), meta["config"]!)
        XCTAssertTrue(meta["training"]!.contains("\"min_lr\":0.0001"), meta["training"]!)
        XCTAssertFalse(meta["training"]!.contains("minLR"))
        XCTAssertEqual(try Checkpoint.loadForResume(url: out).state, state)
    }

    /// Python's safetensors re-saving the file (skipped with a reason when python3 lacks safetensors).
    func testResavedByPythonSafetensorsLoads() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import safetensors.numpy, numpy"]
        probe.standardError = FileHandle.nullDevice
        do { try probe.run(); probe.waitUntilExit() } catch { throw XCTSkip("python3 not runnable: \(error)") }
        guard probe.terminationStatus == 0 else { throw XCTSkip("python3 module 'safetensors' is not installed") }
        let tmp = TempDir()
        let (m, url) = try saved(tmp)
        let out = tmp.url.appendingPathComponent("py.safetensors")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys
            from safetensors.numpy import load_file, save_file
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="numpy") as f: meta = f.metadata()
            save_file(load_file(sys.argv[1]), sys.argv[2], metadata=meta)
            """, url.path, out.path]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try Checkpoint.load(url: out).model.parameters.toArray(), m.parameters.toArray())
    }

    func testDamagedTensorIsRefusedNamingIt() throws {
        let tmp = TempDir()
        let (_, url) = try saved(tmp)
        let f = try SafeTensors.read(url)
        let qkv = f.tensors["blocks.attn.qkv.weight"]!
        var bytes = try Data(contentsOf: url)
        bytes[f.dataStart + qkv.byteRange.lowerBound + 10] ^= 0x01
        let bad = tmp.url.appendingPathComponent("bad.safetensors")
        try bytes.write(to: bad)
        XCTAssertThrowsError(try Checkpoint.load(url: bad)) { e in
            XCTAssertTrue("\(e)".contains("\"blocks.attn.qkv.weight\" digest mismatch"), "\(e)")
        }
    }

    /// A config-only checkpoint (issue 16: 248 bytes → a 13 TB allocation) is refused before anything is allocated.
    func testConfigOnlyCheckpointIsRefusedBeforeAllocation() throws {
        let tmp = TempDir()
        func configOnly(_ c: GPTConfig) throws -> URL {
            let url = tmp.url.appendingPathComponent("config-only.safetensors")
            try SafeTensors.write(to: url, tensors: [], metadata: ["format": Checkpoint.format,
                                                                 "config": String(decoding: try JSONEncoder().encode(c), as: UTF8.self)])
            return url
        }
        // GPT-2 small's shape (a 500 MB block this machine could allocate) and no tensors: refused by the first
        // missing tensor, in a file of a few hundred bytes.
        let url = try configOnly(GPTConfig(layers: 12, dim: 768, heads: 12, context: 1024, vocabSize: 50257))
        XCTAssertLessThan(try Data(contentsOf: url).count, 1024)
        XCTAssertThrowsError(try Checkpoint.load(url: url)) { XCTAssertTrue("\($0)".contains("tensor \"wte\" is missing"), "\($0)") }
        // The issue's 13 TB config and sizes beyond the limits: refused by the config check, before any size is used.
        for (c, needle) in [(GPTConfig(layers: 48, dim: 65536, heads: 64, context: 4096, vocabSize: 1_000_000), "more than"),
                            (GPTConfig(layers: 1 << 40, dim: 1 << 30, heads: 1, context: 8, vocabSize: 8), "above the limit")] {
            XCTAssertThrowsError(try Checkpoint.load(url: try configOnly(c))) { XCTAssertTrue("\($0)".contains(needle), "\($0)") }
        }
        // The overflow-checked shape computation itself (defence in depth below the config limits).
        XCTAssertThrowsError(try Checkpoint.expectedTensors(GPTConfig(layers: 1 << 40, dim: 1 << 30, heads: 1, context: 8,
                                                                      vocabSize: 8), path: "x")) {
            XCTAssertTrue("\($0)".contains("overflow"), "\($0)")
        }
    }

    func testHostileHeadersAreRefused() throws {
        func header(_ json: String, body: Int = 0) -> Data {
            var d = Data(count: 8)
            d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.utf8.count).littleEndian, as: UInt64.self) }
            d.append(Data(json.utf8)); d.append(Data(count: body))
            return d
        }
        let cases: [(String, Data)] = [
            ("overflows", header(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#)),
            ("outside", header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, body: 4)),
            ("does not match", header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, body: 8)),
            ("non-negative", header(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, body: 8)),
            ("non-negative", header(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, body: 8)),
            ("dtype I64", header(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, body: 8)),
            ("contiguously", header(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, body: 8)),
            ("trailing", header(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, body: 8)),
            ("not a JSON object", header("[1,2]")),
            ("exceeds the file size", Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B])),
        ]
        for (needle, data) in cases {
            XCTAssertThrowsError(try SafeTensors.parse(data)) { XCTAssertTrue("\($0)".contains(needle), "\(needle): \($0)") }
        }
    }

    /// 400 mutated checkpoints (bit flips, overwritten header bytes, truncations): each loads or throws.
    func testMutatedCheckpointsNeverCrash() throws {
        let tmp = TempDir()
        let (_, url) = try saved(tmp)
        let original = try Data(contentsOf: url)
        let headerEnd = 8 + Int(original.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SeededRandom(seed: 11)
        var loaded = 0, refused = 0
        for i in 0..<400 {
            var d = original
            switch i % 4 {
            case 0: d[rng.int(below: headerEnd)] ^= UInt8(1 << rng.int(below: 8))
            case 1: d[rng.int(below: headerEnd)] = UInt8(ascii: ["9", "0", "-", "e", "\"", ","][rng.int(below: 6)])
            case 2: d = d.prefix(rng.int(below: d.count))
            default: d[rng.int(below: d.count)] ^= 0xFF
            }
            let bad = tmp.url.appendingPathComponent("m\(i).safetensors")
            try d.write(to: bad)
            do { _ = try Checkpoint.load(url: bad); loaded += 1 } catch { refused += 1; XCTAssertFalse("\(error)".contains("\n")) }
            try? FileManager.default.removeItem(at: bad)
        }
        XCTAssertGreaterThan(refused, 300)
        XCTAssertEqual(loaded + refused, 400)
    }

    func testWeightsOnlyCheckpointLoadsButDoesNotResume() throws {
        let tmp = TempDir()
        let m = try GPT(config: config, seed: 2)
        let full = tmp.url.appendingPathComponent("full.safetensors"), weights = tmp.url.appendingPathComponent("w.safetensors")
        try Checkpoint.save(to: full, model: m, step: 1, optimizer: AdamW(layout: m.layout, dim: config.dim), state: nil,
                            tokenizer: nil, tokensHash: nil, dataDirectory: nil, validation: [])
        try Checkpoint.save(to: weights, model: m, step: 1, optimizer: nil, state: nil, tokenizer: nil, tokensHash: nil,
                            dataDirectory: nil, validation: [], dtype: .f16)
        let a = try Data(contentsOf: full).count, b = try Data(contentsOf: weights).count
        XCTAssertLessThan(b * 4, a)   // no moments (÷3) and half precision (÷2), less the shared header
        let back = try Checkpoint.load(url: weights)
        let x = m.parameters.toArray(), y = back.model.parameters.toArray()
        for i in 0..<x.count { XCTAssertEqual(y[i], x[i], accuracy: abs(x[i]) / 1024 + 1e-7) }
        XCTAssertThrowsError(try Checkpoint.loadForResume(url: weights)) { XCTAssertTrue("\($0)".contains("weights-only"), "\($0)") }
    }
}
