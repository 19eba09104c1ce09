import Foundation
import XCTest

/// `make sst` (experiments/fetch_sst.py) against a local mirror (`--base-url file://…`, or a loopback HTTP server
/// through LMPROBE_SST_BASE_URL): verified files
/// appear atomically, a second run does nothing, a corrupted byte or a truncated file writes nothing, and an
/// unreachable mirror says how to place the files by hand.
///
/// The success paths need the real files (their SHA-256 is committed in the script). They come from the folder in
/// the environment variable LMPROBE_SST_FILES (sst_train.tsv, sst_test.tsv, sst_fine_train.tsv, sst_fine_test.tsv;
/// `make test` passes data/sst when `make sst` has fetched it); without it those tests skip and say so.
final class DataFetchCLITests: XCTestCase {
    static let files = ["sst_train", "sst_test", "sst_fine_train", "sst_fine_test"]
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-sst-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// python3 from PATH, or a skip.
    func python() throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let py = path else { throw XCTSkip("no python3 on PATH: experiments/fetch_sst.py is not run") }
        return URL(fileURLWithPath: py)
    }

    /// A mirror folder laid out as the GitHub folder (data-documents/*.csv) with the real files, or a skip.
    func realMirror() throws -> URL {
        guard let source = ProcessInfo.processInfo.environment["LMPROBE_SST_FILES"], !source.isEmpty else {
            throw XCTSkip("set LMPROBE_SST_FILES to a folder with the four SST .tsv files to test a verified fetch")
        }
        let mirror = dir.appendingPathComponent("mirror")
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        for f in Self.files {
            let from = URL(fileURLWithPath: source).appendingPathComponent(f + ".tsv")
            guard FileManager.default.fileExists(atPath: from.path) else {
                throw XCTSkip("LMPROBE_SST_FILES=\(source) has no \(f).tsv")
            }
            try FileManager.default.copyItem(at: from, to: mirror.appendingPathComponent(f + ".csv"))
        }
        return mirror
    }

    func fetch(_ mirror: URL, dest: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let script = repositoryRoot.appendingPathComponent("experiments/fetch_sst.py")
        return try runToCompletion(configuredProcess(try python(), [script.path, "--dest", dest.path,
                                                                   "--base-url", "file://" + mirror.path + "/"]))
    }

    func contents(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    func testSSTFetchWritesTheFourVerifiedFilesAndASecondRunDoesNothing() throws {
        let mirror = try realMirror()
        let dest = dir.appendingPathComponent("data/sst")
        let first = try fetch(mirror, dest: dest)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(contents(dest), Self.files.map { $0 + ".tsv" }.sorted())
        for f in Self.files {
            XCTAssertEqual(try Data(contentsOf: dest.appendingPathComponent(f + ".tsv")),
                           try Data(contentsOf: mirror.appendingPathComponent(f + ".csv")))
        }
        XCTAssertEqual(contents(dir.appendingPathComponent("data")), ["sst"], "the staging folder is removed")
        let before = try FileManager.default.attributesOfItem(atPath: dest.appendingPathComponent("sst_train.tsv").path)
        // The second run must not need the mirror at all.
        try FileManager.default.removeItem(at: mirror)
        let second = try fetch(mirror, dest: dest)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("present and verified"), second.stdout)
        let after = try FileManager.default.attributesOfItem(atPath: dest.appendingPathComponent("sst_train.tsv").path)
        XCTAssertEqual(before[.modificationDate] as? Date, after[.modificationDate] as? Date)
    }

    func testSSTFetchRefusesACorruptedByteAndATruncatedFileAndWritesNothing() throws {
        let mirror = try realMirror()
        let corrupt = mirror.appendingPathComponent("sst_test.csv")
        var bytes = try Data(contentsOf: corrupt)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: corrupt)
        let truncated = mirror.appendingPathComponent("sst_fine_test.csv")
        let whole = try Data(contentsOf: truncated)
        try whole.prefix(whole.count - 100).write(to: truncated)
        let dest = dir.appendingPathComponent("data/sst")
        let r = try fetch(mirror, dest: dest)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("sst_test.csv: SHA-256"), r.stderr)
        XCTAssertTrue(r.stderr.contains("sst_fine_test.csv: \(whole.count - 100) bytes, expected \(whole.count)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nothing was written"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path), "no file, not even the two good ones")
        XCTAssertEqual(contents(dir.appendingPathComponent("data")), [], "the staging folder is removed")
    }

    /// Serves `folder` over HTTP on 127.0.0.1 (python3 -m http.server on a free port) for the duration of `body`.
    func serving<T>(_ folder: URL, _ body: (URL) throws -> T) throws -> T {
        let server = configuredProcess(try python(), ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                                      "--directory", folder.path])
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        // "Serving HTTP on 127.0.0.1 port 43117 (http://127.0.0.1:43117/) ..."
        var line = Data()
        while !line.contains(0x0A) {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            line += byte
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let r = text.range(of: "port "), let port = Int(text[r.upperBound...].prefix { $0.isNumber }) else {
            throw XCTSkip("python3 -m http.server did not start: \(text)")
        }
        return try body(URL(string: "http://127.0.0.1:\(port)/")!)
    }

    func testSSTFetchOverHTTPReportsAMissingFileAndThenFetchesTheFour() throws {
        let mirror = try realMirror()
        let dest = dir.appendingPathComponent("data/sst")
        let script = repositoryRoot.appendingPathComponent("experiments/fetch_sst.py")
        let held = dir.appendingPathComponent("held-back.csv")
        try FileManager.default.moveItem(at: mirror.appendingPathComponent("sst_fine_train.csv"), to: held)
        try serving(mirror) { base in
            // The base URL through the environment variable this time.
            let missing = try runToCompletion(configuredProcess(try python(), [script.path, "--dest", dest.path],
                                                                environment: ["LMPROBE_SST_BASE_URL": base.absoluteString]))
            XCTAssertEqual(missing.status, 1, missing.stderr)
            XCTAssertTrue(missing.stderr.contains("\(base.absoluteString)sst_fine_train.csv: HTTP 404"), missing.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path), "nothing written")
            try FileManager.default.moveItem(at: held, to: mirror.appendingPathComponent("sst_fine_train.csv"))
            let r = try runToCompletion(configuredProcess(try python(), [script.path, "--dest", dest.path],
                                                          environment: ["LMPROBE_SST_BASE_URL": base.absoluteString]))
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(contents(dest), Self.files.map { $0 + ".tsv" }.sorted())
        }
    }

    func testSSTFetchFromAnUnreachableMirrorSaysHowToPlaceTheFilesByHand() throws {
        let dest = dir.appendingPathComponent("data/sst")
        let r = try fetch(dir.appendingPathComponent("no-such-mirror"), dest: dest)
        XCTAssertEqual(r.status, 1)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, r.stderr)
        XCTAssertTrue(lines[0].contains("sst_train.csv: cannot download"), r.stderr)
        XCTAssertTrue(lines[0].contains("nothing was written"), r.stderr)
        XCTAssertTrue(lines[1].contains("to place them by hand"), r.stderr)
        XCTAssertTrue(lines[1].contains("ee269727863982669ffb95c984c4220c1fba2834"), r.stderr)
        XCTAssertTrue(lines[1].contains("sst_fine_test.csv as \(dest.path)/sst_fine_test.tsv"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path))
    }

    func testSSTFetchRefusesAFileInPlaceThatIsNotThePapersAndLeavesItAlone() throws {
        let dest = dir.appendingPathComponent("data/sst")
        try FileManager.default.createDirectory(at: dest, withIntermediateDirectories: true)
        let mine = Data("1\tmy own sentence .\n".utf8)
        try mine.write(to: dest.appendingPathComponent("sst_train.tsv"))
        let r = try fetch(dir.appendingPathComponent("no-such-mirror"), dest: dest)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("sst_train.tsv exists but is not the paper's file"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: dest.appendingPathComponent("sst_train.tsv")), mine)
    }
}
