/// A word list expanded to single-token variants, as the paper did: each word w contributes `" w"`, `"w"` and
/// `"w "` when the tokenizer has that exact token; duplicate token ids are kept once (first occurrence).
public struct WordSubset: Codable, Equatable, Sendable {
    public struct Variant: Codable, Equatable, Sendable {
        public let word: String
        public let text: String
        public let tokenID: Int

        /// JSON keys (`JSONCoding`): `word`, `text`, `token_id`.
        enum CodingKeys: String, CodingKey { case word, text, tokenID = "tokenId" }
    }

    public let words: [String]
    public let variants: [Variant]
    /// Words for which no variant is a single token.
    public let missingWords: [String]

    public var tokenIDs: [Int] { variants.map(\.tokenID) }
    public var count: Int { variants.count }

    public init(words: [String], tokenizer: FeatureTokenizer) {
        self.words = words
        var seen = Set<Int>(), out: [Variant] = [], missing: [String] = []
        for w in words {
            var found = false
            for text in [" " + w, w, w + " "] {
                guard let id = tokenizer.singleTokenID(text) else { continue }
                found = true
                if seen.insert(id).inserted { out.append(Variant(word: w, text: text, tokenID: id)) }
            }
            if !found { missing.append(w) }
        }
        variants = out
        missingWords = missing
    }

    /// Splits a space-separated word list ("great boring :)") into words.
    public static func parse(_ list: String) -> [String] {
        list.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }

    /// The paper's 14 sentiment words.
    public static let paperSentimentWords = parse(
        ":) :( great charming flawed classic interesting boring sad happy terrible fantastic exciting strong")
}
