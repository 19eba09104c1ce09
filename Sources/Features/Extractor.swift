import Foundation
import Linalg
import Support

/// Settings of one extraction run.
public struct ExtractionOptions: Sendable {
    public var prompt: PromptTemplate = .none
    /// Word list for `subset_logits` / `subset_probs` (empty: those files are not written).
    public var words: [String] = []
    /// Zero-shot class words, one list per class in class-index order (nil: no zero-shot score).
    public var classWords: [[String]]? = nil
    /// dtype of `p.npy`: `<f4` or `<f2`.
    public var pDtype: String = "<f4"
    /// Write the n × V `p.npy` (the largest file).
    public var writeFullDistribution = true
    /// Upper bound on B·T per forward batch, and on B.
    public var maxBatchTokens = 8192
    public var maxBatch = 512
    /// Inputs are truncated to this many tokens (default: the model's context length).
    public var maxLength: Int? = nil
    /// Where f.npy is read: the last real token, or the mean over every real token of the input (prompt tokens
    /// included — each sees the text before it; without a prompt it is the mean over the text).
    public var pooling: Pooling = .last
    /// nil: f(s), the final-LayerNorm output. k: the residual stream after block k (0 = the embeddings).
    /// Any other readout than (last, nil) writes only f.npy and labels.npy: p_f, Φp_f, the word subsets and the
    /// zero-shot score are the next-word distribution at the last position, which such a readout is not.
    public var layer: Int? = nil

    /// True for the paper's f(s): the final LayerNorm output at the last token.
    public var isDefaultReadout: Bool { pooling == .last && layer == nil }

    public init() {}
}

/// How f.npy summarises a sequence's positions.
public enum Pooling: String, Codable, CaseIterable, Sendable {
    /// The last real token (the paper's f(s)).
    case last
    /// The mean over every real token of the input, prompt tokens included.
    case mean
}

/// Where the inputs came from, recorded in the manifest (and used to content-address feature folders).
public struct Provenance: Codable, Sendable, Equatable {
    public var checkpoint: String
    public var checkpointSHA256: String
    public var tokenizer: String
    public var dataset: String
    public var datasetSHA256: String
    public var split: String
    /// Which part of the split this folder holds (`extract --shard k/n`); nil: all of it.
    public var shard: Shard?

    /// JSON keys (`JSONCoding`): `checkpoint_sha256`, `dataset_sha256` (read also as the older camelCase).
    enum CodingKeys: String, CodingKey {
        case checkpoint, checkpointSHA256 = "checkpointSha256", tokenizer, dataset, datasetSHA256 = "datasetSha256"
        case split, shard
    }

    public init(checkpoint: String, checkpointSHA256: String, tokenizer: String, dataset: String,
                datasetSHA256: String, split: String, shard: Shard? = nil) {
        self.checkpoint = checkpoint; self.checkpointSHA256 = checkpointSHA256; self.tokenizer = tokenizer
        self.dataset = dataset; self.datasetSHA256 = datasetSHA256; self.split = split; self.shard = shard
    }
}

/// `manifest.json` of a feature folder.
public struct ExtractionManifest: Codable, Sendable {
    public struct FileInfo: Codable, Sendable, Equatable {
        public let shape: [Int]
        public let dtype: String
        /// `Digest.checksum` of the file's bytes (absent in manifests of older versions): checked when the folder
        /// is read (`LabelledFeatures`), so a file swapped between folders or shards is refused.
        public var checksum: String? = nil
    }

    public var lmprobeVersion: String
    public var provenance: Provenance
    public var prompt: String
    public var n: Int
    public var d: Int
    public var vocabSize: Int
    public var classNames: [String]
    public var files: [String: FileInfo]
    public var wordSubset: WordSubset?
    public var classWords: [[String]]?
    public var zeroShotAccuracy: Double?
    public var truncated: Int
    public var realTokens: Int
    public var seconds: Double
    public var sentencesPerSecond: Double
    public var tokensPerSecond: Double
    /// How f.npy was read (absent in manifests older than the option: last).
    public var pooling: Pooling?
    /// nil: f(s) after the final LayerNorm; k: the residual stream after block k (0 = embeddings).
    public var layer: Int?
    /// The readout in words, e.g. "final LayerNorm output, mean over all tokens (prompt included)".
    public var readout: String?
    /// `FeatureExtractor.extractionVersion` of the code that wrote the folder (absent in older manifests).
    public var extractionVersion: Int? = nil

