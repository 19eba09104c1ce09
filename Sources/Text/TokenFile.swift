import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A memory-mapped `train.bin` or `val.bin` written by `lmprobe tokenize`, described by `tokens.json` in the same
/// folder. On open it checks that the file holds exactly `count` ids of the header's dtype and that every id is below
/// `vocab_size`, so readers may index without further checks.
public final class TokenFile: @unchecked Sendable {
    public static let format = "lmprobe-tokens-1"

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
        do { data = try Data(contentsOf: url) } catch { throw TextError(file: url, "cannot read (run `lmprobe tokenize` first?)") }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw TextError(file: url, "not a JSON object") }
        guard obj["format"] as? String == format else { throw TextError(file: url, "\"format\" is not \"\(format)\"") }
        func int(_ k: String) throws -> Int {
            guard let n = obj[k] as? NSNumber, let v = Int(exactly: n.doubleValue), v >= 0 else {
                throw TextError(file: url, "\"\(k)\" is missing or not a non-negative integer")
            }
            return v
        }
        let dtype = obj["dtype"] as? String ?? ""
        guard dtype == "uint16" || dtype == "uint32" else { throw TextError(file: url, "\"dtype\" must be \"uint16\" or \"uint32\", got \"\(dtype)\"") }
        let v = try int("vocab_size")
        if dtype == "uint16" && v > 65536 { throw TextError(file: url, "vocab_size \(v) does not fit dtype uint16") }
        let eot = try int("eot_token")
        if eot >= v { throw TextError(file: url, "eot_token \(eot) is not below vocab_size \(v)") }
        let tok = obj["tokenizer"] as? String ?? "."
        return Header(vocabSize: v, dtype: dtype, trainTokens: try int("train_tokens"), valTokens: try int("val_tokens"),
                      eotToken: eot, tokenizer: URL(fileURLWithPath: tok, relativeTo: directory).standardizedFileURL)
    }

    /// Maps `directory/<split>.bin` and validates it against `directory/tokens.json`.
    public init(directory: URL, split: Split) throws {
        header = try TokenFile.readHeader(directory: directory)
        self.split = split
        url = directory.appendingPathComponent("\(split.rawValue).bin")
        count = split == .train ? header.trainTokens : header.valTokens
        wide = header.dtype == "uint32"
        let width = wide ? 4 : 2
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw TextError(file: url, "cannot open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TextError(file: url, "cannot stat") }
        let size = Int(st.st_size)
        guard size == count * width else {
            throw TextError(file: url, "size \(size) bytes, but tokens.json says \(count) \(header.dtype) ids (\(count * width) bytes)")
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
                    throw TextError(file: url, "token \(i) is \(UInt32(littleEndian: q[i])), not below vocab_size \(v)")
                }
            } else {
                let q = b.assumingMemoryBound(to: UInt16.self)
                for i in 0..<count where UInt32(UInt16(littleEndian: q[i])) >= v {
                    throw TextError(file: url, "token \(i) is \(UInt16(littleEndian: q[i])), not below vocab_size \(v)")
                }
            }
        }
    }

    deinit { if let b = base { munmap(UnsafeMutableRawPointer(mutating: b), mappedLength) } }

    /// Token `i` (0 ≤ i < count).
    @inlinable public subscript(i: Int) -> Int32 { load(i) }

    @usableFromInline func load(_ i: Int) -> Int32 {
        precondition(i >= 0 && i < count, "token index \(i) out of range 0..<\(count)")
        if wide { return Int32(bitPattern: UInt32(littleEndian: base!.load(fromByteOffset: i * 4, as: UInt32.self))) }
        return Int32(UInt16(littleEndian: base!.load(fromByteOffset: i * 2, as: UInt16.self)))
    }

    /// Copies tokens `start ..< start + n` into `dst` as Int32.
    public func copy(from start: Int, count n: Int, into dst: UnsafeMutablePointer<Int32>) {
        precondition(start >= 0 && n >= 0 && start + n <= count, "token range \(start)..<\(start + n) out of 0..<\(count)")
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
        do { try data.write(to: url, options: .atomic) }
        catch { throw TextError(file: url, "cannot write (\((error as NSError).localizedDescription))") }
    }

    /// Writes `directory/tokens.json` atomically: the fields every reader needs (format, vocab_size, dtype,
    /// train_tokens, val_tokens, eot_token, tokenizer) plus `extra` (provenance; may not override those).
    /// Call after both `.bin` files are in place, so a reader never sees a header promising absent tokens.
    public static func writeHeader(directory: URL, vocabSize: Int, trainTokens: Int, valTokens: Int, eotToken: Int,
                                   tokenizer: String, extra: [String: Any] = [:]) throws {
        var header = extra
        header["format"] = format
        header["vocab_size"] = vocabSize
        header["dtype"] = dtype(vocabSize: vocabSize)
        header["train_tokens"] = trainTokens
        header["val_tokens"] = valTokens
        header["eot_token"] = eotToken
        header["tokenizer"] = tokenizer
        let url = directory.appendingPathComponent("tokens.json")
        do {
            let json = try JSONSerialization.data(withJSONObject: header, options: [.prettyPrinted, .sortedKeys])
            try json.write(to: url, options: .atomic)
        } catch { throw TextError(file: url, "cannot write (\((error as NSError).localizedDescription))") }
    }
}
