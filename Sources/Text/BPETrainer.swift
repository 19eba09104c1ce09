import Foundation
import HeapModule
import Support

/// Distinct pre-tokenised words of a corpus with their counts: the only statistics BPE training needs.
public struct WordCounts {
    var table = WordTable(capacity: 1 << 16)
    var counts: [Int] = []

    public init() {}

    /// Number of distinct words.
    public var distinct: Int { counts.count }
    /// Total number of words counted.
    public var total: Int { counts.reduce(0, +) }

    mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, count c: Int = 1) {
        let (k, inserted) = table.intern(p, n, hash: WordTable.hash(p, n))
        if inserted { counts.append(c) } else { counts[k] &+= c }
    }

    /// Counts the words of `p[0..<n]`.
    mutating func addText(_ p: UnsafePointer<UInt8>, _ n: Int) {
        PreTokenizer.forEachWord(p, count: n) { s, e in add(p + s, e - s) }
    }

    /// Adds another table's counts.
    mutating func merge(_ other: WordCounts) {
        other.table.arena.withUnsafeBufferPointer { ar in
            for k in 0..<other.counts.count {
                let s = other.table.starts[k], e = other.table.starts[k + 1]
                add(ar.baseAddress! + s, e - s, count: other.counts[k])
            }
        }
    }

    /// Word counts of documents (each document pre-tokenised on its own), counted on `Threads.count` workers.
    public static func count(documents: [String]) -> WordCounts {
        parallelMerge(documents.count) { range, wc in
            for i in range {
                var d = documents[i]
                d.withUTF8 { b in if let p = b.baseAddress { wc.addText(p, b.count) } }
            }
        }
    }

    /// Word counts of one large buffer, cut at word boundaries (see `Corpus.safeCuts`) and counted in parallel;
    /// equal to counting the whole buffer as one text.
    public static func count(corpus bytes: UnsafeBufferPointer<UInt8>) -> WordCounts {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return WordCounts() }
        let cuts = Corpus.safeCuts(bytes, pieces: max(1, Threads.count))
        return parallelMerge(cuts.count - 1) { range, wc in
            for c in range { wc.addText(p + cuts[c], cuts[c + 1] - cuts[c]) }
        }
    }

    static func parallelMerge(_ n: Int, _ body: (Range<Int>, inout WordCounts) -> Void) -> WordCounts {
        let workers = max(1, min(Threads.count, n))
        var parts = [WordCounts](repeating: WordCounts(), count: workers)
        parts.withUnsafeMutableBufferPointer { res in
            let res = res
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var wc = WordCounts()
                body((n * w / workers)..<(n * (w + 1) / workers), &wc)
                res[w] = wc
            }
        }
        var total = parts[0]
        for w in 1..<workers { total.merge(parts[w]) }
        return total
    }
}

/// BPE training, replicating HF `tokenizers`' `BpeTrainer` (as used by `ByteLevelBPETokenizer.train`) so that the
/// same corpus gives the same vocabulary and merges:
///
/// - ids: the special tokens first (in the given order), then the 256 single-byte tokens sorted by the unicode scalar
///   that shows them (`ByteLevel`), then one id per merge;
/// - each step merges the pair (a, b) with the largest count Σ_words count(word) · occurrences(a b in word), where
///   occurrences are counted as the non-overlapping left-to-right scan does; ties go to the smallest (a, b) in id
///   order; training stops at `vocabSize` tokens or when the best count is below `minFrequency`;
/// - incremental: after a merge only the words containing the pair are rewritten and only the pairs next to a merge
///   change count (−1 for the destroyed neighbours, +1 for the new ones); a max-heap holds (count, pair, words) with
///   stale counts refreshed lazily when popped.
public struct BPETrainer {
    public var vocabSize: Int
    public var minFrequency: Int
    public var specialTokens: [String]

    public init(vocabSize: Int, minFrequency: Int = 2, specialTokens: [String] = [BPETokenizer.endOfText]) {
        self.vocabSize = vocabSize
        self.minFrequency = minFrequency
        self.specialTokens = specialTokens
    }

    /// Trains on documents, each pre-tokenised on its own.
    public func train(documents: [String]) throws -> BPETokenizer {
        try train(WordCounts.count(documents: documents))
    }

    struct Entry: Comparable {
        var count: Int
        var pair: UInt64
        var pos: Int32
        static func < (x: Entry, y: Entry) -> Bool {
            x.count != y.count ? x.count < y.count : x.pair > y.pair
        }
        static func == (x: Entry, y: Entry) -> Bool { x.count == y.count && x.pair == y.pair }
    }