    /// The readout's pooling, `last` for manifests that predate the option.
    public var effectivePooling: Pooling { pooling ?? .last }

    enum CodingKeys: String, CodingKey {
        case lmprobeVersion, provenance, prompt, n, d, vocabSize
        case classNames, files, wordSubset, classWords
        case zeroShotAccuracy, truncated, realTokens, seconds
        case sentencesPerSecond, tokensPerSecond
        case pooling, layer, readout, extractionVersion
    }

    /// Describes a readout in words (recorded in the manifest).
    public static func describe(pooling: Pooling, layer: Int?) -> String {
        (layer.map { $0 == 0 ? "token + position embeddings" : "residual stream after block \($0)" }
            ?? "final LayerNorm output f(s)")
            + (pooling == .last ? ", last token" : ", mean over all tokens (prompt included)")
    }
}

/// The release, recorded in manifests and reports (the CLI's `--version` prints it too).
public let lmprobeVersion = "0.1.0"

extension FeatureExtractor {
    /// The version of what extraction writes: bump it with ANY change to how features are computed or stored (the
    /// forward pass, a readout, a family, the file layout). The feature cache keys on it (`FeatureCacheKey`) and
    /// reuses only folders whose manifest records the current value, so a change never reads stale features.
    /// 1: the implicit version before it was recorded; 2: one pass yields every readout (bit-identical features).
    public static let extractionVersion = 2
}

/// Runs a model over a labelled dataset and writes the feature families (see the module documentation).
public final class FeatureExtractor {
    public let model: ContextEncoder
    public let tokenizer: FeatureTokenizer

