import Features
import Foundation
import Linalg
import Text
import XCTest
@testable import Experiments
import Support

/// The comparison runner in-process (no CLI subprocess) on a tiny model: one extraction pass per (model, task,
/// prompt) and split whatever readouts are asked for, each split hashed once, each folder's labels and manifest
/// written and read once — and a re-run reuses everything and reports the same numbers.
final class ComparisonRunnerTests: XCTestCase {
    func delta(_ a: [WorkCount.Kind: Int], _ b: [WorkCount.Kind: Int]) -> [WorkCount.Kind: Int] {
        Dictionary(uniqueKeysWithValues: WorkCount.Kind.allCases.map { ($0, b[$0]! - a[$0]!) })
    }

    func testCompareRunsOnePassPerSplitAndReadsEachFolderOnce() throws {
        let dir = try TinyModelFixture.folder()
        let cache = TinyModelFixture.freshCache()
        defer { try? FileManager.default.removeItem(at: cache) }
        var settings = ComparisonSettings()
        settings.bestLayer = true          // f(s), f_mean(s) and layers 0…L: L + 3 readouts
        settings.leakageCheck = false
        let runner = try ComparisonRunner(models: [ComparisonModel(name: "tiny", checkpoint: dir.appendingPathComponent("model.safetensors").path)],
                                          tasks: [TinyModelFixture.task(dir)], settings: settings, cacheDirectory: cache)
        let before = WorkCount.snapshot()
        let cold = try runner.run()
        let middle = WorkCount.snapshot()
        let warm = try runner.run()
        let after = WorkCount.snapshot()

        let prompts = 2, splits = 2, readouts = TinyModelFixture.layers + 3
        let folders = prompts * splits * readouts
        let c = delta(before, middle)
        XCTAssertEqual(c[.extractionPass], prompts * splits, "one pass per (prompt, split), not one per readout")
        XCTAssertEqual(c[.contentDigest], splits, "each split's contents hashed once")
        XCTAssertEqual(c[.labelsWrite], folders)
        XCTAssertEqual(c[.manifestWrite], folders)
        XCTAssertEqual(c[.labelsRead], folders)
        XCTAssertEqual(c[.manifestRead], 0, "the manifests extraction just wrote are not read back")
        let w = delta(middle, after)
        XCTAssertEqual(w[.extractionPass], 0, "a re-run reuses every folder")
        XCTAssertEqual(w[.contentDigest], splits)
        XCTAssertEqual(w[.labelsRead], folders)
        XCTAssertEqual(w[.manifestRead], folders)
        XCTAssertEqual(w[.manifestWrite], 0)

        // Rows: 5 families + zero-shot + f_mean + best layer + BoW, for each prompt setting; the same numbers again.
        XCTAssertEqual(cold.results.count, prompts * (5 + 1 + 1 + 1 + 1), "\(cold.results.map(\.feature))")
        XCTAssertTrue(cold.results.contains { $0.feature == "f best layer (LOO) · ridge" })
        XCTAssertTrue(cold.results.contains { $0.feature == "f_mean(s) · ridge" })
        let enc = JSONCoding.encoder()
        XCTAssertEqual(try enc.encode(cold.results), try enc.encode(warm.results))
        XCTAssertEqual(cold.tasks.first?.trainCount, 44)
        XCTAssertEqual(cold.tasks.first?.testCount, 16)
    }

    /// `compare` end to end: the p_f family of a tiny model (V ≈ 300 words ≫ n = 44 training sentences) is fitted
    /// streamed from its cached file, and f(s) (d = 16 < n) in memory — read from the runner's log of each probe.
    func testCompareFitsTheWideNextWordDistributionFamilyStreamedAndNarrowFeaturesInMemory() throws {
        let dir = try TinyModelFixture.folder()
        let cache = TinyModelFixture.freshCache()
        defer { try? FileManager.default.removeItem(at: cache) }
        var settings = ComparisonSettings()
        settings.leakageCheck = false
        settings.bagOfWords = false
        settings.meanPooled = false
        settings.prompts = .without
        settings.families = [.f, .p]
        let lines = LockedLines()
        let runner = try ComparisonRunner(models: [ComparisonModel(name: "tiny", checkpoint: dir.appendingPathComponent("model.safetensors").path)],
                                          tasks: [TinyModelFixture.task(dir)], settings: settings, cacheDirectory: cache,
                                          log: { lines.append($0) })
        let report = try runner.run()
        XCTAssertEqual(report.results.filter { $0.feature.hasSuffix("· ridge") }.count, 2, "\(report.results.map(\.feature))")
        let probeLines = lines.all.filter { $0.contains(" ridge: ") }
        let p = try XCTUnwrap(probeLines.first { $0.contains("p_f(s) ridge") }, "\(lines.all)")
        let f = try XCTUnwrap(probeLines.first { $0.contains("f(s) ridge") && !$0.contains("p_f(s)") }, "\(lines.all)")
        XCTAssertTrue(p.contains("streamed from the file"), p)
        XCTAssertFalse(f.contains("streamed from the file"), f)
    }
}

/// Log lines collected from the runner (which may log from any thread).
final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
