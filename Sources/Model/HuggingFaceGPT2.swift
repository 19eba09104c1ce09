import Foundation
import Linalg
import Support

/// Hugging Face GPT-2 folders in and out: `config.json` + `model.safetensors` (the tokenizer files are the Text
/// stage's business: `BPETokenizer(directory:)` reads `vocab.json`/`merges.txt` or `encoder.json`/`vocab.bpe`).
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

    /// Reads `config.json` into a `GPTConfig`; refuses every variant lmprobe does not compute, in one line naming
    /// the field. `reorder_and_upcast_attn` is accepted: it only changes the precision of half-precision runs, and
    /// lmprobe computes in Float.
    public static func config(from url: URL) throws -> GPTConfig {
        let path = url.path
        func bad(_ m: String) -> ModelError { .badCheckpoint(path: path, reason: m) }
        let data: Data
        do { data = try readFileData(url) } catch {
            throw ModelError.io(path: path, reason: "cannot read (\(ioErrorText(error)))")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw bad("not a JSON object")
        }
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
            guard let n = v as? NSNumber, let d = Optional(n.doubleValue), d >= 1, d <= 1e9, d == d.rounded() else {
                throw bad("field \(key) must be an integer in 1...1e9 (got \(v))")
            }
            return Int(d)
        }
        func bool(_ key: String, default def: Bool) throws -> Bool {
            guard let v = obj[key], !(v is NSNull) else { return def }
            guard let n = v as? NSNumber, n.doubleValue == 0 || n.doubleValue == 1 else { throw bad("field \(key) must be true or false (got \(v))") }
            return n.boolValue
        }
        let layers = try int("n_layer"), dim = try int("n_embd"), heads = try int("n_head")
        let context = try int("n_positions", fallback: "n_ctx"), vocab = try int("vocab_size")
        let act = obj["activation_function"].map { "\($0)" } ?? "gelu_new"
        guard supportedActivations.contains(act) else {
            throw bad("activation_function \(act) is not supported (lmprobe computes the tanh GELU: \(supportedActivations.joined(separator: ", ")))")
        }
        if let e = obj["layer_norm_epsilon"] {
            guard let n = e as? NSNumber, abs(n.doubleValue - 1e-5) <= 1e-12 else {
                throw bad("layer_norm_epsilon \(e) is not supported (lmprobe's LayerNorm uses 1e-05)")
            }
        }
        if let v = obj["n_inner"], !(v is NSNull) {
            guard let n = v as? NSNumber, n.intValue == 4 * dim, n.doubleValue == Double(4 * dim) else {
                throw bad("n_inner \(v) is not supported (lmprobe's MLP width is 4·n_embd = \(4 * dim))")
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
        let c = GPTConfig(layers: layers, dim: dim, heads: heads, context: context, vocabSize: vocab, objective: .ce,
                          untiedPhi: !tied)
        do { try c.validate() } catch { throw bad("\(error)") }
        return c
    }

    /// Builds the model from a parsed `model.safetensors` and its folder's `config.json`. Every tensor is checked
    /// (present, shape as the config implies, no unknown names) before the parameter block is allocated; each is
    /// then copied (transposed where Conv1D) straight from the mapping into the block, whose pages are released
    /// as it goes, so the load keeps one copy of the weights resident.
    public static func model(from file: SafeTensors.File, configURL: URL) throws -> GPT {
        let config = try config(from: configURL)
        let path = file.url.path
        _ = try Checkpoint.expectedTensors(config, path: path)  // every size below is overflow-checked here
        // 12 tensors per layer must be present: bounds the per-layer plan by the file, not by config.json.
        guard config.layers <= file.tensors.count / 12 else {
            throw ModelError.badCheckpoint(path: path, reason: "config.json n_layer \(config.layers) needs \(12 * config.layers) block tensors; the file has \(file.tensors.count) tensors")
        }
        let prefix = file.tensors["transformer.wte.weight"] != nil ? "transformer." : ""
        let L = config.layers, C = config.dim, V = config.vocabSize, T = config.context
        // (HF name, HF shape, transposed?) for every tensor lmprobe reads, in layout order.
        var plan: [(lmprobe: String, layer: Int?, hf: String, shape: [Int], transpose: Bool)] = [
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
            guard file.tensors["lm_head.weight"] != nil else {
                throw ModelError.badCheckpoint(path: path, reason: "tie_word_embeddings is false but tensor \"lm_head.weight\" is missing")
            }
            plan.append(("phi", nil, "lm_head.weight", [V, C], false))
        }
        var known = Set(plan.map(\.hf))
        known.insert("lm_head.weight")
        for l in 0..<L { known.insert("\(prefix)h.\(l).attn.bias"); known.insert("\(prefix)h.\(l).attn.masked_bias") }
        for name in file.tensors.keys.sorted() where !known.contains(name) {
            throw ModelError.badCheckpoint(path: path, reason: "tensor \"\(name)\" is not part of GPT-2 as lmprobe imports it (config n_layer = \(L))")
        }
        for p in plan { _ = try file.info(p.hf, shape: p.shape) }
        let model = try GPT(config: config) { block, layout in
            for p in plan {
                guard let t = layout.tensor(named: p.lmprobe) else { continue }
                let per = t.count / (p.layer == nil ? 1 : L)
                let dst = block + t.offset + (p.layer ?? 0) * per
                if p.transpose { try file.copyTransposed(p.hf, shape: p.shape, into: dst) }
                else { try file.copy(p.hf, shape: p.shape, into: dst) }
            }
        }
        guard model.parameters.allFinite else {
            throw ModelError.badCheckpoint(path: path, reason: "parameters contain NaN or infinity")
        }
        return model
    }

    /// Loads a Hugging Face GPT-2 folder (config.json + model.safetensors).
    public static func load(folder: URL) throws -> GPT {
        let file = try SafeTensors.read(folder.appendingPathComponent("model.safetensors"))
        return try model(from: file, configURL: folder.appendingPathComponent("config.json"))
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
            "lmprobe_objective": c.objective.rawValue,
        ]
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
