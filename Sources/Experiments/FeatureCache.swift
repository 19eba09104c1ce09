import Features
import Foundation
import Model
import Linalg
import Text
import Support

/// The address of one feature-cache entry: every setting that changes the files an extraction writes, as one
/// canonical Codable value (`JSONCoding`: sorted keys), hashed. The batching limits are left out (they do not
/// change a single bit); `extractionVersion` (`FeatureExtractor.extractionVersion`) changes whenever extraction
/// does, so an entry written by other extraction code is never reused.
public struct FeatureCacheKey: Codable, Equatable, Sendable {
    /// One split of the dataset: its name, the file's SHA-256, its size and the SHA-256 of its contents.
    public struct Split: Codable, Equatable, Sendable {
        public var name: String
        public var fileSHA256: String
        public var count: Int
        public var contentSHA256: String
        enum CodingKeys: String, CodingKey { case name, fileSHA256 = "fileSha256", count, contentSHA256 = "contentSha256" }

        /// The key parts of `splits` (each split's content digest computed once, `DatasetSplit.contentSHA256`).
        public static func of(_ splits: [DatasetSplit]) -> [Split] {
            splits.map { Split(name: $0.name, fileSHA256: $0.digest, count: $0.data.count, contentSHA256: $0.contentSHA256) }
        }
    }

    public var extractionVersion = FeatureExtractor.extractionVersion
    public var checkpointSHA256: String
    public var splits: [Split]
    // `ExtractionOptions` except the batching limits (a test checks that every other option is here).
    public var prompt: String
    public var words: [String]
    public var classWords: [[String]]?
    public var pDtype: String
    public var writeFullDistribution: Bool
    public var maxLength: Int?
    public var pooling: Pooling
    public var layer: Int?

    enum CodingKeys: String, CodingKey {
        case extractionVersion, checkpointSHA256 = "checkpointSha256", splits, prompt, words, classWords, pDtype
        case writeFullDistribution, maxLength, pooling, layer
    }

    public init(checkpointSHA256: String, splits: [DatasetSplit], options o: ExtractionOptions) {
        self.checkpointSHA256 = checkpointSHA256
        self.splits = Split.of(splits)
        prompt = o.prompt.template; words = o.words; classWords = o.classWords; pDtype = o.pDtype
        writeFullDistribution = o.writeFullDistribution; maxLength = o.maxLength; pooling = o.pooling; layer = o.layer
    }

    /// Every key written, nil as `null`: an option that is not set still names itself, so the value is canonical.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(extractionVersion, forKey: .extractionVersion)
        try c.encode(checkpointSHA256, forKey: .checkpointSHA256)
        try c.encode(splits, forKey: .splits)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(words, forKey: .words)
        try c.encode(classWords, forKey: .classWords)
        try c.encode(pDtype, forKey: .pDtype)
        try c.encode(writeFullDistribution, forKey: .writeFullDistribution)
        try c.encode(maxLength, forKey: .maxLength)
        try c.encode(pooling, forKey: .pooling)
        try c.encode(layer, forKey: .layer)
    }

    /// The canonical bytes: compact JSON with sorted keys.
    public func canonicalJSON() -> Data {
        // Strings, integers, booleans and arrays of them: encoding cannot fail.
        (try? JSONCoding.encoder(pretty: false).encode(self)) ?? Data()
    }

    /// Hex SHA-256 of `canonicalJSON()`.
    public var digest: String { SHA256.hex(Array(canonicalJSON())) }

    /// The readout as a folder-name tag: "" for f(s), else e.g. "mean", "last-layer3".
    var readoutTag: String {
        pooling == .last && layer == nil ? "" : "\(pooling.rawValue)\(layer.map { "-layer\($0)" } ?? "")"
    }
}

/// Extract-or-reuse of feature folders, content-addressed by `FeatureCacheKey`: the one cache of `compare`,
/// `analyze transfer` and the theory checks (`ContextFeatures`). Entries are named one way (`directory`), each
/// written under an exclusive lock, so runs sharing a cache wait for each other's entries and reuse them.
public enum FeatureCache {
    /// The folder of one entry: `CACHE/LABEL-READOUT-KEY`, LABEL the caller's parts joined by "-" (e.g. model, task,
    /// prompt setting), READOUT the non-default readout (`mean`, `last-layer3`), KEY the first 16 hex digits of the key.
    public static func directory(in cache: URL, label: [String], key: FeatureCacheKey) -> URL {
        let parts = label + (key.readoutTag.isEmpty ? [] : [key.readoutTag]) + [String(key.digest.prefix(16))]
        return cache.appendingPathComponent(parts.joined(separator: "-"))
    }

    /// The content address of a model-free computation on `splits` (e.g. the bag-of-words baseline): `what` names it
    /// and its settings.
    public static func key(_ what: String, splits: [DatasetSplit]) -> String {
        struct Key: Codable { var what: String; var lmprobeVersion: String; var splits: [FeatureCacheKey.Split] }
        let key = Key(what: what, lmprobeVersion: lmprobeVersion, splits: FeatureCacheKey.Split.of(splits))
        return SHA256.hex(Array((try? JSONCoding.encoder(pretty: false).encode(key)) ?? Data()))
    }

