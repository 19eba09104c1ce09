import Foundation
#if canImport(Glibc)
import Glibc
import Support
#endif

/// The token files `lmprobe tokenize` writes, read one way by every stage (pretraining, transfer analysis, the
/// leakage scan): a folder with `tokens.json`
/// {"format":"lmprobe-tokens-1","vocab_size":V,"dtype":"uint16"|"uint32","train_tokens":n,"val_tokens":m,
///  "eot_token":id,"tokenizer":"."} and `train.bin`, `val.bin` (flat little-endian ids of that dtype).
///
/// Guaranteed on open, before anything is read past the header: every count in `tokens.json` is a non-negative
/// integer whose byte size (computed with overflow checks) equals the size of its `.bin` file; `vocab_size` is at
/// most `maxVocabSize`, fits the dtype, and equals the number of entries of the tokenizer's `vocab.json` when the
/// header's tokenizer folder has one; `eot_token` is below `vocab_size`; and every id in the file is below
/// `vocab_size`. Readers may therefore index without further checks.
public final class TokenFile: @unchecked Sendable {
    public static let format = "lmprobe-tokens-1"
    /// The largest `vocab_size` accepted (2²¹ = 2,097,152: 40× GPT-2's 50,257). A larger header is refused before
    /// anything is allocated for it.
    public static let maxVocabSize = 1 << 21

    public enum Split: String, Sendable { case train, val }

    /// The header fields a reader needs.
    public struct Header: Sendable {
        public let vocabSize: Int
        public let dtype: String
        public let trainTokens: Int
        public let valTokens: Int
        public let eotToken: Int
        /// Tokenizer folder (resolved against the token folder).
        public let tokenizer: URL
        /// Bytes per id (2 for uint16, 4 for uint32).
        public var bytesPerToken: Int { dtype == "uint32" ? 4 : 2 }
        /// The raw bytes of `tokens.json` (part of the dataset hash).
        public let raw: Data

        public func count(_ split: Split) -> Int { split == .train ? trainTokens : valTokens }
    }

    public let header: Header
    public let split: Split
    /// Number of token ids.
    public let count: Int
    public let url: URL
    private let base: UnsafeRawPointer?
    private let mappedLength: Int
    private let wide: Bool

    /// Reads and validates the header of the token folder `directory`.
    public static func readHeader(directory: URL) throws -> Header {
        let url = directory.appendingPathComponent("tokens.json")
        let data: Data
        do { data = try readFileData(url) } catch {
            throw TextError(file: url, "cannot read (\(ioErrorText(error)); run `lmprobe tokenize` first?)")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw TextError(file: url, "not a JSON object") }
        guard obj["format"] as? String == format else { throw TextError(file: url, "\"format\" is not \"\(format)\"") }
        func int(_ k: String) throws -> Int {
            guard let n = obj[k] as? Int, n >= 0 else {
                throw TextError(file: url, "\"\(k)\" is missing or not a non-negative integer")
            }
            return n
        }
        let dtype = obj["dtype"] as? String ?? ""
        guard dtype == "uint16" || dtype == "uint32" else { throw TextError(file: url, "\"dtype\" must be \"uint16\" or \"uint32\", got \"\(dtype)\"") }
        let v = try int("vocab_size")
        guard v >= 1 else { throw TextError(file: url, "vocab_size must be at least 1") }
        if dtype == "uint16" && v > 65536 { throw TextError(file: url, "vocab_size \(v) does not fit dtype uint16") }
        guard v <= maxVocabSize else {
            throw TextError(file: url, "vocab_size \(v) is above the limit of \(maxVocabSize)")
        }
        let eot = try int("eot_token")
        if eot >= v { throw TextError(file: url, "eot_token \(eot) is not below vocab_size \(v)") }
        guard obj["tokenizer"] == nil || obj["tokenizer"] is String else { throw TextError(file: url, "\"tokenizer\" is not a string") }
        let tok = obj["tokenizer"] as? String ?? "."
        let tokURL = (tok.hasPrefix("/") ? URL(fileURLWithPath: tok) : directory.appendingPathComponent(tok)).standardizedFileURL
        // The vocabulary the ids index: when the tokenizer's vocab.json is present, the header must agree with it.
        let vocabURL = tokURL.appendingPathComponent("vocab.json")
        if FileManager.default.fileExists(atPath: vocabURL.path) {
            let n = try BPETokenizer.vocabularyEntryCount(vocabURL)
            guard n == v else {
                throw TextError(file: url, "vocab_size \(v) does not match the \(n) entries of \(vocabURL.path)")
            }
        }
        return Header(vocabSize: v, dtype: dtype, trainTokens: try int("train_tokens"), valTokens: try int("val_tokens"),
                      eotToken: eot, tokenizer: tokURL, raw: data)
    }

