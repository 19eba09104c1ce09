import Features
import Foundation
import Model
import Text

/// The theory checks' context sets (`ContextSet`: a preset or the user's file) as an extraction folder: f and Φp_f
/// of every context under one split named `all`, content-addressed by `FeatureCache` and reused when it matches.
public enum ContextFeatures {
    /// The folder `cacheDirectory/contexts-NAME-KEY` (`FeatureCache.directory`) holding
    /// `all/{f,phip,labels}.npy` for `set` under `model`.
    public static func folder(model: LoadedModel, set: ContextSet, cacheDirectory: URL,
                              progress: ((String, Int, Int) -> Void)? = nil) throws -> (directory: URL, reused: Bool) {
        guard !set.texts.isEmpty else { throw ExperimentError("context set \(set.name): no contexts") }
        let data = LabelledDataset(texts: set.texts, labels: [Int](repeating: 0, count: set.texts.count),
                                   classNames: ["context"], source: set.description)
        var split = DatasetSplit(name: "all", data: data, digest: "")
        split.digest = split.contentSHA256   // no file: the contents are the identity
        var options = ExtractionOptions()
        options.prompt = try PromptTemplate(set.prompt)
        options.writeFullDistribution = false
        let entry = try FeatureCache.entries(model: model, splits: [split],
                                             requests: [.init(label: ["contexts", set.name], options: options)],
                                             cache: cacheDirectory, progress: progress)[0]
        return (entry.directory, entry.reused)
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
