import Foundation
import XCTest
@testable import Support

/// The one atomic writer (`AtomicFile`) and the one folder writer (`OutputFolder`): every outcome of the one rule
/// for an existing target, and what an interrupted write leaves.
final class AtomicWriterTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func hidden() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
    }

    func testNewFileAppearsWhole() throws {
        let url = dir.appendingPathComponent("a.json")
        try AtomicFile.write(Data("hello".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("hello".utf8))
        XCTAssertEqual(try hidden(), [])
    }

    func testExistingRegularFileIsReplaced() throws {
        let url = dir.appendingPathComponent("a.json")
        try Data("old contents, longer".utf8).write(to: url)
        try AtomicFile.write(Data("new".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("new".utf8))
    }

    func testFolderTargetIsRefusedAndKept() throws {
        let url = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url, role: "--stats-out")) {
            XCTAssertTrue("\($0)".contains("--stats-out") && "\($0)".contains("is a folder"), "\($0)")
        }
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue)
        XCTAssertEqual(try hidden(), [])
    }

    func testFIFOTargetIsRefusedWithoutBlocking() throws {
        let url = dir.appendingPathComponent("pipe")
        XCTAssertEqual(mkfifo(url.path, 0o600), 0)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url)) {
            XCTAssertTrue("\($0)".contains("is a FIFO"), "\($0)")
        }
    }

    func testDeviceTargetIsRefused() throws {
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: "/dev/null"))) {
            XCTAssertTrue("\($0)".contains("is a device"), "\($0)")
        }
    }

    func testSymlinkToFileReplacesItsTargetAndKeepsTheLink() throws {
        let target = dir.appendingPathComponent("real.txt"), link = dir.appendingPathComponent("link.txt")
        try Data("old".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        try AtomicFile.write(Data("new".utf8), to: link)
        XCTAssertEqual(try Data(contentsOf: target), Data("new".utf8))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), target.path)
    }

    func testMissingFolderIsRefused() throws {
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: dir.appendingPathComponent("no/such/a.json"))) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    func testDiscardLeavesTheOldFileAndNoTemporary() throws {
        let url = dir.appendingPathComponent("a.npy")
        try Data("old".utf8).write(to: url)
        do {
            let f = try AtomicFile(url)
            try f.write(Data("half of the new".utf8))
            f.discard()
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("old".utf8))
        XCTAssertEqual(try hidden(), [])
    }

    func testDroppedWriterLeavesNoTemporary() throws {
        let url = dir.appendingPathComponent("a.npy")
        do {
            let f = try AtomicFile(url)
            try f.write(Data("never committed".utf8))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertEqual(try hidden(), [])
    }

    func testTemporaryOfADeadProcessIsRemovedByTheNextWriter() throws {
        let url = dir.appendingPathComponent("a.npy")
        // A pid that cannot be running (above the kernel's pid_max).
        let stale = dir.appendingPathComponent(".a.npy.tmp-2147483600")
        try Data("left by kill -9".utf8).write(to: stale)
        try AtomicFile.write(Data("x".utf8), to: url)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
    }

    func testLargeAndPositionalWritesLandWhereAsked() throws {
        let url = dir.appendingPathComponent("big.bin")
        let big = [UInt8](repeating: 7, count: AtomicFile.bufferSize + 3)
        let f = try AtomicFile(url)
        try f.write(Data([1, 2, 3]))
        try big.withUnsafeBytes { try f.write($0) }
        try f.resize(to: 3 + big.count + 4)
        try [UInt8]([9, 9]).withUnsafeBytes { try f.write($0, at: 3 + big.count + 1) }
        try f.commit()
        let d = try Data(contentsOf: url)
        XCTAssertEqual(d.count, 3 + big.count + 4)
        XCTAssertEqual(Array(d.prefix(4)), [1, 2, 3, 7])
        XCTAssertEqual(Array(d.suffix(4)), [0, 9, 9, 0])
    }

    // MARK: OutputFolder

    func testFolderWithoutMarkersMustBeEmpty() throws {
        let out = dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        try Data("mine".utf8).write(to: out.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try OutputFolder(replacing: out, markers: [])) {
            XCTAssertTrue("\($0)".contains("already exists and is not empty"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("notes.txt")), Data("mine".utf8))
    }

    func testFolderMarkedAsOursIsReplacedWhole() throws {
        let out = dir.appendingPathComponent("tok")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        try Data("{}".utf8).write(to: out.appendingPathComponent("tokens.json"))
        try Data("stale".utf8).write(to: out.appendingPathComponent("stale.bin"))
        let staging = try OutputFolder(replacing: out, markers: ["tokens.json"])
        try AtomicFile.write(Data("new".utf8), to: staging.url.appendingPathComponent("tokens.json"))
        try staging.commit()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["tokens.json"])
        XCTAssertEqual(try hidden(), [])
    }

    func testFolderTargetThatIsAFileIsRefused() throws {
        let out = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: out)
        XCTAssertThrowsError(try OutputFolder(replacing: out, markers: [])) {
            XCTAssertTrue("\($0)".contains("is a file, not a folder"), "\($0)")
        }
    }

    func testSymlinkToAnEmptyFolderIsFilled() throws {
        let real = dir.appendingPathComponent("real"), link = dir.appendingPathComponent("link")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: real)
        let staging = try OutputFolder(replacing: link, markers: [])
        try AtomicFile.write(Data("x".utf8), to: staging.url.appendingPathComponent("config.json"))
        try staging.commit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: real.appendingPathComponent("config.json").path))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), real.path)
    }

    func testAbandonedExportStagingIsRemoved() throws {
        let out = dir.appendingPathComponent("export")
        let stale = dir.appendingPathComponent(".export.tmp-2147483600")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: false)
        let staging = try OutputFolder(replacing: out, markers: [])
        staging.discard()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }
}

/// Reports name paths relative to the folder they were written from (a repository checkout), else absolute.
final class ReportPathTests: XCTestCase {
    func testPathsInsideTheCurrentFolderAreRelativeOthersAbsolute() {
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertEqual(reportPath(cwd + "/runs/x/final.safetensors"), "runs/x/final.safetensors")
        XCTAssertEqual(reportPath("runs/./x/../y"), "runs/y")
        XCTAssertEqual(reportPath("/nonexistent-root/a"), "/nonexistent-root/a")
    }
}
