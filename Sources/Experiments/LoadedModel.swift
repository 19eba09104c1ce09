import Features
import Foundation
import Model
import Text

/// A checkpoint, where it is, its identity (`Checkpoint.sha256`), and its tokenizer: what every model-reading command needs.
public struct LoadedModel {
    public let checkpoint: Checkpoint
    /// The resolved checkpoint file.
    public let url: URL
    public let sha256: String
    public let tokenizer: BPETokenizer
    /// The tokenizer folder (recorded in the checkpoint, or the override).
    public let tokenizerPath: String

    /// A feature extractor over this model and tokenizer.
    public var extractor: FeatureExtractor { FeatureExtractor(model: checkpoint.model, tokenizer: tokenizer) }
}

/// Loads checkpoints with their tokenizers; a tokenizer folder shared by several checkpoints is read once.
public final class ModelLoader {
    let tokenizerOverride: String?
    var tokenizers: [String: BPETokenizer] = [:]

    /// `tokenizer`: a folder (vocab.json + merges.txt) to use instead of the one each checkpoint records.
    public init(tokenizer: String? = nil) { tokenizerOverride = tokenizer }

    /// A checkpoint file or run folder (its final / latest checkpoint), loaded, without a tokenizer. The identity
    /// (`sha256`) is the one `Checkpoint.load` computed while reading: the file is not hashed a second time.
    public static func checkpoint(_ path: String) throws -> (checkpoint: Checkpoint, url: URL, sha256: String) {
        let url = try Checkpoint.resolve(URL(fileURLWithPath: path))
        let ckpt = try Checkpoint.load(url: url)
        return (ckpt, url, ckpt.sha256)
    }

    /// A checkpoint file or run folder with its tokenizer, checked to have the model's vocabulary size.
    public func load(_ path: String) throws -> LoadedModel {
        let (ckpt, url, sha) = try Self.checkpoint(path)
        guard let tokDir = tokenizerOverride ?? ckpt.tokenizerDirectory else {
            throw ExperimentError("\(url.path): the checkpoint records no tokenizer folder; give --tokenizer")
        }
        let tok: BPETokenizer
        if let cached = tokenizers[tokDir] { tok = cached } else {
            tok = try BPETokenizer(directory: URL(fileURLWithPath: tokDir))
            tokenizers[tokDir] = tok
        }
        guard tok.vocabSize == ckpt.config.vocabSize else {
            throw ExperimentError("\(tokDir): the tokenizer has \(tok.vocabSize) tokens but \(url.path) has a vocabulary of \(ckpt.config.vocabSize)")
        }
        return LoadedModel(checkpoint: ckpt, url: url, sha256: sha, tokenizer: tok, tokenizerPath: tokDir)
    }
}
