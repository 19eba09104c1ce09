import Foundation
import Linalg
import XCTest
@testable import Model

/// lmprobe against PyTorch, as llm.c's test_gpt2.c checks its C training: the logits, the loss, every parameter's
/// gradient and 10 AdamW steps (weight decay, gradient clipping, warmup + cosine) of a small GPT with
/// cross-entropy, and the loss and every gradient of the Quad objective (untied Φ, output scale c = 0.5).
/// The fixture, Fixtures/torch-reference, is written by experiments/reference/make_torch_reference.py (run by
/// hand; its docstring states the model, objectives and step it mirrors), from float32 initial weights stored in
/// lmprobe's checkpoint format and loaded here by `Checkpoint.load`; the reference is computed in float64.
///
/// Tolerance, per tensor: max |lmprobe − reference| ≤ 1e-5 · max |reference| (the error relative to the tensor's
/// scale). Measured when the fixture was made: ≤ 1e-6 for the logits, every gradient (both objectives) and every
/// parameter after 10 steps. What the 10-step check catches (make_torch_reference.py with the change, worst tensor):
/// no gradient clipping 4.5e-2, weight decay on gains and biases too 6.4e-3, no weight decay 6.1e-3.
///
/// One exception: the attention's key bias (the middle third of each layer's `blocks.attn.qkv.bias`) has an
/// exactly zero gradient — adding a constant to every key adds q·b to a whole softmax row — so float32 leaves
/// ~1e-9 of rounding where float64 has ~1e-17, and Adam, which divides by √v̂, turns either into steps of very
/// different size. After 10 steps the key bias is checked to have moved by no more than the summed learning rates;
/// its zero gradient itself is checked in the gradient test (against the reference's zero, at the 1e-5 tolerance).
final class PyTorchReferenceTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch-reference")

    struct Batch: Decodable {
        struct Training: Decodable {
            let steps: Int, lr: Double, minLr: Double, warmup: Int, weightDecay: Double, clip: Double
            enum CodingKeys: String, CodingKey {
                case steps, lr, minLr = "min_lr", warmup, weightDecay = "weight_decay", clip
            }
        }
        let inputs: [[Int32]], targets: [[Int32]], train: Training
        var B: Int { inputs.count }
        var T: Int { inputs[0].count }
        var flatInputs: [Int32] { inputs.flatMap { $0 } }
        var flatTargets: [Int32] { targets.flatMap { $0 } }
    }

    var batch: Batch!
    var reference: SafeTensors.File!

    override func setUpWithError() throws {
        batch = try JSONDecoder().decode(Batch.self, from: Data(contentsOf: Self.fixture.appendingPathComponent("batch.json")))
        reference = try SafeTensors.read(Self.fixture.appendingPathComponent("reference.safetensors"))
    }

    /// The reference tensor `name`, flat.
    func ref(_ name: String) throws -> [Float] {
        guard let t = reference.tensors[name] else { throw ModelError.badInput("reference tensor \(name) missing") }
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try reference.copy(name, shape: t.shape, into: $0.baseAddress!) }
        return out
    }

    /// max |a − r| / max |r|, the error measure of every tolerance here.
    func relativeError(_ a: UnsafeBufferPointer<Float>, _ r: [Float]) -> Double {
        var err = 0.0, scale = 0.0
        for i in 0..<r.count {
            err = max(err, abs(Double(a[i]) - Double(r[i])))
            scale = max(scale, abs(Double(r[i])))
        }
        return err / max(scale, .leastNormalMagnitude)
    }

    func assertClose(_ name: String, _ a: UnsafeBufferPointer<Float>, _ r: [Float], tolerance: Double,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, r.count, "\(name): size", file: file, line: line)
        guard a.count == r.count else { return }
        let e = relativeError(a, r)
        XCTAssertLessThanOrEqual(e, tolerance, "\(name): max abs error \(e) × max |reference|", file: file, line: line)
    }

    /// Every parameter tensor of `block` (laid out as `model.layout`) against the reference `prefix + name`.
    func assertEveryTensor(_ block: UnsafePointer<Float>, of model: GPT, against prefix: String,
                           except skipped: Set<String> = [], file: StaticString = #filePath, line: UInt = #line) throws {
        for t in model.layout.tensors where !skipped.contains(t.name) {
            assertClose(prefix + t.name, UnsafeBufferPointer(start: block + t.offset, count: t.count),
                        try ref(prefix + t.name), tolerance: Self.tolerance, file: file, line: line)
        }
    }

    static let tolerance = 1e-5

    func load(_ name: String) throws -> GPT {
        try Checkpoint.load(url: Self.fixture.appendingPathComponent(name)).model
    }

    /// Mean loss and gradient of the fixture's batch, the way a training step computes them.
    func lossAndGradients(_ model: GPT, batchParallel: Bool) throws -> Double {
        model.batchParallel = batchParallel
        model.zeroGradients()
        return try batch.flatInputs.withUnsafeBufferPointer { x in
            try batch.flatTargets.withUnsafeBufferPointer { y in
                try model.forwardBackward(inputs: x, targets: y, batch: batch.B, length: batch.T)
            }
        }
    }

    func testCrossEntropyLogitsLossAndEveryGradientMatchPyTorch() throws {
        let model = try load("ce.safetensors")
        XCTAssertEqual(model.config.objective, .ce)
        XCTAssertFalse(model.config.untiedPhi)
        let a = try batch.flatInputs.withUnsafeBufferPointer { x in
            try batch.flatTargets.withUnsafeBufferPointer { y in
                try model.prepare(inputs: x, targets: y, B: batch.B, T: batch.T, training: true)
            }
        }
        model.forward(a)
        let loss = model.objectiveLoss(a, objective: .ce, gradScale: nil)
        let logits = try XCTUnwrap(a.logits)
        assertClose("ce.logits", UnsafeBufferPointer(start: logits, count: a.N * model.config.vocabSize),
                    try ref("ce.logits"), tolerance: Self.tolerance)
        XCTAssertEqual(loss, Double(try ref("ce.loss")[0]), accuracy: 1e-5 * Double(try ref("ce.loss")[0]))
        // Both ways a step computes gradients: the whole batch at once, and (with ≥ 2 threads) two halves on
        // two cores whose gradient blocks are added.
        for parallel in [false, true] {
            let l = try lossAndGradients(model, batchParallel: parallel)
            XCTAssertEqual(l, Double(try ref("ce.loss")[0]), accuracy: 1e-5 * Double(try ref("ce.loss")[0]))
            try assertEveryTensor(model.gradients.pointer, of: model, against: "ce.grad.")
        }
    }

    func testTenAdamWStepsWithWeightDecayAndClippingMatchPyTorch() throws {
        let model = try load("ce.safetensors")
        let o = batch.train
        let optimizer = AdamW(layout: model.layout, dim: model.config.dim)
        let schedule = LearningRateSchedule(maxLR: o.lr, minLR: o.minLr, warmup: o.warmup, totalSteps: o.steps)
        let losses = try ref("train.loss"), norms = try ref("train.grad_norm"), lrs = try ref("train.lr")
        XCTAssertEqual(losses.count, o.steps)
        // The reference clips some steps and not others: both branches are checked.
        XCTAssertTrue(norms.contains { Double($0) > o.clip } && norms.contains { Double($0) < o.clip }, "\(norms)")
        for step in 0..<o.steps {
            // Trainer.run's step: gradient of the mean loss, global norm, clip, AdamW at the scheduled lr.
            let loss = try lossAndGradients(model, batchParallel: true)
            let norm = globalNorm(model.gradients.pointer, count: model.layout.count)
            if o.clip > 0 && norm > o.clip { BLAS.scal(Float(o.clip / norm), model.gradients) }
            let lr = schedule.lr(at: step)
            optimizer.step(parameters: model.parameters, gradients: model.gradients, lr: Float(lr),
                           weightDecay: Float(o.weightDecay))
            XCTAssertEqual(loss, Double(losses[step]), accuracy: 1e-5 * Double(losses[step]), "loss before step \(step + 1)")
            XCTAssertEqual(norm, Double(norms[step]), accuracy: 1e-5 * Double(norms[step]), "gradient norm at step \(step + 1)")
            XCTAssertEqual(lr, Double(lrs[step]), accuracy: 1e-6 * Double(lrs[step]), "lr at step \(step + 1)")
        }
        let qkvb = "blocks.attn.qkv.bias"
        try assertEveryTensor(model.parameters.pointer, of: model, against: "train.final.", except: [qkvb])
        // The query and value biases at the tolerance; the key bias (zero gradient) within the summed lrs.
        let C = model.config.dim, final = try ref("train.final." + qkvb)
        let start = model.layout.qkvb
        let initial = try load("ce.safetensors")
        var qv: (lm: [Float], ref: [Float]) = ([], [])
        for l in 0..<model.config.layers {
            for part in 0..<3 {
                let range = (l * 3 * C + part * C)..<(l * 3 * C + (part + 1) * C)
                if part == 1 {
                    for i in range {
                        let moved = abs(model.parameters.pointer[start + i] - initial.parameters.pointer[start + i])
                        XCTAssertLessThanOrEqual(Double(moved), lrs.reduce(0) { $0 + Double($1) }, "key bias [\(i)]")
                    }
                } else {
                    qv.lm += range.map { model.parameters.pointer[start + $0] }
                    qv.ref += range.map { final[$0] }
                }
            }
        }
        qv.lm.withUnsafeBufferPointer { assertClose("train.final.\(qkvb) (query and value parts)", $0, qv.ref,
                                                    tolerance: Self.tolerance) }
    }

    func testQuadLossAndEveryGradientMatchPyTorch() throws {
        let model = try load("quad.safetensors")
        XCTAssertEqual(model.config.objective, .quad)
        XCTAssertTrue(model.config.untiedPhi)
        XCTAssertEqual(model.config.outputScale, 0.5)
        let expected = Double(try ref("quad.loss")[0])
        for parallel in [false, true] {
            let loss = try lossAndGradients(model, batchParallel: parallel)
            XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected))
            try assertEveryTensor(model.gradients.pointer, of: model, against: "quad.grad.")
        }
    }
}