    /// Maps `directory/<split>.bin` and validates it against `directory/tokens.json`.
    public convenience init(directory: URL, split: Split) throws {
        try self.init(directory: directory, header: TokenFile.readHeader(directory: directory), split: split)
    }

    /// Maps `directory/<split>.bin` and validates it against an already read `header`.
    public init(directory: URL, header: Header, split: Split) throws {
        self.header = header
        self.split = split
        url = directory.appendingPathComponent("\(split.rawValue).bin")
        count = header.count(split)
        wide = header.dtype == "uint32"
        let width = header.bytesPerToken
        let (expected, overflow) = count.multipliedReportingOverflow(by: width)
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw TextError(file: url, "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TextError(file: url, "cannot stat (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TextError(file: url, "not a regular file") }
        let size = Int(st.st_size)
        guard !overflow, size == expected else {
            throw TextError(file: url, "size \(size) bytes, but tokens.json says \(count) \(header.dtype) ids"
                            + (overflow ? " (more bytes than can be addressed)" : " (\(expected) bytes)"))
        }
        mappedLength = size
        if size == 0 { base = nil }
        else {
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { throw TextError(file: url, "cannot memory-map") }
            base = UnsafeRawPointer(p)
        }
        // Validate every id once (a linear scan, ~GB/s).
        let v = UInt32(header.vocabSize)
        if let b = base {
            if wide {
                let q = b.assumingMemoryBound(to: UInt32.self)
                for i in 0..<count where UInt32(littleEndian: q[i]) >= v {
                    let bad = UInt32(littleEndian: q[i])
                    munmap(UnsafeMutableRawPointer(mutating: b), size)
                    throw TextError(file: url, "token \(i) is \(bad), not below vocab_size \(v)")
                }
            } else if v < 65536 {
                let q = b.assumingMemoryBound(to: UInt16.self)
                for i in 0..<count where UInt32(UInt16(littleEndian: q[i])) >= v {
                    let bad = UInt16(littleEndian: q[i])
                    munmap(UnsafeMutableRawPointer(mutating: b), size)
                    throw TextError(file: url, "token \(i) is \(bad), not below vocab_size \(v)")
                }
            }
        }
    }

    deinit { if let b = base { munmap(UnsafeMutableRawPointer(mutating: b), mappedLength) } }

    /// The file's bytes (for hashing).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : mappedLength))
    }

    /// Token `i` (0 ≤ i < count).
    @inlinable public subscript(i: Int) -> Int32 { load(i) }

    @usableFromInline func load(_ i: Int) -> Int32 {
        precondition(i >= 0 && i < count, "token index \(i) out of range 0..<\(count)")
        if wide { return Int32(bitPattern: UInt32(littleEndian: base!.load(fromByteOffset: i &* 4, as: UInt32.self))) }
        return Int32(UInt16(littleEndian: base!.load(fromByteOffset: i &* 2, as: UInt16.self)))
    }

    /// Copies tokens `start ..< start + n` into `dst` as Int32.
    public func copy(from start: Int, count n: Int, into dst: UnsafeMutablePointer<Int32>) {
        precondition(start >= 0 && n >= 0 && n <= count && start <= count - n, "token range \(start)..<\(start + n) out of 0..<\(count)")
        guard let b = base else { return }
        if wide {
            let q = b.assumingMemoryBound(to: UInt32.self) + start
            for i in 0..<n { dst[i] = Int32(bitPattern: UInt32(littleEndian: q[i])) }
        } else {
            let q = b.assumingMemoryBound(to: UInt16.self) + start
            for i in 0..<n { dst[i] = Int32(UInt16(littleEndian: q[i])) }
        }
    }

