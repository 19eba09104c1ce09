import Foundation
import Support

/// A GPT-2 byte-level BPE tokenizer: a vocabulary of byte strings (ids 0..<vocabSize) and a ranked list of merges.
///
/// Encoding pre-tokenises the bytes with `PreTokenizer`, maps each byte to its single-byte token, and inside each word
/// repeatedly merges the adjacent pair of lowest rank (all its occurrences, left to right) until no pair is in the
/// merge list — GPT-2's `bpe()`, which gives the same ids as HF `tokenizers`. Special tokens (e.g. `<|endoftext|>`):
/// `encode(_ text:)` splits the text at their literal spelling and emits their ids, as transformers'
/// GPT2TokenizerFast does (its added tokens are matched before pre-tokenisation), and so does `encodeBatch`, the
/// corpus path of `tokenize` (documents are also separated by the id), so both commands give a literal
/// `<|endoftext|>` in text the same id; `encode(bytes:)`, `encodeCorpus` and `encodeOrdinary` treat that spelling
/// as ordinary text (GPT-2's original `encode`). The value is immutable, so `encode` may be called from
/// many threads at once.
public struct BPETokenizer: Sendable {
    /// Token strings in GPT-2's byte-level form, by id.
    public let tokenStrings: [String]
    /// Bytes of each token, by id (a special token's bytes are its UTF-8 text).
    let tokenBytes: [[UInt8]]
    /// Merges in rank order: (left id, right id, merged id).
    public let merges: [(left: Int, right: Int, merged: Int)]
    let vocab: [String: Int]
    let byteToId: [Int32]
    let ranks: PairMap
    /// Ids that are neither a single byte nor produced by a merge (e.g. `<|endoftext|>`).
    public let specialTokens: [Int]

    public var vocabSize: Int { tokenStrings.count }

    /// The `<|endoftext|>` id (documents are separated by it), or nil if the vocabulary lacks it.
    public var eotToken: Int? { vocab[BPETokenizer.endOfText] }
    public static let endOfText = "<|endoftext|>"

