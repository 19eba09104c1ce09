import Foundation
import XCTest
@testable import Text

/// Issue 16's reproductions for the dataset readers.
final class HardeningTextTests: XCTestCase {
    func testTSVByteOrderMarkIsSkippedAndHeaderRowRefused() throws {
        let dir = try tempDir("tsvbom")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A BOM used to make the first row a third class '\u{FEFF}0'.
        let bom = dir.appendingPathComponent("bom.tsv")
        try (Data([0xEF, 0xBB, 0xBF]) + Data("0\tbad film\n1\tgood film\n0\tdull\n".utf8)).write(to: bom)
        let d = try LabelledDataset.readTSV(bom)
        XCTAssertEqual(d.classNames, ["0", "1"])
        XCTAssertEqual(d.labels, [0, 1, 0])
        // A header row used to become the class 'label'.
        let header = dir.appendingPathComponent("header.tsv")
        try Data("label\tsentence\n0\tbad film\n1\tgood film\n".utf8).write(to: header)
        XCTAssertThrowsError(try LabelledDataset.readTSV(header)) { e in
            XCTAssertEqual("\(e)", "\(header.path):1: looks like a header row ('label' among integer labels); TSV datasets have no header — remove the line")
        }
        // Word labels throughout are data, not a header.
        let words = dir.appendingPathComponent("words.tsv")
        try Data("neg\tbad film\npos\tgood film\n".utf8).write(to: words)
        XCTAssertEqual(try LabelledDataset.readTSV(words).classNames, ["neg", "pos"])
        // JSONL with a BOM reads its first line.
        let jsonl = dir.appendingPathComponent("bom.jsonl")
        try (Data([0xEF, 0xBB, 0xBF]) + Data(#"{"text": "a", "label": 0}"#.utf8) + Data("\n".utf8) + Data(#"{"text": "b", "label": 1}"#.utf8)).write(to: jsonl)
        XCTAssertEqual(try LabelledDataset.readJSONL(jsonl).texts, ["a", "b"])
    }
}
