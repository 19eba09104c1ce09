import Foundation
import Text
import Support

/// The sampled corpus: `train.bin` and `val.bin` in the Text stage's token-file format (written by `TokenFile`'s
/// writer), so `lmprobe pretrain --data DIR` trains on it unchanged.
///
/// Each split is ONE stationary chain (train from `seed`, val from an independent seed), with no end-of-text tokens
/// inside: every training window is then a stationary sample and p* of a window is the forward algorithm from π.
/// The vocabulary is V + 1: id V is the end-of-text token the header requires; it never occurs, so p*(V | s) = 0.
public enum SyntheticCorpus {
    /// What made the corpus (tokens.json, beside the fields every token reader needs).
    struct Provenance: Encodable {
        var syntheticHmm: String
        var seed: UInt64
        var documentsStartWithEot = false
        var note: String
        init(syntheticHmm: String, seed: UInt64, note: String) { self.syntheticHmm = syntheticHmm; self.seed = seed; self.note = note }
    }

    /// The largest split, in tokens (the documented limit of `--train-tokens` / `--val-tokens`).
    public static let maxSplitTokens = 1 << 31

    /// Samples both splits into `directory` (streamed in pieces: memory does not grow with the token counts) and
    /// then writes `tokens.json`.
    public static func write(_ hmm: HiddenMarkovModel, to directory: URL, trainTokens: Int, valTokens: Int,
                             seed: UInt64, hmmDirectory: String) throws {
        guard trainTokens > 0, valTokens > 0 else { throw SyntheticError.badArgument("--train-tokens and --val-tokens must be positive") }
        guard trainTokens <= maxSplitTokens, valTokens <= maxSplitTokens else {
            throw SyntheticError.badArgument("at most 2^31 tokens per split")
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw SyntheticError.file(path: directory.path, message: "cannot create folder (\(ioErrorText(error)))")
        }
        let vocab = hmm.words + 1
        let wide = TokenFile.dtype(vocabSize: vocab) == "uint32"
        for (split, n, s) in [(TokenFile.Split.train, trainTokens, seed), (.val, valTokens, seed &+ 0x5EED_0001)] {
            var rng = SeededRandom(seed: s)
            var state: Int? = nil
            try TokenFile.writeSplit(split: split, directory: directory, count: n, wide: wide) { buffer, count in
                hmm.sample(length: count, words: buffer, continuing: &state, rng: &rng)
            }
        }
        try TokenFile.writeHeader(directory: directory, vocabSize: vocab, trainTokens: trainTokens, valTokens: valTokens,
                                  eotToken: hmm.words, tokenizer: "none",
                                  provenance: Provenance(syntheticHmm: hmmDirectory, seed: seed,
                                                         note: "stationary HMM chain, one per split; token \(hmm.words) (eot) never occurs"))
    }

    /// `lmprobe synth generate`: draws the HMM from `config` and writes `out/hmm` and `out/tokens` as one output,
    /// built in a staging folder beside `out` and put in place only when both are complete (an interrupted or failed
    /// run leaves no trace in `out`). An `out` that already holds a language is refused, never replaced.
    public static func generate(_ config: HMMConfig, out: URL, trainTokens: Int, valTokens: Int)
        throws -> (hmm: HiddenMarkovModel, entropyRate: (rate: Double, standardError: Double)) {
        for d in ["hmm", "tokens"] where FileManager.default.fileExists(atPath: out.appendingPathComponent(d).path) {
            throw SyntheticError.badArgument("--out \(out.path): \(d)/ already exists; choose another folder")
        }
        guard trainTokens > 0, valTokens > 0, trainTokens <= maxSplitTokens, valTokens <= maxSplitTokens else {
            throw SyntheticError.badArgument("--train-tokens and --val-tokens must be in 1...2^31 (got \(trainTokens), \(valTokens))")
        }
        try config.validate()
        let staging = try OutputFolder(replacing: out, markers: ["hmm/hmm.json"])
        defer { staging.discard() }
        let hmm = try HiddenMarkovModel.generate(config)
        try hmm.save(to: staging.url.appendingPathComponent("hmm"))
        try write(hmm, to: staging.url.appendingPathComponent("tokens"), trainTokens: trainTokens, valTokens: valTokens,
                  seed: config.seed, hmmDirectory: "../hmm")
        let h = try hmm.entropyRate(sequences: 200, length: 1000, burnIn: 200, seed: config.seed ^ 0xE7)
        try staging.commit()
        return (hmm, h)
    }
}
