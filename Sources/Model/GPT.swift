import Foundation
import Linalg
import Text
import Support

// MARK: - Configuration

/// Shape and objective of a GPT-2-style decoder.
public struct GPTConfig: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Transformer blocks L.
    public var layers: Int
    /// Width d (channels C).
    public var dim: Int
    /// Attention heads h (d must be a multiple of h).
    public var heads: Int
    /// Maximum context T (rows of the positional embedding).
    public var context: Int
    /// Vocabulary size V.
    public var vocabSize: Int
    /// Pretraining objective.
    public var objective: Objective
    /// True when Φ is a separate V×d tensor; false when Φ is the input token embedding (tied).
    public var untiedPhi: Bool
    /// A fixed, untrained factor c on the final LayerNorm's output: f(s) = c·(γ⊙x̂ + β). 1 for every CE model.
    /// For Quad on a frozen, trained Φ, c = 1/‖Φ‖_F (`pretrain --output-scale auto`) makes ½‖Φf‖² ≈ ½ for a
    /// unit-variance LayerNorm output, so the gain γ stays O(1) and AdamW's lr-sized steps stay relative to it
    /// (with c = 1 the first Quad loss on the 2-hour CE model's Φ was 7,932 and γ had to shrink by orders of
    /// magnitude). Every consumer of f(s) (the objectives, extraction, the analyses) sees the scaled f.
    public var outputScale: Float

    public init(layers: Int, dim: Int, heads: Int, context: Int, vocabSize: Int, objective: Objective = .ce,
                untiedPhi: Bool = false, outputScale: Float = 1) {
        self.layers = layers; self.dim = dim; self.heads = heads; self.context = context
        self.vocabSize = vocabSize; self.objective = objective; self.untiedPhi = untiedPhi
        self.outputScale = outputScale
    }

    private enum CodingKeys: String, CodingKey {
        case layers, dim, heads, context, vocabSize, objective, untiedPhi, outputScale
    }

    /// Checkpoints written before `outputScale` existed have no such key: they mean c = 1.
    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        self.init(layers: try k.decode(Int.self, forKey: .layers), dim: try k.decode(Int.self, forKey: .dim),
                  heads: try k.decode(Int.self, forKey: .heads), context: try k.decode(Int.self, forKey: .context),
                  vocabSize: try k.decode(Int.self, forKey: .vocabSize),
                  objective: try k.decode(Objective.self, forKey: .objective),
                  untiedPhi: try k.decode(Bool.self, forKey: .untiedPhi),
                  outputScale: try k.decodeIfPresent(Float.self, forKey: .outputScale) ?? 1)
    }

    /// The reference configuration of the benchmarks: L=4, d=256, h=4, T=128, V=8192.
    public static let reference = GPTConfig(layers: 4, dim: 256, heads: 4, context: 128, vocabSize: 8192)

    public var headSize: Int { dim / heads }

    /// Upper limits on each field (far above anything a CPU trains, low enough that every size derived from them
    /// fits an Int): a config beyond them is refused before any size is computed from it.
    public static let limits: [(name: String, key: KeyPath<GPTConfig, Int>, max: Int)] = [
        ("layers", \.layers, 1024), ("dim", \.dim, 1 << 16), ("heads", \.heads, 1024),
        ("context", \.context, 1 << 16), ("vocab-size", \.vocabSize, TokenFile.maxVocabSize),
    ]

    /// Throws `ModelError.invalidConfig` naming the offending field: each field in 1...limit, d a multiple of h,
    /// and the parameter block no larger than the memory this process may allocate.
    public func validate() throws {
        for (name, key, limit) in GPTConfig.limits {
            let v = self[keyPath: key]
            if v < 1 { throw ModelError.invalidConfig("\(name) must be at least 1 (got \(v))") }
            if v > limit { throw ModelError.invalidConfig("\(name) \(v) is above the limit of \(limit)") }
        }
        guard dim % heads == 0 else {
            throw ModelError.invalidConfig("dim \(dim) is not a multiple of heads \(heads)")
        }
        guard outputScale.isFinite, outputScale > 0 else {
            throw ModelError.invalidConfig("output-scale must be a positive finite number (got \(outputScale))")
        }
        let bytes = SystemMemory.checkedSum(ofProducts: [[parameterCount, 4]]) ?? Int.max
        guard bytes <= SystemMemory.limitBytes else {
            throw ModelError.invalidConfig("\(self) has \(parameterCount) parameters (\(SystemMemory.format(bytes))), more than the \(SystemMemory.format(SystemMemory.limitBytes)) this process may allocate")
        }
    }

    /// Parameters in the block (`ParameterLayout.count`); exact for a config within `limits` (no overflow there).
    public var parameterCount: Int {
        let C = dim
        return SystemMemory.checkedSum(ofProducts: [[vocabSize, C], [context, C], [layers, 12, C, C], [layers, 13, C],
                                                    [2, C], [untiedPhi ? vocabSize : 0, C]]) ?? Int.max
    }

    /// Model FLOPs of one training step (forward + backward) per token, at sequence length `length` (default the
    /// context) with `tokensPerStep` tokens per step: 6 per non-embedding parameter plus 6·L·T·d for attention (the
    /// convention of Kaplan et al. 2020; the token and position embeddings are looked up, not multiplied), plus the
    /// objective's own products — cross-entropy: the logits and their two gradients, 6·V·d per token; Quad's Gram
    /// form: 2d² (F·G) and 2d² (FᵀF) per token, 2d²V (G = ΦᵀΦ) and 2d²V (Φ·S) per step shared by its tokens, the
    /// FᵀF and Φ·S terms only when Φ is trained. Element-wise work (softmax, LayerNorm, GELU, AdamW) is not counted.
    /// MFU = this × tokens/s ÷ the sgemm ceiling, so CE and Quad steps are judged by the work each really does.
    public func trainingFlopsPerToken(tokensPerStep: Int, length: Int? = nil, phiTrained: Bool = true) -> Double {
        let C = Double(dim), V = Double(vocabSize), L = Double(layers), T = Double(length ?? context)
        let nonEmbedding = L * (12 * C * C + 13 * C) + 2 * C   // blocks (weights, biases, LayerNorms) + final LayerNorm
        var flops = 6 * nonEmbedding + 6 * L * T * C
        switch objective {
        case .ce:
            flops += 6 * V * C
        case .quad:
            let trained: Double = phiTrained ? 2 : 1
            flops += trained * 2 * C * C + trained * 2 * C * C * V / Double(max(1, tokensPerStep))
        }
        return flops
    }

    /// Bytes a training step at micro-batch `batch` allocates: parameters, gradients, the batch-parallel step's
    /// second gradient block and both AdamW moments, plus the activations of `Activations(training: true)` (every
    /// layer's buffers, N×V logits, the backward buffers) at N = batch·context (validation batches) and at
    /// ⌊batch/2⌋·context (the second half of a batch-parallel step). nil when the size does not fit an Int.
    public func trainingBytes(batch B: Int) -> Int? {
        let C = dim, L = layers, T = context, h = heads, V = vocabSize
        func activationFloats(_ B: Int) -> Int? {
            guard let N = SystemMemory.checkedSum(ofProducts: [[B, T]]),
                  let A = SystemMemory.checkedSum(ofProducts: [[B, h, T, T]]) else { return nil }
            return SystemMemory.checkedSum(ofProducts: [
                [L, 16, N, C], [L, 4, N], [L, A],           // per layer: ln1, qkv, atty, res2, ln2, fch, gelu, res3, stats, att
                [14, N, C], [6, N], [N, V], [A], [2, C, C], // encoded, lnf, backward buffers, logits, losses, Quad
            ])
        }
        guard let full = activationFloats(B), let half = activationFloats(B / 2),
              let floats = SystemMemory.checkedSum(ofProducts: [[parameterCount, 5], [full, 1], [half, 1]])
        else { return nil }
        return SystemMemory.checkedSum(ofProducts: [[floats, 4]])
    }

    public var description: String {
        "L=\(layers) d=\(dim) h=\(heads) T=\(context) V=\(vocabSize) objective=\(objective.rawValue)"
            + (untiedPhi ? " untied-phi" : "") + (outputScale != 1 ? " output-scale=\(outputScale)" : "")
    }
}

