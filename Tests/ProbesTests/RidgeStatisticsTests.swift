import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

/// Ridge from merged sufficient statistics (`RidgeStatistics`) against the in-memory `RidgeClassifier.fit`.
final class RidgeStatisticsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Correlated Float32 features with a large common offset (where XᵀX − nμμᵀ would cancel digits), and labels
    /// from a noisy linear rule over `classes` classes (label values 3, 5, 7, … to exercise the value → class map).
    func data(n: Int, d: Int, classes: Int, seed: UInt64) -> (x: Matrix<Float>, labels: [Int]) {
        var rng = SeededRandom(seed: seed)
        let mix = Matrix<Double>(rows: d, cols: d) { _, _ in rng.normal() / Double(d).squareRoot() }
        let x = Matrix<Float>(rows: n, cols: d)
        var labels: [Int] = []
        let directions = (0..<classes).map { _ in (0..<d).map { _ in rng.normal() } }
        for i in 0..<n {
            let g = (0..<d).map { _ in rng.normal() }
            for j in 0..<d {
                var v = 40.0 + Double(j)                       // offset ≫ spread
                for k in 0..<d { v += mix[j, k] * g[k] * (1 + Double(k % 4)) }
                x[i, j] = Float(v)
            }
            let scores = directions.map { dir in zip(dir, g).map(*).reduce(0, +) + 0.8 * rng.normal() }
            labels.append(3 + 2 * scores.indices.max(by: { scores[$0] < scores[$1] })!)
        }
        return (x, labels)
    }

    func write(_ x: Matrix<Float>, rows: Range<Int>, labels: [Int], name: String) throws -> (URL, URL) {
        let part = Matrix<Float>(rows: rows.count, cols: x.cols) { i, j in x[rows.lowerBound + i, j] }
        let fx = dir.appendingPathComponent("\(name)_f.npy"), fy = dir.appendingPathComponent("\(name)_labels.npy")
        try NPY.write(part, to: fx)
        try NPY.write(int64: labels[rows].map(Int64.init), to: fy)
        return (fx, fy)
    }

    func relative(_ a: [Double], _ b: [Double]) -> Double {
        let num = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let den = b.map { $0 * $0 }.reduce(0, +).squareRoot()
        return num / max(den, 1e-300)
    }

    func check(n: Int, d: Int, classes: Int, shards: [Int], standardize: Bool, select: RidgeSelection = .squaredError,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let (x, labels) = data(n: n, d: d, classes: classes, seed: UInt64(n * 31 + d * 7 + classes))
        let values = Array(Set(labels)).sorted()
        let y = labels.map { values.firstIndex(of: $0)! }
        let direct = try RidgeClassifier.fit(x: x, labels: y, classes: values.count, select: select, standardize: standardize)

        // Shards of the given sizes, each accumulated alone, written, read back and merged in reverse order.
        var parts: [RidgeStatistics] = []
        var start = 0
        for (s, size) in shards.enumerated() {
            let (fx, fy) = try write(x, rows: start..<(start + size), labels: labels, name: "shard\(s)")
            let st = try RidgeStatistics.accumulate(features: fx, labels: Array(labels[start..<(start + size)]),
                                                    labelsPath: fy.path)
            let statsFile = dir.appendingPathComponent("shard\(s).stats")
            try st.write(to: statsFile)
            let back = try RidgeStatistics(contentsOf: statsFile)
            XCTAssertEqual(back, st, "statistics file round trip", file: file, line: line)
            parts.append(back)
            start += size
        }
        XCTAssertEqual(start, n)
        var merged = RidgeStatistics(d: d)
        for p in parts.reversed() { try merged.merge(p) }
        merged.sources = parts.flatMap(\.sources)
        XCTAssertEqual(merged.n, n)
        let fromStats = try merged.fit(select: select, standardize: standardize)

        XCTAssertEqual(fromStats.chosenIndex, direct.chosenIndex, "λ", file: file, line: line)
        XCTAssertEqual(fromStats.alpha, direct.alpha, file: file, line: line)
        XCTAssertEqual(fromStats.alphas, direct.alphas, "searched grid (with extensions)", file: file, line: line)
        XCTAssertEqual(fromStats.gridSearch, direct.gridSearch, file: file, line: line)
        let w1 = Array(UnsafeBufferPointer(start: fromStats.coefficients.pointer, count: fromStats.coefficients.count))
        let w0 = Array(UnsafeBufferPointer(start: direct.coefficients.pointer, count: direct.coefficients.count))
        XCTAssertLessThanOrEqual(relative(w1, w0), 1e-9, "coefficients", file: file, line: line)
        XCTAssertLessThanOrEqual(relative(fromStats.intercepts, direct.intercepts), 1e-9, "intercepts", file: file, line: line)
        XCTAssertLessThanOrEqual(relative(fromStats.looMeanSquaredError, direct.looMeanSquaredError), 1e-9, "LOO MSE curve",
                                 file: file, line: line)
        XCTAssertEqual(fromStats.looAccuracy, direct.looAccuracy, "LOO accuracy curve", file: file, line: line)
        XCTAssertEqual(fromStats.trainAccuracy, direct.trainAccuracy, file: file, line: line)
        // The model predicts like the direct one.
        XCTAssertEqual(try fromStats.predict(x), try direct.predict(x), file: file, line: line)
    }

    func testBinaryFromThreeUnequalShards() throws {
        try check(n: 2500, d: 24, classes: 2, shards: [700, 1, 1799], standardize: false)
    }

    func testFiveClassesStandardisedAccuracySelection() throws {
        try check(n: 1800, d: 16, classes: 5, shards: [600, 600, 600], standardize: true, select: .accuracy)
    }

    func testMoreColumnsThanRowsPerShard() throws {
        // Each shard alone has n < d (its scatter is singular); merged n > d.
        try check(n: 150, d: 40, classes: 3, shards: [30, 30, 30, 30, 30], standardize: false)
    }

    func testChangedFeaturesAreRefusedInTheSecondPass() throws {
        let (x, labels) = data(n: 200, d: 6, classes: 2, seed: 5)
        let (fx, fy) = try write(x, rows: 0..<200, labels: labels, name: "all")
        let st = try RidgeStatistics.accumulate(features: fx, labels: labels, labelsPath: fy.path)
        // Swap two rows: same values, same column sums, different file.
        let swapped = Matrix<Float>(rows: 200, cols: 6) { i, j in x[i == 3 ? 4 : (i == 4 ? 3 : i), j] }
        try NPY.write(swapped, to: fx)
        XCTAssertThrowsError(try st.fit()) { e in
            XCTAssertTrue("\(e)".contains("changed since their statistics were written"), "\(e)")
        }
    }

    func testTruncatedStatisticsFileIsRefused() throws {
        let (x, labels) = data(n: 50, d: 4, classes: 2, seed: 9)
        let (fx, fy) = try write(x, rows: 0..<50, labels: labels, name: "t")
        let file = dir.appendingPathComponent("t.stats")
        try RidgeStatistics.accumulate(features: fx, labels: labels, labelsPath: fy.path).write(to: file)
        let bytes = try Data(contentsOf: file)
        try bytes.dropLast(8).write(to: file)
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("checksum mismatch"), "\(e)")
        }
        try Data("not stats".utf8).write(to: file)
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("not an lmprobe ridge statistics file"), "\(e)")
        }
    }

    // MARK: Hostile statistics files (each edit re-signs the file, so the check under test is the one that fires)

    /// A statistics file of `data(n: 60, d: 3, …)`, its path.
    func statisticsFile(_ name: String = "h") throws -> URL {
        let (x, labels) = data(n: 60, d: 3, classes: 2, seed: 11)
        let (fx, fy) = try write(x, rows: 0..<60, labels: labels, name: name)
        let file = dir.appendingPathComponent("\(name).stats")
        try RidgeStatistics.accumulate(features: fx, labels: labels, labelsPath: fy.path).write(to: file)
        return file
    }

    /// Rewrites `file` with its header (as JSON) and payload (Float64 values) edited, and a valid checksum.
    func resign(_ file: URL, header edit: (inout [String: Any]) -> Void = { _ in },
                payload editValues: (inout [Double]) -> Void = { _ in }) throws {
        let bytes = try Data(contentsOf: file)
        let lines = bytes.split(separator: 0x0A, maxSplits: 3, omittingEmptySubsequences: false)
        var header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[2])) as? [String: Any])
        edit(&header)
        let payload = Data(lines[3])
        var values = (0..<(payload.count / 8)).map { i in
            Double(bitPattern: UInt64(littleEndian: payload.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }))
        }
        editValues(&values)
        var body = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        body.append(0x0A)
        for v in values { var le = v.bitPattern.littleEndian; withUnsafeBytes(of: &le) { body.append(contentsOf: $0) } }
        var sum = Checksum()
        sum.add(body)
        try (Data(lines[0]) + Data("\nchecksum \(sum.hex)\n".utf8) + body).write(to: file)
    }

    func testAResignedFileWithNoEditReadsBack() throws {
        let file = try statisticsFile()
        let before = try RidgeStatistics(contentsOf: file)
        try resign(file)
        XCTAssertEqual(try RidgeStatistics(contentsOf: file), before, "the test's re-signing is faithful")
    }

    func testAFlippedBitAnywhereInAStatisticsFileIsRefused() throws {
        let file = try statisticsFile()
        let bytes = try Data(contentsOf: file)
        let magicLength = RidgeStatistics.magic.utf8.count
        // Every 13th byte after the magic line (header, checksum line and payload), one bit each.
        for offset in stride(from: magicLength, to: bytes.count, by: 13) {
            var flipped = bytes
            flipped[offset] ^= UInt8(1 << (offset % 8))
            try flipped.write(to: file)
            XCTAssertThrowsError(try RidgeStatistics(contentsOf: file), "bit flip at byte \(offset)") { e in
                XCTAssertEqual("\(e)".split(separator: "\n").count, 1, "\(e)")
            }
        }
    }

    func testLabelCountsPastIntMaxAreRefusedWithAOneLineError() throws {
        let file = try statisticsFile()
        try resign(file, header: { h in h["label_counts"] = [Int.max, 1] })
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("label_counts sum past Int.max"), "\(e)")
        }
    }

    func testMergingRowCountsPastIntMaxIsRefused() throws {
        let file = try statisticsFile()
        try resign(file, header: { h in
            h["n"] = 1 << 62
            h["label_counts"] = [1 << 61, 1 << 61]
            var sources = h["sources"] as! [[String: Any]]
            sources[0]["rows"] = 1 << 62
            h["sources"] = sources
        })
        let huge = try RidgeStatistics(contentsOf: file)
        var merged = RidgeStatistics(d: huge.d)
        try merged.merge(huge)
        XCTAssertThrowsError(try merged.merge(huge)) { e in
            XCTAssertTrue("\(e)".contains("exceeds Int.max"), "\(e)")
        }
    }

    func testSourceRowsThatDoNotAddUpToNAreRefused() throws {
        let file = try statisticsFile()
        try resign(file, header: { h in
            var sources = h["sources"] as! [[String: Any]]
            sources[0]["rows"] = 59
            h["sources"] = sources
        })
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("do not add up to n"), "\(e)")
        }
    }

    func testNegativeVarianceIsRefused() throws {
        let file = try statisticsFile()
        let d = try RidgeStatistics(contentsOf: file).d
        try resign(file, payload: { v in v[d + 1 * d + 1] = -1 })     // M₁₁ (after μ)
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("negative variance"), "\(e)")
        }
    }

    func testAStatisticsFileOfTheFirstFormatIsRefusedWithWhatToDo() throws {
        let file = try statisticsFile()
        let bytes = try Data(contentsOf: file)
        let lines = bytes.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
        try (Data("LMPROBE-RIDGE-STATS 1\n".utf8) + Data(lines[2])).write(to: file)
        XCTAssertTrue(RidgeStatistics.isStatisticsFile(file))
        XCTAssertThrowsError(try RidgeStatistics(contentsOf: file)) { e in
            XCTAssertTrue("\(e)".contains("run `lmprobe probe --stats-out` again"), "\(e)")
        }
    }
}
