import Features
import Foundation
import Linalg
import Model
@testable import Experiments
import Text
import XCTest

final class FeatureCacheTests: XCTestCase {
    func dataset(_ texts: [String], _ labels: [Int]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cache-\(UUID().uuidString).tsv")
        try zip(labels, texts).map { "\($0)\t\($1)" }.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func key(_ sha: String, _ splits: [DatasetSplit], _ o: ExtractionOptions) -> String {
        FeatureCacheKey(checkpointSHA256: sha, splits: splits, options: o).digest
    }

    /// One address for one content: batching limits do not change it; the prompt, the words, the readout, the split
    /// seed and the dataset's contents do.
    func testKeyCoversEverySettingThatChangesTheFiles() throws {
        let url = try dataset((0..<20).map { "sentence number \($0)" }, (0..<20).map { $0 % 2 })
        defer { try? FileManager.default.removeItem(at: url) }
        let splits = try DatasetSplits.load(train: DatasetSource(path: url.path), testFraction: 0.25, seed: 1)
        XCTAssertEqual(splits.map(\.name), ["train", "test"])
        XCTAssertEqual(splits[0].data.count + splits[1].data.count, 20)
        var o = ExtractionOptions()
        let k = key("abc", splits, o)
        o.maxBatchTokens = 17
        o.maxBatch = 3
        XCTAssertEqual(key("abc", splits, o), k)
        XCTAssertNotEqual(key("abd", splits, o), k)
        o.words = ["good"]
        XCTAssertNotEqual(key("abc", splits, o), k)
        o.words = []
        o.prompt = try PromptTemplate("{text} It was")
        XCTAssertNotEqual(key("abc", splits, o), k)
        o.prompt = .none
        o.pooling = .mean
        XCTAssertNotEqual(key("abc", splits, o), k)
        o.pooling = .last
        o.layer = 0
        XCTAssertNotEqual(key("abc", splits, o), k)
        o.layer = nil
        let reseeded = try DatasetSplits.load(train: DatasetSource(path: url.path), testFraction: 0.25, seed: 2)
        XCTAssertEqual(reseeded[0].digest, splits[0].digest)    // same file …
        XCTAssertNotEqual(key("abc", reseeded, o), k)           // … other split
        let detok = try DatasetSplits.load(train: DatasetSource(path: url.path, detokenizePTB: true), testFraction: 0.25, seed: 1)
        XCTAssertEqual(key("abc", detok, o), k)                 // same texts: same key
        XCTAssertEqual(try DatasetSplits.load(train: DatasetSource(path: url.path)).map(\.name), ["all"])
    }

    /// The key is a canonical value: sorted-key JSON naming the extraction version and every extraction option
    /// except the batching limits — a new option that is not added to the key fails here.
    func testKeyIsCanonicalJSONOfEveryExtractionOptionAndTheExtractionVersion() throws {
        let o = ExtractionOptions()
        let k = FeatureCacheKey(checkpointSHA256: "abc", splits: [], options: o)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: k.canonicalJSON()) as? [String: Any])
        XCTAssertEqual(json["extraction_version"] as? Int, FeatureExtractor.extractionVersion)
        let text = String(decoding: k.canonicalJSON(), as: UTF8.self)
        let keys = json.keys.sorted()
        let positions = keys.map { text.range(of: "\"\($0)\"")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted(), "keys in sorted order")
        let snake = { (s: String) in s.reduce(into: "") { r, c in r += c.isUppercase ? "_" + c.lowercased() : String(c) } }
        let options = Mirror(reflecting: o).children.compactMap(\.label).map(snake)
        for option in options where !["max_batch_tokens", "max_batch"].contains(option) {
            XCTAssertTrue(keys.contains(option), "ExtractionOptions.\(option) is not in the cache key")
        }
        XCTAssertEqual(FeatureCacheKey(checkpointSHA256: "abc", splits: [], options: o).digest, k.digest)
    }

    /// compare, transfer and the theory checks name their folders one way: CACHE/LABEL[-READOUT]-KEY16.
    func testCacheFoldersAreNamedOneWay() throws {
        var o = ExtractionOptions()
        let cache = URL(fileURLWithPath: "/c")
        let k = FeatureCacheKey(checkpointSHA256: "abc", splits: [], options: o)
        XCTAssertEqual(FeatureCache.directory(in: cache, label: ["m", "rt", "prompt"], key: k).path,
                       "/c/m-rt-prompt-\(k.digest.prefix(16))")
        o.pooling = .mean
        let mean = FeatureCacheKey(checkpointSHA256: "abc", splits: [], options: o)
        XCTAssertEqual(FeatureCache.directory(in: cache, label: ["m", "rt"], key: mean).lastPathComponent,
                       "m-rt-mean-\(mean.digest.prefix(16))")
        o.pooling = .last; o.layer = 2
        let layer = FeatureCacheKey(checkpointSHA256: "abc", splits: [], options: o)
        XCTAssertEqual(FeatureCache.directory(in: cache, label: ["contexts", "sst-prompt"], key: layer).lastPathComponent,
                       "contexts-sst-prompt-last-layer2-\(layer.digest.prefix(16))")
    }

    /// Issue 27: two runs sharing a cold cache both succeed — the first to lock an entry extracts it, the other
    /// waits and reuses it (one extraction pass per split in all, not two racing writers).
    func testTwoRunsSharingAColdCacheBothSucceedAndExtractOnce() throws {
        let dir = try TinyModelFixture.folder()
        let cache = TinyModelFixture.freshCache()
        defer { try? FileManager.default.removeItem(at: cache) }
        let (train, test) = try DatasetSplits.load(TinyModelFixture.task(dir))
        var main = ExtractionOptions()
        main.prompt = try PromptTemplate("{text} The movie is")
        main.words = ["great", "boring"]
        var mean = main
        mean.pooling = .mean; mean.words = []; mean.writeFullDistribution = false
        let requests = [FeatureCache.Request(label: ["tiny", "t"], options: main), .init(label: ["tiny", "t"], options: mean)]
        let before = WorkCount.snapshot()
        final class Outcomes: @unchecked Sendable { var value: [Result<[FeatureCache.Entry], Error>?] = [nil, nil] }
        let outcomes = Outcomes()
        let lock = NSLock()
        let threads = (0..<2).map { i in
            Thread {
                let r = Result { () throws -> [FeatureCache.Entry] in
                    let model = try ModelLoader().load(dir.appendingPathComponent("model.safetensors").path)
                    return try FeatureCache.entries(model: model, splits: [train, test], requests: requests, cache: cache)
                }
                lock.lock(); outcomes.value[i] = r; lock.unlock()
            }
        }
        for t in threads { t.start() }
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            lock.lock(); let done = outcomes.value.allSatisfy { $0 != nil }; lock.unlock()
            if done { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        lock.lock(); let results = outcomes.value; lock.unlock()
        let entries = try results.map { try XCTUnwrap($0).get() }
        XCTAssertEqual(entries[0].map(\.directory.path), entries[1].map(\.directory.path))
        XCTAssertEqual(entries.map { $0.allSatisfy(\.reused) }.sorted { !$0 && $1 }, [false, true], "one extracts, the other reuses")
        XCTAssertEqual(WorkCount.snapshot()[.extractionPass]! - before[.extractionPass]!, 2, "one pass per split in all")
        for e in entries[0] {
            for split in ["train", "test"] {
                let folder = try e.folder(split)
                XCTAssertEqual(try folder.features(.f).features.rows, folder.labels.count)
            }
        }
    }
}
