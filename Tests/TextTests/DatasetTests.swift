import Foundation
import XCTest
@testable import Text

final class DatasetTests: XCTestCase {
    func write(_ text: String, _ name: String, in dir: URL) throws -> URL {
        let u = dir.appendingPathComponent(name)
        try text.write(to: u, atomically: true, encoding: .utf8)
        return u
    }

    func testTSVReaderAndPTB() throws {
        let dir = try tempDir("tsv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try write("1\tThis is n't a new idea .\n0\tThe Rock 's `` Conan '' -LRB- sic -RRB- , co-writer\\/director .\n\n4\tGreat !\n", "train.tsv", in: dir)
        let d = try LabelledDataset.readTSV(f, detokenize: .ptb)
        XCTAssertEqual(d.classNames, ["0", "1", "4"])
        XCTAssertEqual(d.labels, [1, 0, 2])
        XCTAssertEqual(d.texts, ["This isn't a new idea.", "The Rock's \"Conan\" (sic), co-writer/director.", "Great!"])
        XCTAssertEqual(d.classCounts, [1, 1, 1])
        XCTAssertNoThrow(try d.checkTrainable())
        // Test split read with the training classes: unknown label is an error naming file and line.
        let t = try write("4\tok\n7\tbad\n", "test.tsv", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readTSV(t, classNames: d.classNames)) { e in
            XCTAssertEqual("\(e)", "\(t.path):2: unknown label \"7\" (classes: 0, 1, 4)")
        }
        let noTab = try write("1\tfine\n0 missing tab\n", "bad.tsv", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readTSV(noTab)) { e in XCTAssertEqual("\(e)", "\(noTab.path):2: no tab between label and text") }
        let emptyText = try write("1\t   \n", "e.tsv", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readTSV(emptyText)) { e in XCTAssertEqual("\(e)", "\(emptyText.path):1: empty text") }
        let empty = try write("", "empty.tsv", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readTSV(empty)) { e in XCTAssertEqual("\(e)", "\(empty.path): no examples (empty file?)") }
        let latin1 = dir.appendingPathComponent("latin1.tsv")
        try Data([0x31, 0x09, 0x6F, 0x6B, 0x0A, 0x30, 0x09, 0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: latin1)
        XCTAssertThrowsError(try LabelledDataset.readTSV(latin1)) { e in XCTAssertEqual("\(e)", "\(latin1.path):2: not valid UTF-8 text (wrong encoding?)") }
        let crlf = try write("1\tgood\r\n0\tbad\r\n", "crlf.tsv", in: dir)
        XCTAssertEqual(try LabelledDataset.readTSV(crlf).texts, ["good", "bad"])
        let one = try write("1\ta\n1\tb\n", "one.tsv", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readTSV(one).checkTrainable()) { e in XCTAssertTrue("\(e)".contains("needs at least two"), "\(e)") }
    }

    func testCSVJSONLAndFolders() throws {
        let dir = try tempDir("ds")
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try write("text,label,source\n\"good, really\",1,rotten_tomatoes\nmeh,0,imdb\nbad,0,rotten_tomatoes\n", "c.csv", in: dir)
        let d = try LabelledDataset.readCSV(csv, filter: ("source", "rotten_tomatoes"))
        XCTAssertEqual(d.texts, ["good, really", "bad"])
        XCTAssertEqual(d.labels, [1, 0])
        XCTAssertTrue(d.source.contains("source=rotten_tomatoes"))
        XCTAssertThrowsError(try LabelledDataset.readCSV(csv, labelColumn: "stars")) { e in
            XCTAssertEqual("\(e)", "\(csv.path):1: no column \"stars\" (columns: text, label, source)")
        }
        let j = try write("{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": \"neg\"}\n{\"text\": \"c\", \"label\": 3}\n", "j.jsonl", in: dir)
        let dj = try LabelledDataset.readJSONL(j)
        XCTAssertEqual(dj.classNames, ["3", "neg", "pos"])
        XCTAssertEqual(dj.labels, [2, 1, 0])
        let jb = try write("{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n", "jb.jsonl", in: dir)
        XCTAssertThrowsError(try LabelledDataset.readJSONL(jb)) { e in XCTAssertEqual("\(e)", "\(jb.path):2: field \"label\" missing or not a string/integer") }
        let root = dir.appendingPathComponent("bbc")
        for (topic, n) in [("sport", 3), ("tech", 2)] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(topic), withIntermediateDirectories: true)
            for i in 0..<n { _ = try write("\(topic) article \(i)\n", "\(i).txt", in: root.appendingPathComponent(topic)) }
        }
        let b = try LabelledDataset.readFolders(root)
        XCTAssertEqual(b.classNames, ["sport", "tech"])
        XCTAssertEqual(b.labels, [0, 0, 0, 1, 1])
        XCTAssertEqual(b.texts[3], "tech article 0")
        // A Latin-1 document ("£5" stored as 0xA3 0x35) is refused by default, read with latin1Fallback.
        let latin = root.appendingPathComponent("tech/9.txt")
        try Data([0x63, 0x6F, 0x73, 0x74, 0x73, 0x20, 0xA3, 0x35]).write(to: latin)
        XCTAssertThrowsError(try LabelledDataset.readFolders(root)) { e in
            XCTAssertTrue("\(e)".contains("9.txt") && "\(e)".contains("UTF-8"), "\(e)")
        }
        let lb = try LabelledDataset.readFolders(root, latin1Fallback: true)
        XCTAssertEqual(lb.texts.last, "costs £5")
    }

