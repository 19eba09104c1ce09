import Foundation
import Linalg
import XCTest
@testable import Model
import Support

/// Whole-model checks: gradients against finite differences, CE at initialisation, overfitting one batch,
/// the Quad minimiser, and the inference API.
final class GPTTests: XCTestCase {
    /// A tiny model with parameters spread out (std 0.3, LayerNorm gains near 1) so that every gradient is
    /// well above Float finite-difference noise.
    func tinyModel(objective: Objective, untied: Bool, seed: UInt64 = 3, outputScale: Float = 1) throws -> GPT {
        let c = GPTConfig(layers: 2, dim: 16, heads: 2, context: 6, vocabSize: 11, objective: objective, untiedPhi: untied,
                          outputScale: outputScale)
        let m = try GPT(config: c, seed: seed)
        var rng = SeededRandom(seed: seed + 100)
        for t in m.layout.tensors {
            let p = m.parameters.pointer + t.offset
            let isGain = t.name.hasSuffix("ln1.weight") || t.name.hasSuffix("ln2.weight") || t.name == "lnf.weight"
            for i in 0..<t.count { p[i] = (isGain ? 1 : 0) + Float(rng.normal()) * (isGain ? 0.1 : 0.3) }
        }
        return m
    }

    /// Both step paths: serial, and batch-parallel (one sequence per core) when the machine has two cores.
    func checkModelGradients(objective: Objective, untied: Bool, outputScale: Float = 1) throws {
        defer { Threads.set(0) }
        for parallel in [false, true] {
            Threads.set(parallel ? 2 : 0)
            try checkModelGradients(objective: objective, untied: untied, parallel: parallel, outputScale: outputScale)
        }
    }

    func checkModelGradients(objective: Objective, untied: Bool, parallel: Bool, outputScale: Float = 1) throws {
        let m = try tinyModel(objective: objective, untied: untied, outputScale: outputScale)
        m.batchParallel = parallel
        let B = 2, T = 5
        let inputs: [Int32] = [1, 4, 1, 0, 9, 3, 3, 10, 2, 7]
        let targets: [Int32] = [4, 1, 0, 9, 2, 3, 10, 2, 7, 7]
        let loss = { () -> Double in
            try! inputs.withUnsafeBufferPointer { x in
                try targets.withUnsafeBufferPointer { y in try m.evaluate(inputs: x, targets: y, batch: B, length: T).objective }
            }
        }
        m.zeroGradients()
        let value = try inputs.withUnsafeBufferPointer { x in
            try targets.withUnsafeBufferPointer { y in try m.forwardBackward(inputs: x, targets: y, batch: B, length: T) }
        }
        XCTAssertEqual(value, loss(), accuracy: 1e-6)
        let g = m.gradients.toArray()
        var rng = SeededRandom(seed: 9)
        for t in m.layout.tensors {
            let idx = (0..<8).map { _ in t.offset + rng.int(below: t.count) }
            checkGradient("\(objective) \(untied ? "untied" : "tied") \(parallel ? "parallel" : "serial") c=\(outputScale) \(t.name)",
                          m.parameters.pointer, analytic: g,
                          indices: idx, eps: 1e-2, atol: 1e-3, rtol: 3e-2, loss: loss)
        }
    }

    func testWholeModelGradientsCETied() throws { try checkModelGradients(objective: .ce, untied: false) }
    func testWholeModelGradientsCEUntied() throws { try checkModelGradients(objective: .ce, untied: true) }
    func testWholeModelGradientsQuadTied() throws { try checkModelGradients(objective: .quad, untied: false) }
    func testWholeModelGradientsQuadUntied() throws { try checkModelGradients(objective: .quad, untied: true) }
    /// With an output scale c ≠ 1 (f = c·LN(x)) the backward pass multiplies dloss/df by c before the final
    /// LayerNorm: checked for both objectives, both step paths, c below and above 1.
    func testWholeModelGradientsWithOutputScale() throws {
        try checkModelGradients(objective: .quad, untied: true, outputScale: 0.37)
        try checkModelGradients(objective: .ce, untied: false, outputScale: 1.9)
    }

