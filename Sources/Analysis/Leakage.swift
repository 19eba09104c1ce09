import Foundation

/// The normalisation used to compare evaluation sentences with pretraining text. Internal to the leakage check
/// (the Text stage has its own PTB detokeniser for reading datasets; this one only has to map both sides of the
/// comparison to the same string).
///
/// Steps: lowercase; curly quotes to straight ones; whitespace-split into tokens; PTB escapes undone inside tokens
/// (`-lrb-`→`(`, `-rrb-`→`)`, `-lsb-`→`[`, `-rsb-`→`]`, `-lcb-`→`{`, `-rcb-`→`}`, ` `` `→`"`, `''`→`"`, `` ` ``→`'`,
/// `\/`→`/`, `\*`→`*`); tokens re-joined by single spaces except that no space is put before a token starting with
/// `. , ; : ! ? ) ] } % " '` or equal to `n't`, nor after a token ending with `( [ { $ " '`. Quotes are glued on both
/// sides because open and close cannot be told apart in PTB text; the rule is applied to both sides alike, so
/// `is n't -LRB- sic -RRB- .` and `isn't (sic).` both become `isn't(sic).`
public enum LeakageNormalization {
    static let escapes: [(String, String)] = [
        ("-lrb-", "("), ("-rrb-", ")"), ("-lsb-", "["), ("-rsb-", "]"), ("-lcb-", "{"), ("-rcb-", "}"),
        ("``", "\""), ("''", "\""), ("`", "'"), ("\\/", "/"), ("\\*", "*"),
    ]
    static let glueBefore: Set<Character> = [".", ",", ";", ":", "!", "?", ")", "]", "}", "%", "\"", "'"]
    static let glueAfter: Set<Character> = ["(", "[", "{", "$", "\"", "'"]

    public static func normalize(_ text: String) -> String {
        var t = text.lowercased()
        if t.contains(where: { "‘’“”".contains($0) }) {
            t = t.replacingOccurrences(of: "‘", with: "'").replacingOccurrences(of: "’", with: "'")
                .replacingOccurrences(of: "“", with: "\"").replacingOccurrences(of: "”", with: "\"")
        }
        var out = ""
        out.reserveCapacity(t.utf8.count)
        var previousLast: Character? = nil
        for raw in t.split(whereSeparator: { $0.isWhitespace }) {
            var token = String(raw)
            if token.contains(where: { $0 == "-" || $0 == "`" || $0 == "'" || $0 == "\\" }) {
                for (from, to) in escapes where token.contains(from) {
                    token = token.replacingOccurrences(of: from, with: to)
                }
            }
            guard let first = token.first else { continue }
            if let prev = previousLast {
                let glue = glueBefore.contains(first) || token == "n't" || glueAfter.contains(prev)
                if !glue { out.append(" ") }
            }
            out += token
            previousLast = token.last
        }
        return out
    }
}

/// The outcome of a leakage scan.
public struct LeakageReport: Codable, Equatable, Sendable {
    public var sentences: Int
    public var leaked: Int
    /// Indices (into the evaluation list) of the leaked sentences, ascending.
    public var leakedIndices: [Int]
    /// Up to 5 leaked sentences, as given.
    public var examples: [String]
    /// Sentences shorter than `minimumLength` bytes after normalisation (not checked; empty ones included).
    public var notChecked: Int
    public var minimumLength: Int
    public var corpusDocuments: Int
    public var corpusBytes: Int

