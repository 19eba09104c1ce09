import Foundation
import XCTest

/// Runs the built `lmprobe` binary as a whole command (swift-argument-parser's Examples/math style).
func runLMProbe(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
    -> (status: Int32, stdout: String, stderr: String) {
    guard FileManager.default.isExecutableFile(atPath: lmprobeBinary.path) else {
        XCTFail("lmprobe binary not found at \(lmprobeBinary.path)", file: file, line: line)
        return (-1, "", "")
    }
    return try runToCompletion(configuredProcess(lmprobeBinary, arguments))
}

/// Runs a configured process to its end and returns its status and both streams. stderr is drained on another
/// thread while stdout is read, so a command that fills one pipe (64 KB) cannot block waiting for the other.
func runToCompletion(_ process: Process) throws -> (status: Int32, stdout: String, stderr: String) {
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    final class Drained: @unchecked Sendable { var data = Data() }   // written by the reader, read after `wait`
    let errData = Drained(), drained = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errData.data = err.fileHandleForReading.readDataToEndOfFile()
        drained.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

/// A process that runs `executable` with `arguments` in the test process's environment plus `environment` (a batch
/// script's variables, MPI's run-as-root switches); run it with `runToCompletion`.
func configuredProcess(_ executable: URL, _ arguments: [String], environment extra: [String: String] = [:]) -> Process {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if !extra.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 } }
    return p
}

/// The built `lmprobe` binary.
var lmprobeBinary: URL { productsDirectory.appendingPathComponent("lmprobe") }

/// The repository's root (for the scripts under experiments/ that the CLI tests run).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

var productsDirectory: URL {
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    return Bundle.main.bundleURL
}

final class CLITests: XCTestCase {
    func testHelpListsTheStages() throws {
        let r = try runLMProbe(["--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("USAGE: lmprobe"), r.stdout)
        XCTAssertTrue(r.stdout.contains("bench"))
    }

    func testVersion() throws {
        let r = try runLMProbe(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, r.stdout)
    }

    func testBenchGemmJSONParses() throws {
        let r = try runLMProbe(["bench", "gemm", "--json", "--sizes", "64,96", "--seconds", "0.01", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(rows?.count, 4)
        for row in rows ?? [] {
            XCTAssertNotNil(row["n"] as? Int)
            XCTAssertNotNil(row["threads"] as? Int)
            XCTAssertGreaterThan(row["gflops"] as? Double ?? 0, 0)
        }
        XCTAssertEqual(Set((rows ?? []).compactMap { $0["threads"] as? Int }), [1, 2])
    }

    func testBadArgumentsGiveOneLineErrors() throws {
        let r = try runLMProbe(["bench", "gemm", "--sizes", "64,x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--sizes"), r.stderr)
        let t = try runLMProbe(["bench", "gemm", "--threads", "0"])
        XCTAssertNotEqual(t.status, 0)
        XCTAssertTrue(t.stderr.contains("--threads"), t.stderr)
    }
}