    /// Every path that returns f(s) returns c times the unscaled model's f (whole sequence, last position, mean
    /// pooling); intermediate layers are not scaled; the Quad objective of the scaled model is the Quad loss of
    /// c·f computed by hand; `unitOutputScale` is 1/‖Φ‖_F.
    func testOutputScaleScalesFOnEveryPathAndNothingElse() throws {
        let m = try tinyModel(objective: .quad, untied: true)
        let c: Float = 0.25
        let s = try m.withOutputScale(c)
        XCTAssertEqual(s.config.outputScale, c)
        XCTAssertEqual(s.parameters.toArray(), m.parameters.toArray())
        var rng = SeededRandom(seed: 11)
        let B = 2, T = 5
        let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
        let targets = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
        let f0 = try m.contextEmbeddings(tokens: tokens, batch: B, length: T)
        let f1 = try s.contextEmbeddings(tokens: tokens, batch: B, length: T)
        for i in 0..<(B * T) { for j in 0..<16 { XCTAssertEqual(f1[i, j], c * f0[i, j], accuracy: 1e-6) } }
        let last = try tokens.withUnsafeBufferPointer { try s.lastPositionFeatures(tokens: $0.baseAddress!, batch: B, length: T) }
        for b in 0..<B { for j in 0..<16 { XCTAssertEqual(last[b, j], c * f0[b * T + T - 1, j], accuracy: 1e-5) } }
        let mean = try tokens.withUnsafeBufferPointer {
            try s.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: nil, meanOverPositions: true)
        }
        for b in 0..<B { for j in 0..<16 {
            let ref = (0..<T).map { c * f0[b * T + $0, j] }.reduce(0, +) / Float(T)
            XCTAssertEqual(mean[b, j], ref, accuracy: 1e-5)
        } }
        let mid0 = try tokens.withUnsafeBufferPointer {
            try m.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: 1, meanOverPositions: false)
        }
        let mid1 = try tokens.withUnsafeBufferPointer {
            try s.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: 1, meanOverPositions: false)
        }
        XCTAssertEqual(mid1.toArray(), mid0.toArray(), "the residual stream after block 1 is not scaled")
        // Quad on c·f by hand: −c f·φ_w + ½ c² ‖Φf‖².
        let phi = m.phi
        var byHand = 0.0
        for r in 0..<(B * T) {
            let w = Int(targets[r])
            var fw = 0.0, q = 0.0
            for j in 0..<16 { fw += Double(c * f0[r, j]) * Double(phi[w, j]) }
            for v in 0..<11 {
                var z = 0.0
                for j in 0..<16 { z += Double(c * f0[r, j]) * Double(phi[v, j]) }
                q += z * z
            }
            byHand += -fw + 0.5 * q
        }
        let value = try tokens.withUnsafeBufferPointer { x in
            try targets.withUnsafeBufferPointer { y in try s.evaluate(inputs: x, targets: y, batch: B, length: T).objective }
        }
        XCTAssertEqual(value, byHand / Double(B * T), accuracy: 1e-5)
        var ss = 0.0
        for v in phi.toArray() { ss += Double(v) * Double(v) }
        XCTAssertEqual(Double(try m.unitOutputScale()), 1 / ss.squareRoot(), accuracy: 1e-6)
    }

    /// The batch-parallel step (halves of the batch on two cores, two gradient blocks added) gives the serial
    /// step's loss and gradient up to float summation order — for an odd batch (halves of 2 and 1 sequences), for
    /// both objectives and with Φ frozen — and accumulates onto gradients already present as the serial step does.
    /// The FLOP count behind `bench train`'s MFU: for tied cross-entropy it is the classic 6·params + 6·L·T·d less
    /// the looked-up position embeddings (the V×d block counts once, as the logits); untied Φ adds nothing (the token
    /// embeddings are a lookup table); Quad counts its Gram-form products instead of the logits (values worked by
    /// hand for L=1 d=4 V=10 T=8, 16 tokens per step).
    func testTrainingFlopsCountWhatEachObjectiveMultiplies() {
        let ce = GPTConfig(layers: 4, dim: 256, heads: 4, context: 128, vocabSize: 8192)
        let (C, T, L) = (256.0, 128.0, 4.0)
        XCTAssertEqual(ce.trainingFlopsPerToken(tokensPerStep: 2048),
                       6 * (Double(ce.parameterCount) - T * C) + 6 * L * T * C)
        var untied = ce; untied.untiedPhi = true
        XCTAssertEqual(untied.trainingFlopsPerToken(tokensPerStep: 2048), ce.trainingFlopsPerToken(tokensPerStep: 2048))
        let small = GPTConfig(layers: 1, dim: 4, heads: 2, context: 8, vocabSize: 10)
        // non-embedding 12·16 + 13·4 + 2·4 = 252 → 6·252 = 1512; attention 6·1·8·4 = 192.
        XCTAssertEqual(small.trainingFlopsPerToken(tokensPerStep: 16), 1512 + 192 + 240)            // + 6·V·d
        var quad = small; quad.objective = .quad
        XCTAssertEqual(quad.trainingFlopsPerToken(tokensPerStep: 16), 1512 + 192 + 64 + 40)         // + 4d² + 4d²V/16
        XCTAssertEqual(quad.trainingFlopsPerToken(tokensPerStep: 16, phiTrained: false), 1512 + 192 + 32 + 20)
        XCTAssertEqual(quad.trainingFlopsPerToken(tokensPerStep: 16, length: 4), 1512 + 96 + 64 + 40)
    }

    func testBatchParallelStepMatchesSerialStep() throws {
        guard Threads.available >= 2 else { throw XCTSkip("needs two cores (batch-parallel steps run one half per core)") }
        defer { Threads.set(0) }
        let B = 3, T = 6
        var rng = SeededRandom(seed: 21)
        let x = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
        let y = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
        for (objective, frozen) in [(Objective.ce, false), (.quad, false), (.ce, true), (.quad, true)] {
            var results: [(loss: Double, grad: [Float])] = []
            for parallel in [false, true] {
                Threads.set(2)
                let m = try tinyModel(objective: objective, untied: true)
                m.batchParallel = parallel
                m.freezePhi = frozen
                m.zeroGradients()
                m.gradients.pointer.update(repeating: 0.25, count: m.layout.count)   // accumulate onto this
                let loss = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
                    try m.forwardBackward(inputs: x, targets: y, batch: B, length: T, lossScale: 0.5) } }
                results.append((loss, m.gradients.toArray()))
            }
            let what = "\(objective)\(frozen ? " frozen Φ" : "")"
            XCTAssertEqual(results[1].loss, results[0].loss, accuracy: 1e-6 * abs(results[0].loss), what)
            let scale = results[0].grad.map { abs($0 - 0.25) }.max()!
            XCTAssertGreaterThan(scale, 1e-3, what)   // the step did move the gradients
            for (i, (a, b)) in zip(results[1].grad, results[0].grad).enumerated() where abs(a - b) > 1e-5 * scale {
                XCTFail("\(what): gradient \(i) is \(a) batch-parallel, \(b) serial"); break
            }
        }
    }

    func testFrozenPhiGetsNoGradient() throws {
        let m = try tinyModel(objective: .quad, untied: true)
        m.freezePhi = true
        m.zeroGradients()
        let x: [Int32] = [1, 2, 3, 4], y: [Int32] = [2, 3, 4, 5]
        _ = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
            try m.forwardBackward(inputs: x, targets: y, batch: 1, length: 4) } }
        let phi = m.layout.tensor(named: "phi")!
        XCTAssertTrue((phi.range).allSatisfy { m.gradients.pointer[$0] == 0 })
        XCTAssertGreaterThan(globalNorm(m.gradients.pointer, count: m.layout.count), 0)
    }

    func testCrossEntropyAtInitialisationIsLogV() throws {
        let V = 64
        let m = try GPT(config: GPTConfig(layers: 2, dim: 32, heads: 4, context: 16, vocabSize: V), seed: 1)
        var rng = SeededRandom(seed: 5)
        let x = (0..<64).map { _ in Int32(rng.int(below: V)) }, y = (0..<64).map { _ in Int32(rng.int(below: V)) }
        let r = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
            try m.evaluate(inputs: x, targets: y, batch: 4, length: 16) } }
        XCTAssertEqual(r.objective, Foundation.log(Double(V)), accuracy: 0.05)
    }

    func testTinyModelOverfitsOneBatch() throws {
        let m = try GPT(config: GPTConfig(layers: 2, dim: 32, heads: 2, context: 8, vocabSize: 16), seed: 2)
        let opt = AdamW(layout: m.layout, dim: 32)
        var rng = SeededRandom(seed: 6)
        // A next-token stream whose 4 sequences start with distinct tokens, so every context is distinct and
        // the batch can be memorised exactly.
        let s = (0..<40).map { i in Int32(i % 10 == 0 ? i / 10 : rng.int(below: 16)) }
        let x = (0..<4).flatMap { b in s[(b * 10)..<(b * 10 + 8)] }, y = (0..<4).flatMap { b in s[(b * 10 + 1)...(b * 10 + 8)] }
        var loss = 0.0
        for _ in 0..<200 {
            m.zeroGradients()
            loss = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
                try m.forwardBackward(inputs: x, targets: y, batch: 4, length: 8) } }
            opt.step(parameters: m.parameters, gradients: m.gradients, lr: 1e-2, weightDecay: 0)
        }
        XCTAssertLessThan(loss, 0.05, "a 2-layer model should memorise 32 random next tokens")
    }

    /// With Φ fixed and f free, gradient descent on the Quad loss over targets drawn from p̂ must reach
    /// f* = (ΦᵀΦ)⁻¹Φᵀp̂ (the paper's (ΦΦᵀ)⁻¹Φp with its d×V Φ), computed independently with LAPACK.
    func testQuadMinimiserIsGramInverseTimesPhiP() throws {
        let V = 12, d = 5
        var rng = SeededRandom(seed: 11)
        let phi = Buf(random: V * d, rng: &rng)
        let counts = [5, 0, 3, 1, 7, 2, 0, 4, 1, 1, 6, 10]
        let N = counts.reduce(0, +)
        var targets: [Int32] = []
        for (w, c) in counts.enumerated() { targets += Array(repeating: Int32(w), count: c) }
        let f = Buf(N * d), df = Buf(N * d), losses = Buf(N), dphi = Buf(V * d)
        let gram = Buf(d * d), ftf = Buf(d * d), fg = Buf(N * d)  // kept alive for the whole loop
        let ws = QuadWorkspace(gram: gram.p, fTf: ftf.p, fG: fg.p)
        var shared = [Float](repeating: 0, count: d)
        var trace: Float = 0
        for i in 0..<(V * d) { trace += phi.p[i] * phi.p[i] }
        let lr = 1 / trace
        for _ in 0..<3000 {
            for r in 0..<N { for j in 0..<d { f.p[r * d + j] = shared[j] } }
            targets.withUnsafeBufferPointer {
                quadForwardBackward(f: f.p, phi: phi.p, targets: $0.baseAddress!, losses: losses.p, df: df.p, dphi: nil,
                                    gradScale: 1 / Float(N), workspace: ws, N: N, d: d, V: V)
            }
            for j in 0..<d {
                var g: Float = 0
                for r in 0..<N { g += df.p[r * d + j] }
                shared[j] -= lr * g
            }
        }
        _ = dphi
        withExtendedLifetime((gram, ftf, fg)) {}
        let P = Matrix<Double>(rows: V, cols: d) { Double(phi.p[$0 * d + $1]) }
        let G = try BLAS.matmul(P, P, transA: true)
        let p = Matrix<Double>(rows: V, cols: 1) { i, _ in Double(counts[i]) / Double(N) }
        let rhs = try BLAS.matmul(P, p, transA: true)
        let fStar = try LAPACK.posv(G, rhs)
        for j in 0..<d { XCTAssertEqual(Double(shared[j]), fStar[j, 0], accuracy: 1e-4) }
    }

    func testInferenceAPIMatchesTrainingForwardAndIsCausal() throws {
        let m = try tinyModel(objective: .ce, untied: false)
        let B = 2, T = 5
        let tokens: [Int32] = [1, 4, 1, 0, 9, 3, 3, 10, 2, 7]
        let all = try m.contextEmbeddings(tokens: tokens, batch: B, length: T)
        let some = try m.contextEmbeddings(tokens: tokens, batch: B, length: T, positions: [2, 4])
        XCTAssertEqual(some.rows, 2); XCTAssertEqual(some.cols, 16)
        XCTAssertEqual(some.row(0).toArray(), all.row(2).toArray())
        XCTAssertEqual(some.row(1).toArray(), all.row(5 + 4).toArray())
        // Changing tokens after position 2 of sequence 0 leaves f at position 2 unchanged (causal attention).
        var padded = tokens; padded[3] = 7; padded[4] = 7
        let again = try m.contextEmbeddings(tokens: Array(padded[0..<3]) + [0, 0], batch: 1, length: 5, positions: [2])
        XCTAssertEqual(again.row(0).toArray(), some.row(0).toArray())
        // A shorter T reuses nothing stale.
        let short = try m.contextEmbeddings(tokens: Array(tokens[0..<3]), batch: 1, length: 3, positions: [2])
        for j in 0..<16 { XCTAssertEqual(short[0, j], some[0, j], accuracy: 1e-5) }
        // Φ is wte when tied.
        XCTAssertEqual(m.phi.rows, 11)
        XCTAssertEqual(m.phi[3, 5], m.parameters.pointer[m.layout.wte + 3 * 16 + 5])
        // Bad input is an error, not a crash.
        XCTAssertThrowsError(try m.contextEmbeddings(tokens: [1, 2, 99], batch: 1, length: 3, positions: [2]))
        XCTAssertThrowsError(try m.contextEmbeddings(tokens: [1, 2, 3], batch: 1, length: 3, positions: [3]))
        XCTAssertThrowsError(try m.contextEmbeddings(tokens: [1, 2, 3, 4, 5, 6, 7], batch: 1, length: 7, positions: [0]))
    }

    /// `sequenceFeatures` against a full training-mode forward (every layer's buffers kept, on a separate model
    /// instance): layer k at the last position and averaged over positions, f(s) averaged, and layer L passed
    /// through the final LayerNorm by hand giving f(s) — so the layer numbering is checked, not assumed.
    func testSequenceFeaturesMatchFullForwardRecomputation() throws {
        let m = try tinyModel(objective: .ce, untied: false)
        let ref = try GPT(config: m.config, parameters: UnsafeBufferPointer(start: m.parameters.pointer,
                                                                             count: m.layout.count))
        let L = m.config.layers, C = m.config.dim
        var rng = SeededRandom(seed: 12)
        for (B, T) in [(3, 5), (1, 1), (2, 6), (3, 5)] {
            let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
            let a = try tokens.withUnsafeBufferPointer { try ref.prepare(inputs: $0, targets: nil, B: B, T: T, training: true) }
            ref.forward(a)
            func state(_ k: Int?, _ row: Int, _ j: Int) -> Double {
                guard let k else { return Double(a.lnf[row * C + j]) }
                return Double(k == 0 ? a.encoded[row * C + j] : a.res3[(k - 1) * a.sNC + row * C + j])
            }
            for layer in [nil] + (0...L).map(Optional.some) {
                for mean in [false, true] {
                    let got = try tokens.withUnsafeBufferPointer {
                        try m.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: layer,
                                               meanOverPositions: mean)
                    }
                    XCTAssertEqual(got.rows, B); XCTAssertEqual(got.cols, C)
                    for b in 0..<B { for j in 0..<C {
                        let want = mean ? (0..<T).map { state(layer, b * T + $0, j) }.reduce(0, +) / Double(T)
                                        : state(layer, b * T + T - 1, j)
                        XCTAssertEqual(Double(got[b, j]), want, accuracy: 1e-4,
                                       "layer \(layer.map(String.init) ?? "f") mean \(mean) B=\(B) T=\(T) b=\(b) j=\(j)")
                    } }
                }
            }
            // Layer L through the final LayerNorm is f(s).
            let top = try tokens.withUnsafeBufferPointer {
                try m.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: L, meanOverPositions: false)
            }
            let f = try tokens.withUnsafeBufferPointer { try m.lastPositionFeatures(tokens: $0.baseAddress!, batch: B, length: T) }
            let w = m.parameters.pointer + m.layout.lnfw, bias = m.parameters.pointer + m.layout.lnfb
            for b in 0..<B {
                let x = (0..<C).map { Double(top[b, $0]) }
                let mu = x.reduce(0, +) / Double(C)
                let v = x.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(C)
                for j in 0..<C {
                    let y = (x[j] - mu) / (v + Double(layerNormEpsilon)).squareRoot() * Double(w[j]) + Double(bias[j])
                    XCTAssertEqual(Double(f[b, j]), y, accuracy: 1e-4)
                }
            }
        }
        XCTAssertThrowsError(try [Int32(1)].withUnsafeBufferPointer {
            try m.sequenceFeatures(tokens: $0.baseAddress!, batch: 1, length: 1, layer: L + 1, meanOverPositions: false)
        })
        XCTAssertThrowsError(try [Int32(1)].withUnsafeBufferPointer {
            try m.sequenceFeatures(tokens: $0.baseAddress!, batch: 1, length: 1, layer: -1, meanOverPositions: true)
        })
    }

    /// The pruned last-block path equals the full forward at the last positions, for 1 and 2 layers, and keeps
    /// doing so when the activation buffers are reused for smaller and then larger shapes.
    func testLastPositionFeaturesMatchFullForward() throws {
        for layers in [1, 2] {
            let m = try tinyModel(objective: .ce, untied: false)
            let c = GPTConfig(layers: layers, dim: 16, heads: 2, context: 6, vocabSize: 11)
            let model = try GPT(config: c, parameters: UnsafeBufferPointer(
                start: m.parameters.pointer, count: ParameterLayout(c).count))
            var rng = SeededRandom(seed: 7)
            for (B, T) in [(3, 6), (2, 4), (1, 1), (4, 5), (3, 6)] {
                let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: 11)) }
                let all = try model.contextEmbeddings(tokens: tokens, batch: B, length: T)
                let last = try tokens.withUnsafeBufferPointer {
                    try model.lastPositionFeatures(tokens: $0.baseAddress!, batch: B, length: T)
                }
                XCTAssertEqual(last.rows, B); XCTAssertEqual(last.cols, 16)
                for b in 0..<B { for j in 0..<16 {
                    XCTAssertEqual(last[b, j], all[b * T + T - 1, j], accuracy: 1e-5, "L=\(layers) B=\(B) T=\(T)")
                } }
            }
            XCTAssertThrowsError(try [Int32(1)].withUnsafeBufferPointer {
                try model.lastPositionFeatures(tokens: $0.baseAddress!, batch: 0, length: 1)
            })
        }
    }
}