    /// Tokens in `range` as an array.
    public func tokens(_ range: Range<Int>) -> [Int32] {
        if range.isEmpty { return [] }
        return [Int32](unsafeUninitializedCapacity: range.count) { buf, n in
            copy(from: range.lowerBound, count: range.count, into: buf.baseAddress!)
            n = range.count
        }
    }
}

// MARK: Writing (the one token-file writer: `tokenize` and `synth generate` both call it)

extension TokenFile {
    /// The dtype `tokens.json` records for a vocabulary of `vocabSize` ids.
    public static func dtype(vocabSize: Int) -> String { vocabSize > 65536 ? "uint32" : "uint16" }

    /// Appends `ids` to `data` as little-endian uint16 (or uint32 when `wide`).
    public static func append(_ ids: UnsafeBufferPointer<Int32>, wide: Bool, to data: inout Data) {
        let width = wide ? 4 : 2
        var buf = [UInt8](repeating: 0, count: ids.count &* width)
        buf.withUnsafeMutableBytes { raw in
            if wide {
                for i in 0..<ids.count { raw.storeBytes(of: UInt32(bitPattern: ids[i]).littleEndian, toByteOffset: i &* 4, as: UInt32.self) }
            } else {
                for i in 0..<ids.count { raw.storeBytes(of: UInt16(truncatingIfNeeded: ids[i]).littleEndian, toByteOffset: i &* 2, as: UInt16.self) }
            }
        }
        data.append(contentsOf: buf)
    }

    /// Writes `directory/<split>.bin` atomically (temp file + rename).
    public static func writeSplit(_ data: Data, split: Split, directory: URL) throws {
        let url = directory.appendingPathComponent("\(split.rawValue).bin")
        do { try AtomicFile.write(data, to: url) }
        catch { throw TextError(file: url, "cannot write (\(ioErrorText(error)))") }
    }

    /// Writes `directory/<split>.bin` from `count` ids that `fill(buffer, n)` produces in pieces of at most `chunk`,
    /// so a split never has to exist in memory as one array; the bytes go to `<split>.bin.partial`, renamed at the end.
    public static func writeSplit(split: Split, directory: URL, count: Int, wide: Bool, chunk: Int = 1 << 20,
                                  fill: (UnsafeMutablePointer<Int32>, Int) throws -> Void) throws {
        let url = directory.appendingPathComponent("\(split.rawValue).bin")
        let partial = directory.appendingPathComponent("\(split.rawValue).bin.partial")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: partial.path) else {
            throw TextError(file: partial, "cannot create (\(String(cString: strerror(errno))))")
        }
        var ids = [Int32](repeating: 0, count: max(1, min(chunk, count)))
        do {
            defer { try? handle.close() }
            var done = 0
            while done < count {
                let n = min(ids.count, count - done)
                try ids.withUnsafeMutableBufferPointer { try fill($0.baseAddress!, n) }
                var data = Data(capacity: n * (wide ? 4 : 2))
                ids.withUnsafeBufferPointer { append(UnsafeBufferPointer(rebasing: $0[..<n]), wide: wide, to: &data) }
                try handle.write(contentsOf: data)
                done += n
            }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw TextError(file: url, "cannot write (\(ioErrorText(error)))")
        }
        guard rename(partial.path, url.path) == 0 else {
            let e = errno
            try? FileManager.default.removeItem(at: partial)
            throw TextError(file: url, "cannot put in place (\(String(cString: strerror(e))))")
        }
    }

    /// Writes `directory/tokens.json` atomically (`JSONCoding`, snake_case keys): the fields every reader needs
    /// (format, vocab_size, dtype, train_tokens, val_tokens, eot_token, tokenizer) plus `provenance`'s fields at the
    /// same level (what made the tokens; its keys must not repeat those). Call after both `.bin` files are in place,
    /// so a reader never sees a header promising absent tokens.
    public static func writeHeader<Provenance: Encodable>(directory: URL, vocabSize: Int, trainTokens: Int, valTokens: Int,
                                                          eotToken: Int, tokenizer: String, provenance: Provenance) throws {
        let header = RequiredFields(format: format, vocabSize: vocabSize, dtype: dtype(vocabSize: vocabSize), trainTokens: trainTokens,
                            valTokens: valTokens, eotToken: eotToken, tokenizer: tokenizer)
        let url = directory.appendingPathComponent("tokens.json")
        do {
            try AtomicFile.write(JSONCoding.encoder().encode(Flattened(header, provenance)), to: url)
        } catch { throw TextError(file: url, "cannot write (\(ioErrorText(error)))") }
    }

    /// The fields of tokens.json every reader relies on.
    struct RequiredFields: Encodable {
        var format: String
        var vocabSize: Int
        var dtype: String
        var trainTokens, valTokens, eotToken: Int
        var tokenizer: String
    }

    /// Two encodable values written as one JSON object (both encode into the same keyed container).
    struct Flattened<A: Encodable, B: Encodable>: Encodable {
        let a: A, b: B
        init(_ a: A, _ b: B) { self.a = a; self.b = b }
        func encode(to encoder: Encoder) throws { try b.encode(to: encoder); try a.encode(to: encoder) }
    }
}