    public init(model: ContextEncoder, tokenizer: FeatureTokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Token ids of every input (prompt applied, text truncated from the left). Throws naming the first input
    /// that cannot be encoded (empty, or a prompt longer than the context).
    public func encodeInputs(_ texts: [String], options: ExtractionOptions) throws -> (ids: [[Int32]], truncated: Int) {
        let maxLength = min(options.maxLength ?? model.maxContextLength, model.maxContextLength)
        guard maxLength > 0 else { throw FeatureError.badArgument("--max-length must be positive") }
        var out = [[Int32]?](repeating: nil, count: texts.count)
        var wasTruncated = [Bool](repeating: false, count: texts.count)
        out.withUnsafeMutableBufferPointer { o in
            wasTruncated.withUnsafeMutableBufferPointer { tr in
                parallelFor(texts.count) { i in
                    o[i] = options.prompt.encode(texts[i], maxLength: maxLength, with: tokenizer)
                    if let ids = o[i], ids.count == maxLength {
                        let full = options.prompt.encode(texts[i], maxLength: Int.max / 4, with: tokenizer)
                        tr[i] = (full?.count ?? 0) > maxLength
                    }
                }
            }
        }
        var ids: [[Int32]] = []
        ids.reserveCapacity(texts.count)
        for (i, x) in out.enumerated() {
            guard let x else {
                throw FeatureError.badInput("input \(i + 1): the prompt '\(options.prompt.template)' alone is longer than \(maxLength) tokens")
            }
            guard !x.isEmpty else { throw FeatureError.badInput("input \(i + 1): empty text and no prompt") }
            if let bad = x.first(where: { Int($0) < 0 || Int($0) >= model.vocabularySize }) {
                throw FeatureError.badInput("input \(i + 1): token id \(bad) outside the model vocabulary (\(model.vocabularySize)); tokenizer and checkpoint do not match")
            }
            ids.append(x)
        }
        return (ids, wasTruncated.filter { $0 }.count)
    }

    /// Batches of input indices with identical token length (no padding), each with B·T ≤ maxBatchTokens.
    public static func lengthBatches(_ lengths: [Int], maxBatchTokens: Int, maxBatch: Int) -> [[Int]] {
        var byLength: [Int: [Int]] = [:]
        for (i, l) in lengths.enumerated() { byLength[l, default: []].append(i) }
        var batches: [[Int]] = []
        for l in byLength.keys.sorted() {
            let idx = byLength[l]!
            let b = max(1, min(maxBatch, maxBatchTokens / max(l, 1)))
            var s = 0
            while s < idx.count { batches.append(Array(idx[s..<min(s + b, idx.count)])); s += b }
        }
        return batches
    }

    /// Extracts features for `texts` into `directory` (created if needed) and returns the manifest it wrote.
    public func extract(texts: [String], labels: [Int], classNames: [String], to directory: URL,
                        options: ExtractionOptions, provenance: Provenance,
                        progress: ((_ done: Int, _ total: Int, _ tokens: Int) -> Void)? = nil) throws -> ExtractionManifest {
        try extract(texts: texts, labels: labels, classNames: classNames,
                    targets: [ExtractionTarget(directory: directory, options: options)], provenance: provenance,
                    progress: progress)[0]
    }

    /// Extracts every target from ONE pass of the model over `texts`: each batch runs once and yields every readout
    /// the targets ask for (`ContextEncoder.sequenceFeatures(readouts:)`); each target's folder gets its families,
    /// `labels.npy` and `manifest.json` (written once each). The targets must tokenize alike (same prompt, length
    /// and batching); they differ in readout and families. Returns the manifests in target order.
    public func extract(texts: [String], labels: [Int], classNames: [String], targets: [ExtractionTarget],
                        provenance: Provenance,
                        progress: ((_ done: Int, _ total: Int, _ tokens: Int) -> Void)? = nil) throws -> [ExtractionManifest] {
        try checkInputs(texts: texts, labels: labels, targets: targets, provenance: provenance)
        let plans = try targets.map { try TargetPlan($0, classNames: classNames, tokenizer: tokenizer, model: model) }
        let start = Benchmark.now()
        let (ids, truncated) = try encodeInputs(texts, options: targets[0].options)
        let shared = targets[0].options
        let batches = Self.lengthBatches(ids.map(\.count), maxBatchTokens: shared.maxBatchTokens, maxBatch: shared.maxBatch)
        // The distinct readouts, each computed once per batch; plan i reads readouts[readoutIndex[i]].
        var readouts: [(layer: Int?, meanOverPositions: Bool)] = []
        let readoutIndex = plans.map { p -> Int in
            let r = (layer: p.options.layer, meanOverPositions: p.options.pooling == .mean)
            if let i = readouts.firstIndex(where: { $0.layer == r.layer && $0.meanOverPositions == r.meanOverPositions }) { return i }
            readouts.append(r)
            return readouts.count - 1
        }
        let maxB = batches.map(\.count).max() ?? 1
        let writers = try plans.map { try FolderWriter($0, rows: texts.count, maxBatch: maxB, model: model) }
        do {
            var done = 0, tokensDone = 0
            for batch in batches {
                let hidden = try forward(batch, ids: ids, readouts: readouts)
                for (w, i) in zip(writers, readoutIndex) { try w.write(batch: batch, features: hidden[i], labels: labels) }
                done += batch.count
                tokensDone += batch.count * ids[batch[0]].count
                progress?(done, texts.count, tokensDone)
            }
            for w in writers { try w.finish(labels: labels) }
        } catch {
            for w in writers { w.cancel() }
            throw error
        }
        WorkCount.add(.extractionPass)
        let seconds = Benchmark.now() - start
        return try writers.map {
            try $0.writeManifest(provenance: provenance, classNames: classNames, truncated: truncated,
                                 realTokens: ids.reduce(0) { $0 + $1.count }, seconds: seconds)
        }
    }

    /// Refuses what no target can extract: no inputs, a label count that differs, targets that would tokenize
    /// differently, a Φ of the wrong shape.
    func checkInputs(texts: [String], labels: [Int], targets: [ExtractionTarget], provenance: Provenance) throws {
        guard !texts.isEmpty else { throw FeatureError.badInput("\(provenance.dataset): no inputs to extract") }
        guard labels.count == texts.count else {
            throw FeatureError.badInput("\(provenance.dataset): \(texts.count) texts but \(labels.count) labels")
        }
        guard let first = targets.first?.options else { throw FeatureError.badArgument("no feature folder to extract into") }
        for t in targets.dropFirst() where t.options.prompt.template != first.prompt.template
            || t.options.maxLength != first.maxLength || t.options.maxBatchTokens != first.maxBatchTokens
            || t.options.maxBatch != first.maxBatch {
            throw FeatureError.badArgument("\(t.directory.path): one extraction pass needs one prompt, --max-length and batching for every folder")
        }
        let d = model.embeddingDimension, V = model.vocabularySize, phi = model.outputEmbeddings
        guard phi.rows == V, phi.cols == d else {
            throw FeatureError.badInput("model output embeddings are \(phi.shapeDescription), expected \(shapeString(V, d))")
        }
    }

    /// One batch of equal-length inputs through the model once: every readout's B × d features.
    func forward(_ batch: [Int], ids: [[Int32]], readouts: [(layer: Int?, meanOverPositions: Bool)]) throws -> [Matrix<Float>] {
        let B = batch.count, T = ids[batch[0]].count, d = model.embeddingDimension
        var tokens = [Int32](); tokens.reserveCapacity(B * T)
        for i in batch { tokens.append(contentsOf: ids[i]) }
        let hidden = try tokens.withUnsafeBufferPointer {
            try model.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, readouts: readouts)
        }
        guard hidden.count == readouts.count else {
            throw FeatureError.badInput("model returned \(hidden.count) readouts, expected \(readouts.count)")
        }
        for f in hidden where f.rows != B || f.cols != d {
            throw FeatureError.badInput("model returned features \(f.shapeDescription), expected \(shapeString(B, d))")
        }
        for f in hidden where !f.allFinite { throw FeatureError.badInput(nonFiniteMessage("f", batch)) }
        return hidden
    }
}

