import Foundation
import Linalg
import Support
import Text

/// Hugging Face GPT-2 folders in and out: `config.json` + `model.safetensors`, or sharded weights
/// (`model.safetensors.index.json` + shards); a `pytorch_model.bin`-only folder is refused with the command that
/// converts it (the tokenizer files are the Text stage's business: `BPETokenizer(directory:)` reads
/// `vocab.json`/`merges.txt`, `encoder.json`/`vocab.bpe`, or `tokenizer.json` alone). An imported model's step is
/// unknown (`Checkpoint.recordedStep` nil), its objective is config.json's `lmprobe_objective` (ce when absent), and
/// its vocabulary may be larger than its tokenizer's (`Checkpoint.rowsPastTokenizer`).
///
/// The architectures agree exactly: token + learned positional embeddings, pre-LayerNorm blocks, causal attention
/// scaled by 1/√(d/h), a 4d MLP with tanh-GELU ("gelu_new"), a final LayerNorm (ε = 1e-5) whose output is f(s),
/// and logits Φf with Φ = `wte` (tied) or `lm_head.weight` (untied). Name and layout mapping (l = layer):
///
/// | Hugging Face (optionally prefixed `transformer.`) | shape     | lmprobe tensor                | note        |
/// |---------------------------------------------------|-----------|-------------------------------|-------------|
/// | wte.weight                                        | (V, d)    | wte                           |             |
/// | wpe.weight                                        | (T, d)    | wpe                           |             |
/// | h.l.ln_1.weight / .bias                           | (d)       | blocks.ln1.weight/bias [l]    |             |
/// | h.l.attn.c_attn.weight                            | (d, 3d)   | blocks.attn.qkv.weight [l]    | transposed  |
/// | h.l.attn.c_attn.bias                              | (3d)      | blocks.attn.qkv.bias [l]      |             |
/// | h.l.attn.c_proj.weight / .bias                    | (d, d)    | blocks.attn.proj.weight/bias  | transposed  |
/// | h.l.ln_2.weight / .bias                           | (d)       | blocks.ln2.weight/bias [l]    |             |
/// | h.l.mlp.c_fc.weight / .bias                       | (d, 4d)   | blocks.mlp.fc.weight/bias     | transposed  |
/// | h.l.mlp.c_proj.weight / .bias                     | (4d, d)   | blocks.mlp.proj.weight/bias   | transposed  |
/// | ln_f.weight / .bias                               | (d)       | lnf.weight/bias               |             |
/// | lm_head.weight (untied only)                      | (V, d)    | phi                           |             |
///
/// Conv1D stores in × out; lmprobe stores out × in (y = x·Wᵀ + b), hence the transposes. The buffers
/// `h.l.attn.bias` and `h.l.attn.masked_bias` (the causal mask) are ignored; so is a tied `lm_head.weight`.
public enum HuggingFaceGPT2 {
    /// True when `url` is a directory holding a `config.json` (a Hugging Face model folder).
    public static func isFolder(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
            && FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path)
    }

    /// Activation names that are exactly lmprobe's tanh-GELU.
    public static let supportedActivations = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]

    /// Most bytes of a `config.json` or `model.safetensors.index.json` (a GPT-2 index is ~15 KB).
    static let maxJSONBytes = 16 << 20

    /// A small JSON file of a Hugging Face folder parsed as an object; a missing file, a FIFO or device (refused
    /// without blocking), an oversized file or non-object JSON is one line naming the file.
    static func jsonObject(_ url: URL, what: String) throws -> [String: Any] {
        let path = url.path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ModelError.io(path: path, reason: "cannot read \(what) (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError.io(path: path, reason: "\(what) is not a regular file") }
        guard st.st_size <= off_t(maxJSONBytes) else {
            throw ModelError.io(path: path, reason: "\(what) is \(st.st_size) bytes, more than the \(maxJSONBytes)-byte limit")
        }
        let data: Data
        do { data = try readFileData(url) } catch {
            throw ModelError.io(path: path, reason: "cannot read (\(ioErrorText(error)))")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badCheckpoint(path: path, reason: "not a JSON object")
        }
        return obj
    }

    /// True when `v` is a JSON true/false (Foundation hands booleans over as NSNumbers).
    static func isJSONBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// How a JSON value is named in messages: strings quoted and called strings, so `"32"` is not read as 32.
    static func describe(_ v: Any) -> String {
        if let s = v as? String {
            let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
            return "the string \(shown.debugDescription)"   // escaped: a message stays one line
        }
        if isJSONBool(v) { return (v as! NSNumber).boolValue ? "true" : "false" }
        return "\(v)"
    }

    /// Reads `config.json` into a `GPTConfig`; refuses every variant lmprobe does not compute, in one line naming
    /// the field. `reorder_and_upcast_attn` is accepted: it only changes the precision of half-precision runs, and
    /// lmprobe computes in Float. `lmprobe_objective` (written by `lmprobe export`) gives the objective (ce when
    /// absent), so an exported Quad model comes back as Quad.
    public static func config(from url: URL) throws -> GPTConfig {
        let path = url.path
        func bad(_ m: String) -> ModelError { .badCheckpoint(path: path, reason: m) }
        let obj = try jsonObject(url, what: "config.json")
        if let t = obj["model_type"], (t as? String) != "gpt2" {
            throw bad("model_type \(t) is not supported (lmprobe imports model_type gpt2)")
        }
        if let a = obj["architectures"] {
            guard let list = a as? [String], list.allSatisfy({ ["GPT2LMHeadModel", "GPT2Model"].contains($0) }) else {
                throw bad("architectures \(a) is not supported (lmprobe imports GPT2LMHeadModel or GPT2Model)")
            }
        }
        func int(_ key: String, fallback: String? = nil) throws -> Int {
            guard let v = obj[key] ?? fallback.flatMap({ obj[$0] }) else { throw bad("field \(key) is missing") }
            guard !isJSONBool(v), let n = v as? NSNumber, let d = Optional(n.doubleValue), d >= 1, d <= 1e9, d == d.rounded() else {
                throw bad("field \(key) must be an integer in 1...1e9 (got \(describe(v)))")
            }
            return Int(d)
        }
        func bool(_ key: String, default def: Bool) throws -> Bool {
            guard let v = obj[key], !(v is NSNull) else { return def }
            guard isJSONBool(v), let n = v as? NSNumber else { throw bad("field \(key) must be true or false (got \(describe(v)))") }
            return n.boolValue
        }
        let layers = try int("n_layer"), dim = try int("n_embd"), heads = try int("n_head")
        let context = try int("n_positions", fallback: "n_ctx"), vocab = try int("vocab_size")
        let act = obj["activation_function"].map { "\($0)" } ?? "gelu_new"
        guard supportedActivations.contains(act) else {
            throw bad("activation_function \(act) is not supported (lmprobe computes the tanh GELU: \(supportedActivations.joined(separator: ", ")))")
        }
        if let e = obj["layer_norm_epsilon"] {
            guard !isJSONBool(e), let n = e as? NSNumber, abs(n.doubleValue - 1e-5) <= 1e-12 else {
                throw bad("layer_norm_epsilon \(describe(e)) is not supported (lmprobe's LayerNorm uses 1e-05)")
            }
        }
        if let v = obj["n_inner"], !(v is NSNull) {
            guard !isJSONBool(v), let n = v as? NSNumber, n.intValue == 4 * dim, n.doubleValue == Double(4 * dim) else {
                throw bad("n_inner \(describe(v)) is not supported (lmprobe's MLP width is 4·n_embd = \(4 * dim))")
            }
        }
        guard try bool("scale_attn_weights", default: true) else {
            throw bad("scale_attn_weights false is not supported (lmprobe scales attention by 1/√(head size))")
        }
        guard try !bool("scale_attn_by_inverse_layer_idx", default: false) else {
            throw bad("scale_attn_by_inverse_layer_idx true is not supported")
        }
        guard try !bool("add_cross_attention", default: false) else {
            throw bad("add_cross_attention true is not supported (lmprobe imports decoder-only GPT-2)")
        }
        _ = try bool("reorder_and_upcast_attn", default: false)
        let tied = try bool("tie_word_embeddings", default: true)
        var objective = Objective.ce
        if let v = obj[objectiveKey], !(v is NSNull) {
            guard let s = v as? String, let o = Objective(rawValue: s) else {
                throw bad("field \(objectiveKey) must be one of \(Objective.allCases.map(\.rawValue).joined(separator: ", ")) (got \(describe(v)))")
            }
            objective = o
        }
        let c = GPTConfig(layers: layers, dim: dim, heads: heads, context: context, vocabSize: vocab,
                          objective: objective, untiedPhi: !tied)
        do { try c.validate() } catch { throw bad("\(error)") }
        return c
    }

    /// The config.json field naming the pretraining objective of a model lmprobe exported.
    public static let objectiveKey = "lmprobe_objective"
    /// The config.json field that marks a Quad export, and what it says (export prints it too).
    public static let quadNoteKey = "lmprobe_warning"
    public static let quadNote = "Quad model: its logits Φf are scores of the quadratic loss, not log-probabilities; softmax(logits) is not its next-word distribution and generate() samples gibberish. Use f (hidden states) and Φ; see lmprobe's Hugging Face docs."

    /// Builds the model from a parsed `model.safetensors` and its folder's `config.json` (see `model(from:configURL:)`
    /// over `Weights`).
    public static func model(from file: SafeTensors.File, configURL: URL) throws -> GPT {
        try model(from: Weights(single: file), configURL: configURL)
    }

    /// Builds the model from a folder's weights and `config.json`. Every tensor is checked (present, shape as the
    /// config implies, no unknown names) before the parameter block is allocated; each is then read (transposed
    /// where Conv1D) into the block, so the load holds one copy of the weights plus at most one tensor in transit.
    ///
    /// A config that says tied (`tie_word_embeddings` true or absent) with an `lm_head.weight` that differs from
    /// `wte.weight` is loaded as transformers 5 loads it: lm_head stays separate (Φ untied), and one warning line
    /// says so on standard error.
    public static func model(from weights: Weights, configURL: URL) throws -> GPT {
        var config = try config(from: configURL)
        let path = weights.url.path
        _ = try Checkpoint.expectedTensors(config, path: path)  // every size below is overflow-checked here
        // 12 tensors per layer must be present: bounds the per-layer plan by the file, not by config.json.
        guard config.layers <= weights.count / 12 else {
            throw ModelError.badCheckpoint(path: path, reason: "config.json n_layer \(config.layers) needs \(12 * config.layers) block tensors; the file has \(weights.count) tensors")
        }
        let prefix = weights.has("transformer.wte.weight") ? "transformer." : ""
        if !config.untiedPhi, weights.has("lm_head.weight"), try weights.differ("lm_head.weight", prefix + "wte.weight") {
            config.untiedPhi = true
            warn("warning: \(configURL.path) says tie_word_embeddings true but lm_head.weight differs from \(prefix)wte.weight; using lm_head.weight as Φ (untied), as transformers 5 does")
        }
        let plan = try tensorPlan(config, prefix: prefix, weights: weights)
        let L = config.layers
        let model = try GPT(config: config) { block, layout in
            for p in plan {
                guard let t = layout.tensor(named: p.lmprobe) else { continue }
                let per = t.count / (p.layer == nil ? 1 : L)
                let dst = block + t.offset + (p.layer ?? 0) * per
                try weights.copy(p.hf, shape: p.shape, transposed: p.transpose, into: dst)
            }
        }
        guard model.parameters.allFinite else {
            throw ModelError.badCheckpoint(path: path, reason: "parameters contain NaN or infinity")
        }
        return model
    }

    /// One tensor to read: its lmprobe name (and layer), its Hugging Face name and shape, and whether Conv1D
    /// stores it transposed.
    typealias PlanEntry = (lmprobe: String, layer: Int?, hf: String, shape: [Int], transpose: Bool)

    /// Every tensor lmprobe reads for `config`, in layout order, each checked present with its shape, after
    /// refusing any tensor GPT-2 does not have.
    static func tensorPlan(_ config: GPTConfig, prefix: String, weights: Weights) throws -> [PlanEntry] {
        let path = weights.url.path
        let L = config.layers, C = config.dim, V = config.vocabSize, T = config.context
        var plan: [PlanEntry] = [
            ("wte", nil, prefix + "wte.weight", [V, C], false),
            ("wpe", nil, prefix + "wpe.weight", [T, C], false),
        ]
        let perLayer: [(String, String, (Int) -> [Int], Bool)] = [
            ("blocks.ln1.weight", "ln_1.weight", { [$0] }, false), ("blocks.ln1.bias", "ln_1.bias", { [$0] }, false),
            ("blocks.attn.qkv.weight", "attn.c_attn.weight", { [$0, 3 * $0] }, true),
            ("blocks.attn.qkv.bias", "attn.c_attn.bias", { [3 * $0] }, false),
            ("blocks.attn.proj.weight", "attn.c_proj.weight", { [$0, $0] }, true),
            ("blocks.attn.proj.bias", "attn.c_proj.bias", { [$0] }, false),
            ("blocks.ln2.weight", "ln_2.weight", { [$0] }, false), ("blocks.ln2.bias", "ln_2.bias", { [$0] }, false),
            ("blocks.mlp.fc.weight", "mlp.c_fc.weight", { [$0, 4 * $0] }, true),
            ("blocks.mlp.fc.bias", "mlp.c_fc.bias", { [4 * $0] }, false),
            ("blocks.mlp.proj.weight", "mlp.c_proj.weight", { [4 * $0, $0] }, true),
            ("blocks.mlp.proj.bias", "mlp.c_proj.bias", { [$0] }, false),
        ]
        for (name, hf, shape, tr) in perLayer {
            for l in 0..<L { plan.append((name, l, "\(prefix)h.\(l).\(hf)", shape(C), tr)) }
        }
        plan.append(("lnf.weight", nil, prefix + "ln_f.weight", [C], false))
        plan.append(("lnf.bias", nil, prefix + "ln_f.bias", [C], false))
        if config.untiedPhi {
            guard weights.has("lm_head.weight") else {
                throw ModelError.badCheckpoint(path: path, reason: "tie_word_embeddings is false but tensor \"lm_head.weight\" is missing")
            }
            plan.append(("phi", nil, "lm_head.weight", [V, C], false))
        }
        var known = Set(plan.map(\.hf))
        known.insert("lm_head.weight")
        for l in 0..<L { known.insert("\(prefix)h.\(l).attn.bias"); known.insert("\(prefix)h.\(l).attn.masked_bias") }
        for name in weights.names where !known.contains(name) {
            throw ModelError.badCheckpoint(path: path, reason: "tensor \"\(name)\" is not part of GPT-2 as lmprobe imports it (config n_layer = \(L))")
        }
        for p in plan { _ = try weights.info(p.hf, shape: p.shape) }
        return plan
    }

    /// One line on standard error (the library's only output: a load that follows transformers where the folder
    /// contradicts itself).
    static func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Loads a Hugging Face GPT-2 folder (config.json + model.safetensors, or a sharded index and its shards).
    public static func load(folder: URL) throws -> GPT {
        guard let url = try weightsURL(in: folder) else {
            throw ModelError.io(path: folder.path, reason: "not a Hugging Face GPT-2 folder (no config.json or weights)")
        }
        return try model(from: try Weights.read(url), configURL: folder.appendingPathComponent("config.json"))
    }

    /// The `config.json` object transformers needs for `model` (GPT2LMHeadModel; `tie_word_embeddings` false when
    /// Φ is untied, so transformers keeps `lm_head` separate).
    public static func configJSON(_ c: GPTConfig, dtype: SafeTensors.DType, eosTokenId: Int?) -> [String: Any] {
        var o: [String: Any] = [
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "n_layer": c.layers, "n_embd": c.dim, "n_head": c.heads, "n_positions": c.context, "n_ctx": c.context,
            "vocab_size": c.vocabSize, "n_inner": NSNull(), "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-05, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
            "initializer_range": 0.02, "scale_attn_weights": true, "scale_attn_by_inverse_layer_idx": false,
            "reorder_and_upcast_attn": false, "use_cache": true, "tie_word_embeddings": !c.untiedPhi,
            "torch_dtype": dtype == .f32 ? "float32" : (dtype == .f16 ? "float16" : "bfloat16"),
            objectiveKey: c.objective.rawValue,
        ]
        if c.objective == .quad { o[quadNoteKey] = quadNote }
        if let e = eosTokenId { o["bos_token_id"] = e; o["eos_token_id"] = e }
        return o
    }

    /// Writes `config.json` and `model.safetensors` for `model` into `directory` (which must exist): names with
    /// the `transformer.` prefix (as GPT2LMHeadModel saves them), Conv1D weights transposed to in × out,
    /// `lm_head.weight` only when Φ is untied, metadata {"format": "pt"} plus lmprobe's digests.
    public static func write(_ model: GPT, to directory: URL, dtype: SafeTensors.DType = .f32, eosTokenId: Int?) throws {
        let c = model.config, L = c.layers, C = c.dim
        let p = UnsafePointer(model.parameters.pointer), o = model.layout
        var owned: [UnsafeMutableBufferPointer<Float>] = []
        defer { for b in owned { b.deallocate() } }
        func view(_ offset: Int, _ count: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: p + offset, count: count) }
        /// (rows, cols) at `offset` transposed into a new (cols, rows) buffer.
        func transposed(_ offset: Int, rows: Int, cols: Int) -> UnsafeBufferPointer<Float> {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows * cols)
            owned.append(b)
            let src = p + offset, dst = b.baseAddress!
            for r in 0..<rows { for k in 0..<cols { dst[k &* rows &+ r] = src[r &* cols &+ k] } }
            return UnsafeBufferPointer(b)
        }
        let t = "transformer."
        var tensors: [SafeTensors.Tensor] = [
            (t + "wte.weight", [c.vocabSize, C], view(o.wte, c.vocabSize * C)),
            (t + "wpe.weight", [c.context, C], view(o.wpe, c.context * C)),
        ]
        for l in 0..<L {
            let h = "\(t)h.\(l)."
            tensors += [
                (h + "ln_1.weight", [C], view(o.ln1w + l * C, C)), (h + "ln_1.bias", [C], view(o.ln1b + l * C, C)),
                (h + "attn.c_attn.weight", [C, 3 * C], transposed(o.qkvw + l * 3 * C * C, rows: 3 * C, cols: C)),
                (h + "attn.c_attn.bias", [3 * C], view(o.qkvb + l * 3 * C, 3 * C)),
                (h + "attn.c_proj.weight", [C, C], transposed(o.attprojw + l * C * C, rows: C, cols: C)),
                (h + "attn.c_proj.bias", [C], view(o.attprojb + l * C, C)),
                (h + "ln_2.weight", [C], view(o.ln2w + l * C, C)), (h + "ln_2.bias", [C], view(o.ln2b + l * C, C)),
                (h + "mlp.c_fc.weight", [C, 4 * C], transposed(o.fcw + l * 4 * C * C, rows: 4 * C, cols: C)),
                (h + "mlp.c_fc.bias", [4 * C], view(o.fcb + l * 4 * C, 4 * C)),
                (h + "mlp.c_proj.weight", [4 * C, C], transposed(o.fcprojw + l * 4 * C * C, rows: C, cols: 4 * C)),
                (h + "mlp.c_proj.bias", [C], view(o.fcprojb + l * C, C)),
            ]
        }
        // GPT-2 has no output scale: f = c·(γ⊙x̂ + β) = (cγ)⊙x̂ + cβ is folded into ln_f (exact up to rounding).
        func lnf(_ offset: Int) -> UnsafeBufferPointer<Float> {
            guard c.outputScale != 1 else { return view(offset, C) }
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: C)
            owned.append(b)
            for j in 0..<C { b[j] = c.outputScale * p[offset &+ j] }
            return UnsafeBufferPointer(b)
        }
        tensors += [(t + "ln_f.weight", [C], lnf(o.lnfw)), (t + "ln_f.bias", [C], lnf(o.lnfb))]
        if c.untiedPhi { tensors.append(("lm_head.weight", [c.vocabSize, C], view(o.phi, c.vocabSize * C))) }
        try SafeTensors.write(to: directory.appendingPathComponent("model.safetensors"), tensors: tensors,
                              metadata: ["format": "pt"], dtype: dtype)
        let json = try JSONSerialization.data(withJSONObject: configJSON(c, dtype: dtype, eosTokenId: eosTokenId),
                                              options: [.sortedKeys, .prettyPrinted])
        do { try AtomicFile.write(json, to: directory.appendingPathComponent("config.json")) } catch {
            throw ModelError.io(path: directory.appendingPathComponent("config.json").path,
                                reason: "cannot write: \(ioErrorText(error))")
        }
    }
}