// MARK: - Parameter layout

/// One named tensor inside the flat parameter block.
public struct ParameterTensor: Sendable {
    public let name: String
    /// Offset in floats from the start of the block.
    public let offset: Int
    public let shape: [Int]
    /// Matrices (weights, embeddings) get AdamW's decoupled weight decay; gains and biases do not.
    public let isMatrix: Bool
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where each tensor lives in the one contiguous parameter block (and, identically, in the gradient block and
/// the two AdamW moment blocks). Per-layer tensors are stacked: `qkvw` is (L, 3d, d), layer l at l·3d·d.
/// Every tensor's size is a multiple of d, so the block is also a (count/d) × d matrix and each tensor a row range.
public struct ParameterLayout: Sendable {
    public let tensors: [ParameterTensor]
    public let count: Int
    public let wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb: Int
    public let ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb: Int
    /// Offset of Φ (V×d): `wte` when tied, else the separate `phi` tensor.
    public let phi: Int

    public init(_ c: GPTConfig) {
        let L = c.layers, C = c.dim, V = c.vocabSize, T = c.context
        var list: [ParameterTensor] = []
        var next = 0
        func add(_ name: String, _ shape: [Int], matrix: Bool) -> Int {
            let t = ParameterTensor(name: name, offset: next, shape: shape, isMatrix: matrix)
            list.append(t)
            next += t.count
            return t.offset
        }
        wte = add("wte", [V, C], matrix: true)
        wpe = add("wpe", [T, C], matrix: true)
        ln1w = add("blocks.ln1.weight", [L, C], matrix: false)
        ln1b = add("blocks.ln1.bias", [L, C], matrix: false)
        qkvw = add("blocks.attn.qkv.weight", [L, 3 * C, C], matrix: true)
        qkvb = add("blocks.attn.qkv.bias", [L, 3 * C], matrix: false)
        attprojw = add("blocks.attn.proj.weight", [L, C, C], matrix: true)
        attprojb = add("blocks.attn.proj.bias", [L, C], matrix: false)
        ln2w = add("blocks.ln2.weight", [L, C], matrix: false)
        ln2b = add("blocks.ln2.bias", [L, C], matrix: false)
        fcw = add("blocks.mlp.fc.weight", [L, 4 * C, C], matrix: true)
        fcb = add("blocks.mlp.fc.bias", [L, 4 * C], matrix: false)
        fcprojw = add("blocks.mlp.proj.weight", [L, C, 4 * C], matrix: true)
        fcprojb = add("blocks.mlp.proj.bias", [L, C], matrix: false)
        lnfw = add("lnf.weight", [C], matrix: false)
        lnfb = add("lnf.bias", [C], matrix: false)
        phi = c.untiedPhi ? add("phi", [V, C], matrix: true) : wte
        tensors = list
        count = next
    }

    public func tensor(named name: String) -> ParameterTensor? { tensors.first { $0.name == name } }
}

// MARK: - Activations

/// Preallocated activations, sized for a capacity of `capacityN` rows (B·T) and `capacityAtt` attention entries
/// (B·h·T·T), and reused for any smaller (B, T) via `reshape` (so variable-shape inference, e.g. extraction
/// batched by length, does not reallocate per batch). In training mode every layer keeps its own buffers (the
/// backward pass needs them) plus the gradient buffers; in inference mode one layer's buffers are reused by all.
final class Activations {
    private(set) var B: Int, T: Int, N: Int
    let training: Bool, withLogits: Bool
    let capacityN: Int, capacityAtt: Int
    private var allocations: [UnsafeMutablePointer<Float>] = []
    let tokens: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>
    // Forward (per layer unless noted): index with `layer(l)`.
    let encoded: UnsafeMutablePointer<Float>                      // (N,C)
    let ln1, ln1Mean, ln1Rstd, qkv, atty, att, res2: UnsafeMutablePointer<Float>
    let ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3: UnsafeMutablePointer<Float>
    let lnf, lnfMean, lnfRstd: UnsafeMutablePointer<Float>    // (N,C), (N), (N)
    let logits: UnsafeMutablePointer<Float>?                     // (N,V)
    let losses: UnsafeMutablePointer<Float>                      // (N)
    // Backward (training only; nil-free by allocating 1 float in inference mode).
    let dres, dln, datty, dqkv, dfch, datt, scratch, ones: UnsafeMutablePointer<Float>
    let quad: QuadWorkspace

    /// Per-layer element counts at the current shape (for `layer(l)` offsets).
    private(set) var sN: Int, sNC: Int, sN3C: Int, sN4C: Int, sAtt: Int
    let layerFactor: Int
    let C: Int, h: Int

    init(config c: GPTConfig, B: Int, T: Int, training: Bool, withLogits: Bool, capacityN: Int? = nil,
         capacityAtt: Int? = nil) {
        self.B = B; self.T = T; self.training = training; self.withLogits = withLogits
        let C = c.dim, V = c.vocabSize, h = c.heads
        self.C = C; self.h = h
        let N = max(B * T, capacityN ?? 0)
        let A = max(B * h * T * T, capacityAtt ?? 0)
        self.N = B * T
        self.capacityN = N; self.capacityAtt = A
        let Lk = training ? c.layers : 1
        layerFactor = training ? 1 : 0
        sN = B * T; sNC = B * T * C; sN3C = B * T * 3 * C; sN4C = B * T * 4 * C; sAtt = B * h * T * T
        var allocs: [UnsafeMutablePointer<Float>] = []
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            allocs.append(p)
            return p
        }
        tokens = .allocate(capacity: max(N, 1)); tokens.initialize(repeating: 0, count: max(N, 1))
        targets = .allocate(capacity: max(N, 1)); targets.initialize(repeating: 0, count: max(N, 1))
        encoded = buf(N * C)
        ln1 = buf(Lk * N * C); ln1Mean = buf(Lk * N); ln1Rstd = buf(Lk * N)
        qkv = buf(Lk * N * 3 * C); atty = buf(Lk * N * C); att = buf(Lk * A); res2 = buf(Lk * N * C)
        ln2 = buf(Lk * N * C); ln2Mean = buf(Lk * N); ln2Rstd = buf(Lk * N)
        fch = buf(Lk * N * 4 * C); fchGelu = buf(Lk * N * 4 * C); res3 = buf(Lk * N * C)
        lnf = buf(N * C); lnfMean = buf(N); lnfRstd = buf(N)
        logits = withLogits ? buf(N * V) : nil
        losses = buf(N)
        let g = training ? 1 : 0
        dres = buf(g * N * C); dln = buf(g * N * C); datty = buf(g * N * C); dqkv = buf(g * N * 3 * C)
        dfch = buf(g * N * 4 * C); datt = buf(g * A); scratch = buf(g * N * C)
        ones = buf(N); ones.update(repeating: 1, count: N)
        quad = QuadWorkspace(gram: buf(C * C), fTf: buf(C * C), fG: buf(N * C))
        allocations = allocs
    }

    /// Copies `count` = B·T token ids (and targets, when given) into the batch buffers.
    func load(inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>?, count: Int) {
        tokens.update(from: inputs, count: count)
        if let targets { self.targets.update(from: targets, count: count) }
    }

    /// True when (B, T) fits in the allocated capacity.
    func fits(B: Int, T: Int) -> Bool { B * T <= capacityN && B * h * T * T <= capacityAtt }

    /// Switches to a shape that `fits`; buffers keep their (stale) contents, every op overwrites what it reads.
    func reshape(B: Int, T: Int) {
        precondition(fits(B: B, T: T))
        self.B = B; self.T = T; N = B * T
        sN = N; sNC = N * C; sN3C = N * 3 * C; sN4C = N * 4 * C; sAtt = B * h * T * T
    }

    deinit {
        for p in allocations { p.deallocate() }
        tokens.deallocate(); targets.deallocate()
    }
}

// MARK: - The model

/// A GPT-2-style decoder over one flat parameter block (see `ParameterLayout`), with hand-written forward and
/// backward passes. Not thread-safe: one forward/backward at a time per instance.
public final class GPT {
    public let config: GPTConfig
    public let layout: ParameterLayout
    /// All parameters as a (count/d) × d matrix; tensor t is rows t.offset/d ..< (t.offset+t.count)/d.
    public let parameters: Matrix<Float>
    /// Gradients, laid out exactly like `parameters` (allocated on first training use).
    public private(set) lazy var gradients: Matrix<Float> = Matrix(rows: layout.count / config.dim, cols: config.dim)
    /// When true, the backward pass skips Φ's gradient (and the optimizer leaves Φ unchanged). With tied Φ
    /// this freezes the input token embeddings too.
    public var freezePhi = false
    /// Batch-parallel training steps (on by default): with ≥ 2 threads (`Threads.count`) and a batch of B ≥ 2,
    /// `forwardBackward` runs each half of the batch on its own core — forward, objective and backward with
    /// single-threaded BLAS and serial kernels (`Threads.oneCoreEach`) — into its own gradient block, then adds the
    /// second block into the first. A step then has no OpenBLAS thread hand-offs and no OpenBLAS workers spinning
    /// while lmprobe's element-wise kernels run (issue 13's profile: ~18 % of a step in `sched_yield`). The result
    /// is the same gradient up to float summation order, deterministic for a given batch and thread count
    /// (the halves are fixed: rows 0..<⌈B/2⌉ and the rest; the sum is always first + second).
    public var batchParallel = true
    var acts: Activations?
    /// The second half's activations and gradient block of a batch-parallel step.
    var replicaActs: Activations?
    lazy var replicaGradients: Matrix<Float> = Matrix(rows: layout.count / config.dim, cols: config.dim)

