import Foundation
import Support

/// One validation measurement: the model's own objective and the cross-entropy of softmax(Φf) (equal for CE).
public struct ValidationRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double
    public var crossEntropy: Double
    public var perplexity: Double { Foundation.exp(crossEntropy) }
}

/// Everything exact resumption needs beyond the parameters and AdamW moments.
public struct TrainingState: Codable, Equatable, Sendable {
    /// Optimizer steps completed.
    public var step: Int
    public var schedule: LearningRateSchedule
    public var options: TrainingOptions
    /// xoshiro256** state of the batch sampler (hex words): the data cursor.
    public var samplerState: [String]
    public var adamSteps: Int
    public var tokensSeen: Int
    public var validation: [ValidationRecord]
    /// Thread count of the run (bit-identical resumption needs the same count).
    public var threads: Int
    /// Ranks of a data-parallel run (nil in single-process runs and in checkpoints older than the field);
    /// `--resume` requires the same number.
    public var ranks: Int? = nil
}

/// One checkpoint file of a pretraining run (`Checkpoint.list(in:)`): RUNDIR/ckpt-STEP.safetensors or final.
public struct RunCheckpoint: Equatable, Sendable {
    public let url: URL
    public let step: Int
    /// "ckpt-STEP" or "final".
    public let label: String
}

/// A checkpoint: an lmprobe file RUNDIR/ckpt-STEP.safetensors (and RUNDIR/final.safetensors, RUNDIR/latest naming
/// the newest), or a Hugging Face GPT-2 folder (config.json + model.safetensors + tokenizer files; see
/// `HuggingFaceGPT2`). The lmprobe file format is documented in docs/checkpoint-format.md:
///
/// Tensors (F32): the parameter tensors by name (see `ParameterLayout`, e.g. "wte" (V,d), "blocks.attn.qkv.weight"
/// (L,3d,d), "phi" (V,d) when untied), plus "optimizer.m"/"optimizer.v" (flat) in training checkpoints only.
/// Metadata (strings): "format" = "lmprobe-checkpoint-1", "config" (JSON `GPTConfig`), "step", "tokenizer"
/// (tokenizer directory), "tokens_hash", "data" (token directory), "validation" (JSON array of
/// `ValidationRecord`), "training" (JSON `TrainingState`, training checkpoints only), and "lmprobe.digests".
public struct Checkpoint {
    public static let format = "lmprobe-checkpoint-1"

    public let url: URL
    public let model: GPT
    public var config: GPTConfig { model.config }
    public let step: Int
    public let validation: [ValidationRecord]
    public let tokenizerDirectory: String?
    public let tokensHash: String?
    public let metadata: [String: String]
    /// The file's identity (`SafeTensors.File.identity()`): SHA-256 of the header for lmprobe files (whose header
    /// carries every tensor's verified digest), of the whole file otherwise. Computed once, while loading.
    public let sha256: String

    /// The training state of a training checkpoint (options, tokens seen, …); nil when none is recorded.
    public var trainingState: TrainingState? {
        metadata["training"].flatMap { try? JSONCoding.decoder().decode(TrainingState.self, from: Data($0.utf8)) }
    }

    /// Loads a checkpoint for inference/analysis. `url` may be a checkpoint file, a run directory (then
    /// final.safetensors, else the file named by `latest`) or a Hugging Face GPT-2 folder (or its
    /// model.safetensors). Throws `ModelError.badCheckpoint` with a one-line reason for anything malformed,
    /// truncated, damaged or unsupported.
    public static func load(url: URL) throws -> Checkpoint {
        let fileURL = try resolve(url)
        if let imported = try HuggingFaceGPT2.importCheckpoint(fileURL) { return imported }
        let file = try SafeTensors.read(fileURL)
        let model = try modelFrom(file)
        let m = file.metadata
        let validation = m["validation"].flatMap { try? JSONCoding.decoder().decode([ValidationRecord].self, from: Data($0.utf8)) } ?? []
        return Checkpoint(url: file.url, model: model, step: Int(m["step"] ?? "") ?? 0, validation: validation,
                          tokenizerDirectory: m["tokenizer"], tokensHash: m["tokens_hash"], metadata: m,
                          sha256: file.identity())
    }

