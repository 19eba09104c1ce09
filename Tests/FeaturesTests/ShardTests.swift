import Features
import Foundation
import Support
import XCTest

/// `Shard` (the partition of a split) and `ShardIdentity.order` (which shard folders may be put together).
final class ShardTests: XCTestCase {
    func testShardsPartitionTheSplitContiguouslyAndEvenly() throws {
        for (rows, count) in [(10, 3), (7, 7), (1000, 16), (5, 1), (101, 4)] {
            var next = 0
            for k in 0..<count {
                let s = try Shard(index: k, count: count, of: rows)
                XCTAssertEqual(s.rowStart, next, "shard \(k)/\(count) of \(rows) starts where the last ended")
                XCTAssertEqual(s.rowStart, k * rows / count)
                XCTAssertTrue(s.rowEnd - s.rowStart == rows / count || s.rowEnd - s.rowStart == rows / count + 1)
                next = s.rowEnd
            }
            XCTAssertEqual(next, rows)
        }
        XCTAssertThrowsError(try Shard(index: 0, count: 4, of: 3)) { XCTAssertTrue("\($0)".contains("fewer than 4 shards")) }
        for bad in ["3/3", "-1/2", "1", "a/b", "1/0", "0/2/3"] {
            XCTAssertThrowsError(try Shard.parse(bad), bad)
        }
        XCTAssertEqual(try Shard.parse("2/5").index, 2)
    }

    func identity(_ k: Int, of n: Int, rows: Int = 30) throws -> ShardIdentity {
        ShardIdentity(shard: try Shard(index: k, count: n, of: rows), checkpointSHA256: "ckpt", datasetSHA256: "data",
                      dataset: "data.tsv", split: "train", prompt: " It was", words: ["good", "bad"],
                      classNames: ["neg", "pos"], feature: "f")
    }

    func testCompleteSetsAreOrderedAndBadSetsRefused() throws {
        let parts = try [2, 0, 1].map { ("s\($0)", try identity($0, of: 3)) }
        XCTAssertEqual(try ShardIdentity.order(parts), [1, 2, 0])
        XCTAssertThrowsError(try ShardIdentity.order(Array(parts.prefix(2)))) {
            XCTAssertTrue("\($0)".contains("shard 1/3 missing"), "\($0)")
        }
        XCTAssertEqual(try ShardIdentity.order(Array(parts.prefix(2)), complete: false), [1, 0])
        XCTAssertThrowsError(try ShardIdentity.order(parts + [("again", try identity(0, of: 3))])) {
            XCTAssertTrue("\($0)".contains("again: shard 0/3 given twice (also s0)"), "\($0)")
        }
        let changes: [(String, (inout ShardIdentity) -> Void)] = [
            ("checkpoint", { $0.checkpointSHA256 = "other" }), ("dataset", { $0.datasetSHA256 = "other" }),
            ("split", { $0.split = "test" }), ("prompt", { $0.prompt = "" }), ("word list", { $0.words = ["good"] }),
            ("classes", { $0.classNames = ["a", "b"] }), ("feature", { $0.feature = "phip" }),
            ("readout", { $0.readout = "mean" }), ("shard count", { $0.shard = try? Shard(index: 2, count: 4, of: 30) }),
            ("split size", { $0.shard = try? Shard(index: 2, count: 3, of: 31) }),
        ]
        for (what, change) in changes {
            var odd = try identity(2, of: 3)
            change(&odd)
            XCTAssertThrowsError(try ShardIdentity.order([parts[1], parts[2], ("odd", odd)]), what) {
                XCTAssertTrue("\($0)".contains("odd: \(what)"), "\(what): \($0)")
            }
        }
        var whole = try identity(0, of: 1)
        whole.shard = nil
        XCTAssertEqual(try ShardIdentity.order([("whole", whole)]), [0])
        XCTAssertThrowsError(try ShardIdentity.order([("whole", whole), parts[0]])) {
            XCTAssertTrue("\($0)".contains("whole: not a shard"), "\($0)")
        }
    }
    func testOnlyShardsThatPartitionTheSplitAreReadFromFiles() throws {
        let good = try Shard(index: 1, count: 3, of: 10)
        let text = String(decoding: try JSONCoding.encoder(pretty: false).encode(good), as: UTF8.self)
        XCTAssertEqual(try JSONCoding.decoder().decode(Shard.self, from: Data(text.utf8)), good)
        let impossible = [
            #"{"index": 0, "count": 0, "row_start": 0, "row_end": 2, "split_rows": 4}"#,
            #"{"index": 3, "count": 3, "row_start": 0, "row_end": 2, "split_rows": 10}"#,
            #"{"index": -1, "count": 3, "row_start": 0, "row_end": 2, "split_rows": 10}"#,
            #"{"index": 0, "count": 5, "row_start": 0, "row_end": 1, "split_rows": 4}"#,
            #"{"index": 1, "count": 3, "row_start": 0, "row_end": 6, "split_rows": 10}"#,
        ]
        for json in impossible {
            XCTAssertThrowsError(try JSONCoding.decoder().decode(Shard.self, from: Data(json.utf8)), json)
        }
    }
}
