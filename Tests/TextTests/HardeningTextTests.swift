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

    /// Re-tokenising into an existing folder replaces it whole: no file of the earlier run survives, an unrelated
    /// non-empty folder is refused, and a failed run leaves the old folder as it was.
    func testTokenizeReplacesItsFolderWhole() throws {
        let dir = try tempDir("tokatomic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("a.txt"), out = dir.appendingPathComponent("tok")
        try (0..<30).map { "Document \($0) is about films and \($0 % 3) actors." }.joined(separator: "\n\n")
            .write(to: input, atomically: true, encoding: .utf8)
        var o = Corpus.Options()
        o.docSplit = .blankLine; o.vocabSize = 280; o.valFraction = 0.2
        _ = try Corpus.tokenize(inputs: [input], out: out, options: o)
        try Data("stale".utf8).write(to: out.appendingPathComponent("stale.bin"))
        let before = try Data(contentsOf: out.appendingPathComponent("vocab.json"))
        o.vocabSize = 270
        _ = try Corpus.tokenize(inputs: [input], out: out, options: o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("stale.bin").path))
        XCTAssertNotEqual(try Data(contentsOf: out.appendingPathComponent("vocab.json")), before)
        XCTAssertEqual(try TokenDataset(directory: out).vocabSize, 270)
        // Nothing but the destination is left next to it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["a.txt", "tok"])
        // A failing run (no documents) leaves the previous output intact.
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        XCTAssertThrowsError(try Corpus.tokenize(inputs: [empty], out: out, options: o))
        XCTAssertEqual(try TokenDataset(directory: out).vocabSize, 270)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["a.txt", "empty.txt", "tok"])
        // A folder lmprobe did not write is not emptied.
        let mine = dir.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: mine.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try Corpus.tokenize(inputs: [input], out: mine, options: o)) { e in
            XCTAssertTrue("\(e)".contains("is a non-empty folder that lmprobe did not write"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOf: mine.appendingPathComponent("notes.txt"), encoding: .utf8), "precious")
    }
}