extension HuggingFaceGPT2 {
    /// Writes a complete folder atomically (`prepareFolder`): `write` plus `extraFiles` (e.g. the tokenizer files)
    /// appear in `directory` together or not at all. An existing non-empty `directory` is refused.
    public static func writeFolder(_ model: GPT, to directory: URL, dtype: SafeTensors.DType, eosTokenId: Int?,
                                   extraFiles: (URL) throws -> Void) throws {
        try prepareFolder(directory) { tmp in
            try write(model, to: tmp, dtype: dtype, eosTokenId: eosTokenId)
            try extraFiles(tmp)
        }
    }

    /// Fills `directory` whole through the one folder writer (`OutputFolder`, with no marker: an existing
    /// `directory` must be empty); the staging folder is removed on any failure.
    public static func prepareFolder(_ directory: URL, _ body: (URL) throws -> Void) throws {
        let out: OutputFolder
        do { out = try OutputFolder(replacing: directory, markers: []) } catch let e as LinalgError {
            throw ModelError.io(path: directory.path, reason: "\(e)")
        }
        do {
            try body(out.url)
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
    }
}

// MARK: - Folders as transformers writes them

extension HuggingFaceGPT2 {
    /// The tensors of a Hugging Face checkpoint: one `model.safetensors`, or the shards that
    /// `model.safetensors.index.json` names (each tensor exactly where its `weight_map` says).
    public struct Weights {
        /// model.safetensors, or the shard index.
        public let url: URL
        let files: [SafeTensors.File]
        /// Tensor name → index in `files`.
        let home: [String: Int]
        /// SHA-256 identity: the file's (`SafeTensors.File.identity()`); for shards, the SHA-256 of the weight map
        /// and every shard's identity.
        public let identity: String
        /// The (first) file's metadata.
        public var metadata: [String: String] { files.first?.metadata ?? [:] }

