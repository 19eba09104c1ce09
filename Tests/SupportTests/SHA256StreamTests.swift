import Foundation
import XCTest

import Support

/// Incremental SHA-256 (used to hash 500 MB checkpoints in constant memory) against coreutils' sha256sum.
final class SHA256StreamTests: XCTestCase {
    func testPiecewiseEqualsSha256sum() throws {
        var bytes = [UInt8](repeating: 0, count: 200_003)
        var x: UInt32 = 1
        for i in bytes.indices { x = x &* 1_664_525 &+ 1_013_904_223; bytes[i] = UInt8(truncatingIfNeeded: x >> 24) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-sha-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var h = SHA256.Hasher()
        var i = 0, step = 1
        bytes.withUnsafeBytes { raw in
            while i < raw.count {
                let n = min(step, raw.count - i)
                h.update(UnsafeRawBufferPointer(rebasing: raw[i..<(i + n)]))
                i += n; step = step * 3 % 997 + 1
            }
        }
        let piecewise = h.hex()
        XCTAssertEqual(piecewise, SHA256.hex(bytes))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [url.path]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw XCTSkip("sha256sum not runnable: \(error)") }
        p.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        XCTAssertEqual(piecewise, String(expected))
    }
}