    /// A freshly initialised model: N(0, 0.02) matrices, output projections of each block N(0, 0.02/√(2L)),
    /// LayerNorm gains 1, biases 0. Deterministic in `seed`.
    public init(config: GPTConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        parameters = Matrix(rows: layout.count / config.dim, cols: config.dim)
        var rng = SeededRandom(seed: seed)
        let p = parameters.pointer
        let residualStd = Float(0.02 / (2.0 * Double(config.layers)).squareRoot())
        for t in layout.tensors {
            if t.name.hasSuffix("ln1.weight") || t.name.hasSuffix("ln2.weight") || t.name == "lnf.weight" {
                (p + t.offset).update(repeating: 1, count: t.count)
            } else if t.isMatrix {
                let std: Float = (t.name.hasSuffix("proj.weight")) ? residualStd : 0.02
                rng.fillNormal(p + t.offset, count: t.count, std: std)
            }
        }
    }

    /// A model over given parameters (copied); `values.count` must equal the layout's count.
    public init(config: GPTConfig, parameters values: UnsafeBufferPointer<Float>) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        guard values.count == layout.count, let base = values.baseAddress else {
            throw ModelError.invalidConfig("parameter block has \(values.count) floats, config \(config) needs \(layout.count)")
        }
        parameters = Matrix(rows: layout.count / config.dim, cols: config.dim)
        parameters.pointer.update(from: base, count: layout.count)
    }