        init(single file: SafeTensors.File) {
            url = file.url; files = [file]; home = file.tensors.mapValues { _ in 0 }; identity = file.identity()
        }

        init(url: URL, files: [SafeTensors.File], home: [String: Int], identity: String) {
            self.url = url; self.files = files; self.home = home; self.identity = identity
        }

        var count: Int { home.count }
        var names: [String] { home.keys.sorted() }
        func has(_ name: String) -> Bool { home[name] != nil }

        func file(_ name: String) throws -> SafeTensors.File {
            guard let i = home[name] else { throw ModelError.badCheckpoint(path: url.path, reason: "tensor \"\(name)\" is missing") }
            return files[i]
        }

        func info(_ name: String, shape: [Int]) throws -> SafeTensors.TensorInfo { try file(name).info(name, shape: shape) }

        func copy(_ name: String, shape: [Int], transposed: Bool, into out: UnsafeMutablePointer<Float>) throws {
            let f = try file(name)
            if transposed { try f.copyTransposed(name, shape: shape, into: out) } else { try f.copy(name, shape: shape, into: out) }
        }

        /// True when two tensors differ in dtype, shape or bytes (compared by digest, one tensor in memory at a time).
        func differ(_ a: String, _ b: String) throws -> Bool {
            let fa = try file(a), fb = try file(b)
            guard let ta = fa.tensors[a], let tb = fb.tensors[b], ta.dtype == tb.dtype, ta.shape == tb.shape else { return true }
            return try fa.digest(a) != fb.digest(b)
        }