    /// Builds a tokenizer from token strings (by id) and merges given as pairs of token strings, validating both.
    /// `source` names the files in error messages.
    public init(tokenStrings: [String], merges mergeStrings: [(String, String)], source: String = "tokenizer",
                mergeLines: [Int]? = nil) throws {
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokenStrings.count)
        for (i, t) in tokenStrings.enumerated() {
            if vocab[t] != nil { throw TextError(file: source, "token \"\(t)\" appears twice in the vocabulary") }
            vocab[t] = i
        }
        var byteToId = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let s = ByteLevel.encode([UInt8(b)])
            guard let id = vocab[s] else {
                throw TextError(file: source, "vocabulary lacks the single-byte token \"\(s)\" (byte \(b))")
            }
            byteToId[b] = Int32(id)
        }
        var bytes = [[UInt8]](repeating: [], count: tokenStrings.count)
        for (i, t) in tokenStrings.enumerated() { bytes[i] = ByteLevel.decode(t) ?? Array(t.utf8) }
        var ranks = PairMap(capacity: mergeStrings.count)
        var merges: [(left: Int, right: Int, merged: Int)] = []
        merges.reserveCapacity(mergeStrings.count)
        var produced = [Bool](repeating: false, count: tokenStrings.count)
        for (r, (a, b)) in mergeStrings.enumerated() {
            let line = mergeLines?[r]
            guard let ia = vocab[a] else { throw TextError(file: source, line: line, "merge token \"\(a)\" is not in the vocabulary") }
            guard let ib = vocab[b] else { throw TextError(file: source, line: line, "merge token \"\(b)\" is not in the vocabulary") }
            guard let im = vocab[a + b] else { throw TextError(file: source, line: line, "merged token \"\(a + b)\" is not in the vocabulary") }
            merges.append((ia, ib, im))
            produced[im] = true
            ranks.insertIfAbsent(UInt64(ia) << 32 | UInt64(ib), UInt64(r) << 32 | UInt64(im))
        }
        for b in 0..<256 { produced[Int(byteToId[b])] = true }
        self.tokenStrings = tokenStrings
        self.tokenBytes = bytes
        self.merges = merges
        self.vocab = vocab
        self.byteToId = byteToId
        self.ranks = ranks
        self.specialTokens = (0..<tokenStrings.count).filter { !produced[$0] }
    }

    // MARK: Files (GPT-2's vocab.json + merges.txt)

    /// Loads `vocab.json` and `merges.txt` from `directory`, or, when those are absent, OpenAI's GPT-2 pair
    /// `encoder.json` and `vocab.bpe` (the same formats under other names).
    public init(directory: URL) throws {
        let fm = FileManager.default
        let vocab = directory.appendingPathComponent("vocab.json"), merges = directory.appendingPathComponent("merges.txt")
        let encoder = directory.appendingPathComponent("encoder.json"), bpe = directory.appendingPathComponent("vocab.bpe")
        if !fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: encoder.path) {
            guard fm.fileExists(atPath: bpe.path) else { throw TextError(file: bpe, "missing (encoder.json needs its vocab.bpe)") }
            self = try BPETokenizer.load(vocab: encoder, merges: bpe)
            return
        }
        let single = directory.appendingPathComponent("tokenizer.json")
        if !fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: single.path) {
            self = try BPETokenizer.load(tokenizerJSON: single)
            return
        }
        guard fm.fileExists(atPath: vocab.path) else {
            throw TextError(file: directory, "no tokenizer files (vocab.json + merges.txt, encoder.json + vocab.bpe, or tokenizer.json)")
        }
        self = try BPETokenizer.load(vocab: vocab, merges: merges)
    }

    /// Loads the `tokenizer.json` of HF `tokenizers` (all that transformers' `save_pretrained` writes for a fast
    /// tokenizer today): its BPE model's `vocab` (token → id) and `merges` (`"a b"` strings or `["a", "b"]` pairs,
    /// in rank order), plus `added_tokens` whose ids are not in the vocabulary (e.g. a pad token added after
    /// training), which become special tokens. Anything but GPT-2's byte-level BPE (another model type, a
    /// normaliser, a non-byte-level pre-tokeniser, `add_prefix_space`) is refused naming the field.
    public static func load(tokenizerJSON url: URL) throws -> BPETokenizer {
        let root = try vocabularyObject(url)
        guard let model = root["model"] as? [String: Any] else { throw TextError(file: url, "no \"model\" object") }
        if let t = model["type"], (t as? String) != "BPE" {
            throw TextError(file: url, "model type \(t) is not supported (lmprobe reads GPT-2's byte-level BPE)")
        }
        if let v = model["ignore_merges"] as? Bool, v { throw TextError(file: url, "model ignore_merges true is not supported (GPT-2 applies every merge)") }
        if let v = model["byte_fallback"] as? Bool, v { throw TextError(file: url, "model byte_fallback true is not supported (GPT-2 is byte-level)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key] as? String, !v.isEmpty { throw TextError(file: url, "model \(key) \"\(v)\" is not supported (GPT-2 has none)") }
        }
        if let n = root["normalizer"], !(n is NSNull) {
            throw TextError(file: url, "a normalizer is not supported (GPT-2's byte-level BPE has none)")
        }
        if let pre = root["pre_tokenizer"], !(pre is NSNull) {
            let p = pre as? [String: Any]
            let steps = (p?["pretokenizers"] as? [[String: Any]]) ?? (p.map { [$0] } ?? [])
            guard steps.count == 1, steps[0]["type"] as? String == "ByteLevel" else {
                throw TextError(file: url, "pre_tokenizer \(steps.map { $0["type"] ?? "?" }) is not supported (lmprobe reads GPT-2's ByteLevel)")
            }
            if let a = steps[0]["add_prefix_space"] as? Bool, a {
                throw TextError(file: url, "pre_tokenizer add_prefix_space true is not supported (GPT-2 adds no prefix space)")
            }
        }
        guard let dict = model["vocab"] as? [String: Any] else { throw TextError(file: url, "model has no \"vocab\" object") }
        guard let rawMerges = model["merges"] as? [Any] else { throw TextError(file: url, "model has no \"merges\" list") }
        var added: [(String, Int)] = []
        for a in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let c = a["content"] as? String, let n = a["id"] as? NSNumber, let id = Int(exactly: n.doubleValue) else {
                throw TextError(file: url, "added_tokens entries need a string \"content\" and an integer \"id\"")
            }
            if let v = dict[c] as? NSNumber, Int(exactly: v.doubleValue) == id { continue }
            added.append((c, id))
        }
        let total = dict.count + added.count
        var strings = [String?](repeating: nil, count: total)
        for (token, value) in dict.map({ ($0.key, $0.value) }) + added.map({ ($0.0, $0.1 as Any) }) {
            guard let n = value as? NSNumber, let id = Int(exactly: n.doubleValue), id >= 0, id < total else {
                throw TextError(file: url, "token \"\(token)\" has id \(value), expected an integer in 0..<\(total)")
            }
            if strings[id] != nil { throw TextError(file: url, "id \(id) is used by \"\(strings[id]!)\" and \"\(token)\"") }
            strings[id] = token
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(rawMerges.count)
        for (i, m) in rawMerges.enumerated() {
            if let s = m as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw TextError(file: url, "merge \(i) \"\(s)\" is not two tokens separated by one space")
                }
                pairs.append((String(parts[0]), String(parts[1])))
            } else if let a = m as? [String], a.count == 2 {
                pairs.append((a[0], a[1]))
            } else {
                throw TextError(file: url, "merge \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return try BPETokenizer(tokenStrings: strings.map { $0 ?? "" }, merges: pairs, source: url.path)
    }

    /// The first difference between two tokenizers that would change ids or their meaning — in their `part`
    /// ("tokens": vocabulary size or a token's string, "merges": the merges or their order, "special tokens"),
    /// with a `detail` naming it — or nil when they encode alike.
    public func firstDifference(from other: BPETokenizer) -> (part: String, detail: String)? {
        if vocabSize != other.vocabSize { return ("tokens", "\(vocabSize) tokens against \(other.vocabSize)") }
        if let i = tokenStrings.indices.first(where: { tokenStrings[$0] != other.tokenStrings[$0] }) {
            return ("tokens", "token \(i) is \"\(tokenStrings[i])\" against \"\(other.tokenStrings[i])\"")
        }
        if merges.count != other.merges.count { return ("merges", "\(merges.count) merges against \(other.merges.count)") }
        if let r = merges.indices.first(where: { merges[$0] != other.merges[$0] }) {
            return ("merges", "merge \(r + 1) is \"\(tokenStrings[merges[r].left]) \(tokenStrings[merges[r].right])\" against \"\(other.tokenStrings[other.merges[r].left]) \(other.tokenStrings[other.merges[r].right])\"")
        }
        if specialTokens != other.specialTokens { return ("special tokens", "\(specialTokens) against \(other.specialTokens)") }
        return nil
    }

    /// Loads GPT-2-format files: `vocab.json` maps token strings to ids 0..<V (each id once); `merges.txt` has an
    /// optional `#version` line, then one merge `left right` per line, in rank order.
    public static func load(vocab vocabURL: URL, merges mergesURL: URL) throws -> BPETokenizer {
        let dict = try vocabularyObject(vocabURL)
        var strings = [String?](repeating: nil, count: dict.count)
        for (token, value) in dict {
            guard let n = value as? NSNumber, let id = Int(exactly: n.doubleValue), id >= 0, id < dict.count else {
                throw TextError(file: vocabURL, "token \"\(token)\" has id \(value), expected an integer in 0..<\(dict.count)")
            }
            if strings[id] != nil { throw TextError(file: vocabURL, "id \(id) is used by \"\(strings[id]!)\" and \"\(token)\"") }
            strings[id] = token
        }
        let tokenStrings = strings.map { $0 ?? "" }  // all set: dict.count distinct ids in 0..<count
        let text = try readUTF8(mergesURL)
        var pairs: [(String, String)] = [], lines: [Int] = []
        for (i, raw) in textLines(text).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || (i == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TextError(file: mergesURL, line: i + 1, "expected two tokens separated by one space, got \"\(line)\"")
            }
            pairs.append((String(parts[0]), String(parts[1]))); lines.append(i + 1)
        }
        return try BPETokenizer(tokenStrings: tokenStrings, merges: pairs, source: mergesURL.path, mergeLines: lines)
    }

    /// `vocab.json` parsed as a JSON object (errors name the file, and the line and column of a syntax error).
    static func vocabularyObject(_ vocabURL: URL) throws -> [String: Any] {
        let data: Data
        do { data = try readFileData(vocabURL) }
        catch { throw TextError(file: vocabURL, "cannot read (\(ioErrorText(error)))") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) }
        catch { throw TextError(file: vocabURL, "not valid JSON (\(ioErrorText(error, json: data)))") }
        guard let dict = object as? [String: Any] else { throw TextError(file: vocabURL, "expected a JSON object of token → id") }
        return dict
    }

    /// The number of entries of a GPT-2 `vocab.json` (the vocabulary size its ids index).
    public static func vocabularyEntryCount(_ vocabURL: URL) throws -> Int { try vocabularyObject(vocabURL).count }

    /// Writes `vocab.json` (ids in order) and `merges.txt` (`#version: 0.2` then one merge per line) into `directory`,
    /// creating it if needed. HF `tokenizers` and `transformers` load these files.
    public func save(directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var json = "{"
            for (i, t) in tokenStrings.enumerated() {
                if i > 0 { json += "," }
                json += jsonString(t) + ":" + String(i)
            }
            json += "}"
            try AtomicFile.write(Data(json.utf8), to: directory.appendingPathComponent("vocab.json"))
            var m = "#version: 0.2\n"
            for (a, b, _) in merges { m += tokenStrings[a] + " " + tokenStrings[b] + "\n" }
            try AtomicFile.write(Data(m.utf8), to: directory.appendingPathComponent("merges.txt"))
        } catch let e as TextError { throw e }
        catch { throw TextError(file: directory, "cannot write tokenizer files (\(ioErrorText(error)))") }
    }

    /// Writes the tokenizer files transformers' `GPT2TokenizerFast.from_pretrained` reads: `vocab.json`, `merges.txt`
    /// and `tokenizer_config.json` (`<|endoftext|>` as bos/eos/unk when the vocabulary has it, none otherwise, so
    /// transformers adds no token; `model_max_length` = the model's context).
    public func saveForTransformers(directory: URL, modelMaxLength: Int) throws {
        try save(directory: directory)
        var config: [String: Any] = ["tokenizer_class": "GPT2Tokenizer", "add_prefix_space": false,
                                     "model_max_length": modelMaxLength, "clean_up_tokenization_spaces": false]
        let eot: Any = eotToken != nil ? BPETokenizer.endOfText : NSNull()
        for k in ["bos_token", "eos_token", "unk_token"] { config[k] = eot }
        let url = directory.appendingPathComponent("tokenizer_config.json")
        do {
            let data = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
            try AtomicFile.write(data, to: url)
        } catch { throw TextError(file: url, "cannot write (\(ioErrorText(error)))") }
    }

    // MARK: Lookup

    /// The id of the token whose bytes are exactly the UTF-8 of `text` (e.g. `" great"` → id of `"Ġgreat"`), or of the
    /// special token spelled `text`; nil if no such token.
    public func id(forToken text: String) -> Int? {
        if let id = vocab[text], specialTokens.contains(id) { return id }
        return vocab[ByteLevel.encode(Array(text.utf8))]
    }

    /// The id of a token given in byte-level form (`"Ġgreat"`), as in `vocab.json`.
    public func id(forTokenString s: String) -> Int? { vocab[s] }

    // MARK: Encoding

    /// Ids of `text`, as transformers' GPT2TokenizerFast gives them: the literal spelling of a special token
    /// (e.g. `<|endoftext|>`) becomes that token's id, and the text between is BPE-encoded on its own.
    public func encode(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { buf -> [Int] in
            guard let p = buf.baseAddress, !specialTokens.isEmpty, buf.count >= 3 else { return encode(bytes: buf) }
            var out: [Int] = []
            var start = 0, i = 0
            let n = buf.count
            while i < n {
                // Specials are spelled `<|…|>` in GPT-2 vocabularies; match any special whose bytes start at i.
                if p[i] == UInt8(ascii: "<"), let (id, len) = specialMatch(p + i, n - i) {
                    out += encode(bytes: UnsafeBufferPointer(start: p + start, count: i - start))
                    out.append(id)
                    i += len; start = i
                } else {
                    i += 1
                }
            }
            out += encode(bytes: UnsafeBufferPointer(start: p + start, count: n - start))
            return out
        }
    }

    /// Ids of `text` with special-token spellings encoded as ordinary text (GPT-2's original `encode`).
    public func encodeOrdinary(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { encode(bytes: $0) }
    }

    /// The longest special token whose bytes start at `p` (at most `n` bytes available).
    func specialMatch(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Int, Int)? {
        var best: (Int, Int)? = nil
        for id in specialTokens {
            let b = tokenBytes[id]
            guard b.count > 1, b.count <= n, b.count > (best?.1 ?? 0) else { continue }
            var k = 0
            while k < b.count && p[k] == b[k] { k += 1 }
            if k == b.count { best = (id, b.count) }
        }
        return best
    }

    /// Ids of an arbitrary byte string (need not be UTF-8).
    public func encode(bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var out: [Int32] = []
        var scratch: [Int32] = []
        guard let p = bytes.baseAddress else { return [] }
        out.reserveCapacity(bytes.count / 3 + 4)
        PreTokenizer.forEachWord(p, count: bytes.count) { s, e in
            encodeWord(p + s, e - s, into: &out, scratch: &scratch)
        }
        return out.map { Int($0) }
    }

    public func encode(bytes: [UInt8]) -> [Int] { bytes.withUnsafeBufferPointer { encode(bytes: $0) } }

    /// BPE of one pre-tokenised word, appended to `out`.
    @inline(__always)
    func encodeWord(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], scratch: inout [Int32]) {
        if n == 1 { out.append(byteToId[Int(p[0])]); return }
        if scratch.count < n { scratch = [Int32](repeating: 0, count: max(n, 64)) }
        let m = scratch.withUnsafeMutableBufferPointer { sb -> Int in
            let sym = sb.baseAddress!
            byteToId.withUnsafeBufferPointer { bt in
                for i in 0..<n { sym[i] = bt[Int(p[i])] }
            }
            return mergeAll(sym, n)
        }
        scratch.withUnsafeBufferPointer { sb in out.append(contentsOf: sb[0..<m]) }
    }

    /// Applies merges to `sym[0..<n]` in rank order; returns the new length.
    @inline(__always)
    func mergeAll(_ sym: UnsafeMutablePointer<Int32>, _ count: Int) -> Int {
        var n = count
        while n > 1 {
            var best = UInt64.max, pos = -1
            for i in 0..<(n &- 1) {
                if let v = ranks.get(UInt64(UInt32(bitPattern: sym[i])) << 32 | UInt64(UInt32(bitPattern: sym[i &+ 1]))),
                   v < best { best = v; pos = i }
            }
            if pos < 0 { break }
            let a = sym[pos], b = sym[pos &+ 1], merged = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            var w = pos, r = pos
            while r < n {
                if r &+ 1 < n, sym[r] == a, sym[r &+ 1] == b { sym[w] = merged; r &+= 2 }
                else { sym[w] = sym[r]; r &+= 1 }
                w &+= 1
            }
            n = w
        }
        return n
    }

    /// Per-worker cache of word encodings (word bytes → ids).
    struct Cache {
        var words = WordTable(capacity: 1 << 14)
        var idStart: [Int] = [0]
        var ids: [Int32] = []
        var scratch: [Int32] = []
        static let maxWords = 1 << 21
    }

    /// Encodes `p[0..<n]` appending ids to `out`, using and filling `cache`.
    func encode(_ p: UnsafePointer<UInt8>, _ n: Int, cache: inout Cache, into out: inout [Int32]) {
        PreTokenizer.forEachWord(p, count: n) { s, e in
            let len = e &- s
            if len == 1 { out.append(byteToId[Int(p[s])]); return }
            let h = WordTable.hash(p + s, len)
            if let k = cache.words.find(p + s, len, hash: h) {
                let lo = cache.idStart[k], hi = cache.idStart[k &+ 1]
                cache.ids.withUnsafeBufferPointer { out.append(contentsOf: $0[lo..<hi]) }
                return
            }
            let before = out.count
            encodeWord(p + s, len, into: &out, scratch: &cache.scratch)
            if cache.words.count < Cache.maxWords {
                _ = cache.words.intern(p + s, len, hash: h)
                cache.ids.append(contentsOf: out[before...])
                cache.idStart.append(cache.ids.count)
            }
        }
    }

    /// Encodes many texts on `Threads.count` workers (each with its own word cache). Same ids as `encode` on each.
    public func encodeBatch(_ texts: [String]) -> [[Int32]] {
        var caches: [Cache] = []
        return encodeBatch(texts, caches: &caches)
    }

    /// `encodeBatch` keeping the workers' caches in `caches` across calls (for encoding a corpus batch by batch).
    func encodeBatch(_ texts: [String], caches: inout [Cache]) -> [[Int32]] {
        let workers = max(1, min(Threads.count, texts.count))
        while caches.count < workers { caches.append(Cache()) }
        var results = [[Int32]](repeating: [], count: texts.count)
        results.withUnsafeMutableBufferPointer { res in
            caches.withUnsafeMutableBufferPointer { cs in
                let res = res, cs = cs
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let lo = texts.count * w / workers, hi = texts.count * (w + 1) / workers
                    var cache = cs[w]
                    cs[w] = Cache()
                    for i in lo..<hi {
                        var t = texts[i]
                        var out: [Int32] = []
                        t.withUTF8 { b in if let p = b.baseAddress { encodeWithSpecials(p, b.count, cache: &cache, into: &out) } }
                        res[i] = out
                    }
                    cs[w] = cache
                }
            }
        }
        return results
    }

    /// `encode(_ text:)` with a worker's cache: a special token's literal spelling becomes its id, so a corpus
    /// (`tokenize`) and labelled text (`extract`) treat `<|endoftext|>` alike, as transformers does.
    func encodeWithSpecials(_ p: UnsafePointer<UInt8>, _ n: Int, cache: inout Cache, into out: inout [Int32]) {
        var start = 0, i = 0
        if !specialTokens.isEmpty {
            while i < n {
                if p[i] == UInt8(ascii: "<"), let (id, len) = specialMatch(p + i, n - i) {
                    if i > start { encode(p + start, i - start, cache: &cache, into: &out) }
                    out.append(Int32(id))
                    i += len; start = i
                } else {
                    i += 1
                }
            }
        }
        if n > start { encode(p + start, n - start, cache: &cache, into: &out) }
    }

    /// Encodes one large byte buffer on `Threads.count` workers: it is cut only after a newline followed by a
    /// non-space ASCII byte, which is always a word boundary, so the ids equal those of a single-threaded encode.
    public func encodeCorpus(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int32] {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return [] }
        let cuts = Corpus.safeCuts(bytes, pieces: max(1, Threads.count * 4))
        var parts = [[Int32]](repeating: [], count: cuts.count - 1)
        parts.withUnsafeMutableBufferPointer { res in
            let res = res
            parallelChunks(cuts.count - 1) { range in
                var cache = Cache()
                for c in range {
                    var out: [Int32] = []
                    out.reserveCapacity((cuts[c + 1] - cuts[c]) / 3)
                    encode(p + cuts[c], cuts[c + 1] - cuts[c], cache: &cache, into: &out)
                    res[c] = out
                }
            }
        }
        return Array(parts.joined())
    }

    // MARK: Decoding

    /// The exact bytes of `ids`; an id outside 0..<vocabSize decodes to U+FFFD (EF BF BD), visibly.
    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            if id >= 0, id < tokenBytes.count { out.append(contentsOf: tokenBytes[id]) }
            else { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
        }
        return out
    }

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD (use `decodeBytes` for exact bytes).
    public func decode(_ ids: [Int]) -> String { String(decoding: decodeBytes(ids), as: UTF8.self) }
}

/// JSON string literal with the escapes serde_json (HF) uses: `"` `\` and control characters; other text raw UTF-8.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