/// Features that are NaN or infinite are refused where they are made: a checkpoint with finite but huge weights
/// (e.g. 3e38) overflows inside the forward pass.
func nonFiniteMessage(_ what: String, _ batch: [Int]) -> String {
    "\(what) of input \((batch.min() ?? 0) + 1) (or another in its batch) is NaN or infinite: the checkpoint's weights overflow Float (check them, e.g. values near 3e38)"
}

/// One feature folder of an extraction pass: where it goes and what it holds (readout and families, `options`).
public struct ExtractionTarget {
    public var directory: URL
    public var options: ExtractionOptions
    public init(directory: URL, options: ExtractionOptions) { self.directory = directory; self.options = options }
}

/// A target with its word lists resolved against the tokenizer: what its folder will hold.
struct TargetPlan {
    let directory: URL
    let options: ExtractionOptions
    /// `--words` as token ids (nil: no subset families).
    let subset: WordSubset?
    /// Token ids of each class's words (nil: no zero-shot score).
    let classIDs: [[Int]]?

    /// Checks the options against the model and resolves the word lists; throws naming the option at fault.
    init(_ target: ExtractionTarget, classNames: [String], tokenizer: FeatureTokenizer, model: ContextEncoder) throws {
        let options = target.options
        guard ["<f4", "<f2"].contains(options.pDtype) else {
            throw FeatureError.badArgument("--p-dtype must be float32 or float16")
        }
        if let k = options.layer, k < 0 || k > model.blockCount {
            throw FeatureError.badArgument("--layer \(k) is outside 0...\(model.blockCount) (0 = embeddings, \(model.blockCount) = after the last block)")
        }
        if !options.isDefaultReadout && (!options.words.isEmpty || options.classWords != nil) {
            throw FeatureError.badArgument("--words and --class-words read p_f at the last token; they need the default readout (--pool last, no --layer)")
        }
        let subset = options.words.isEmpty ? nil : WordSubset(words: options.words, tokenizer: tokenizer)
        if let subset, subset.count == 0 {
            throw FeatureError.badArgument("--words: none of \(options.words) is a single token in this tokenizer")
        }
        var classIDs: [[Int]]? = nil
        if let cw = options.classWords {
            guard cw.count == classNames.count else {
                throw FeatureError.badArgument("--class-words: \(cw.count) groups for \(classNames.count) classes (\(classNames.joined(separator: ", ")))")
            }
            classIDs = try cw.enumerated().map { c, words in
                let ws = WordSubset(words: words, tokenizer: tokenizer)
                guard ws.count > 0 else {
                    throw FeatureError.badArgument("--class-words: no single-token variant of \(words) for class '\(classNames[c])'")
                }
                return ws.tokenIDs
            }
        }
        directory = target.directory; self.options = options; self.subset = subset; self.classIDs = classIDs
    }
}