        /// Most shards one index may name.
        public static let maxShards = 256

        /// Reads `model.safetensors` or, for a `*.safetensors.index.json`, the index and every shard it names.
        public static func read(_ url: URL) throws -> Weights {
            guard url.lastPathComponent.hasSuffix(".index.json") else { return Weights(single: try SafeTensors.read(url)) }
            let path = url.path
            func bad(_ m: String) -> ModelError { .badCheckpoint(path: path, reason: m) }
            let obj = try HuggingFaceGPT2.jsonObject(url, what: "the shard index")
            guard let map = obj["weight_map"] as? [String: String], !map.isEmpty else {
                throw bad("\"weight_map\" must map tensor names to shard file names")
            }
            guard map.count <= SafeTensors.maxTensors else { throw bad("weight_map lists \(map.count) tensors; lmprobe reads at most \(SafeTensors.maxTensors)") }
            let shards = Set(map.values).sorted()
            guard shards.count <= maxShards else { throw bad("the index names \(shards.count) shards; lmprobe reads at most \(maxShards)") }
            for s in shards where s.isEmpty || s.contains("/") || s == "." || s == ".." || !s.hasSuffix(".safetensors") {
                throw bad("shard \"\(s)\" must be a .safetensors file name in the index's folder")
            }
            let dir = url.deletingLastPathComponent()
            var files: [SafeTensors.File] = [], home: [String: Int] = [:]
            var h = SHA256.Hasher()
            for (i, s) in shards.enumerated() {
                let f = try SafeTensors.read(dir.appendingPathComponent(s))
                for name in f.tensors.keys.sorted() {
                    guard map[name] == s else {
                        throw ModelError.badCheckpoint(path: f.url.path, reason: "holds tensor \"\(name)\" but the index places it \(map[name].map { "in \($0)" } ?? "nowhere")")
                    }
                    home[name] = i
                }
                files.append(f)
                Data("\(s)\t\(f.identity())\n".utf8).withUnsafeBytes { h.update($0) }
            }
            for (name, s) in map.sorted(by: { $0.key < $1.key }) {
                guard home[name] != nil else { throw bad("tensor \"\(name)\" is listed for \(s), which does not hold it") }
                Data("\(name)\t\(s)\n".utf8).withUnsafeBytes { h.update($0) }
            }
            return Weights(url: url, files: files, home: home, identity: h.hex())
        }
    }

