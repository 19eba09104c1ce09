import Analysis
import Foundation
import Model
import XCTest

/// A Quad model exported to a Hugging Face folder and imported back is still a Quad model (config.json's
/// `lmprobe_objective`), so `analyze plug-in --quad FOLDER` accepts it.
final class ImportedQuadPlugInTests: XCTestCase {
    func testQuadModelImportedFromItsExportIsComparableToThePlugInValue() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-quad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ce = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 40, untiedPhi: true), seed: 1)
        let quad = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 8, vocabSize: 40, objective: .quad,
                                             untiedPhi: true), seed: 2)
        try quad.copyPhi(from: ce)
        try HuggingFaceGPT2.writeFolder(quad, to: dir, dtype: .f32, eosTokenId: nil) { _ in }
        let imported = try Checkpoint.load(url: dir)
        XCTAssertNoThrow(try PlugInQuadLoss.checkComparable(reference: ce, quad: imported.model, quadPath: dir.path))
    }
}