    /// Trains on word counts.
    public func train(_ words: WordCounts) throws -> BPETokenizer {
        guard vocabSize >= specialTokens.count + 256 else {
            throw TextError("vocabulary size \(vocabSize) is below \(specialTokens.count + 256) (special tokens + 256 bytes)")
        }
        // Ids: specials, then bytes by scalar value.
        var idToWord: [String] = []
        var wordToId: [String: Int] = [:]
        for s in specialTokens where wordToId[s] == nil { wordToId[s] = idToWord.count; idToWord.append(s) }
        var byteId = [UInt32](repeating: 0, count: 256)
        for b in (0..<256).sorted(by: { ByteLevel.scalar[$0] < ByteLevel.scalar[$1] }) {
            let s = ByteLevel.encode([UInt8(b)])
            if let id = wordToId[s] { byteId[b] = UInt32(id); continue }
            byteId[b] = UInt32(idToWord.count); wordToId[s] = idToWord.count; idToWord.append(s)
        }
        // Words as symbol arrays, stored flat: word k occupies sym[start[k] ..< start[k] + len[k]].
        let nw = words.counts.count
        var sym = [UInt32](repeating: 0, count: words.table.arena.count)
        var start = [Int](repeating: 0, count: nw), len = [Int](repeating: 0, count: nw)
        let counts = words.counts
        for k in 0..<nw {
            let s = words.table.starts[k], e = words.table.starts[k + 1]
            start[k] = s; len[k] = e - s
            for i in s..<e { sym[i] = byteId[Int(words.table.arena[i])] }
        }
        // Initial pair counts and, per pair, the words containing it.
        var pairCounts: [UInt64: Int] = [:]
        var whereTo: [UInt64: [Int32]] = [:]
        for k in 0..<nw where len[k] > 1 {
            let c = counts[k], s = start[k]
            for i in s..<(s + len[k] - 1) {
                let pair = UInt64(sym[i]) << 32 | UInt64(sym[i + 1])
                pairCounts[pair, default: 0] += c
                whereTo[pair, default: []].appendUnique(Int32(k))
            }
        }
        var posLists: [[Int32]] = []
        var heap = Heap<Entry>()
        for (pair, pos) in whereTo {
            let c = pairCounts[pair] ?? 0
            if c > 0 { heap.insert(Entry(count: c, pair: pair, pos: Int32(posLists.count))); posLists.append(pos) }
        }
        whereTo = [:]
        var merges: [(String, String)] = []
        while idToWord.count < vocabSize, var top = heap.popMax() {
            let actual = pairCounts[top.pair] ?? 0
            if top.count != actual { top.count = actual; heap.insert(top); continue }
            if top.count < 1 || top.count < minFrequency { break }
            let a = UInt32(top.pair >> 32), b = UInt32(top.pair & 0xFFFF_FFFF)
            let newToken = idToWord[Int(a)] + idToWord[Int(b)]
            let newId: UInt32
            if let existing = wordToId[newToken] { newId = UInt32(existing) }
            else { newId = UInt32(idToWord.count); wordToId[newToken] = idToWord.count; idToWord.append(newToken) }
            merges.append((idToWord[Int(a)], idToWord[Int(b)]))
            let pos = posLists[Int(top.pos)]
            posLists[Int(top.pos)] = []
            for w32 in pos {
                let k = Int(w32), c = counts[k], s = start[k], n = len[k]
                if n < 2 { continue }
                var w = s, r = s
                let end = s + n
                while r < end {
                    if r + 1 < end, sym[r] == a, sym[r + 1] == b {
                        if w > s {
                            let prev = UInt64(sym[w - 1])
                            pairCounts[prev << 32 | UInt64(a), default: 0] -= c
                            let np = prev << 32 | UInt64(newId)
                            pairCounts[np, default: 0] += c
                            whereTo[np, default: []].appendUnique(w32)
                        }
                        if r + 2 < end {
                            let next = UInt64(sym[r + 2])
                            pairCounts[UInt64(b) << 32 | next, default: 0] -= c
                            let np = UInt64(newId) << 32 | next
                            pairCounts[np, default: 0] += c
                            whereTo[np, default: []].appendUnique(w32)
                        }
                        sym[w] = newId; r += 2
                    } else { sym[w] = sym[r]; r += 1 }
                    w += 1
                }
                len[k] = w - s
            }
            for (pair, pos) in whereTo {
                let c = pairCounts[pair] ?? 0
                if c > 0 { heap.insert(Entry(count: c, pair: pair, pos: Int32(posLists.count))); posLists.append(pos) }
            }
            whereTo.removeAll(keepingCapacity: true)
        }
        return try BPETokenizer(tokenStrings: idToWord, merges: merges, source: "trained tokenizer")
    }
}

extension Array where Element == Int32 {
    /// Appends `x` unless it is the last element (word indices arrive grouped, so this removes all repeats).
    @inline(__always) mutating func appendUnique(_ x: Int32) { if last != x { append(x) } }
}
