import Foundation
import XCTest
@testable import Model

final class TrainingLogTests: XCTestCase {
    func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-log-\(UUID().uuidString).jsonl")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Events are skipped, a step logged twice (a resumed run re-running steps after its last checkpoint) keeps
    /// the later line, and lines without "tokens" use step × tokens per step.
    func testResumedLogKeepsTheLaterLineAndSkipsEvents() throws {
        let url = try write("""
        {"step":10,"tokens":640,"loss":5.5,"lr":0.001}
        {"event":"planned","total_steps":40,"s_per_step":0.1}
        {"step":20,"tokens":1280,"loss":5.0}
        {"step":20,"tokens":1280,"val_loss":5.2,"val_ce":5.2,"val_ppl":181}
        {"step":30,"loss":4.9}
        {"step":20,"tokens":1280,"loss":4.8}
        {"step":30,"tokens":1920,"loss":null}
        {"step":40,"event":"non-finite","loss":null}

        """)
        defer { try? FileManager.default.removeItem(at: url) }
        let log = try TrainingLog.read(url, tokensPerStep: 64)
        XCTAssertEqual(log.train.map(\.step), [10, 20, 30])
        XCTAssertEqual(log.train.map(\.value), [5.5, 4.8, 4.9])
        XCTAssertEqual(log.train.map(\.tokens), [640, 1280, 1920])
        XCTAssertEqual(log.validation.map(\.value), [5.2])
        XCTAssertEqual(log.validationCrossEntropy.map(\.tokens), [1280])
        XCTAssertThrowsError(try TrainingLog.read(url)) { e in XCTAssertTrue("\(e)".contains(":5"), "\(e)") }
    }

    /// `--checkpoints n`: ⌈total / n⌉ apart, so n − 1 periodic checkpoints and the final one — never a periodic
    /// checkpoint a few steps before the final one.
    func testCheckpointSpacing() {
        XCTAssertEqual(Trainer.spacing(20, 4), 5)
        XCTAssertEqual(Trainer.spacing(3371, 3), 1124)      // 1124, 2248, final 3371 (not 3369 and 3371)
        XCTAssertEqual(Trainer.spacing(2, 9), 1)
        for (total, n) in [(3371, 3), (20, 4), (1000, 9), (7, 7)] {
            let every = Trainer.spacing(total, n)
            let periodic = (1..<total).filter { $0 % every == 0 }.count
            XCTAssertEqual(periodic + 1, n, "total \(total), n \(n)")
        }
    }

    func testBadLinesAreNamed() throws {
        for (text, line) in [("{\"step\":1,\"tokens\":1,\"loss\":1}\n[1,2]\n", 2), ("{\"tokens\":1,\"loss\":1}\n", 1),
                             ("{\"step\":1,\"tokens\":1,\"loss\":1}\n{\"step\":\n", 2)] {
            let url = try write(text)
            defer { try? FileManager.default.removeItem(at: url) }
            XCTAssertThrowsError(try TrainingLog.read(url)) { e in
                XCTAssertTrue("\(e)".contains("\(url.lastPathComponent):\(line)"), "\(e)")
            }
        }
        XCTAssertThrowsError(try TrainingLog.read(URL(fileURLWithPath: "/nonexistent/log.jsonl")))
    }
}
