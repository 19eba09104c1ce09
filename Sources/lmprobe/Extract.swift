import ArgumentParser
import Cluster
import Experiments
import Features
import Foundation
import Model
import Text
import Support

/// `lmprobe extract`: run a checkpoint over a labelled dataset and write every feature family as .npy.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract f(s), p_f(s), Φp_f(s) and word-subset features of a labelled dataset to .npy files.",
        discussion: """
        Writes OUT/{f,p,phip,subset_logits,subset_probs,labels}.npy and OUT/manifest.json; with a test set
        (--test-dataset or --test-fraction) the same files go to OUT/train and OUT/test.
        Features are taken at the last real token; long inputs are truncated from the left so the prompt is kept.
        --shard k/n extracts only the contiguous rows ⌊k·N/n⌋ ..< ⌊(k+1)·N/n⌋ of each split (k = 0 … n−1, e.g. a
        Slurm array task id), recording the shard in the manifest; `probe --train S0 S1 …` takes the shard folders.
        --pool mean averages over every real token of the input instead (prompt tokens included: each sees the
        text before it; without a prompt this is the mean over the text), --layer K reads the residual stream
        after block K; the manifest records both (pooling, layer, readout).
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var model: CheckpointOptions
    @OptionGroup var data: DatasetOptions
    @Option(help: "Prompt template: '{text} This movie is', or a suffix such as ' This movie is' (default: none).")
    var prompt: String?
    @Option(help: "Word list for the subset features, space-separated; 'paper' = the paper's 14 sentiment words.")
    var words: String?
    @Option(help: "Zero-shot class words in class order: one word per class (':( :)'), or groups split by '|'.")
    var classWords: String?
    @Option(help: "dtype of p.npy.") var pDtype: ProbabilityDType = .float32
    @Flag(help: "Do not write the n × V p.npy.") var noP = false
    @Option(help: "Maximum tokens per forward batch.") var maxBatchTokens = 8192
    // .unconditional: a value such as "-1/3" is taken as the value (and refused by range in validate()), not
    // mistaken for an option ("Missing value for '--shard'").
    @Option(parsing: .unconditional, help: "Extract only shard k of n (k/n, 0 ≤ k < n) of each split: contiguous rows, recorded in the manifest.")
    var shard: String?
    @Option(help: "f.npy at the last token, or the mean over all tokens of the input (prompt tokens included). Anything but the default (last, no --layer) writes only f.npy and labels.npy.")
    var pool: Pooling = .last
    @Option(help: "Read the residual stream after block K (0 = embeddings, L = last block, before the final LayerNorm) instead of f(s), the final LayerNorm output.")
    var layer: Int?
    @Option(help: "Output folder.") var out: String
    @Flag(help: "Print a JSON summary (the manifests) instead of text.") var json = false

    func validate() throws {
        guard data.dataset != nil else { throw ValidationError("give --dataset") }
        guard maxBatchTokens > 0 else { throw ValidationError("--max-batch-tokens must be positive") }
        if let s = shard { do { _ = try Shard.parse(s) } catch { throw ValidationError("\(error)") } }
        if let k = layer, k < 0 { throw ValidationError("--layer must be at least 0 (got \(k))") }
        if pool != .last || layer != nil, words != nil || classWords != nil {
            throw ValidationError("--words and --class-words read p_f at the last token: they need --pool last and no --layer")
        }
    }

    func run() throws {
        try Cluster.refuseSeveralRanks(command: "extract", hint: "split the rows with --shard k/n, one process (or Slurm array task) per shard")
        global.apply()
        let extractor: FeatureExtractor, ckptURL: URL, ckptSHA: String, tokPath: String
        if data.isTokenIDs {
            // Token-id datasets are already tokenised: prompts and words are ids too, checked against V by the extractor.
            if let p = prompt, TokenIDText.parse(p.replacingOccurrences(of: "{text}", with: "")) == nil {
                throw CLIError("--prompt '\(p)': a token-id dataset needs a prompt of space-separated token ids")
            }
            let c = try ModelLoader.checkpoint(model.checkpoint)
            extractor = FeatureExtractor(model: c.checkpoint.model, tokenizer: TokenIDText())
            (ckptURL, ckptSHA, tokPath) = (c.url, c.sha256, "token ids")
        } else {
            let loaded = try model.load()
            extractor = loaded.extractor
            (ckptURL, ckptSHA, tokPath) = (loaded.url, loaded.sha256, loaded.tokenizerPath)
        }
        var options = ExtractionOptions()
        if let p = prompt { options.prompt = try PromptTemplate(p) }
        if let w = words { options.words = w == "paper" ? WordSubset.paperSentimentWords : WordSubset.parse(w) }
        if let cw = classWords { options.classWords = Self.parseClassWords(cw) }
        options.pDtype = pDtype.npyDescr
        options.writeFullDistribution = !noP
        options.maxBatchTokens = maxBatchTokens
        options.pooling = pool
        options.layer = layer
        let splits = try data.splits()
        var manifests: [ExtractionManifest] = []
        // Built whole in a staging folder, then swapped in: no split or stale file of an earlier run survives.
        let staging = try OutputFolder(replacing: URL(fileURLWithPath: out), markers: ["manifest.json", "train/manifest.json", "test/manifest.json"])
        for var split in splits {
            var part: Shard? = nil
            if let s = shard {
                let (k, n) = try Shard.parse(s)
                let p = try Shard(index: k, count: n, of: split.data.count)
                split.data = split.data.subset(Array(p.rowStart..<p.rowEnd), note: "(shard \(k)/\(n))")
                part = p
            }
            let dir = split.name == "all" ? staging.url : staging.url.appendingPathComponent(split.name)
            let shown = split.name == "all" ? staging.destination : staging.destination.appendingPathComponent(split.name)
            let prov = Provenance(checkpoint: ckptURL.path, checkpointSHA256: ckptSHA, tokenizer: tokPath,
                                  dataset: split.data.source, datasetSHA256: split.digest, split: split.name,
                                  shard: part)
            let bar = ProgressLine("extract \(split.name)", total: split.data.count, unit: "sent", quiet: json)
            let m = try extractor.extract(texts: split.data.texts, labels: split.data.labels,
                                          classNames: split.data.classNames, to: dir, options: options,
                                          provenance: prov, progress: { done, _, _ in bar.update(done) })
            manifests.append(m)
            if !json {
                let name = split.name + (part.map { " shard \($0.index)/\($0.count) (rows \($0.rowStart)..<\($0.rowEnd) of \($0.splitRows))" } ?? "")
                var line = String(format: "%@: %d inputs → %@  (%.1f s, %.0f sentences/s, %.0f tokens/s, %d truncated)",
                                  name, m.n, shown.path, m.seconds, m.sentencesPerSecond, m.tokensPerSecond, m.truncated)
                if !options.isDefaultReadout, let r = m.readout { line += ", " + r }
                if let z = m.zeroShotAccuracy { line += String(format: ", zero-shot accuracy %.1f%%", 100 * z) }
                print(line)
                if let ws = m.wordSubset, !ws.missingWords.isEmpty {
                    eprint("warning: words with no single-token variant: \(ws.missingWords.joined(separator: " "))")
                }
            }
        }
        try staging.commit()
        if json { try printJSON(manifests) }
    }

    static func parseClassWords(_ s: String) -> [[String]] {
        if s.contains("|") { return s.split(separator: "|").map { WordSubset.parse(String($0)) } }
        return WordSubset.parse(s).map { [$0] }
    }
}

extension Pooling: ExpressibleByArgument {}