/// Both splits of a token folder, validated together (one header read), with the checksum pretraining records in
/// its checkpoints. The one token-file reader of Model and Analysis.
public final class TokenDataset: @unchecked Sendable {
    public typealias Split = TokenFile.Split

    public let directory: URL
    public let header: TokenFile.Header
    public let train: TokenFile, val: TokenFile
    /// Checksum (64-bit, hex) over tokens.json, train.bin and val.bin — recorded in checkpoints.
    public let hash: String

    public var vocabSize: Int { header.vocabSize }
    public var eotToken: Int { header.eotToken }
    public var bytesPerToken: Int { header.bytesPerToken }
    /// The tokenizer directory: `directory` resolved with the header's "tokenizer" field.
    public var tokenizerDirectory: URL { header.tokenizer }
    public var trainCount: Int { train.count }
    public var valCount: Int { val.count }

    public init(directory: URL) throws {
        self.directory = directory
        header = try TokenFile.readHeader(directory: directory)
        train = try TokenFile(directory: directory, header: header, split: .train)
        val = try TokenFile(directory: directory, header: header, split: .val)
        var h = Checksum()
        h.add(header.raw)
        train.withUnsafeBytes { h.add($0) }
        val.withUnsafeBytes { h.add($0) }
        hash = h.hex
    }

    public func file(_ split: Split) -> TokenFile { split == .train ? train : val }
    public func count(_ split: Split) -> Int { file(split).count }

    /// Copies tokens [start, start+length) of `split` into `out` as Int32.
    public func copyTokens(_ split: Split, start: Int, length: Int, into out: UnsafeMutablePointer<Int32>) {
        file(split).copy(from: start, count: length, into: out)
    }

    /// Fills inputs/targets (B×T each) from windows starting at `starts`: inputs = x[s..<s+T], targets = x[s+1...s+T].
    public func fillBatch(_ split: Split, starts: [Int], length T: Int, inputs: UnsafeMutablePointer<Int32>,
                          targets: UnsafeMutablePointer<Int32>) {
        let tmp = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1)
        defer { tmp.deallocate() }
        for (b, s) in starts.enumerated() {
            copyTokens(split, start: s, length: T + 1, into: tmp)
            (inputs + b * T).update(from: tmp, count: T)
            (targets + b * T).update(from: tmp + 1, count: T)
        }
    }

    /// `count` window starts spread evenly over `split` (the fixed validation windows).
    public func evenlySpacedStarts(_ split: Split, count: Int, length T: Int) -> [Int] {
        let last = self.count(split) - T - 1
        if count <= 1 { return [0] }
        return (0..<count).map { $0 * last / (count - 1) }
    }
}