/// The open files of one target folder. Rows arrive batch by batch in any order; `finish` puts every file in
/// place, `cancel` removes them all, so no partial file survives an error.
final class FolderWriter {
    let plan: TargetPlan
    let model: ContextEncoder
    let d: Int, V: Int
    var writers: [String: NPY.RowWriter] = [:]
    let f: NPY.RowWriter
    /// Present for the default readout (p_f and everything derived from it).
    let phipW, pW, subsetLogitsW, subsetProbsW: NPY.RowWriter?
    /// Scratch: logits / p_f (maxBatch × V), Φp_f (maxBatch × d), one subset row.
    let logits, phip: Matrix<Float>
    var row: [Float]
    var zeroShotCorrect = 0

    init(_ plan: TargetPlan, rows n: Int, maxBatch: Int, model: ContextEncoder) throws {
        self.plan = plan; self.model = model
        d = model.embeddingDimension; V = model.vocabularySize
        let directory = plan.directory, options = plan.options
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw FeatureError.file(path: directory.path, message: "cannot create folder (\(ioErrorText(error)))")
        }
        var opened: [String: NPY.RowWriter] = [:]
        func open(_ name: String, _ descr: String, _ cols: Int) throws -> NPY.RowWriter {
            do {
                let w = try NPY.RowWriter(url: directory.appendingPathComponent(name + ".npy"), descr: descr, rows: n, cols: cols)
                opened[name] = w
                return w
            } catch {
                for w in opened.values { w.cancel() }
                throw error
            }
        }
        let k = plan.subset?.count ?? 0, full = options.isDefaultReadout
        f = try open("f", "<f4", d)
        phipW = full ? try open("phip", "<f4", d) : nil
        pW = full && options.writeFullDistribution ? try open("p", options.pDtype, V) : nil
        subsetLogitsW = plan.subset != nil ? try open("subset_logits", "<f4", k) : nil
        subsetProbsW = plan.subset != nil ? try open("subset_probs", "<f4", k) : nil
        writers = opened
        logits = Matrix<Float>(rows: full ? maxBatch : 1, cols: V)
        phip = Matrix<Float>(rows: full ? maxBatch : 1, cols: d)
        row = [Float](repeating: 0, count: max(k, 1))
    }

    /// Writes the rows of `batch` (input indices) from its B × d features; for the default readout also
    /// logits = F Φᵀ, p_f = softmax(logits), Φp_f = p_f Φ, the word subsets and the zero-shot tally.
    func write(batch: [Int], features fb: Matrix<Float>, labels: [Int]) throws {
        guard let phipW else {
            for (r, i) in batch.enumerated() { try f.write(row: i, fb.pointer + r * fb.stride) }
            return
        }
        let B = batch.count, phi = model.outputEmbeddings
        let lg = logits.rows(0..<B), pp = phip.rows(0..<B)
        try BLAS.gemm(transB: true, fb, phi, into: lg)                   // logits = F Φᵀ   (B × V)
        if let w = subsetLogitsW { try writeSubset(w, batch: batch, from: lg) }
        softmaxRows(lg.pointer, rows: B, cols: V, stride: lg.stride)     // in place: P = softmax(logits)
        try BLAS.gemm(lg, phi, into: pp)                                  // Φp_f = P Φ       (B × d)
        guard lg.allFinite, pp.allFinite else { throw FeatureError.badInput(nonFiniteMessage("p or Φp", batch)) }
        for (r, i) in batch.enumerated() {
            try f.write(row: i, fb.pointer + r * fb.stride)
            try phipW.write(row: i, pp.pointer + r * pp.stride)
            if let pW { try pW.write(row: i, lg.pointer + r * lg.stride) }
        }
        if let w = subsetProbsW { try writeSubset(w, batch: batch, from: lg) }
        if let classIDs = plan.classIDs {
            for (r, i) in batch.enumerated() {
                var best = 0, bestScore = -Float.infinity
                for (c, cids) in classIDs.enumerated() {
                    var s: Float = 0
                    for id in cids { s += lg[r, id] }
                    if s > bestScore { bestScore = s; best = c }
                }
                if best == labels[i] { zeroShotCorrect += 1 }
            }
        }
    }

    /// The subset's columns of each row of `m` (logits or p_f) into `w`.
    func writeSubset(_ w: NPY.RowWriter, batch: [Int], from m: Matrix<Float>) throws {
        let ids = plan.subset!.tokenIDs
        for (r, i) in batch.enumerated() {
            for (j, id) in ids.enumerated() { row[j] = m[r, id] }
            try row.withUnsafeBufferPointer { try w.write(row: i, $0.baseAddress!) }
        }
    }

    /// Writes labels.npy and puts every family file in place.
    func finish(labels: [Int]) throws {
        try NPY.write(int64: labels.map { Int64($0) }, to: plan.directory.appendingPathComponent("labels.npy"))
        WorkCount.add(.labelsWrite)
        for w in writers.values { try w.finish() }
    }

    func cancel() { for w in writers.values { w.cancel() } }

    /// Writes and returns the folder's manifest (last, so a folder with a manifest is complete).
    func writeManifest(provenance: Provenance, classNames: [String], truncated: Int, realTokens: Int,
                       seconds: Double) throws -> ExtractionManifest {
        let n = f.header.shape[0], options = plan.options
        func checksum(_ name: String) throws -> String {
            try Digest.checksum(file: plan.directory.appendingPathComponent(name + ".npy"))
        }
        var files: [String: ExtractionManifest.FileInfo] = ["labels": .init(shape: [n], dtype: "<i8",
                                                                            checksum: try checksum("labels"))]
        for (name, w) in writers {
            files[name] = .init(shape: w.header.shape, dtype: w.header.descr, checksum: try checksum(name))
        }
        var manifest = ExtractionManifest(
            lmprobeVersion: lmprobeVersion, provenance: provenance, prompt: options.prompt.template, n: n, d: d,
            vocabSize: V, classNames: classNames, files: files, wordSubset: plan.subset, classWords: options.classWords,
            zeroShotAccuracy: plan.classIDs == nil ? nil : Double(zeroShotCorrect) / Double(n), truncated: truncated,
            realTokens: realTokens, seconds: seconds, sentencesPerSecond: Double(n) / seconds,
            tokensPerSecond: Double(realTokens) / seconds, pooling: options.pooling, layer: options.layer,
            readout: ExtractionManifest.describe(pooling: options.pooling, layer: options.layer))
        manifest.extractionVersion = FeatureExtractor.extractionVersion
        try manifest.write(to: plan.directory.appendingPathComponent("manifest.json"))
        return manifest
    }
}

