import Features
import Foundation
import Model
import Text
import Support

/// Extract-or-reuse of feature folders, content-addressed: the one cache key of `compare` and `analyze transfer`.
public enum FeatureCache {
    /// SHA-256 of a split's contents: its texts and labels in order (so the same file read differently — another
    /// column, PTB detokenisation, another split seed — gets another address).
    public static func contentDigest(_ data: LabelledDataset) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.texts.reduce(0) { $0 + $1.utf8.count + 8 })
        for (t, l) in zip(data.texts, data.labels) {
            bytes += Array(t.utf8)
            bytes.append(0x1F)
            bytes += Array(String(l).utf8)
            bytes.append(0x1E)
        }
        bytes += Array(data.classNames.joined(separator: "\u{1F}").utf8)
        return SHA256.hex(bytes)
    }

    /// The content address of features extracted from `splits` by the checkpoint with SHA-256 `checkpointSHA256`
    /// under `options`: every setting that changes the files (all of `ExtractionOptions` except the batching
    /// limits), each split's name, file hash and content hash, and the lmprobe version.
    public static func key(checkpointSHA256: String, splits: [DatasetSplit], options: ExtractionOptions) -> String {
        var o = options
        o.maxBatchTokens = 0
        o.maxBatch = 0
        var s = "lmprobe \(lmprobeVersion)\ncheckpoint \(checkpointSHA256)\noptions \(String(describing: o))\n"
        for sp in splits { s += "split \(sp.name) \(sp.digest) n=\(sp.data.count) content=\(contentDigest(sp.data))\n" }
        return Digest.sha256(s)
    }

    /// The content address of a model-free computation on `splits` (e.g. the bag-of-words baseline): `what` names it
    /// and its settings.
    public static func key(_ what: String, splits: [DatasetSplit]) -> String {
        var s = "lmprobe \(lmprobeVersion)\n\(what)\n"
        for sp in splits { s += "split \(sp.name) \(sp.digest) n=\(sp.data.count) content=\(contentDigest(sp.data))\n" }
        return Digest.sha256(s)
    }

    /// Loads `directory/<split>` for every split when their manifests match the checkpoint, the datasets, the prompt,
    /// the words and the files needed; otherwise extracts into it. Returns whether the folders were reused.
    public static func features(model: LoadedModel, splits: [DatasetSplit], options: ExtractionOptions, directory: URL,
                                progress: ((String, Int, Int) -> Void)? = nil) throws -> Bool {
        func matches(_ sp: DatasetSplit) -> Bool {
            guard let m = try? FeatureFolder.manifest(directory.appendingPathComponent(sp.name)) else { return false }
            let needed = !options.isDefaultReadout ? ["f", "labels"]
                : ["f", "phip", "labels"] + (options.words.isEmpty ? [] : ["subset_logits", "subset_probs"])
                + (options.writeFullDistribution ? ["p"] : [])
            return m.provenance.checkpointSHA256 == model.sha256 && m.provenance.datasetSHA256 == sp.digest
                && m.effectivePooling == options.pooling && m.layer == options.layer
                && m.prompt == options.prompt.template && m.n == sp.data.count
                && (m.wordSubset?.words ?? []) == options.words
                && needed.allSatisfy { name in
                    m.files[name] != nil
                        && FileManager.default.fileExists(atPath: directory.appendingPathComponent(sp.name)
                            .appendingPathComponent(name + ".npy").path)
                }
        }
        if splits.allSatisfy(matches) { return true }
        let extractor = model.extractor
        for sp in splits {
            let prov = Provenance(checkpoint: model.url.path, checkpointSHA256: model.sha256, tokenizer: model.tokenizerPath,
                                  dataset: sp.data.source, datasetSHA256: sp.digest, split: sp.name)
            _ = try extractor.extract(texts: sp.data.texts, labels: sp.data.labels, classNames: sp.data.classNames,
                                      to: directory.appendingPathComponent(sp.name), options: options,
                                      provenance: prov, progress: { done, total, _ in progress?(sp.name, done, total) })
        }
        return false
    }
}