    public func markdown() -> String {
        var out = "### Leakage\n\n"
        out += "\(leaked) of \(sentences) evaluation sentences occur (normalised: lowercase, PTB-detokenised, "
        out += "whitespace collapsed) as substrings of the \(corpusDocuments) corpus documents (\(corpusBytes) bytes)"
        out += notChecked > 0 ? "; \(notChecked) sentences under \(minimumLength) bytes were not checked.\n" : ".\n"
        if !examples.isEmpty {
            out += "\nExamples:\n\n" + examples.map { "- \($0.replacingOccurrences(of: "\n", with: " "))" }
                .joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// Finds which evaluation sentences occur in a corpus. Build it from the sentences, feed it documents
/// (`scan(document:)` or `scan(file:)`), then read `report()`.
///
/// Each normalised sentence s (UTF-8 bytes) is anchored on its first L = min(|s|, `anchorBytes`) bytes; sentences
/// are grouped by L and each group keeps a hash map from the anchor's Rabin–Karp hash to sentence ids. A document is
/// scanned once per distinct L with a rolling hash; every hash hit is verified by comparing all |s| bytes, so a
/// sentence is reported only if it truly occurs. Cost: O(corpus bytes × distinct anchor lengths + hits).
public final class LeakageIndex {
    let sentences: [String]
    let normalized: [[UInt8]]
    let anchorBytes: Int
    public let minimumLength: Int
    /// anchor length → (hash → sentence ids)
    var groups: [Int: [UInt64: [Int]]] = [:]
    var leaked: [Bool]
    var documents = 0
    var bytes = 0
    /// anchor length → bit set over the top 22 bits of the anchor hashes: a cheap pre-test before the hash map.
    var filters: [Int: [UInt64]] = [:]
    static let filterShift: UInt64 = 64 - 22
    static let base: UInt64 = 0x100000001B3

    public init(sentences: [String], minimumLength: Int = 1, anchorBytes: Int = 24) throws {
        guard anchorBytes >= 1 else { throw AnalysisError.invalidArgument("leakage: anchorBytes must be ≥ 1, got \(anchorBytes)") }
        self.sentences = sentences
        self.anchorBytes = anchorBytes
        self.minimumLength = max(1, minimumLength)
        normalized = sentences.map { Array(LeakageNormalization.normalize($0).utf8) }
        leaked = [Bool](repeating: false, count: sentences.count)
        for (i, s) in normalized.enumerated() where s.count >= self.minimumLength {
            let l = min(s.count, anchorBytes)
            let h = Self.hash(s, 0, l)
            groups[l, default: [:]][h, default: []].append(i)
            let bit = h >> Self.filterShift
            filters[l, default: [UInt64](repeating: 0, count: 1 << (64 - Self.filterShift - 6))][Int(bit >> 6)] |= 1 << (bit & 63)
        }
    }

    static func hash(_ s: [UInt8], _ start: Int, _ length: Int) -> UInt64 {
        var h: UInt64 = 0
        for k in start..<start + length { h = h &* base &+ UInt64(s[k]) }
        return h
    }

    /// Scans one corpus document (normalised here).
    public func scan(document: String) {
        let d = Array(LeakageNormalization.normalize(document).utf8)
        documents += 1
        bytes += d.count
        for (l, table) in groups where d.count >= l {
            var power: UInt64 = 1
            for _ in 0..<l { power = power &* Self.base }       // base^l
            var h = Self.hash(d, 0, l)
            var pos = 0
            let filter = filters[l]!
            while true {
                let bit = h >> Self.filterShift
                if filter[Int(bit >> 6)] & (1 << (bit & 63)) != 0, let ids = table[h] {
                    for i in ids where !leaked[i] {
                        let s = normalized[i]
                        if pos + s.count <= d.count && d[pos..<pos + s.count].elementsEqual(s) { leaked[i] = true }
                    }
                }
                if pos + l >= d.count { break }
                h = h &* Self.base &+ UInt64(d[pos + l]) &- UInt64(d[pos]) &* power
                pos += 1
            }
        }
    }

    /// Scans a UTF-8 text file, one document per line (`byLine`) or the whole file as one document.
    public func scan(file url: URL, byLine: Bool = true) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw AnalysisError.invalidArgument("\(url.path): cannot read corpus (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AnalysisError.invalidArgument("\(url.path): corpus is not valid UTF-8")
        }
        if byLine {
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) { scan(document: String(line)) }
        } else {
            scan(document: text)
        }
    }

    public func report() -> LeakageReport {
        let idx = leaked.indices.filter { leaked[$0] }
        return LeakageReport(sentences: sentences.count, leaked: idx.count, leakedIndices: idx,
                             examples: idx.prefix(5).map { sentences[$0] },
                             notChecked: normalized.filter { $0.count < minimumLength }.count,
                             minimumLength: minimumLength, corpusDocuments: documents, corpusBytes: bytes)
    }
}