    /// A model whose parameter block `fill` writes in place (`layout.count` floats, zeroed first): checkpoint
    /// loaders copy each tensor straight from the mapped file into the block, so no second copy of the weights
    /// exists. The caller must have checked that the config's sizes do not overflow.
    public init(config: GPTConfig, fill: (UnsafeMutablePointer<Float>, ParameterLayout) throws -> Void) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        parameters = Matrix(rows: layout.count / config.dim, cols: config.dim)
        try fill(parameters.pointer, layout)
    }

    /// Number of parameters (Φ counted once when tied).
    public var parameterCount: Int { layout.count }

    /// Φ as a V × d view into the parameters: row w is φ_w, the output embedding of word w (the token embedding
    /// `wte` when tied). Writes through the view change the model.
    public var phi: Matrix<Float> { tensorView(offset: layout.phi, count: config.vocabSize * config.dim) }

    /// The rows of `parameters` holding a named tensor, viewed as (count/d) × d.
    public func tensorView(_ t: ParameterTensor) -> Matrix<Float> { tensorView(offset: t.offset, count: t.count) }

    func tensorView(offset: Int, count: Int) -> Matrix<Float> {
        let d = config.dim
        return parameters.rows((offset / d)..<((offset + count) / d))
    }

    @discardableResult
    func activations(B: Int, T: Int, training: Bool) -> Activations {
        GPT.fitting(&acts, config: config, B: B, T: T, training: training)
    }

    /// The activations in `slot`, reshaped to (B, T) when they fit, else reallocated (the old ones freed first).
    static func fitting(_ slot: inout Activations?, config: GPTConfig, B: Int, T: Int, training: Bool) -> Activations {
        if let a = slot, a.training == training || (a.training && !training), a.fits(B: B, T: T) {
            a.reshape(B: B, T: T)
            return a
        }
        // Grow (never shrink) so that shapes seen before keep fitting: extraction batches by length, and each
        // length's B·T ≤ the token budget, while B·h·T² grows with T.
        // Inference grows geometrically (×2 on the dimension that no longer fits): extraction's lengths arrive in
        // increasing order and each reallocation zero-fills ~15·N·d floats, so growing exactly would reallocate
        // at every length. Training (L copies of every buffer, plus N×V logits) grows exactly.
        let keep = slot.flatMap { old -> (Int, Int)? in
            guard old.training == training else { return nil }
            let needN = B * T, needAtt = B * config.heads * T * T, g = training ? 1 : 2
            return (needN > old.capacityN ? max(needN, g * old.capacityN) : old.capacityN,
                    needAtt > old.capacityAtt ? max(needAtt, g * old.capacityAtt) : old.capacityAtt)
        }
        slot = nil  // free the old buffers before allocating new ones
        let a = Activations(config: config, B: B, T: T, training: training, withLogits: training,
                            capacityN: keep?.0, capacityAtt: keep?.1)
        slot = a
        return a
    }

    // MARK: Forward

    /// Runs the decoder through the final LayerNorm on `a.tokens` (B×T); f(s) lands in `a.lnf`.
    func forward(_ a: Activations) {
        let res = forwardBlocks(a, count: config.layers)
        let C = config.dim, p = parameters.pointer, o = layout
        layernormForward(out: a.lnf, mean: a.lnfMean, rstd: a.lnfRstd, inp: res, weight: p + o.lnfw,
                         bias: p + o.lnfb, N: a.N, C: C)
        scaleOutput(a.lnf, rows: a.N)
    }

    /// f ← c·f over `rows` rows of d (c = `config.outputScale`; nothing to do when c = 1). The backward pass
    /// scales dloss/df by the same c before the final LayerNorm's backward.
    func scaleOutput(_ f: UnsafeMutablePointer<Float>, rows: Int) {
        let c = config.outputScale
        guard c != 1 else { return }
        Float.scal(rows &* config.dim, c, f, 1)
    }

    /// Embeds `a.tokens` and runs the first `count` blocks on every position; returns the residual stream after
    /// them ((N,C): `a.encoded` when count = 0, else that layer's `res3`).
    func forwardBlocks(_ a: Activations, count: Int) -> UnsafePointer<Float> {
        var res = embed(a)
        for l in 0..<count { res = forwardBlock(a, layer: l, input: res) }
        return res
    }

    /// Token + position embeddings of `a.tokens` into `a.encoded` (N,C): the residual stream before block 0.
    func embed(_ a: Activations) -> UnsafePointer<Float> {
        let p = parameters.pointer, o = layout
        encoderForward(out: a.encoded, tokens: a.tokens, wte: p + o.wte, wpe: p + o.wpe, B: a.B, T: a.T, C: config.dim)
        return UnsafePointer(a.encoded)
    }

    /// Block `l` on every position: `res` (N,C), the residual stream before it → the stream after it (that layer's
    /// `res3`; in inference mode every layer shares one `res3`, so the result is overwritten by the next block).
    func forwardBlock(_ a: Activations, layer l: Int, input res: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let c = config, C = c.dim, B = a.B, T = a.T, N = a.N, h = c.heads
        let p = parameters.pointer, o = layout
        let k = l * a.layerFactor
        let ln1 = a.ln1 + k * a.sNC, ln1m = a.ln1Mean + k * a.sN, ln1r = a.ln1Rstd + k * a.sN
        let qkv = a.qkv + k * a.sN3C, atty = a.atty + k * a.sNC, att = a.att + k * a.sAtt
        let res2 = a.res2 + k * a.sNC, ln2 = a.ln2 + k * a.sNC
        let ln2m = a.ln2Mean + k * a.sN, ln2r = a.ln2Rstd + k * a.sN
        let fch = a.fch + k * a.sN4C, fchg = a.fchGelu + k * a.sN4C, res3 = a.res3 + k * a.sNC
        layernormForward(out: ln1, mean: ln1m, rstd: ln1r, inp: res, weight: p + o.ln1w + l * C,
                         bias: p + o.ln1b + l * C, N: N, C: C)
        matmulForward(out: qkv, inp: ln1, weight: p + o.qkvw + l * 3 * C * C, bias: p + o.qkvb + l * 3 * C,
                      N: N, C: C, OC: 3 * C)
        attentionForward(out: atty, att: att, qkv: qkv, B: B, T: T, C: C, heads: h)
        matmulForward(out: res2, inp: atty, weight: p + o.attprojw + l * C * C, bias: p + o.attprojb + l * C,
                      residual: res, N: N, C: C, OC: C)
        layernormForward(out: ln2, mean: ln2m, rstd: ln2r, inp: res2, weight: p + o.ln2w + l * C,
                         bias: p + o.ln2b + l * C, N: N, C: C)
        matmulForward(out: fch, inp: ln2, weight: p + o.fcw + l * 4 * C * C, bias: p + o.fcb + l * 4 * C,
                      N: N, C: C, OC: 4 * C)
        geluForward(out: fchg, inp: fch, count: N * 4 * C)
        matmulForward(out: res3, inp: fchg, weight: p + o.fcprojw + l * 4 * C * C, bias: p + o.fcprojb + l * C,
                      residual: res2, N: N, C: 4 * C, OC: C)
        return UnsafePointer(res3)
    }

    /// Inference only: f(s) at one position per sequence, `positions[b]` of sequence b, in `a.lnf` rows 0..<B.
    /// The first L−1 blocks run on every position; the last block needs keys and values at every position but
    /// queries, the attention output, the MLP and the final LayerNorm only at the B requested rows — so it
    /// costs 4d² instead of 24d² multiply-adds per other token (≈ 20 % of a 4-layer forward saved).
    /// Same arithmetic as `forward` row by row (up to summation order inside the GEMMs).
    func forwardAtPositions(_ a: Activations, positions: UnsafePointer<Int>) {
        lastBlockAtPositions(a, input: forwardBlocks(a, count: config.layers - 1), positions: positions)
    }

    /// The last block and the final LayerNorm at `positions` only (see `forwardAtPositions`), from `res` (N,C), the
    /// residual stream before the last block; f(s) lands in `a.lnf` rows 0..<B. Reads `res` but never writes it
    /// (nor `a.encoded` or `a.res3`), so a full pass of the last block can follow from the same `res`.
    func lastBlockAtPositions(_ a: Activations, input res: UnsafePointer<Float>, positions: UnsafePointer<Int>) {
        let c = config, C = c.dim, B = a.B, T = a.T, N = a.N, h = c.heads, L = c.layers
        let p = parameters.pointer, o = layout, l = L - 1, C3 = 3 * C
        // Keys and values at every position: qkv[:, C..<3C] = ln1(res)·W[C..<3C]ᵀ + b[C..<3C].
        layernormForward(out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: res, weight: p + o.ln1w + l * C,
                         bias: p + o.ln1b + l * C, N: N, C: C)
        let wqkv = p + o.qkvw + l * C3 * C, bqkv = p + o.qkvb + l * C3
        let qkv = a.qkv
        parallelChunks(N, minChunk: 64) { rows in
            for r in rows { (qkv + (r &* C3 &+ C)).update(from: bqkv + C, count: 2 &* C) }
        }
        BLAS.sgemm(transA: false, transB: true, m: N, n: 2 * C, k: C, a: a.ln1, lda: C, b: wqkv + C * C, ldb: C,
                   beta: 1, c: qkv + C, ldc: C3)
        // Queries at the B rows: xg = gathered ln1 rows (in ln2), q = xg·W[0..<C]ᵀ + b (in atty).
        let xg = a.ln2, q = a.atty, ya = a.fch, rg = a.lnf, r2 = a.res2, r3 = a.atty
        for b in 0..<B {
            let row = b * T + positions[b]
            (xg + b * C).update(from: a.ln1 + row * C, count: C)
            (rg + b * C).update(from: res + row * C, count: C)
        }
        matmulForward(out: q, inp: xg, weight: wqkv, bias: bqkv, N: B, C: C, OC: C)
        attentionAtPositions(out: ya, q: q, qkv: qkv, att: a.att, positions: positions, B: B, T: T, C: C, heads: h)
        matmulForward(out: r2, inp: ya, weight: p + o.attprojw + l * C * C, bias: p + o.attprojb + l * C,
                      residual: rg, N: B, C: C, OC: C)
        layernormForward(out: xg, mean: a.ln2Mean, rstd: a.ln2Rstd, inp: r2, weight: p + o.ln2w + l * C,
                         bias: p + o.ln2b + l * C, N: B, C: C)
        matmulForward(out: a.fch, inp: xg, weight: p + o.fcw + l * 4 * C * C, bias: p + o.fcb + l * 4 * C,
                      N: B, C: C, OC: 4 * C)
        geluForward(out: a.fchGelu, inp: a.fch, count: B * 4 * C)
        matmulForward(out: r3, inp: a.fchGelu, weight: p + o.fcprojw + l * 4 * C * C,
                      bias: p + o.fcprojb + l * C, residual: r2, N: B, C: 4 * C, OC: C)
        layernormForward(out: a.lnf, mean: a.lnfMean, rstd: a.lnfRstd, inp: r3, weight: p + o.lnfw,
                         bias: p + o.lnfb, N: B, C: C)
        scaleOutput(a.lnf, rows: B)
    }

    /// Fills `a.losses` with each row's objective loss (and, with `gradScale`, writes dloss/df into `a.dln` and
    /// accumulates dloss/dΦ into the gradient block `g` unless Φ is frozen). Returns the mean loss.
    /// `quadShared`: a half of a batch-parallel Quad step (see `quadForwardBackward`'s `shared`).
    func objectiveLoss(_ a: Activations, objective: Objective, gradScale: Float?,
                       gradients g: UnsafeMutablePointer<Float>? = nil, quadShared: Bool = false) -> Double {
        let C = config.dim, V = config.vocabSize, N = a.N
        let p = parameters.pointer, phi = p + layout.phi
        precondition(gradScale == nil || g != nil, "a gradient pass needs a gradient block")
        let dphi: UnsafeMutablePointer<Float>? = (gradScale == nil || freezePhi) ? nil : g.map { $0 + layout.phi }
        switch objective {
        case .ce:
            guard let logits = a.logits else { preconditionFailure("cross-entropy needs logits buffers") }
            // logits = f·Φᵀ  (N×V)
            BLAS.sgemm(transA: false, transB: true, m: N, n: V, k: C, a: a.lnf, lda: C, b: phi, ldb: C, beta: 0,
                       c: logits, ldc: V)
            crossEntropyForwardBackward(logits: logits, losses: a.losses, targets: a.targets, N: N, V: V,
                                        gradScale: gradScale)
            if gradScale != nil {
                // Differentiates `logits = f·Φᵀ`: df = dlogits·Φ, dΦ += dlogitsᵀ·f
                BLAS.sgemm(transA: false, transB: false, m: N, n: C, k: V, a: logits, lda: V, b: phi, ldb: C,
                           beta: 0, c: a.dln, ldc: C)
                if let dphi {
                    BLAS.sgemm(transA: true, transB: false, m: V, n: C, k: N, a: logits, lda: V, b: a.lnf, ldb: C,
                               beta: 1, c: dphi, ldc: C)
                }
            }
        case .quad:
            quadForwardBackward(f: a.lnf, phi: phi, targets: a.targets, losses: a.losses,
                                df: gradScale == nil ? nil : a.dln, dphi: dphi, gradScale: gradScale ?? 0,
                                workspace: a.quad, N: N, d: C, V: V, shared: quadShared)
        }
        var s = 0.0
        for i in 0..<N { s += Double(a.losses[i]) }
        return s / Double(N)
    }

    // MARK: Backward

    /// Backpropagates dloss/df (in `a.dln`) to every parameter gradient, accumulated into the block `g` (laid out
    /// like `parameters`).
    func backward(_ a: Activations, gradients g: UnsafeMutablePointer<Float>) {
        let c = config, C = c.dim, B = a.B, T = a.T, N = a.N, h = c.heads
        let p = parameters.pointer, o = layout
        let lastRes = c.layers > 0 ? a.res3 + (c.layers - 1) * a.sNC : a.encoded
        a.dres.update(repeating: 0, count: N * C)
        scaleOutput(a.dln, rows: N)   // f = c·LN(x): dLN = c·df
        layernormBackward(dinp: a.dres, dweight: g + o.lnfw, dbias: g + o.lnfb, scratch: a.scratch, ones: a.ones,
                          dout: a.dln, inp: lastRes, weight: p + o.lnfw, mean: a.lnfMean, rstd: a.lnfRstd, N: N, C: C)
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let res = l == 0 ? UnsafePointer(a.encoded) : UnsafePointer(a.res3 + (l - 1) * a.sNC)
            let ln1 = a.ln1 + l * a.sNC, ln1m = a.ln1Mean + l * a.sN, ln1r = a.ln1Rstd + l * a.sN
            let qkv = a.qkv + l * a.sN3C, atty = a.atty + l * a.sNC, att = a.att + l * a.sAtt
            let res2 = a.res2 + l * a.sNC, ln2 = a.ln2 + l * a.sNC
            let ln2m = a.ln2Mean + l * a.sN, ln2r = a.ln2Rstd + l * a.sN
            let fch = a.fch + l * a.sN4C, fchg = a.fchGelu + l * a.sN4C
            // res3 = res2 + fchg·fcprojwᵀ + fcprojb      (dres holds dres3, which is also dres2's identity path)
            matmulBackward(dinp: a.dfch, dweight: g + o.fcprojw + l * 4 * C * C, dbias: g + o.fcprojb + l * C,
                           dout: a.dres, inp: fchg, weight: p + o.fcprojw + l * 4 * C * C, ones: a.ones,
                           N: N, C: 4 * C, OC: C)
            geluBackward(dinp: a.dfch, inp: fch, dout: a.dfch, count: N * 4 * C)
            matmulBackward(dinp: a.dln, dweight: g + o.fcw + l * 4 * C * C, dbias: g + o.fcb + l * 4 * C,
                           dout: a.dfch, inp: ln2, weight: p + o.fcw + l * 4 * C * C, ones: a.ones,
                           N: N, C: C, OC: 4 * C)
            layernormBackward(dinp: a.dres, dweight: g + o.ln2w + l * C, dbias: g + o.ln2b + l * C,
                              scratch: a.scratch, ones: a.ones, dout: a.dln, inp: res2, weight: p + o.ln2w + l * C,
                              mean: ln2m, rstd: ln2r, N: N, C: C)
            // res2 = res + atty·attprojwᵀ + attprojb
            matmulBackward(dinp: a.datty, dweight: g + o.attprojw + l * C * C, dbias: g + o.attprojb + l * C,
                           dout: a.dres, inp: atty, weight: p + o.attprojw + l * C * C, ones: a.ones,
                           N: N, C: C, OC: C)
            attentionBackward(dqkv: a.dqkv, datt: a.datt, dout: a.datty, qkv: qkv, att: att, B: B, T: T, C: C,
                              heads: h)
            matmulBackward(dinp: a.dln, dweight: g + o.qkvw + l * 3 * C * C, dbias: g + o.qkvb + l * 3 * C,
                           dout: a.dqkv, inp: ln1, weight: p + o.qkvw + l * 3 * C * C, ones: a.ones,
                           N: N, C: C, OC: 3 * C)
            layernormBackward(dinp: a.dres, dweight: g + o.ln1w + l * C, dbias: g + o.ln1b + l * C,
                              scratch: a.scratch, ones: a.ones, dout: a.dln, inp: res, weight: p + o.ln1w + l * C,
                              mean: ln1m, rstd: ln1r, N: N, C: C)
        }
        let wteFrozen = freezePhi && !c.untiedPhi
        encoderBackward(dwte: wteFrozen ? nil : g + o.wte, dwpe: g + o.wpe, dout: a.dres, tokens: a.tokens,
                        B: B, T: T, C: C)
    }

    // MARK: Training entry points

    /// Zeroes the gradient block (call once per optimizer step, before the micro-batches).
    public func zeroGradients() { gradients.pointer.update(repeating: 0, count: layout.count) }

    /// Forward + backward on one batch of B sequences of length T (`inputs` and `targets` row-major B×T), adding
    /// `lossScale`·∇(mean loss) to the gradients. Returns the mean objective loss of the batch.
    /// With `batchParallel`, ≥ 2 threads and B ≥ 2, the two halves of the batch run on one core each (see
    /// `batchParallel`).
    public func forwardBackward(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                                batch B: Int, length T: Int, lossScale: Float = 1) throws -> Double {
        let g = gradients.pointer                  // the lazy blocks are created here, before any worker runs
        let scale = lossScale / Float(B * T)       // each row's share of the batch mean, in either path
        guard batchParallel, Threads.count >= 2, B >= 2 else {
            let a = try prepare(inputs: inputs, targets: targets, B: B, T: T, training: true)
            forward(a)
            let loss = objectiveLoss(a, objective: config.objective, gradScale: scale, gradients: g)
            backward(a, gradients: g)
            return loss
        }
        try checkBatch(inputs: inputs, targets: targets, B: B, T: T)
        let g1 = replicaGradients.pointer
        let B0 = (B + 1) / 2, B1 = B - B0
        let halves = [activations(B: B0, T: T, training: true),
                      GPT.fitting(&replicaActs, config: config, B: B1, T: T, training: true)]
        halves[0].load(inputs: inputs.baseAddress!, targets: targets.baseAddress!, count: B0 * T)
        halves[1].load(inputs: inputs.baseAddress! + B0 * T, targets: targets.baseAddress! + B0 * T, count: B1 * T)
        g1.update(repeating: 0, count: layout.count)
        // Quad: the V-sized products once per step, on both cores — G = ΦᵀΦ before the halves, dΦ += Φ·(S₀ + S₁)
        // after them.
        let C = config.dim, V = config.vocabSize, phi = parameters.pointer + layout.phi
        let quad = config.objective == .quad
        if quad {
            quadGram(phi: phi, into: halves[0].quad.gram, d: C, V: V)
            halves[1].quad.gram.update(from: halves[0].quad.gram, count: C * C)
        }
        var losses = [0.0, 0.0]
        losses.withUnsafeMutableBufferPointer { out in
            Threads.oneCoreEach(2) { w in
                let a = halves[w], gw = w == 0 ? g : g1
                forward(a)
                out[w] = objectiveLoss(a, objective: config.objective, gradScale: scale, gradients: gw,
                                       quadShared: quad)
                backward(a, gradients: gw)
            }
        }
        try BLAS.axpy(alpha: 1, replicaGradients, gradients)   // g += g1 (both cores are free again)
        if quad && !freezePhi {
            let s0 = halves[0].quad.fTf
            Float.axpy(C * C, 1, halves[1].quad.fTf, 1, s0, 1)   // S₀ += S₁
            quadPhiS(phi: phi, s: s0, dphi: g + layout.phi, d: C, V: V)
        }
        return (losses[0] * Double(B0) + losses[1] * Double(B1)) / Double(B)
    }

    /// Mean losses on one batch without gradients: the model's own objective and the cross-entropy of
    /// softmax(Φf) (for a CE model the two coincide).
    public func evaluate(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                         batch B: Int, length T: Int) throws -> (objective: Double, crossEntropy: Double) {
        let a = try prepare(inputs: inputs, targets: targets, B: B, T: T, training: true)
        forward(a)
        let ce = objectiveLoss(a, objective: .ce, gradScale: nil)
        if config.objective == .ce { return (ce, ce) }
        return (objectiveLoss(a, objective: config.objective, gradScale: nil), ce)
    }

    func prepare(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>?, B: Int, T: Int,
                 training: Bool) throws -> Activations {
        try checkBatch(inputs: inputs, targets: targets, B: B, T: T)
        let a = activations(B: B, T: T, training: training)
        a.load(inputs: inputs.baseAddress!, targets: targets?.baseAddress, count: B * T)
        return a
    }

    /// Throws unless `inputs` (and `targets`) hold B·T ids of this vocabulary and (B, T) fits the context.
    func checkBatch(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>?, B: Int, T: Int) throws {
        guard B >= 1, T >= 1, T <= config.context else {
            throw ModelError.badInput("batch shape \(B)×\(T) invalid for context \(config.context)")
        }
        guard inputs.count == B * T, targets == nil || targets!.count == B * T else {
            throw ModelError.badInput("expected \(B * T) token ids (B=\(B), T=\(T)), got \(inputs.count)")
        }
        let V = Int32(config.vocabSize)
        for (i, t) in inputs.enumerated() where t < 0 || t >= V {
            throw ModelError.badInput("token id \(t) at index \(i) is outside the vocabulary 0..<\(V)")
        }
        if let targets {
            for (i, t) in targets.enumerated() where t < 0 || t >= V {
                throw ModelError.badInput("target id \(t) at index \(i) is outside the vocabulary 0..<\(V)")
            }
        }
    }

    // MARK: Inference (the Features stage's entry point)

    /// f(s) — the final-LayerNorm output — for B sequences of length T at one position per row.
    ///
    /// - Parameters:
    ///   - tokens: B·T token ids, row-major (sequence b is tokens[b·T ..< (b+1)·T]); pad short sequences with any
    ///     valid id after their last real token (causal attention: padding never affects earlier positions).
    ///   - batch: B ≥ 1.  - length: T, 1 ≤ T ≤ `config.context`.
    ///   - positions: B positions in 0..<T, e.g. each sequence's last real token.
    /// - Returns: a B × d matrix, row b = f(s_b) at `positions[b]`.
    /// Activations grow to the largest (B, T) seen and are reused for every shape that fits.
    public func contextEmbeddings(tokens: [Int32], batch B: Int, length T: Int,
                                  positions: [Int]) throws -> Matrix<Float> {
        guard positions.count == B else {
            throw ModelError.badInput("expected \(B) positions (one per sequence), got \(positions.count)")
        }
        for (b, t) in positions.enumerated() where t < 0 || t >= T {
            throw ModelError.badInput("position \(t) of sequence \(b) is outside 0..<\(T)")
        }
        let a = try tokens.withUnsafeBufferPointer {
            try prepare(inputs: $0, targets: nil, B: B, T: T, training: false)
        }
        forward(a)
        let C = config.dim
        let out = Matrix<Float>(rows: B, cols: C)
        for b in 0..<B { (out.pointer + b * C).update(from: a.lnf + (b * T + positions[b]) * C, count: C) }
        return out
    }

    /// f(s) at every position: a (B·T) × d matrix, row b·T + t = f of sequence b's prefix ending at t.
    public func contextEmbeddings(tokens: [Int32], batch B: Int, length T: Int) throws -> Matrix<Float> {
        let a = try tokens.withUnsafeBufferPointer {
            try prepare(inputs: $0, targets: nil, B: B, T: T, training: false)
        }
        forward(a)
        let out = Matrix<Float>(rows: B * T, cols: config.dim)
        out.pointer.update(from: a.lnf, count: B * T * config.dim)
        return out
    }
}

