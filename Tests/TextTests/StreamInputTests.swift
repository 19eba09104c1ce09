import Foundation
import XCTest
@testable import Text

/// Inputs that are not regular files (a FIFO, a pipe, standard input) are streamed to their end by the one reader
/// every text file goes through, under the same size limit as a regular file.
final class StreamInputTests: XCTestCase {
    /// A FIFO in `dir` fed with `command` by /bin/sh in the background (the writer blocks until the reader opens).
    func fifo(in dir: URL, feeding command: String) throws -> (path: URL, writer: Process) {
        let path = dir.appendingPathComponent("fifo")
        XCTAssertEqual(mkfifo(path.path, 0o600), 0)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", command + " > '\(path.path)'"]
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        return (path, writer)
    }

    func testAFIFOIsReadWholeAcrossManyChunks() throws {
        let dir = try tempDir("fifo")
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2.5 MiB and an odd tail: more than two of the reader's 1 MiB chunks, and many 64 KiB pipe buffers.
        var text = ""
        var i = 0
        while text.utf8.count < (5 << 19) + 12_345 { text += "line \(i): the film was \(i % 3 == 0 ? "great" : "dull").\n"; i += 1 }
        let file = dir.appendingPathComponent("corpus.txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let (path, writer) = try fifo(in: dir, feeding: "cat '\(file.path)'")
        let bytes = try readFileBytes(path)
        writer.waitUntilExit()
        XCTAssertEqual(bytes.count, text.utf8.count)
        XCTAssertEqual(bytes, Array(text.utf8))
    }

    func testAStreamPastTheInputLimitIsRefusedNamingTheFile() throws {
        let dir = try tempDir("fifo-limit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, writer) = try fifo(in: dir, feeding: "head -c 3000000 /dev/zero")
        XCTAssertThrowsError(try readFileBytes(path, limit: 100_000)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.hasPrefix(path.path + ": more than"), m)
            XCTAssertTrue(m.contains("from a stream"), m)
        }
        writer.waitUntilExit()   // the writer ends on the closed pipe
    }

    func testARegularFilePastTheInputLimitIsRefusedBeforeReading() throws {
        let dir = try tempDir("file-limit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("big.txt")
        try Data(count: 5000).write(to: file)
        XCTAssertThrowsError(try readFileBytes(file, limit: 4999)) { e in
            XCTAssertTrue("\(e)".hasPrefix(file.path + ": 5000 bytes, more than"), "\(e)")
        }
        XCTAssertEqual(try readFileBytes(file, limit: 5000).count, 5000)
    }

    func testCorpusDocumentsFromAFIFOMatchTheSameTextFromAFile() throws {
        let dir = try tempDir("fifo-docs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.txt")
        try "one review .\n\nanother review ,\nstill the second .\n\n\nthird .\n".write(to: file, atomically: true, encoding: .utf8)
        var o = Corpus.Options()
        o.docSplit = .blankLine
        let fromFile = try Corpus.readDocuments([file], options: o)
        let (path, writer) = try fifo(in: dir, feeding: "cat '\(file.path)'")
        let fromFIFO = try Corpus.readDocuments([path], options: o)
        writer.waitUntilExit()
        XCTAssertEqual(fromFIFO.documents, fromFile.documents)
        XCTAssertEqual(fromFIFO.documents.count, 3)
        XCTAssertEqual(fromFIFO.sources.map(\.sha256), fromFile.sources.map(\.sha256))
    }
}