    /// The PyTorch-only weight files lmprobe does not read.
    static let pytorchWeights = ["pytorch_model.bin", "pytorch_model.bin.index.json"]

    /// The weights of a Hugging Face folder: `model.safetensors`, else `model.safetensors.index.json` (sharded);
    /// nil when `folder` holds neither config.json nor any file transformers writes (then it is not such a folder).
    /// Refused in one line: weights without config.json, a folder without weights, and a PyTorch-only folder
    /// (`pytorch_model.bin`), whose message is the command that converts it.
    public static func weightsURL(in folder: URL) throws -> URL? {
        let fm = FileManager.default
        func has(_ name: String) -> Bool { fm.fileExists(atPath: folder.appendingPathComponent(name).path) }
        let single = "model.safetensors", index = "model.safetensors.index.json"
        let written = [single, index, "tokenizer.json", "generation_config.json"] + pytorchWeights
        let config = has("config.json")
        guard config || written.contains(where: has) else { return nil }
        guard config else {
            throw ModelError.io(path: folder.appendingPathComponent("config.json").path, reason: "missing: a Hugging Face GPT-2 folder needs the config.json that save_pretrained writes beside the weights")
        }
        if has(single) { return folder.appendingPathComponent(single) }
        if has(index) { return folder.appendingPathComponent(index) }
        if pytorchWeights.contains(where: has) {
            throw ModelError.io(path: folder.path, reason: "holds PyTorch weights (pytorch_model.bin) only, and lmprobe reads safetensors; convert once with: \(conversionCommand(folder))")
        }
        throw ModelError.io(path: folder.appendingPathComponent(single).path, reason: "missing: lmprobe reads Hugging Face weights from model.safetensors or model.safetensors.index.json and its shards")
    }

