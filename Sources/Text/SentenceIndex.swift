import Foundation
import Support

/// THE normalisation used to decide whether a sentence occurs in a text — by `tokenize --exclude` (documents
/// containing an evaluation sentence are dropped) and by `compare`'s leakage count (evaluation sentences found in the
/// pretraining corpus), through the one `SentenceIndex`, so "excluded" and "leaked" mean the same thing. (`PTB`
/// is the other text transform: it detokenises dataset sentences for the model and is not used for matching.)
///
/// Steps: lowercase; curly quotes to straight ones; whitespace-split into tokens; PTB escapes undone inside tokens
/// (`-lrb-`→`(`, `-rrb-`→`)`, `-lsb-`→`[`, `-rsb-`→`]`, `-lcb-`→`{`, `-rcb-`→`}`, ` `` `→`"`, `''`→`"`, `` ` ``→`'`,
/// `\/`→`/`, `\*`→`*`); tokens re-joined by single spaces except that no space is put before a token starting with
/// `. , ; : ! ? ) ] } % " '` or equal to `n't`, nor after a token ending with `( [ { $ " '`. Quotes are glued on both
/// sides because open and close cannot be told apart in PTB text; the rule is applied to both sides alike, so
/// `is n't -LRB- sic -RRB- .` and `isn't (sic).` both become `isn't(sic).`
public enum SentenceNormalization {
    static let escapes: [(String, String)] = [
        ("-lrb-", "("), ("-rrb-", ")"), ("-lsb-", "["), ("-rsb-", "]"), ("-lcb-", "{"), ("-rcb-", "}"),
        ("``", "\""), ("''", "\""), ("`", "'"), ("\\/", "/"), ("\\*", "*"),
    ]
    static let glueBefore: Set<Character> = [".", ",", ";", ":", "!", "?", ")", "]", "}", "%", "\"", "'"]
    static let glueAfter: Set<Character> = ["(", "[", "{", "$", "\"", "'"]

    /// The normalised text. Pure-ASCII text (the bulk of a corpus) takes a byte-level path that produces exactly
    /// the bytes of the Character-level definition (`normalizeCharacters`); other text takes that definition.
    public static func normalize(_ text: String) -> String {
        var copy = text
        if let fast = copy.withUTF8({ normalizeASCII($0) }) { return String(decoding: fast, as: UTF8.self) }
        return normalizeCharacters(text)
    }

    /// Normalised UTF-8 bytes of `text`.
    static func normalizedBytes(_ text: String) -> [UInt8] {
        var copy = text
        if let fast = copy.withUTF8({ normalizeASCII($0) }) { return fast }
        return Array(normalizeCharacters(text).utf8)
    }

