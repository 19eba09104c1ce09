import Foundation
import XCTest
@testable import Linalg
import Support

final class SupportTests: XCTestCase {
    /// JSON keys: snake_case out; snake_case and the older camelCase in (acronym keys through their normalised raw
    /// value); dictionary keys untouched; NaN as a string.
    func testJSONCodingWritesSnakeCaseAndReadsBothStyles() throws {
        struct Row: Codable, Equatable {
            var heldOutR2: Double
            var minLR: Double
            var B: Double
            var settings: [String: Int]
            enum CodingKeys: String, CodingKey { case heldOutR2, minLR = "minLr", B = "b", settings }
        }
        let row = Row(heldOutR2: 0.5, minLR: 1e-4, B: 2, settings: ["checkpoint CE": 1, "Foo_bar": 2, "fooBar": 3])
        let text = String(decoding: try JSONCoding.encoder(pretty: false).encode(row), as: UTF8.self)
        XCTAssertEqual(text, #"{"b":2,"held_out_r2":0.5,"min_lr":0.0001,"settings":{"Foo_bar":2,"checkpoint CE":1,"fooBar":3}}"#)
        XCTAssertEqual(try JSONCoding.decoder().decode(Row.self, from: Data(text.utf8)), row)
        let legacy = #"{"B":2,"heldOutR2":0.5,"minLR":0.0001,"settings":{"Foo_bar":2,"checkpoint CE":1,"fooBar":3}}"#
        XCTAssertEqual(try JSONCoding.decoder().decode(Row.self, from: Data(legacy.utf8)), row)

        for (key, camel) in [("held_out_r2", "heldOutR2"), ("checkpoint_sha256", "checkpointSha256"), ("minLR", "minLr"),
                             ("checkpointSHA256", "checkpointSha256"), ("vocabSize", "vocabSize"), ("B", "b"),
                             ("_private", "_private"), ("n", "n")] {
            XCTAssertEqual(JSONCoding.camelCase(key), camel, key)
        }
        struct X: Codable { var x: Double }
        let nan = try JSONCoding.encoder(pretty: false).encode(X(x: .nan))
        XCTAssertEqual(String(decoding: nan, as: UTF8.self), #"{"x":"nan"}"#)
        XCTAssertTrue(try JSONCoding.decoder().decode(X.self, from: nan).x.isNaN)
    }

    func testSeededRandomIsDeterministicAndResumable() {
        var a = SeededRandom(seed: 3), b = SeededRandom(seed: 3), c = SeededRandom(seed: 4)
        let xs = (0..<10).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<10).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<10).map { _ in c.next() })
        var resumed = SeededRandom(stateWords: a.stateWords)
        XCTAssertEqual(a.next(), resumed.next())
        var n = SeededRandom(seed: 9)
        let samples = (0..<20_000).map { _ in n.normal() }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    func testParallelForVisitsEveryIndexOnce() {
        Threads.set(2)
        defer { Threads.set(0) }
        let n = 1003
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
        counts.initialize(repeating: 0, count: n)
        defer { counts.deallocate() }
        parallelFor(n) { counts[$0] += 1 }
        XCTAssertTrue((0..<n).allSatisfy { counts[$0] == 1 })
        counts.update(repeating: 0, count: n)
        parallelChunks(n, minChunk: 100) { r in for i in r { counts[i] += 1 } }
        XCTAssertTrue((0..<n).allSatisfy { counts[$0] == 1 })
        XCTAssertEqual(Threads.count, 2)
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testNPYRoundTripAndHeaderLayout() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = Matrix<Float>(rows: 3, cols: 5) { i, j in Float(i * 10 + j) + 0.25 }
        let url = dir.appendingPathComponent("m.npy")
        try NPY.write(m, to: url)
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x93, 78, 85, 77, 80, 89, 1, 0])
        let headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLen) % 64, 0, "data aligned to 64 bytes")
        XCTAssertEqual(bytes.count, 10 + headerLen + 15 * 4)
        XCTAssertEqual(try NPY.readHeader(url), NPY.Header(descr: "<f4", shape: [3, 5]))
        let back: Matrix<Float> = try NPY.readMatrix(url)
        XCTAssertEqual(back.toArray(), m.toArray())
        let asDouble: Matrix<Double> = try NPY.readMatrix(url)
        XCTAssertEqual(asDouble[2, 4], 24.25)

        let w = try NPY.StreamWriter(url: dir.appendingPathComponent("h.npy"), descr: "<f2", shape: [3, 5])
        try w.append(m.rows(0..<2))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("h.npy").path),
                       "no complete-looking file before finish()")
        try w.append(m.rows(2..<3))
        try w.finish()
        let half: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("h.npy"))
        XCTAssertEqual(half[1, 2], 12.25)

        try NPY.write(int64: [0, 1, 4, 2], to: dir.appendingPathComponent("y.npy"))
        XCTAssertEqual(try NPY.readIntegers(dir.appendingPathComponent("y.npy")), [0, 1, 4, 2])
    }

    func testNPYStreamWriterRefusesShortData() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("short.npy")
        let w = try NPY.StreamWriter(url: url, descr: "<f4", shape: [4, 2])
        try w.append(Matrix<Float>(rows: 3, cols: 2))
        XCTAssertThrowsError(try w.finish())
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testNPYBadFilesGiveOneLineErrorsNamingTheFile() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.npy")
        try Data("hello world, not numpy".utf8).write(to: bad)
        XCTAssertThrowsError(try NPY.readMatrix(bad, as: Float.self)) { e in
            XCTAssertTrue("\(e)".hasPrefix(bad.path), "\(e)")
            XCTAssertTrue("\(e)".contains("magic"))
        }
        let good = dir.appendingPathComponent("good.npy")
        try NPY.write(Matrix<Double>(rows: 4, cols: 4), to: good)
        let truncated = dir.appendingPathComponent("trunc.npy")
        try Data(contentsOf: good).dropLast(9).write(to: truncated)
        XCTAssertThrowsError(try NPY.readMatrix(truncated, as: Double.self)) { e in
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
        XCTAssertThrowsError(try NPY.readHeader(truncated))
        XCTAssertThrowsError(try NPY.readMatrix(dir.appendingPathComponent("missing.npy"), as: Float.self)) { e in
            XCTAssertTrue("\(e)".contains("no such file"))
        }
    }

    /// Issue 16: shapes whose byte size wraps around (2³¹ × 2³¹ × 4 = 2⁶⁴ → 0) used to allocate a 1-element matrix and
    /// copy the file past it; now the size is computed with overflow checks and compared with the bytes present.
    func testNPYHugeShapesAreRefusedBeforeAllocating() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ descr: String, _ shape: [Int], dataBytes: Int) throws -> URL {
            let url = dir.appendingPathComponent("\(descr.dropFirst())-\(shape.map(String.init).joined(separator: "x")).npy")
            try (NPY.encodeHeader(NPY.Header(descr: descr, shape: shape)) + Data(count: dataBytes)).write(to: url)
            return url
        }
        let wraps = try file("<f4", [1 << 31, 1 << 31], dataBytes: 64)
        XCTAssertThrowsError(try NPY.readMatrix(wraps, as: Float.self)) { e in
            XCTAssertEqual("\(e)", "\(wraps.path): header shape [2147483648, 2147483648] <f4 needs more bytes than can be addressed; file has 64")
        }
        XCTAssertThrowsError(try NPY.readHeader(wraps)) { e in XCTAssertTrue("\(e)".contains("more bytes than can be addressed"), "\(e)") }
        let labels = try file("<i8", [1 << 61], dataBytes: 64)
        XCTAssertThrowsError(try NPY.readIntegers(labels)) { e in XCTAssertTrue("\(e)".contains("more bytes than can be addressed"), "\(e)") }
        let f = try file("<f4", [1 << 62, 32], dataBytes: 128)
        XCTAssertThrowsError(try NPY.readMatrix(f, as: Double.self)) { e in XCTAssertTrue("\(e)".contains("more bytes than can be addressed"), "\(e)") }
        // A size that fits but exceeds the file is "truncated", as before.
        let big = try file("<f8", [1 << 40], dataBytes: 64)
        XCTAssertThrowsError(try NPY.readMatrix(big, as: Double.self)) { e in
            XCTAssertTrue("\(e)".contains("truncated data: header says [1099511627776] <f8 = 8796093022208 bytes, file has 64"), "\(e)")
        }
    }

    func testNumpyReadsOurFilesWhenAvailable() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        let python = path.split(separator: ":").map { "\($0)/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let py = python else { throw XCTSkip("no python3 found") }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: py)
        check.arguments = ["-c", "import numpy"]
        try check.run(); check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("numpy is not importable by \(py)") }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.npy")
        try NPY.write(Matrix<Float>(rows: 2, cols: 3) { i, j in Float(i * 3 + j) }, to: url)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = ["-c", "import numpy as np,sys; a=np.load(sys.argv[1]); assert a.dtype==np.float32 and a.shape==(2,3) and a[1,2]==5, a; np.save(sys.argv[2], np.arange(6, dtype=np.float64).reshape(3,2))",
                       url.path, dir.appendingPathComponent("np.npy").path]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let fromNumpy: Matrix<Double> = try NPY.readMatrix(dir.appendingPathComponent("np.npy"))
        XCTAssertEqual(fromNumpy.toArray(), [0, 1, 2, 3, 4, 5])
    }
}

