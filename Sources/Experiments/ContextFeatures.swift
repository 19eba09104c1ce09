import Features
import Foundation
import Model
import Text

/// The theory checks' context sets (`ContextSet`: a preset or the user's file) as an extraction folder: f and Φp_f
/// of every context under one split named `all`, content-addressed by `FeatureCache` and reused when it matches.
public enum ContextFeatures {
    /// The folder `cacheDirectory/contexts-NAME-KEY` holding `all/{f,phip,labels}.npy` for `set` under `model`.
    public static func folder(model: LoadedModel, set: ContextSet, cacheDirectory: URL,
                              progress: ((String, Int, Int) -> Void)? = nil) throws -> (directory: URL, reused: Bool) {
        guard !set.texts.isEmpty else { throw ExperimentError("context set \(set.name): no contexts") }
        let data = LabelledDataset(texts: set.texts, labels: [Int](repeating: 0, count: set.texts.count),
                                   classNames: ["context"], source: set.description)
        let split = DatasetSplit(name: "all", data: data, digest: FeatureCache.contentDigest(data))
        var options = ExtractionOptions()
        options.prompt = try PromptTemplate(set.prompt)
        options.writeFullDistribution = false
        let key = FeatureCache.key(checkpointSHA256: model.sha256, splits: [split], options: options).prefix(16)
        let dir = cacheDirectory.appendingPathComponent("contexts-\(set.name)-\(key)")
        let reused = try FeatureCache.features(model: model, splits: [split], options: options, directory: dir,
                                               progress: progress)
        return (dir, reused)
    }

    /// A preset by name: the SST sets need `sstDirectory`, the corpus prefixes the pretraining token folder (`tokens`,
    /// default: the one the checkpoint records) and `count`.
    public static func preset(_ preset: ContextPreset, model: LoadedModel, sstDirectory: String?, tokens: String?,
                              count: Int, seed: UInt64) throws -> ContextSet {
        switch preset {
        case .sstPrompt, .sstNoPrompt:
            guard let sst = sstDirectory else { throw ExperimentError("--contexts \(preset.rawValue) needs --sst-dir (`make sst` fetches the SST files into data/sst)") }
            return try ContextSet.sst(directory: sst, prompt: preset == .sstPrompt)
        case .corpusPrefixes:
            guard let dir = tokens ?? model.checkpoint.metadata["data"] else {
                throw ExperimentError("--contexts corpus-prefixes: \(model.url.path) records no token folder; give --data")
            }
            return try ContextSet.corpusPrefixes(tokens: URL(fileURLWithPath: dir), tokenizer: model.tokenizer,
                                                 count: count, seed: seed)
        }
    }
}