    /// Byte table: 1 = whitespace (Unicode White_Space ∩ ASCII), 2 = glue before, 4 = glue after.
    static let asciiClass: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 128)
        for b in [9, 10, 11, 12, 13, 32] { t[b] |= 1 }
        for c in ".,;:!?)]}%\"'".utf8 { t[Int(c)] |= 2 }
        for c in "([{$\"'".utf8 { t[Int(c)] |= 4 }
        return t
    }()
    static let escapeBytes: [([UInt8], [UInt8])] = escapes.map { (Array($0.0.utf8), Array($0.1.utf8)) }

    /// The normalisation of ASCII bytes, or nil when a byte is ≥ 0x80 (then the Character path is used).
    /// ASCII lowercasing, splitting on ASCII whitespace, the PTB escapes replaced in `escapes` order inside a token,
    /// and the same glue rules — for ASCII input these are exactly the Character-level operations.
    static func normalizeASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let n = bytes.count
        var out = [UInt8]()
        out.reserveCapacity(n)
        var token = [UInt8]()
        var havePrevious = false, previousLast: UInt8 = 0
        return asciiClass.withUnsafeBufferPointer { cls -> [UInt8]? in
            var i = 0
            while i < n {
                let b = bytes[i]
                if b >= 0x80 { return nil }
                if cls[Int(b)] & 1 != 0 { i &+= 1; continue }
                var j = i, special = false
                while j < n {
                    let c = bytes[j]
                    if c >= 0x80 { return nil }
                    if cls[Int(c)] & 1 != 0 { break }
                    if c == 0x2D || c == 0x60 || c == 0x27 || c == 0x5C { special = true }   // - ` ' \
                    j &+= 1
                }
                let start = out.count
                var first: UInt8 = 0, last: UInt8 = 0, isNT = false
                if special {
                    token.removeAll(keepingCapacity: true)
                    for k in i..<j { let c = bytes[k]; token.append(c >= 65 && c <= 90 ? c | 0x20 : c) }
                    for (from, to) in escapeBytes where contains(token, from) { token = replace(token, from, to) }
                    first = token[0]; last = token[token.count - 1]
                    isNT = token.count == 3 && token[0] == 0x6E && token[1] == 0x27 && token[2] == 0x74
                } else {
                    let c0 = bytes[i], cl = bytes[j - 1]
                    first = c0 >= 65 && c0 <= 90 ? c0 | 0x20 : c0
                    last = cl >= 65 && cl <= 90 ? cl | 0x20 : cl
                }
                if havePrevious {
                    let glue = cls[Int(first)] & 2 != 0 || isNT || cls[Int(previousLast)] & 4 != 0
                    if !glue { out.append(0x20) }
                }
                _ = start
                if special { out.append(contentsOf: token) } else {
                    for k in i..<j { let c = bytes[k]; out.append(c >= 65 && c <= 90 ? c | 0x20 : c) }
                }
                havePrevious = true
                previousLast = last
                i = j
            }
            return out
        }
    }

    static func contains(_ s: [UInt8], _ p: [UInt8]) -> Bool {
        guard p.count <= s.count else { return false }
        for i in 0...(s.count - p.count) where s[i] == p[0] {
            var k = 1
            while k < p.count && s[i + k] == p[k] { k += 1 }
            if k == p.count { return true }
        }
        return false
    }

    /// Left-to-right non-overlapping replacement, as `replacingOccurrences(of:with:)`.
    static func replace(_ s: [UInt8], _ p: [UInt8], _ r: [UInt8]) -> [UInt8] {
        var out = [UInt8](), i = 0
        while i < s.count {
            if i + p.count <= s.count && s[i] == p[0] && s[i..<i + p.count].elementsEqual(p) {
                out.append(contentsOf: r); i += p.count
            } else { out.append(s[i]); i += 1 }
        }
        return out
    }

    /// The definition, on Characters (used for non-ASCII text and as the reference in tests).
    static func normalizeCharacters(_ text: String) -> String {
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

/// Finds which sentences occur in which documents, compared after `SentenceNormalization` (a sentence occurs in a
/// document when its normalised bytes are a substring of the document's). Build it from the sentences, feed it
/// documents (`scan(documents:)`, which also says which documents contain a sentence), then read `report()`.
/// Sentences shorter than `minimumLength` bytes after normalisation are not looked for: short phrases ("Why ?")
/// occur in unrelated text. `tokenize --exclude` and `compare` use the same default, `defaultMinimumLength`.
///
/// Each normalised sentence s (UTF-8 bytes) is anchored on its first L = min(|s|, `anchorBytes`) bytes; sentences
/// are grouped by L and each group keeps a hash map from the anchor's Rabin–Karp hash to sentence ids. A document is
/// scanned once per distinct L with a rolling hash; every hash hit is verified by comparing all |s| bytes, so a
/// sentence is reported only if it truly occurs. Cost: O(corpus bytes × distinct anchor lengths + hits).
public final class SentenceIndex {
    /// The default length threshold (bytes of normalised text) of `tokenize --exclude` and `compare`'s leakage count.
    public static let defaultMinimumLength = 25

    let sentences: [String]
    let normalized: [[UInt8]]
    let anchorBytes: Int
    public let minimumLength: Int
    /// anchor length → (hash → sentence ids)
    var groups: [Int: [UInt64: [Int]]] = [:]
    var leaked: [Bool]
    var documents_ = 0
    var bytes = 0
    /// anchor length → bit set over the top 22 bits of the anchor hashes: a cheap pre-test before the hash map.
    var filters: [Int: [UInt64]] = [:]
    static let filterShift: UInt64 = 64 - 22
    static let base: UInt64 = 0x100000001B3

    /// `anchorBytes` ≥ 1 (a precondition: it is not user input).
    public init(sentences: [String], minimumLength: Int = SentenceIndex.defaultMinimumLength, anchorBytes: Int = 24) {
        precondition(anchorBytes >= 1, "SentenceIndex: anchorBytes must be ≥ 1")
        self.sentences = sentences
        self.anchorBytes = anchorBytes
        self.minimumLength = max(1, minimumLength)
        normalized = sentences.map { Array(SentenceNormalization.normalize($0).utf8) }
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

    /// The number of sentences looked for (normalised length ≥ `minimumLength`).
    public var checkedCount: Int { normalized.count - notChecked }
    var notChecked: Int { normalized.filter { $0.count < minimumLength }.count }

    /// Scans one corpus document (normalised here); whether it contains a sentence.
    @discardableResult
    public func scan(document: String) -> Bool { scan(documents: [document])[0] }

    /// Scans many documents and returns, per document, whether it contains one of the sentences. Normalisation and
    /// matching run in parallel over chunks of documents, each chunk marking hits in its own flags, merged at the end.
    /// `progress(done, total)` is called after each chunk (from the worker threads, one call at a time).
    @discardableResult
    public func scan(documents: [String], progress: ((Int, Int) -> Void)? = nil) -> [Bool] {
        let tables = groups.map { (length: $0.key, table: $0.value, filter: filters[$0.key]!) }
        let count = normalized.count
        let chunks = max(1, min(documents.count, Threads.count * 16))
        var flags = [[Bool]](repeating: [], count: chunks)
        var totals = [Int](repeating: 0, count: chunks)
        var containing = [Bool](repeating: false, count: documents.count)
        let lock = NSLock()
        var done = 0
        flags.withUnsafeMutableBufferPointer { fl in
            totals.withUnsafeMutableBufferPointer { tot in
                containing.withUnsafeMutableBufferPointer { cont in
                    parallelFor(chunks) { c in
                        var hit = [Bool](repeating: false, count: count)
                        var bytes = 0
                        let lo = c * documents.count / chunks, hi = (c + 1) * documents.count / chunks
                        for k in lo..<hi {
                            let d = SentenceNormalization.normalizedBytes(documents[k])
                            bytes += d.count
                            cont[k] = d.withUnsafeBufferPointer { Self.match($0, tables: tables, sentences: normalized, hit: &hit) }
                        }
                        fl[c] = hit
                        tot[c] = bytes
                        if let progress {
                            lock.lock(); done += hi - lo; progress(done, documents.count); lock.unlock()
                        }
                    }
                }
            }
        }
        for f in flags where !f.isEmpty { for i in 0..<count where f[i] { leaked[i] = true } }
        documents_ += documents.count
        bytes += totals.reduce(0, +)
        return containing
    }

    /// Rolling-hash search of one normalised document for every anchor length; hits verified with memcmp and marked
    /// in `hit`. Returns whether the document contains a sentence (a sentence already marked is verified again only
    /// until the document is known to contain one).
    static func match(_ d: UnsafeBufferPointer<UInt8>, tables: [(length: Int, table: [UInt64: [Int]], filter: [UInt64])],
                      sentences: [[UInt8]], hit: inout [Bool]) -> Bool {
        let n = d.count
        var found = false
        guard n > 0, let base = d.baseAddress else { return false }
        for (l, table, filterArray) in tables where n >= l {
            var power: UInt64 = 1
            for _ in 0..<l { power = power &* Self.base }       // base^l
            var h: UInt64 = 0
            for k in 0..<l { h = h &* Self.base &+ UInt64(base[k]) }
            filterArray.withUnsafeBufferPointer { filter in
                var pos = 0
                while true {
                    let bit = h >> Self.filterShift
                    if filter[Int(bit >> 6)] & (1 << (bit & 63)) != 0, let ids = table[h] {
                        for i in ids where !(hit[i] && found) {
                            let m = sentences[i].count
                            if pos &+ m <= n && sentences[i].withUnsafeBufferPointer({ memcmp(base + pos, $0.baseAddress!, m) == 0 }) {
                                hit[i] = true
                                found = true
                            }
                        }
                    }
                    if pos &+ l >= n { break }
                    h = h &* Self.base &+ UInt64(base[pos &+ l]) &- UInt64(base[pos]) &* power
                    pos &+= 1
                }
            }
        }
        return found
    }

    public func report() -> LeakageReport {
        let idx = leaked.indices.filter { leaked[$0] }
        return LeakageReport(sentences: sentences.count, leaked: idx.count, leakedIndices: idx,
                             examples: idx.prefix(5).map { sentences[$0] },
                             notChecked: notChecked,
                             minimumLength: minimumLength, corpusDocuments: documents_, corpusBytes: bytes)
    }
}