    /// The shell command that rewrites a folder's pytorch_model.bin as model.safetensors with transformers.
    public static func conversionCommand(_ folder: URL) -> String {
        let quoted = "'" + folder.path.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return "python -c 'import sys; from transformers import GPT2LMHeadModel as M; M.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[1])' \(quoted)"
    }

    /// The checkpoint whose weights are `fileURL` when that is a Hugging Face folder's model.safetensors or shard
    /// index (next to config.json), not an lmprobe checkpoint file; nil otherwise. It records no step
    /// (`Checkpoint.recordedStep` is nil) and its folder as the tokenizer folder. Weights without config.json
    /// beside them are refused saying so.
    public static func importCheckpoint(_ fileURL: URL) throws -> Checkpoint? {
        let folder = fileURL.deletingLastPathComponent(), name = fileURL.lastPathComponent
        let isIndex = name.hasSuffix(".safetensors.index.json")
        let config = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config.path) else {
            guard isIndex || name == "model.safetensors" else { return nil }
            if !isIndex, try SafeTensors.read(fileURL).metadata["format"] == Checkpoint.format { return nil }
            throw ModelError.io(path: config.path, reason: "missing: Hugging Face weights \(name) need the config.json that save_pretrained writes beside them")
        }
        let weights = try Weights.read(fileURL)
        if !isIndex, weights.metadata["format"] == Checkpoint.format { return nil }
        let model = try model(from: weights, configURL: config)
        return Checkpoint(url: weights.url, model: model, step: 0, validation: [], tokenizerDirectory: folder.path,
                          tokensHash: nil, metadata: weights.metadata, sha256: weights.identity)
    }
}

