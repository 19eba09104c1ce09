import Features
import Foundation
import XCTest
@testable import Experiments

/// Issue 16: names that become file names under --out cannot climb out of it.
final class HardeningExperimentsTests: XCTestCase {
    func testTaskAndModelNamesThatLeaveTheOutputFolderAreRefused() throws {
        let task = TaskSpec(name: "rt", train: DatasetSource(path: "/nonexistent.csv"), test: nil, prompt: " x",
                            words: ["good"], classWords: nil)
        let model = ComparisonModel(name: "m", checkpoint: "/nonexistent.safetensors")
        let cache = FileManager.default.temporaryDirectory
        XCTAssertNoThrow(try ComparisonRunner(models: [model], tasks: [task], settings: ComparisonSettings(), cacheDirectory: cache))
        for bad in ["../../tmp/elsewhere/evil", "a/b", ".hidden", "..", "x..y", ""] {
            var t = task; t.name = bad
            XCTAssertThrowsError(try ComparisonRunner(models: [model], tasks: [t], settings: ComparisonSettings(), cacheDirectory: cache)) { e in
                XCTAssertTrue("\(e)".contains("task name '\(bad)'"), "\(e)")
            }
            XCTAssertThrowsError(try ComparisonRunner(models: [ComparisonModel(name: bad, checkpoint: "/x")], tasks: [task],
                                                      settings: ComparisonSettings(), cacheDirectory: cache)) { e in
                XCTAssertTrue("\(e)".contains("model name '\(bad)'"), "\(e)")
            }
        }
    }
}