    func testStratifiedSplit() throws {
        let labels = (0..<100).map { $0 < 70 ? 0 : 1 }
        let d = LabelledDataset(texts: (0..<100).map { "t\($0)" }, labels: labels, classNames: ["neg", "pos"], source: "x")
        let (tr, te) = try d.stratifiedSplit(testFraction: 0.2, seed: 5)
        XCTAssertEqual(te.classCounts, [14, 6])
        XCTAssertEqual(tr.classCounts, [56, 24])
        XCTAssertEqual(Set(tr.texts + te.texts).count, 100)
        let (tr2, _) = try d.stratifiedSplit(testFraction: 0.2, seed: 5)
        XCTAssertEqual(tr.texts, tr2.texts)
        XCTAssertNotEqual(tr.texts, try d.stratifiedSplit(testFraction: 0.2, seed: 6).train.texts)
        XCTAssertTrue(te.source.contains("seed 5"))
    }
}

final class CSVTests: XCTestCase {
    func testCSVParsingAndErrors() throws {
        let dir = try tempDir("csvparse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("a.csv")
        try "\u{FEFF}text,label\r\n\"two\r\nlines, \"\"quoted\"\"\",1\r\nplain,0\r\n,1\r\n\"x\",0".write(to: f, atomically: true, encoding: .utf8)
        let (h, rows, lines) = try Corpus.csvRows([UInt8](Data(contentsOf: f)), file: f, required: ["text"])
        XCTAssertEqual(h, ["text", "label"])
        XCTAssertEqual(rows, [["two\r\nlines, \"quoted\"", "1"], ["plain", "0"], ["", "1"], ["x", "0"]])
        XCTAssertEqual(lines, [2, 4, 5, 6])
        // The empty text on line 5 is an error in the labelled reader, named by line.
        XCTAssertThrowsError(try LabelledDataset.readCSV(f)) { e in XCTAssertEqual("\(e)", "\(f.path):5: empty text") }
        try "text,label\nok,1\n\"open,0\nmore\n".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelledDataset.readCSV(f)) { e in XCTAssertEqual("\(e)", "\(f.path):3: quoted field is never closed") }
        try "text,label\nok,1\nfine,0,extra\n".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelledDataset.readCSV(f)) { e in XCTAssertEqual("\(e)", "\(f.path):3: record has 3 fields, the header has 2") }
        try "text,label\n\"a\"b,1\n".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelledDataset.readCSV(f)) { e in XCTAssertEqual("\(e)", "\(f.path):2: unexpected character after a closing quote") }
    }
}

final class KFoldTests: XCTestCase {
    /// Every example is tested exactly once; classes keep their proportions; fold sizes differ by at most one.
    func testStratifiedFoldsPartitionTheExamples() throws {
        let labels = (0..<23).map { $0 < 15 ? 0 : 1 }
        let ds = LabelledDataset(texts: (0..<23).map { "t\($0)" }, labels: labels, classNames: ["a", "b"], source: "mem")
        var seen: [String] = []
        var sizes: [Int] = []
        for k in 0..<4 {
            let (tr, te) = try ds.stratifiedFold(k, of: 4, seed: 7)
            XCTAssertEqual(tr.count + te.count, 23)
            XCTAssertTrue(Set(tr.texts).isDisjoint(with: te.texts))
            let minority = te.labels.filter { $0 == 1 }.count
            XCTAssertTrue(minority == 2 || minority == 3, "fold \(k): \(minority) of class b")
            seen += te.texts
            sizes.append(te.count)
        }
        XCTAssertEqual(seen.sorted(), ds.texts.sorted())
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1)
        XCTAssertEqual(try ds.stratifiedFold(1, of: 4, seed: 7).test.texts, try ds.stratifiedFold(1, of: 4, seed: 7).test.texts)
        XCTAssertThrowsError(try ds.stratifiedFold(4, of: 4, seed: 0))
        XCTAssertThrowsError(try ds.stratifiedFold(0, of: 1, seed: 0))
    }
}