    /// A file path, or for a directory its final.safetensors, the checkpoint named by its `latest` file, or (a
    /// Hugging Face folder) its model.safetensors or shard index (`HuggingFaceGPT2.weightsURL(in:)`).
    public static func resolve(_ url: URL) throws -> URL {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ModelError.io(path: url.path, reason: "no such checkpoint file or run directory")
        }
        if !isDir.boolValue { return url }
        let final = url.appendingPathComponent("final.safetensors")
        if FileManager.default.fileExists(atPath: final.path) { return final }
        if let weights = try HuggingFaceGPT2.weightsURL(in: url) { return weights }
        return try latest(in: url)
    }

    /// The checkpoint named by RUNDIR/latest.
    public static func latest(in runDirectory: URL) throws -> URL {
        let pointer = runDirectory.appendingPathComponent("latest")
        guard let name = try? String(contentsOf: pointer, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else {
            throw ModelError.io(path: pointer.path, reason: "no checkpoint pointer (has this run written a checkpoint?)")
        }
        return runDirectory.appendingPathComponent(name)
    }

    /// RUNDIR/ckpt-STEP.safetensors sorted by step, then RUNDIR/final.safetensors unless its step is already listed
    /// (final is normally a hard link to the last ckpt-STEP; otherwise its step is read from its header, without
    /// loading its weights). Throws when the folder holds none.
    public static func list(in run: URL) throws -> [RunCheckpoint] {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: run.path) } catch {
            throw ModelError.io(path: run.path, reason: "not a readable run directory")
        }
        var out: [RunCheckpoint] = []
        for name in names where name.hasPrefix("ckpt-") && name.hasSuffix(".safetensors") {
            guard let step = Int(name.dropFirst(5).dropLast(12)) else { continue }
            out.append(RunCheckpoint(url: run.appendingPathComponent(name), step: step,
                                     label: String(name.dropLast(12))))
        }
        out.sort { $0.step < $1.step }
        let final = run.appendingPathComponent("final.safetensors")
        if fm.fileExists(atPath: final.path) {
            func inode(_ url: URL) -> (UInt64, UInt64)? {
                var st = stat()
                return stat(url.path, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
            }
            let finalNode = inode(final)
            let linked = out.contains { c in finalNode != nil && inode(c.url).map { $0 == finalNode! } == true }
            if !linked {
                // The step as `load` reads it (0 when none is recorded, e.g. a Hugging Face file).
                let step = Int(try SafeTensors.read(final).metadata["step"] ?? "") ?? 0
                if !out.contains(where: { $0.step == step }) {
                    out.append(RunCheckpoint(url: final, step: step, label: "final"))
                    out.sort { $0.step < $1.step }
                }
            }
        }
        guard !out.isEmpty else {
            throw ModelError.io(path: run.path, reason: "no ckpt-*.safetensors or final.safetensors (pretrain with --keep-checkpoints to keep them all)")
        }
        return out
    }

    static func modelFrom(_ file: SafeTensors.File) throws -> GPT {
        let path = file.url.path
        guard file.metadata["format"] == format else {
            throw ModelError.badCheckpoint(path: path, reason: "metadata format is \(file.metadata["format"] ?? "missing"), expected \(format)")
        }
        guard let cj = file.metadata["config"],
              let config = try? JSONCoding.decoder().decode(GPTConfig.self, from: Data(cj.utf8)) else {
            throw ModelError.badCheckpoint(path: path, reason: "metadata \"config\" is missing or malformed")
        }
        do { try config.validate() } catch { throw ModelError.badCheckpoint(path: path, reason: "\(error)") }
        // Every tensor must be present with the shape the config implies (sizes computed with overflow checks)
        // before the parameter block is allocated: the block is then justified by bytes present in the file.
        let names = try expectedTensors(config, path: path)
        for (name, shape) in names { _ = try file.info(name, shape: shape) }
        let model = try GPT(config: config) { block, layout in
            for t in layout.tensors { try file.copy(t.name, shape: t.shape, into: block + t.offset) }
        }
        guard model.parameters.allFinite else {
            throw ModelError.badCheckpoint(path: path, reason: "parameters contain NaN or infinity")
        }
        return model
    }

    /// The parameter tensors (names and shapes, as in `ParameterLayout`) a config implies, each size computed with
    /// overflow-reporting arithmetic; throws naming the config when a size overflows.
    static func expectedTensors(_ c: GPTConfig, path: String) throws -> [(String, [Int])] {
        let L = c.layers, C = c.dim, V = c.vocabSize, T = c.context
        func times(_ a: Int, _ b: Int) throws -> Int {
            let (m, o) = a.multipliedReportingOverflow(by: b)
            if o { throw ModelError.badCheckpoint(path: path, reason: "config \(c) implies tensor sizes that overflow") }
            return m
        }
        let C3 = try times(3, C), C4 = try times(4, C)
        var list: [(String, [Int])] = [("wte", [V, C]), ("wpe", [T, C]), ("blocks.ln1.weight", [L, C]),
            ("blocks.ln1.bias", [L, C]), ("blocks.attn.qkv.weight", [L, C3, C]), ("blocks.attn.qkv.bias", [L, C3]),
            ("blocks.attn.proj.weight", [L, C, C]), ("blocks.attn.proj.bias", [L, C]), ("blocks.ln2.weight", [L, C]),
            ("blocks.ln2.bias", [L, C]), ("blocks.mlp.fc.weight", [L, C4, C]), ("blocks.mlp.fc.bias", [L, C4]),
            ("blocks.mlp.proj.weight", [L, C, C4]), ("blocks.mlp.proj.bias", [L, C]), ("lnf.weight", [C]),
            ("lnf.bias", [C])]
        if c.untiedPhi { list.append(("phi", [V, C])) }
        var total = 0
        for (_, shape) in list {
            var n = 1
            for s in shape { n = try times(n, s) }
            let (t, o) = total.addingReportingOverflow(n)
            if o { throw ModelError.badCheckpoint(path: path, reason: "config \(c) implies a parameter count that overflows") }
            total = t
        }
        return list
    }

    /// Writes a checkpoint atomically. With `optimizer` and `state` it is a training checkpoint (resumable);
    /// without, a weights-only checkpoint (a third of the size; `dtype` .f16 halves it again).
    public static func save(to url: URL, model: GPT, step: Int, optimizer: AdamW?, state: TrainingState?,
                            tokenizer: String?, tokensHash: String?, dataDirectory: String?,
                            validation: [ValidationRecord], dtype: SafeTensors.DType = .f32) throws {
        let enc = JSONCoding.encoder(pretty: false)
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try enc.encode(v), as: UTF8.self) }
        var meta: [String: String] = ["format": format, "config": try json(model.config), "step": "\(step)",
                                      "validation": try json(validation)]
        if let tokenizer { meta["tokenizer"] = tokenizer }
        if let tokensHash { meta["tokens_hash"] = tokensHash }
        if let dataDirectory { meta["data"] = dataDirectory }
        if let state { meta["training"] = try json(state) }
        let p = UnsafePointer(model.parameters.pointer)
        var tensors = model.layout.tensors.map { t in
            (name: t.name, shape: t.shape, data: UnsafeBufferPointer(start: p + t.offset, count: t.count))
        }
        if let optimizer {
            let n = model.layout.count
            tensors.append((name: "optimizer.m", shape: [n], data: UnsafeBufferPointer(start: optimizer.m.pointer, count: n)))
            tensors.append((name: "optimizer.v", shape: [n], data: UnsafeBufferPointer(start: optimizer.v.pointer, count: n)))
        }
        try SafeTensors.write(to: url, tensors: tensors, metadata: meta, dtype: dtype)
    }

    /// Loads a training checkpoint for `--resume`: model, AdamW moments and training state.
    public static func loadForResume(url: URL) throws -> (model: GPT, optimizer: AdamW, state: TrainingState,
                                                           metadata: [String: String]) {
        let file = try SafeTensors.read(url)
        guard file.metadata["training"] != nil else {
            throw ModelError.badCheckpoint(path: url.path, reason: "no training state (a weights-only checkpoint cannot be resumed)")
        }
        let model = try modelFrom(file)
        guard let sj = file.metadata["training"],
              let state = try? JSONCoding.decoder().decode(TrainingState.self, from: Data(sj.utf8)) else {
            throw ModelError.badCheckpoint(path: url.path, reason: "no training state (not a resumable checkpoint)")
        }
        model.freezePhi = state.options.freezePhi
        for name in ["optimizer.m", "optimizer.v"] { _ = try file.info(name, shape: [model.layout.count]) }
        let frozen = state.options.freezePhi ? [model.layout.phi..<(model.layout.phi + model.config.vocabSize * model.config.dim)] : []
        let opt = AdamW(layout: model.layout, dim: model.config.dim, frozen: frozen)
        try file.copy("optimizer.m", shape: [model.layout.count], into: opt.m.pointer)
        try file.copy("optimizer.v", shape: [model.layout.count], into: opt.v.pointer)
        opt.stepsTaken = state.adamSteps
        return (model, opt, state, file.metadata)
    }
}