extension GPT {
    /// Times the phases of one training forward/backward (for `lmprobe bench train --breakdown`): seconds spent in
    /// the decoder forward, the objective (loss + its gradient w.r.t. f and Φ), and the decoder backward.
    public func profileStep(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                            batch B: Int, length T: Int) throws -> [(String, Double)] {
        let a = try prepare(inputs: inputs, targets: targets, B: B, T: T, training: true)
        zeroGradients()
        let g = gradients.pointer
        let t0 = Benchmark.now()
        forward(a)
        let t1 = Benchmark.now()
        _ = objectiveLoss(a, objective: config.objective, gradScale: 1 / Float(a.N), gradients: g)
        let t2 = Benchmark.now()
        backward(a, gradients: g)
        let t3 = Benchmark.now()
        return [("forward", t1 - t0), ("objective", t2 - t1), ("backward", t3 - t2)]
    }
}

/// Members matching the Features stage's `ContextEncoder` requirements, so that stage conforms with a one-line
/// `extension GPT: ContextEncoder {}` (Model cannot import Features).
extension GPT {
    /// d, the width of f(s).
    public var embeddingDimension: Int { config.dim }
    /// V.
    public var vocabularySize: Int { config.vocabSize }
    /// The context length T.
    public var maxContextLength: Int { config.context }
    /// L, the number of transformer blocks.
    public var blockCount: Int { config.layers }
    /// Φ as a V × d view (row w = φ_w); same as `phi`.
    public var outputEmbeddings: Matrix<Float> { phi }

