import Features
import Foundation
@testable import Experiments
import Text
import XCTest

final class FeatureCacheTests: XCTestCase {
    func dataset(_ texts: [String], _ labels: [Int]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cache-\(UUID().uuidString).tsv")
        try zip(labels, texts).map { "\($0)\t\($1)" }.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// One address for one content: batching limits do not change it; the prompt, the words, the split seed and the
    /// dataset's contents do.
    func testKeyCoversEverySettingThatChangesTheFiles() throws {
        let url = try dataset((0..<20).map { "sentence number \($0)" }, (0..<20).map { $0 % 2 })
        defer { try? FileManager.default.removeItem(at: url) }
        let splits = try DatasetSplits.load(train: DatasetSource(path: url.path), testFraction: 0.25, seed: 1)
        XCTAssertEqual(splits.map(\.name), ["train", "test"])
        XCTAssertEqual(splits[0].data.count + splits[1].data.count, 20)
        var o = ExtractionOptions()
        let k = FeatureCache.key(checkpointSHA256: "abc", splits: splits, options: o)
        o.maxBatchTokens = 17
        XCTAssertEqual(FeatureCache.key(checkpointSHA256: "abc", splits: splits, options: o), k)
        XCTAssertNotEqual(FeatureCache.key(checkpointSHA256: "abd", splits: splits, options: o), k)
        o.words = ["good"]
        XCTAssertNotEqual(FeatureCache.key(checkpointSHA256: "abc", splits: splits, options: o), k)
        o.words = []
        o.prompt = try PromptTemplate("{text} It was")
        XCTAssertNotEqual(FeatureCache.key(checkpointSHA256: "abc", splits: splits, options: o), k)
        o.prompt = .none
        let reseeded = try DatasetSplits.load(train: DatasetSource(path: url.path), testFraction: 0.25, seed: 2)
        XCTAssertEqual(reseeded[0].digest, splits[0].digest)    // same file …
        XCTAssertNotEqual(FeatureCache.key(checkpointSHA256: "abc", splits: reseeded, options: o), k)   // … other split
        let detok = try DatasetSplits.load(train: DatasetSource(path: url.path, detokenizePTB: true), testFraction: 0.25, seed: 1)
        XCTAssertEqual(FeatureCache.key(checkpointSHA256: "abc", splits: detok, options: o), k)   // same texts: same key
        XCTAssertEqual(try DatasetSplits.load(train: DatasetSource(path: url.path)).map(\.name), ["all"])
    }
}
