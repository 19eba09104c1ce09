import Foundation
import Text

/// A checkpoint, where it is, its identity (`Checkpoint.sha256`), and its tokenizer: what every model-reading command
/// needs.
public struct LoadedModel {
    public let checkpoint: Checkpoint
    /// The resolved checkpoint file.
    public let url: URL
    public let sha256: String
    public let tokenizer: BPETokenizer
    /// The tokenizer folder (recorded in the checkpoint, or the override).
    public let tokenizerPath: String
}

/// THE model loader: every command that reads a checkpoint (an lmprobe file or run folder, or a Hugging Face GPT-2
/// folder) goes through it, and the checks that pair a model with a tokenizer or with token files live here once:
///
/// - `checkpoint(_:)`: the weights alone (token-id data, Φ, validation losses, export's weights);
/// - `load(_:)`: the weights and their tokenizer, whose vocabulary size must be the model's (a tokenizer folder
///   shared by several checkpoints is read once per loader);
/// - `checkpoint(_:trainingOn:flag:)`: weights to train from (`pretrain --init-from`/`--phi-from`), whose
///   vocabulary and tokenizer must be the token files';
/// - `training(_:)`: a training checkpoint with its AdamW moments and state (`pretrain --resume`).
///
/// Each checkpoint file is read and verified once per call; nothing here hashes a file a second time (the identity
/// is the one `Checkpoint.load` computed while reading).
public final class ModelLoader {
    let tokenizerOverride: String?
    var tokenizers: [String: BPETokenizer] = [:]

    /// `tokenizer`: a folder (vocab.json + merges.txt) to use instead of the one each checkpoint records.
    public init(tokenizer: String? = nil) { tokenizerOverride = tokenizer }

    /// A checkpoint file, run folder (its final / latest checkpoint) or Hugging Face GPT-2 folder, loaded, without a
    /// tokenizer.
    public static func checkpoint(_ path: String) throws -> (checkpoint: Checkpoint, url: URL, sha256: String) {
        let url = try Checkpoint.resolve(URL(fileURLWithPath: path))
        let ckpt = try Checkpoint.load(url: url)
        return (ckpt, url, ckpt.sha256)
    }

    /// A checkpoint file or run folder with its tokenizer, checked to have the model's vocabulary size. With a
    /// tokenizer override, the tokenizer the checkpoint records (when that folder still reads) must have the same
    /// tokens: the override is for a moved or copied tokenizer, and another tokenizer of the same size would give
    /// every id another word.
    public func load(_ path: String) throws -> LoadedModel {
        let (ckpt, url, sha) = try Self.checkpoint(path)
        guard let tokDir = tokenizerOverride ?? ckpt.tokenizerDirectory else {
            throw ModelError.badInput("\(url.path): the checkpoint records no tokenizer folder; give --tokenizer")
        }
        let tok = try tokenizer(tokDir)
        // The size must fit (an imported model may have rows past its tokenizer, never produced) and an override must
        // encode as the recorded tokenizer does (tokens, merges, special tokens).
        var recorded: BPETokenizer? = nil
        if tokenizerOverride != nil, let r = ckpt.tokenizerDirectory,
           URL(fileURLWithPath: r).standardizedFileURL.path != URL(fileURLWithPath: tokDir).standardizedFileURL.path {
            recorded = try? tokenizer(r)
        }
        _ = try ckpt.checkTokenizer(tok, path: tokDir, recorded: recorded)
        return LoadedModel(checkpoint: ckpt, url: url, sha256: sha, tokenizer: tok, tokenizerPath: tokDir)
    }

    /// The tokenizer in folder `dir`, read once per loader.
    func tokenizer(_ dir: String) throws -> BPETokenizer {
        if let cached = tokenizers[dir] { return cached }
        let tok = try BPETokenizer(directory: URL(fileURLWithPath: dir))
        tokenizers[dir] = tok
        return tok
    }

    /// Weights to train from on `dataset` (`flag` names the option in messages): refused unless the model's
    /// vocabulary is the token files' and the tokenizer it records (when it records one in another folder) has the
    /// same tokens — otherwise ids would mean other words.
    public static func checkpoint(_ path: String, trainingOn dataset: TokenDataset, flag: String) throws -> Checkpoint {
        let ck = try checkpoint(path).checkpoint
        guard ck.config.vocabSize == dataset.vocabSize else {
            throw ModelError.badInput("\(flag) \(ck.url.path): vocabulary \(ck.config.vocabSize) but the token files have \(dataset.vocabSize)")
        }
        guard let dir = ck.tokenizerDirectory,
              URL(fileURLWithPath: dir).standardizedFileURL.path != dataset.tokenizerDirectory.standardizedFileURL.path else { return ck }
        let a = try BPETokenizer(directory: URL(fileURLWithPath: dir)), b = try BPETokenizer(directory: dataset.tokenizerDirectory)
        guard a.tokenStrings == b.tokenStrings else {
            throw ModelError.badInput("\(flag) \(ck.url.path): its tokenizer (\(dir)) differs from the token files' (\(dataset.tokenizerDirectory.path))")
        }
        return ck
    }

    /// A training checkpoint for `--resume`: model, AdamW moments and training state (`Checkpoint.loadForResume`).
    public static func training(_ url: URL) throws -> (model: GPT, optimizer: AdamW, state: TrainingState,
                                                       metadata: [String: String]) {
        try Checkpoint.loadForResume(url: url)
    }
}