extension ExtractionManifest {
    /// Writes the manifest atomically (`JSONCoding`: pretty-printed, sorted snake_case keys).
    public func write(to url: URL) throws {
        do { try AtomicFile.write(JSONCoding.encoder().encode(self), to: url) } catch {
            throw FeatureError.file(path: url.path, message: "cannot write (\(ioErrorText(error)))")
        }
        WorkCount.add(.manifestWrite)
    }

    public static func read(from url: URL) throws -> ExtractionManifest {
        WorkCount.add(.manifestRead)
        let data: Data
        do { data = try readFileData(url) } catch {
            throw FeatureError.file(path: url.path, message: "cannot read (\(ioErrorText(error)))")
        }
        let m: ExtractionManifest
        do { m = try JSONCoding.decoder().decode(ExtractionManifest.self, from: data) } catch {
            throw FeatureError.file(path: url.path, message: "not a valid lmprobe manifest (\(ioErrorText(error, json: data)))")
        }
        if let problem = m.problem { throw FeatureError.file(path: url.path, message: "not a valid lmprobe manifest: \(problem)") }
        return m
    }

    /// The first value out of its range, or nil: counts are non-negative and consistent (truncated ≤ n, class words
    /// one list per class, file shapes non-negative), rates and times finite and non-negative, the zero-shot
    /// accuracy in [0, 1]. A manifest is read back from disk, so nothing in it is trusted before this check.
    public var problem: String? {
        if n < 0 || d < 0 || vocabSize < 0 { return "n, d and vocab_size must be ≥ 0 (got \(n), \(d), \(vocabSize))" }
        if truncated < 0 || truncated > n { return "truncated \(truncated) is not in 0...n (n = \(n))" }
        if realTokens < 0 { return "real_tokens \(realTokens) is negative" }
        if classNames.isEmpty { return "class_names is empty" }
        if Set(classNames).count != classNames.count { return "class_names has duplicates" }
        if let z = zeroShotAccuracy, !(z >= 0 && z <= 1) { return "zero_shot_accuracy \(z) is not in [0, 1]" }
        if let cw = classWords, cw.count != classNames.count {
            return "class_words has \(cw.count) lists for \(classNames.count) classes"
        }
        for (name, v) in [("seconds", seconds), ("sentences_per_second", sentencesPerSecond), ("tokens_per_second", tokensPerSecond)]
        where !(v >= 0 && v.isFinite) { return "\(name) \(v) is not a finite number ≥ 0" }
        for (name, f) in files.sorted(by: { $0.key < $1.key }) where f.shape.contains(where: { $0 < 0 }) || f.shape.first.map({ $0 != n }) == true {
            return "files.\(name) has shape \(f.shape), expected \(n) rows"
        }
        return nil
    }
}