final class RowWriterTests: XCTestCase {
    func testRowsInAnyOrderLandInPlace() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-rw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for descr in ["<f4", "<f2", "<f8"] {
            let url = dir.appendingPathComponent("x\(descr.dropFirst()).npy")
            let w = try NPY.RowWriter(url: url, descr: descr, rows: 4, cols: 3)
            for i in [2, 0, 3, 1] {
                let row: [Float] = [Float(i), Float(i) + 0.5, -Float(i)]
                try row.withUnsafeBufferPointer { try w.write(row: i, $0.baseAddress!) }
                XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
            }
            try w.finish()
            let m: Matrix<Float> = try NPY.readMatrix(url)
            XCTAssertEqual(m.toArray(), [0, 0.5, 0, 1, 1.5, -1, 2, 2.5, -2, 3, 3.5, -3], descr)
        }
        let url = dir.appendingPathComponent("incomplete.npy")
        let w = try NPY.RowWriter(url: url, descr: "<f4", rows: 2, cols: 1)
        var v: Float = 1
        try w.write(row: 0, &v)
        XCTAssertThrowsError(try w.finish()) { XCTAssertTrue("\($0)".contains("row 1")) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }
}

final class SoftmaxKernelTests: XCTestCase {
    /// The one row softmax against a Double reference, for lengths around the 8-lane boundary and a large spread.
    func testRowSoftmaxMatchesDoubleReference() {
        var rng = SeededRandom(seed: 5)
        for n in [1, 7, 8, 9, 31, 1000] {
            let x = (0..<n).map { _ in Float(rng.normal() * 20) }
            let m = Double(x.max()!)
            let s = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
            var row = x
            let (mx, sum) = row.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: n, scale: 2) }
            XCTAssertEqual(Double(mx), m)
            XCTAssertEqual(Double(sum), s, accuracy: 1e-5 * s)
            for j in 0..<n { XCTAssertEqual(Double(row[j]), 2 * Foundation.exp(Double(x[j]) - m) / s, accuracy: 1e-6) }
            let lse = x.withUnsafeBufferPointer { logSumExpRow($0.baseAddress!, count: n) }
            XCTAssertEqual(Double(lse), m + Foundation.log(s), accuracy: 1e-5 * max(1, abs(m)))
            var d = x.map(Double.init)
            d.withUnsafeMutableBufferPointer { _ = softmaxRow($0.baseAddress!, count: n) }
            for j in 0..<n { XCTAssertEqual(d[j], Foundation.exp(Double(x[j]) - m) / s, accuracy: 1e-12) }
        }
    }

    /// One parallel-for: every index once, worker ranges contiguous and ordered.
    func testParallelHelpersCoverEveryIndexOnce() {
        var hits = [Int](repeating: 0, count: 1001)
        hits.withUnsafeMutableBufferPointer { h in
            let h = h
            parallelFor(1001) { h[$0] += 1 }
            parallelChunks(1001, minChunk: 10) { r in for i in r { h[i] += 1 } }
            parallelWorkers(1001, minChunk: 100) { _, r in for i in r { h[i] += 1 } }
        }
        XCTAssertEqual(Set(hits), [3])
    }
}