extension Checkpoint {
    /// True for a model imported from a Hugging Face folder (its weights are not an lmprobe checkpoint file).
    public var isImported: Bool { metadata["format"] != Checkpoint.format }

    /// The training step the checkpoint records; nil for an imported model, whose step is unknown.
    public var recordedStep: Int? { isImported ? nil : step }

    /// "step 1200", or "step: unknown" for an imported model.
    public var stepDescription: String { recordedStep.map { "step \($0)" } ?? "step: unknown" }

    /// Checks a tokenizer of `vocabularySize` tokens (read from `tokenizer`) against the model and returns how many
    /// model rows lie past it. An lmprobe checkpoint needs exactly its vocabulary. An imported model may have more
    /// rows than its tokenizer, as transformers allows (a vocabulary padded to a multiple of 64, e.g. 50,304, or
    /// resized for a pad token the tokenizer files do not list): those rows are never produced by the tokenizer,
    /// and p still sums over all V rows, as transformers' softmax does.
    public func rowsPastTokenizer(vocabularySize: Int, tokenizer: String) throws -> Int {
        let V = config.vocabSize
        if vocabularySize == V { return 0 }
        guard isImported, vocabularySize < V else {
            throw ModelError.badInput("\(tokenizer): the tokenizer has \(vocabularySize) tokens but \(url.path) has a vocabulary of \(V)"
                + (isImported ? " (a model may have more rows than its tokenizer, not fewer)" : ""))
        }
        return V - vocabularySize
    }

    /// Pairs tokenizer `tok` (read from folder `path`) with this checkpoint and returns the model rows past it:
    /// its size must fit (`rowsPastTokenizer`), and when `recorded` (the tokenizer the checkpoint records, read
    /// from another folder) is given, `tok` must encode as it does — the same tokens, merges and special tokens,
    /// not only as many (another tokenizer of the same size would give every id another word).
    public func checkTokenizer(_ tok: BPETokenizer, path: String, recorded: BPETokenizer?) throws -> Int {
        let rows = try rowsPastTokenizer(vocabularySize: tok.vocabSize, tokenizer: path)
        if let recorded, let d = tok.firstDifference(from: recorded) {
            throw ModelError.badInput("--tokenizer \(path): its \(d.part) differ from those of the tokenizer \(url.path) was trained with (\(tokenizerDirectory ?? "?")): \(d.detail); give that tokenizer, or none")
        }
        return rows
    }
}
