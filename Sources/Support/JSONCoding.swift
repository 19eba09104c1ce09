import Foundation

/// The one way lmprobe writes and reads JSON (reports, manifests, checkpoint metadata, `--json` output, HMM and task
/// headers): keys in snake_case, sorted, slashes unescaped, NaN and ±∞ as the strings "nan", "inf", "-inf" (JSON has
/// no such numbers). Swift property names are camelCase; the coders convert.
///
/// Reading also accepts the camelCase keys files written before this convention carry (a checkpoint's `config`,
/// `training`; a manifest's `provenance`): a key without an underscore is normalised the way a snake_case key is
/// converted, so `vocabSize` and `vocab_size` both reach `vocabSize`. The one rule for property names that contain
/// an acronym or start with a capital: their `CodingKeys` raw value is the normalised camelCase form
/// (`case minLR = "minLr"`, `case B = "b"`), which both `min_lr` and the older `minLR` reach. Dictionary keys (`[String: …]`) are data, not names, and are never converted.
public enum JSONCoding {
    /// An encoder with the conventions above; `pretty` adds indentation (files meant to be read by people).
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// A decoder for what `encoder` writes, also reading the older camelCase keys.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .custom { path in CamelKey(camelCase(path.last!.stringValue)) }
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// `snake_case` → `snakeCase`; a key without underscores gets a lower-case first letter and each later run of
    /// capitals lower-cased but its first (`minLR` → `minLr`, `checkpointSHA256` → `checkpointSha256`, `B` → `b`),
    /// which is what `min_lr`, `checkpoint_sha256` and `b` become. Leading and trailing underscores are kept.
    public static func camelCase(_ key: String) -> String {
        let chars = Array(key)
        if chars.contains("_") {
            guard let first = chars.firstIndex(where: { $0 != "_" }) else { return key }
            let last = chars.lastIndex(where: { $0 != "_" })!
            let words = String(chars[first...last]).split(separator: "_", omittingEmptySubsequences: true)
            guard let head = words.first else { return key }
            let body = head.lowercased() + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
            return String(chars[..<first]) + body + String(chars[(last + 1)...])
        }
        var out = ""
        out.reserveCapacity(chars.count)
        var previousUpper = false
        for (i, c) in chars.enumerated() {
            let upper = c.isUppercase
            out.append(upper && (i == 0 || previousUpper) ? Character(c.lowercased()) : c)
            previousUpper = upper
        }
        return out
    }

    private struct CamelKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
