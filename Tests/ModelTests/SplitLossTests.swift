import Foundation
import Text
@testable import Model
import Text
import XCTest

final class SplitLossTests: XCTestCase {
    /// The whole-split loss is the mean over every full window, whatever the batch size; the < T tokens left at
    /// the end are the only ones not scored.
    func testWholeSplitIsEveryFullWindowForAnyBatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-splitloss-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeSyntheticTokens(to: dir, vocab: 16, train: 200, val: 43)
        let data = try TokenDataset(directory: dir)
        let model = try GPT(config: GPTConfig(layers: 1, dim: 8, heads: 2, context: 8, vocabSize: 16), seed: 3)
        let a = try model.splitLoss(data: data, batch: 2)
        XCTAssertEqual(a.windows, 5)       // (43 − 1) / 8
        XCTAssertEqual(a.tokens, 40)
        XCTAssertEqual(a.splitTokens, 43)
        var sum = 0.0
        var x = [Int32](repeating: 0, count: 8), y = x
        for k in 0..<5 {
            x.withUnsafeMutableBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                data.fillBatch(.val, starts: [8 * k], length: 8, inputs: xp.baseAddress!, targets: yp.baseAddress!)
            } }
            sum += try x.withUnsafeBufferPointer { xp in try y.withUnsafeBufferPointer { yp in
                try model.evaluate(inputs: xp, targets: yp, batch: 1, length: 8).crossEntropy } }
        }
        XCTAssertEqual(a.crossEntropy, sum / 5, accuracy: 1e-5)
        XCTAssertEqual(a.objective, a.crossEntropy, accuracy: 1e-12)
        let b = try model.splitLoss(data: data, batch: 16)
        XCTAssertEqual(b.crossEntropy, a.crossEntropy, accuracy: 1e-5)
        XCTAssertGreaterThan(a.crossEntropyStandardError, 0)
        XCTAssertEqual(try data.tilingStarts(.val, length: 8), [0, 8, 16, 24, 32])
        XCTAssertEqual(try data.tilingStarts(.val, length: 8, maxWindows: 2), [0, 16])
        XCTAssertThrowsError(try data.tilingStarts(.val, length: 64))
    }
}
