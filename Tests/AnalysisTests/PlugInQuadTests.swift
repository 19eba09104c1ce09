import Foundation
import Linalg
@testable import Analysis
import Model
import Text
import XCTest
import Support
import Report

final class PlugInQuadTests: XCTestCase {
    /// Writes `val` tokens (a noisy cycle over `vocab`) in the Text stage's format.
    func tokens(_ dir: URL, vocab: Int, count: Int) throws {
        var rng = SeededRandom(seed: 4)
        var ids: [Int] = [], cur = 0
        for _ in 0..<count { cur = rng.uniform() < 0.8 ? (cur * 3 + 1) % vocab : rng.int(below: vocab); ids.append(cur) }
        var d = Data()
        for id in ids { var v = UInt16(id).littleEndian; withUnsafeBytes(of: &v) { d.append(contentsOf: $0) } }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try d.write(to: dir.appendingPathComponent("train.bin"))
        try d.write(to: dir.appendingPathComponent("val.bin"))
        try Data("""
        {"format":"lmprobe-tokens-1","vocab_size":\(vocab),"dtype":"uint16","train_tokens":\(count),\
        "val_tokens":\(count),"eot_token":0,"tokenizer":"."}
        """.utf8).write(to: dir.appendingPathComponent("tokens.json"))
    }

    /// The fixture both tests use: 3 windows of T = 5 tokens over V = 12 words, a d = 6 GPT and its plug-in loss
    /// (the token folder is removed when the test ends).
    func tinyPlugIn() throws -> (data: TokenDataset, model: GPT, r: PlugInQuadLoss, V: Int, d: Int, T: Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-plugin-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let V = 12, d = 6, T = 5
        try tokens(dir, vocab: V, count: 3 * T + 2)
        let data = try TokenDataset(directory: dir)
        let model = try GPT(config: GPTConfig(layers: 1, dim: d, heads: 2, context: T, vocabSize: V), seed: 5)
        return (data, model, try PlugInQuadLoss.compute(reference: model, data: data, batch: 2), V, d, T)
    }

    /// Against a naive Float64 computation of f = G⁻¹Φᵀp_CE and ℓ = −fᵀφ_w + ½fᵀΦᵀp_CE on every window; the
    /// reference's CE on the same tokens equals its whole-split loss; the optimum is below the Quad loss of any
    /// other f in expectation under p_CE (checked for f = 0, whose loss is 0: the plug-in's own expected loss
    /// −½ gᵀG⁻¹g is ≤ 0).
    func testMatchesNaiveComputation() throws {
        let (data, model, r, V, d, T) = try tinyPlugIn()
        XCTAssertEqual(r.windows, 3)
        let phi = model.phi
        var g = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<d { for j in 0..<d { for w in 0..<V { g[i][j] += Double(phi[w, i]) * Double(phi[w, j]) } } }
        let gm = Matrix<Double>(rows: d, cols: d) { i, j in g[i][j] }
        var total = 0.0, expected = 0.0
        for k in 0..<3 {
            var x = [Int32](repeating: 0, count: T), y = x
            x.withUnsafeMutableBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                data.fillBatch(.val, starts: [k * T], length: T, inputs: xp.baseAddress!, targets: yp.baseAddress!)
            } }
            let f = try model.contextEmbeddings(tokens: x, batch: 1, length: T)
            for t in 0..<T {
                let logits = (0..<V).map { w in (0..<d).map { Double(f[t, $0]) * Double(phi[w, $0]) }.reduce(0, +) }
                let m = logits.max()!
                let e = logits.map { exp($0 - m) }, s = e.reduce(0, +)
                let p = e.map { $0 / s }
                let mean = (0..<d).map { j in (0..<V).map { p[$0] * Double(phi[$0, j]) }.reduce(0, +) }
                let plug = try LAPACK.posv(gm.copy(), try Matrix<Double>(rows: d, cols: 1, values: mean))
                let w = Int(y[t])
                var fPhi = 0.0, fMean = 0.0
                for j in 0..<d { fPhi += plug[j, 0] * Double(phi[w, j]); fMean += plug[j, 0] * mean[j] }
                total += -fPhi + 0.5 * fMean
                expected += -0.5 * fMean
            }
        }
        XCTAssertEqual(r.loss, total / Double(3 * T), accuracy: 1e-5)
        XCTAssertLessThanOrEqual(expected, 0)
        XCTAssertEqual(r.referenceCrossEntropy, try model.splitLoss(data: data).crossEntropy, accuracy: 1e-4)
        XCTAssertTrue(r.markdown().contains("Plug-in Quad loss"))
    }

    /// The context-free reference −½ûᵀP_Φû equals the Quad loss of c = G⁻¹Φᵀû evaluated directly on every scored
    /// position (−cᵀφ_w + ½cᵀGc), and any other constant scores worse.
    func testContextFreeLossIsTheLossOfTheBestConstantF() throws {
        let (data, model, r, V, d, T) = try tinyPlugIn()
        var targets: [Int] = []
        for k in 0..<3 {
            var x = [Int32](repeating: 0, count: T), y = x
            x.withUnsafeMutableBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                data.fillBatch(.val, starts: [k * T], length: T, inputs: xp.baseAddress!, targets: yp.baseAddress!)
            } }
            targets += y.map(Int.init)
        }
        let phi = model.phi.converted(to: Double.self)
        let g = try BLAS.matmul(phi, phi, transA: true)
        let uHat = (0..<V).map { w in Double(targets.filter { $0 == w }.count) / Double(targets.count) }
        let phiTu = (0..<d).map { j in (0..<V).reduce(0.0) { $0 + phi[$1, j] * uHat[$1] } }
        let c = try LAPACK.posv(g, try Matrix<Double>(rows: d, cols: 1, values: phiTu))
        func lossOf(_ f: [Double]) -> Double {
            var fgf = 0.0
            for i in 0..<d { for j in 0..<d { fgf += f[i] * g[i, j] * f[j] } }
            return targets.reduce(0.0) { acc, w in acc - (0..<d).reduce(0.0) { $0 + f[$1] * phi[w, $1] } + 0.5 * fgf }
                / Double(targets.count)
        }
        let best = (0..<d).map { c[$0, 0] }
        XCTAssertEqual(try XCTUnwrap(r.contextFreeLoss), lossOf(best), accuracy: 1e-10)
        XCTAssertLessThan(lossOf(best), 0)
        var rng = SeededRandom(seed: 2)
        for _ in 0..<5 { XCTAssertGreaterThan(lossOf(best.map { $0 + 0.05 * rng.normal() }), lossOf(best)) }
        XCTAssertTrue(r.markdown().contains("best context-free f for this Φ"))
    }
}