    /// f(s) at the last position of each of `batch` sequences of exactly `length` tokens ((batch, length)
    /// row-major ids). Returns batch × d. Runs the last block at the last positions only (`forwardAtPositions`),
    /// so it agrees with `contextEmbeddings` to float rounding, not bit for bit.
    public func lastPositionFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int) throws -> Matrix<Float> {
        guard batch >= 1, length >= 1 else {
            throw ModelError.badInput("batch shape \(batch)×\(length) invalid for context \(config.context)")
        }
        let a = try prepare(inputs: UnsafeBufferPointer(start: tokens, count: batch * length), targets: nil,
                            B: batch, T: length, training: false)
        let positions = [Int](repeating: length - 1, count: batch)
        positions.withUnsafeBufferPointer { forwardAtPositions(a, positions: $0.baseAddress!) }
        let out = Matrix<Float>(rows: batch, cols: config.dim)
        out.pointer.update(from: a.lnf, count: batch * config.dim)
        return out
    }

    /// A hidden state of each of `batch` sequences of exactly `length` tokens ((batch, length) row-major ids),
    /// read at the last position or averaged over all `length` positions. Returns batch × d.
    ///
    /// - layer: nil = f(s), the final-LayerNorm output (the paper's feature); k in 0...L = the residual stream
    ///   after block k (0 = token + position embeddings), before any LayerNorm — so layer L is f(s) without the
    ///   final LayerNorm. Only the first k blocks run.
    /// - meanOverPositions: false = the last position (for layer nil this is `lastPositionFeatures`, the
    ///   last-block shortcut); true = (1/T)·Σ_t h_t over every position t of the sequence, each h_t seeing the
    ///   causal prefix ending at t.
    public func sequenceFeatures(tokens: UnsafePointer<Int32>, batch B: Int, length T: Int, layer: Int?,
                                 meanOverPositions: Bool) throws -> Matrix<Float> {
        if let k = layer, k < 0 || k > config.layers {
            throw ModelError.badInput("layer \(k) is outside 0...\(config.layers) (0 = embeddings, \(config.layers) = after the last block)")
        }
        if layer == nil && !meanOverPositions { return try lastPositionFeatures(tokens: tokens, batch: B, length: T) }
        guard B >= 1, T >= 1 else {
            throw ModelError.badInput("batch shape \(B)×\(T) invalid for context \(config.context)")
        }
        let a = try prepare(inputs: UnsafeBufferPointer(start: tokens, count: B * T), targets: nil, B: B, T: T,
                            training: false)
        let h: UnsafePointer<Float>                                         // (B·T, C): the hidden state read
        if let k = layer { h = forwardBlocks(a, count: k) } else { forward(a); h = UnsafePointer(a.lnf) }
        let C = config.dim
        let out = Matrix<Float>(rows: B, cols: C)
        let o = out.pointer
        if meanOverPositions {
            // out[b, :] = (1/T)·1ᵀ·h[b·T ..< (b+1)·T, :]   (1×T)·(T×C) per sequence
            for b in 0..<B {
                BLAS.sgemm(transA: false, transB: false, m: 1, n: C, k: T, alpha: 1 / Float(T), a: a.ones, lda: T,
                           b: h + b &* T &* C, ldb: C, beta: 0, c: o + b &* C, ldc: C)
            }
        } else {
            for b in 0..<B { (o + b &* C).update(from: h + (b &* T &+ T &- 1) &* C, count: C) }
        }
        return out
    }

    /// Several readouts of `sequenceFeatures` from ONE forward pass: readout i is what
    /// `sequenceFeatures(tokens:batch:length:layer: readouts[i].layer, meanOverPositions: readouts[i].meanOverPositions)`
    /// returns, bit for bit (the same kernels on the same buffers in the same order; a test asserts it). The
    /// blocks run once on every position up to the deepest block asked for; the paper's f(s) (layer nil, last
    /// position) takes the last-block shortcut (`lastBlockAtPositions`) from the stream before the last block,
    /// before the full last block runs for any readout that needs it.
    public func sequenceFeatures(tokens: UnsafePointer<Int32>, batch B: Int, length T: Int,
                                 readouts: [(layer: Int?, meanOverPositions: Bool)]) throws -> [Matrix<Float>] {
        let L = config.layers, C = config.dim
        for r in readouts {
            if let k = r.layer, k < 0 || k > L {
                throw ModelError.badInput("layer \(k) is outside 0...\(L) (0 = embeddings, \(L) = after the last block)")
            }
        }
        guard B >= 1, T >= 1 else { throw ModelError.badInput("batch shape \(B)×\(T) invalid for context \(config.context)") }
        let a = try prepare(inputs: UnsafeBufferPointer(start: tokens, count: B * T), targets: nil, B: B, T: T,
                            training: false)
        let out = readouts.map { _ in Matrix<Float>(rows: B, cols: C) }
        // Copies the readouts of hidden state `h` (N,C) — layer `k`, or f(s) when k is nil — into `out`.
        func read(_ h: UnsafePointer<Float>, layer k: Int?) {
            for (i, r) in readouts.enumerated() where r.layer == k && (k != nil || r.meanOverPositions) {
                let o = out[i].pointer
                if r.meanOverPositions {
                    // out[b, :] = (1/T)·1ᵀ·h[b·T ..< (b+1)·T, :]   (1×T)·(T×C) per sequence
                    for b in 0..<B {
                        BLAS.sgemm(transA: false, transB: false, m: 1, n: C, k: T, alpha: 1 / Float(T), a: a.ones, lda: T,
                                   b: h + b &* T &* C, ldb: C, beta: 0, c: o + b &* C, ldc: C)
                    }
                } else {
                    for b in 0..<B { (o + b &* C).update(from: h + (b &* T &+ T &- 1) &* C, count: C) }
                }
            }
        }
        let lastF = readouts.indices.filter { readouts[$0].layer == nil && !readouts[$0].meanOverPositions }
        let meanF = readouts.contains { $0.layer == nil && $0.meanOverPositions }
        // Blocks run on every position: up to the deepest readout, and the L − 1 before f(s)'s shortcut.
        let fullBlocks = max(meanF ? L : readouts.compactMap(\.layer).max() ?? 0, lastF.isEmpty ? 0 : L - 1)
        var res = embed(a)
        read(res, layer: 0)
        for l in 0..<L {
            if l == L - 1, !lastF.isEmpty {
                let positions = [Int](repeating: T - 1, count: B)
                positions.withUnsafeBufferPointer { lastBlockAtPositions(a, input: res, positions: $0.baseAddress!) }
                for i in lastF { out[i].pointer.update(from: a.lnf, count: B * C) }
            }
            guard l < fullBlocks else { break }
            res = forwardBlock(a, layer: l, input: res)
            read(res, layer: l + 1)
        }
        if meanF {
            let p = parameters.pointer, o = layout
            layernormForward(out: a.lnf, mean: a.lnfMean, rstd: a.lnfRstd, inp: res, weight: p + o.lnfw,
                             bias: p + o.lnfb, N: a.N, C: C)
            scaleOutput(a.lnf, rows: a.N)
            read(UnsafePointer(a.lnf), layer: nil)
        }
        return out
    }
}
