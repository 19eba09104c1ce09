import Foundation
import Linalg
import XCTest
@testable import Model

/// Reading safetensors files that fight back: headers whose parse would cost more than their tensors justify,
/// files truncated while read, FIFOs; and float16 writes that would overflow.
final class SafeTensorsReadingTests: XCTestCase {
    /// A file of `count` zero-size F32 tensors (header only).
    func zeroSizeTensors(_ count: Int) -> Data {
        var json = "{"
        for i in 0..<count { json += (i > 0 ? "," : "") + "\"t\(i)\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}" }
        json += "}"
        var d = Data(count: 8)
        d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.utf8.count).littleEndian, as: UInt64.self) }
        d.append(Data(json.utf8))
        return d
    }

    func testHeaderDeclaringTooManyTensorsIsRefusedBeforeParsing() throws {
        XCTAssertEqual(try SafeTensors.parse(zeroSizeTensors(1000)).tensors.count, 1000)
        XCTAssertThrowsError(try SafeTensors.parse(zeroSizeTensors(SafeTensors.maxTensors + 10))) { e in
            XCTAssertTrue("\(e)".contains("at most \(SafeTensors.maxTensors)"), "\(e)")
        }
        // A few tensors whose shapes hold millions of values: as much parse work, refused the same way.
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[" + Array(repeating: "1", count: 2_000_000).joined(separator: ",")
        json += "],\"data_offsets\":[0,4]}}"
        var d = Data(count: 8)
        d.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.utf8.count).littleEndian, as: UInt64.self) }
        d.append(Data(json.utf8)); d.append(Data(count: 4))
        XCTAssertThrowsError(try SafeTensors.parse(d)) { XCTAssertTrue("\($0)".contains("JSON values"), "\($0)") }
    }

    func testFileTruncatedWhileReadIsAOneLineErrorNotACrash() throws {
        let tmp = TempDir()
        let m = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 64), seed: 2)
        let url = tmp.url.appendingPathComponent("c.safetensors")
        try Checkpoint.save(to: url, model: m, step: 1, optimizer: nil, state: nil, tokenizer: nil, tokensHash: nil,
                            dataDirectory: nil, validation: [])
        let file = try SafeTensors.read(url)               // header parsed, file open
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        XCTAssertEqual(truncate(url.path, off_t(size / 2)), 0)   // another process shortens it
        let t = file.tensors.values.max { $0.byteRange.upperBound < $1.byteRange.upperBound }!
        let out = UnsafeMutablePointer<Float>.allocate(capacity: t.count)
        defer { out.deallocate() }
        XCTAssertThrowsError(try file.copy(t.name, shape: t.shape, into: out)) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"))
        }
    }

    func testFIFOAsCheckpointIsRefusedWithoutBlocking() throws {
        let tmp = TempDir()
        let fifo = tmp.url.appendingPathComponent("ck.safetensors")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertThrowsError(try SafeTensors.read(fifo)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertThrowsError(try Checkpoint.load(url: fifo)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        // The same as a Hugging Face folder's model.safetensors, and as its config.json.
        let hf = tmp.url.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hf, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: HuggingFaceTests.fixture.appendingPathComponent("config.json"),
                                         to: hf.appendingPathComponent("config.json"))
        XCTAssertEqual(mkfifo(hf.appendingPathComponent("model.safetensors").path, 0o600), 0)
        XCTAssertThrowsError(try Checkpoint.load(url: hf)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        let hf2 = tmp.url.appendingPathComponent("hf2")
        try FileManager.default.createDirectory(at: hf2, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: HuggingFaceTests.fixture.appendingPathComponent("model.safetensors"),
                                         to: hf2.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(mkfifo(hf2.appendingPathComponent("config.json").path, 0o600), 0)
        XCTAssertThrowsError(try Checkpoint.load(url: hf2)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }

    func testFloat16WriteRefusesValuesBeyondHalfRange() throws {
        let tmp = TempDir()
        let url = tmp.url.appendingPathComponent("h.safetensors")
        var ok: [Float] = [1, -65504, 65504]
        try ok.withUnsafeMutableBufferPointer { b in
            try SafeTensors.write(to: url, tensors: [("a", [3], UnsafeBufferPointer(b))], metadata: [:], dtype: .f16)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        let bad = tmp.url.appendingPathComponent("bad.safetensors")
        var big: [Float] = [1, 70000, 2]
        try big.withUnsafeMutableBufferPointer { b in
            XCTAssertThrowsError(try SafeTensors.write(to: bad, tensors: [("w", [3], UnsafeBufferPointer(b))], metadata: [:], dtype: .f16)) { e in
                XCTAssertTrue("\(e)".contains("tensor \"w\" holds 70000.0 at element 1"), "\(e)")
                XCTAssertTrue("\(e)".contains("65504"), "\(e)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad.path))
        _ = ok; _ = big
    }
}