    /// One feature folder set asked of the cache: a label for its folder name and the extraction settings.
    public struct Request {
        public var label: [String]
        public var options: ExtractionOptions
        public init(label: [String], options: ExtractionOptions) { self.label = label; self.options = options }
    }

    /// One entry: `directory/<split>` for every split, with their manifests (read once, or as extraction wrote them).
    public struct Entry {
        public let directory: URL
        public let key: FeatureCacheKey
        /// True when every split was already in the cache.
        public let reused: Bool
        public let manifests: [String: ExtractionManifest]

        /// The split's folder, opened once (labels read, manifest in hand).
        public func folder(_ split: String) throws -> OpenedFeatureFolder {
            try FeatureFolder.open(directory.appendingPathComponent(split), manifest: manifests[split])
        }
    }

    /// The entries of `requests` for `splits` under `model`: each reused when its folders match, the rest extracted
    /// together in ONE pass of the model over each split (`FeatureExtractor.extract(targets:)`). Each entry is
    /// locked while it is checked and written (`DirectoryLock`, waiting), so a second run on the same cache waits
    /// and then reuses the first one's folders instead of writing over them. Returns the entries in request order.
    public static func entries(model: LoadedModel, splits: [DatasetSplit], requests: [Request], cache: URL,
                               progress: ((String, Int, Int) -> Void)? = nil) throws -> [Entry] {
        let keys = requests.map { FeatureCacheKey(checkpointSHA256: model.sha256, splits: splits, options: $0.options) }
        let dirs = zip(requests, keys).map { directory(in: cache, label: $0.label, key: $1) }
        // Locks in path order: two runs asking overlapping sets cannot each hold one the other waits for.
        var locks: [DirectoryLock] = []
        defer { for l in locks { l.release() } }
        for d in Set(dirs).sorted(by: { $0.path < $1.path }) {
            locks.append(try DirectoryLock(directory: d, purpose: "lmprobe run writing this feature-cache entry", wait: true))
        }
        var manifests: [[String: ExtractionManifest]?] = zip(requests, dirs).map { r, d in
            cached(directory: d, splits: splits, options: r.options, checkpointSHA256: model.sha256)
        }
        let missing = manifests.indices.filter { manifests[$0] == nil }
        if !missing.isEmpty {
            let extractor = model.extractor
            for sp in splits {
                let prov = Provenance(checkpoint: model.url.path, checkpointSHA256: model.sha256,
                                      tokenizer: model.tokenizerPath, dataset: sp.data.source, datasetSHA256: sp.digest,
                                      split: sp.name)
                let targets = missing.map {
                    ExtractionTarget(directory: dirs[$0].appendingPathComponent(sp.name), options: requests[$0].options)
                }
                let written = try extractor.extract(texts: sp.data.texts, labels: sp.data.labels,
                                                    classNames: sp.data.classNames, targets: targets, provenance: prov,
                                                    progress: { done, total, _ in progress?(sp.name, done, total) })
                for (i, m) in zip(missing, written) { manifests[i] = (manifests[i] ?? [:]).merging([sp.name: m]) { $1 } }
            }
        }
        return requests.indices.map {
            Entry(directory: dirs[$0], key: keys[$0], reused: !missing.contains($0), manifests: manifests[$0] ?? [:])
        }
    }

    /// The manifests of `directory/<split>` for every split when they match the checkpoint, the datasets, the
    /// settings, the extraction version and the files needed; nil otherwise.
    static func cached(directory: URL, splits: [DatasetSplit], options: ExtractionOptions,
                       checkpointSHA256: String) -> [String: ExtractionManifest]? {
        let needed = !options.isDefaultReadout ? ["f", "labels"]
            : ["f", "phip", "labels"] + (options.words.isEmpty ? [] : ["subset_logits", "subset_probs"])
            + (options.writeFullDistribution ? ["p"] : [])
        var out: [String: ExtractionManifest] = [:]
        for sp in splits {
            let folder = directory.appendingPathComponent(sp.name)
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("manifest.json").path),
                  let m = try? FeatureFolder.manifest(folder) else { return nil }
            guard m.extractionVersion == FeatureExtractor.extractionVersion,
                  m.provenance.checkpointSHA256 == checkpointSHA256, m.provenance.datasetSHA256 == sp.digest,
                  m.effectivePooling == options.pooling, m.layer == options.layer,
                  m.prompt == options.prompt.template, m.n == sp.data.count,
                  (m.wordSubset?.words ?? []) == options.words,
                  needed.allSatisfy({ name in
                      m.files[name] != nil
                          && FileManager.default.fileExists(atPath: folder.appendingPathComponent(name + ".npy").path)
                  }) else { return nil }
            out[sp.name] = m
        }
        return out
    }
}
