import Foundation
import Text
import Support

/// The contexts s on which the theory checks evaluate f(s) (issue 14): the checks' numbers depend on how spread out
/// the contexts are, so the set is a choice the report must state. Three documented presets, or the user's own
/// labelled file (any `DatasetSource`, with or without a prompt):
///
/// * `sst-prompt` — SST-2 train + test sentences, each followed by " This movie is" (the committed runs' set:
///   every context ends in the same three words, so f is tightly clustered).
/// * `sst-noprompt` — the same sentences without the prompt.
/// * `corpus-prefixes` — `count` random prefixes of the pretraining validation tokens: a seeded start and a
///   length uniform in `minimumLength...maximumLength` tokens, cut inside documents (never across an end-of-text
///   token), decoded to text. The widest spread of the three.
public enum ContextPreset: String, CaseIterable, Codable, Sendable {
    case sstPrompt = "sst-prompt"
    case sstNoPrompt = "sst-noprompt"
    case corpusPrefixes = "corpus-prefixes"
}

public struct ContextSet: Sendable {
    /// Preset name or the user's file.
    public let name: String
    /// One line for the report.
    public let description: String
    public let texts: [String]
    /// The prompt template (`{text}` when none).
    public let prompt: String

    public init(name: String, description: String, texts: [String], prompt: String) {
        self.name = name; self.description = description; self.texts = texts; self.prompt = prompt
    }

    /// SST-2 train + test sentences from `sstDirectory` (sst_train.tsv, sst_test.tsv), with or without the prompt.
    public static func sst(directory: String, prompt: Bool, movePrompt: String = " This movie is") throws -> ContextSet {
        var texts: [String] = []
        for file in ["sst_train.tsv", "sst_test.tsv"] {
            let path = (directory as NSString).appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: path) else {
                throw FeatureError.badArgument("--sst-dir \(directory): \(file) is missing: run `make sst` to fetch the paper's splits into data/sst")
            }
            texts += try DatasetSource(path: path, format: .tsv).load().texts
        }
        return ContextSet(name: prompt ? ContextPreset.sstPrompt.rawValue : ContextPreset.sstNoPrompt.rawValue,
                          description: "SST-2 train + test sentences (\(texts.count))"
                              + (prompt ? ", each followed by “\(movePrompt)”" : ", no prompt"),
                          texts: texts, prompt: prompt ? "{text}" + movePrompt : "{text}")
    }

    /// Random prefixes of the validation split of the token files in `tokens` (see the type's documentation).
    public static func corpusPrefixes(tokens: URL, tokenizer: BPETokenizer, count: Int, seed: UInt64 = 0,
                                      minimumLength: Int = 8, maximumLength: Int = 64) throws -> ContextSet {
        guard count > 0 else { throw FeatureError.badArgument("--contexts corpus-prefixes: count must be positive") }
        guard minimumLength >= 1, maximumLength >= minimumLength else {
            throw FeatureError.badArgument("corpus prefixes: lengths \(minimumLength)...\(maximumLength) are not a range")
        }
        let file = try TokenFile(directory: tokens, split: .val)
        guard file.header.vocabSize == tokenizer.vocabSize else {
            throw FeatureError.badArgument("\(tokens.path): vocab_size \(file.header.vocabSize) but the tokenizer has \(tokenizer.vocabSize)")
        }
        guard file.count > maximumLength else {
            throw FeatureError.badInput("\(tokens.path): \(file.count) validation tokens, need more than \(maximumLength)")
        }
        guard count <= file.count else {
            throw FeatureError.badArgument("corpus prefixes: \(count) prefixes asked but \(tokens.path) has only \(file.count) validation tokens")
        }
        let eot = Int32(file.header.eotToken)
        var rng = SeededRandom(seed: seed)
        var texts: [String] = []
        var attempts = 0
        while texts.count < count {
            attempts += 1
            guard attempts <= 100 &* count else {   // count ≤ the file's tokens: no overflow
                throw FeatureError.badInput("\(tokens.path): found only \(texts.count) of \(count) prefixes of ≥ \(minimumLength) tokens inside documents")
            }
            let length = minimumLength + rng.int(below: maximumLength - minimumLength + 1)
            let end = length + rng.int(below: file.count - length)       // the prefix is [end − length, end)
            var window = file.tokens((end - length)..<end).map(Int.init)
            if let cut = window.lastIndex(of: Int(eot)) { window = Array(window[(cut + 1)...]) }  // stay in one document
            guard window.count >= minimumLength else { continue }
            let text = tokenizer.decode(window)
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            texts.append(text)
        }
        return ContextSet(name: ContextPreset.corpusPrefixes.rawValue,
                          description: "\(count) random prefixes (\(minimumLength)–\(maximumLength) tokens, seed \(seed)) "
                              + "of the validation tokens in \(tokens.path)",
                          texts: texts, prompt: "{text}")
    }
}