extension GPT {
    /// Copies Φ from another model (e.g. a CE model, for Quad with `--phi-from`); V and d must agree.
    public func copyPhi(from other: GPT) throws {
        guard other.config.vocabSize == config.vocabSize, other.config.dim == config.dim else {
            throw ModelError.invalidConfig("cannot copy Φ of shape \(other.config.vocabSize)×\(other.config.dim) into \(config.vocabSize)×\(config.dim)")
        }
        try phi.assign(other.phi)
    }

    /// 1/‖Φ‖_F: the output scale (`GPTConfig.outputScale`) at which a unit-variance LayerNorm output x gives
    /// E‖Φ·c·x‖² = c²·trace(ΦᵀΦ) = 1, i.e. a first Quad loss near ½ whatever Φ's scale. Throws when Φ is zero.
    public func unitOutputScale() throws -> Float {
        let n = config.vocabSize &* config.dim, p = phi.pointer
        var s = 0.0
        for i in 0..<n { let v = Double(p[i]); s += v * v }
        guard s > 0, s.isFinite else { throw ModelError.invalidConfig("Φ has Frobenius norm \(s.squareRoot()): no output scale 1/‖Φ‖_F") }
        return Float(1 / s.squareRoot())
    }

    /// The same weights with f(s) = c·LayerNorm output (a new model over a copy of the block; see
    /// `GPTConfig.outputScale`). `freezePhi` carries over.
    public func withOutputScale(_ c: Float) throws -> GPT {
        var config = self.config
        config.outputScale = c
        let m = try GPT(config: config) { block, layout in block.update(from: parameters.pointer, count: layout.count) }
        m.freezePhi = freezePhi
        return m
    }
}