extension FeatureFolder {
    /// Refuses a train and a test folder that were not extracted alike: the probe fits on one and scores the other,
    /// so they must come from the same checkpoint, tokenizer, prompt, word subset, classes and lmprobe version.
    /// Folders without a manifest (plain .npy files) are not checked.
    public static func checkSameExtraction(train: URL, test: URL) throws {
        let a = train.appendingPathComponent("manifest.json"), b = test.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: a.path), FileManager.default.fileExists(atPath: b.path) else { return }
        let x = try ExtractionManifest.read(from: a), y = try ExtractionManifest.read(from: b)
        var differences: [String] = []
        if x.provenance.checkpointSHA256 != y.provenance.checkpointSHA256 { differences.append("checkpoint (\(x.provenance.checkpoint) vs \(y.provenance.checkpoint))") }
        if x.provenance.tokenizer != y.provenance.tokenizer { differences.append("tokenizer") }
        if x.prompt != y.prompt { differences.append("prompt ('\(x.prompt)' vs '\(y.prompt)')") }
        if x.wordSubset?.words != y.wordSubset?.words || x.wordSubset?.tokenIDs != y.wordSubset?.tokenIDs { differences.append("words") }
        if x.classWords != y.classWords { differences.append("class words") }
        if x.classNames != y.classNames { differences.append("classes (\(x.classNames) vs \(y.classNames))") }
        if x.d != y.d || x.vocabSize != y.vocabSize { differences.append("feature width") }
        if x.readout != y.readout { differences.append("readout (\(x.readout ?? "default") vs \(y.readout ?? "default"))") }
        if x.lmprobeVersion != y.lmprobeVersion { differences.append("lmprobe version") }
        if !differences.isEmpty {
            throw FeatureError.badInput("\(train.path) and \(test.path) were extracted differently: \(differences.joined(separator: ", ")) differ; re-extract both with the same settings")
        }
    }
}
