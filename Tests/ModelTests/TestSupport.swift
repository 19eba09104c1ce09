import Foundation
import XCTest
@testable import Model
import Text
import Support

/// A Float buffer owned by a test.
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let n: Int
    init(_ n: Int, fill: Float = 0) {
        self.n = n
        p = .allocate(capacity: max(n, 1)); p.initialize(repeating: fill, count: max(n, 1))
    }
    convenience init(random n: Int, std: Float = 1, rng: inout SeededRandom) {
        self.init(n)
        rng.fillNormal(p, count: n, std: std)
    }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: n)) }
    func copy() -> Buf { let b = Buf(n); b.p.update(from: p, count: n); return b }
}

/// Σ w_i·out_i in Double: a random linear functional of an op's output, whose gradient w.r.t. the output is w.
func weightedSum(_ out: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { s += Double(out[i]) * Double(w[i]) }
    return s
}

/// Central finite differences of `loss` w.r.t. p[i] for i in `indices`, compared with `analytic[i]`:
/// |analytic − numeric| ≤ atol + rtol·|numeric|.
func checkGradient(_ name: String, _ p: UnsafeMutablePointer<Float>, analytic: [Float], indices: [Int],
                   eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2, loss: () -> Double,
                   file: StaticString = #filePath, line: UInt = #line) {
    var worst = 0.0
    for i in indices {
        let keep = p[i]
        p[i] = keep + eps
        let up = loss()
        p[i] = keep - eps
        let down = loss()
        p[i] = keep
        let numeric = (up - down) / (2 * Double(eps))
        let err = abs(Double(analytic[i]) - numeric)
        worst = max(worst, err / (atol + rtol * abs(numeric)))
        if err > atol + rtol * abs(numeric) {
            XCTFail("\(name)[\(i)]: analytic \(analytic[i]) vs finite difference \(numeric)", file: file, line: line)
            return
        }
    }
    XCTAssertLessThanOrEqual(worst, 1, name, file: file, line: line)
}

/// A temporary directory removed at deinit.
final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-model-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Writes a synthetic token directory in the Text stage's format (tokens.json + train.bin + val.bin, uint16).
/// The stream is a noisy cyclic pattern so that a model can learn something.
func writeSyntheticTokens(to dir: URL, vocab: Int, train: Int, val: Int, seed: UInt64 = 7,
                          dtype: String = "uint16") throws {
    var rng = SeededRandom(seed: seed)
    func stream(_ n: Int) -> [Int] {
        var out: [Int] = []
        var cur = 0
        for _ in 0..<n {
            cur = rng.uniform() < 0.8 ? (cur * 3 + 1) % vocab : rng.int(below: vocab)
            out.append(cur)
        }
        return out
    }
    func bytes(_ ids: [Int]) -> Data {
        var d = Data()
        for id in ids {
            if dtype == "uint16" { var v = UInt16(id).littleEndian; withUnsafeBytes(of: &v) { d.append(contentsOf: $0) } }
            else { var v = UInt32(id).littleEndian; withUnsafeBytes(of: &v) { d.append(contentsOf: $0) } }
        }
        return d
    }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try bytes(stream(train)).write(to: dir.appendingPathComponent("train.bin"))
    try bytes(stream(val)).write(to: dir.appendingPathComponent("val.bin"))
    let json = """
    {"format":"lmprobe-tokens-1","vocab_size":\(vocab),"dtype":"\(dtype)","train_tokens":\(train),\
    "val_tokens":\(val),"eot_token":0,"tokenizer":"."}
    """
    try json.data(using: .utf8)!.write(to: dir.appendingPathComponent("tokens.json"))
}

/// The tiny pretraining setup of the run-folder tests: a 32-token synthetic corpus and a few-step schedule.
protocol TinyPretraining {}

extension TinyPretraining {
    func options(steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.batch = 4; o.steps = steps; o.warmup = 2; o.evalEvery = 3; o.evalBatches = 2; o.checkpointEvery = 3
        o.logEvery = 1; o.seed = 5
        return o
    }

    func dataset(_ tmp: TempDir) throws -> TokenDataset {
        let dir = tmp.url.appendingPathComponent("tokens")
        try writeSyntheticTokens(to: dir, vocab: 32, train: 2000, val: 500)
        return try TokenDataset(directory: dir)
    }
}
