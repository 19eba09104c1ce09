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

    public static func write(_ hmm: HiddenMarkovModel, to directory: URL, trainTokens: Int, valTokens: Int,
                             seed: UInt64, hmmDirectory: String) throws {
        guard trainTokens > 0, valTokens > 0 else { throw SyntheticError.badArgument("--train-tokens and --val-tokens must be positive") }
        guard trainTokens <= 1 << 31, valTokens <= 1 << 31 else {
            throw SyntheticError.badArgument("at most 2^31 tokens per split")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let vocab = hmm.words + 1
        let wide = TokenFile.dtype(vocabSize: vocab) == "uint32"
        for (split, n, s) in [(TokenFile.Split.train, trainTokens, seed), (.val, valTokens, seed &+ 0x5EED_0001)] {
            var rng = SeededRandom(seed: s)
            var ids = [Int32](repeating: 0, count: n)
            ids.withUnsafeMutableBufferPointer { hmm.sample(length: n, words: $0.baseAddress!, rng: &rng) }
            var data = Data(capacity: n * (wide ? 4 : 2))
            ids.withUnsafeBufferPointer { TokenFile.append($0, wide: wide, to: &data) }
            try TokenFile.writeSplit(data, split: split, directory: directory)
        }
        try TokenFile.writeHeader(directory: directory, vocabSize: vocab, trainTokens: trainTokens, valTokens: valTokens,
                                  eotToken: hmm.words, tokenizer: "none",
                                  provenance: Provenance(syntheticHmm: hmmDirectory, seed: seed,
                                                         note: "stationary HMM chain, one per split; token \(hmm.words) (eot) never occurs"))
    }
}
