import Foundation
import Linalg

/// The Text stage's token files, memory-mapped: a directory with `tokens.json`
/// {"format":"lmprobe-tokens-1","vocab_size":V,"dtype":"uint16"|"uint32","train_tokens":n,"val_tokens":m,
///  "eot_token":id,"tokenizer":"."} and `train.bin`, `val.bin` (flat little-endian ids of that dtype).
/// Loading checks the sizes against the header and every id against V, so training never reads garbage.
public final class TokenDataset {
    public enum Split: String, Sendable { case train, val }

    public let directory: URL
    public let vocabSize: Int
    public let eotToken: Int
    public let bytesPerToken: Int
    /// The tokenizer directory: `directory` resolved with the header's "tokenizer" field.
    public let tokenizerDirectory: URL
    /// Checksum (64-bit, hex) over tokens.json, train.bin and val.bin — recorded in checkpoints.
    public let hash: String
    let train: Data, val: Data
    public var trainCount: Int { train.count / bytesPerToken }
    public var valCount: Int { val.count / bytesPerToken }

    public init(directory: URL) throws {
        self.directory = directory
        let headerURL = directory.appendingPathComponent("tokens.json")
        let path = headerURL.path
        guard let headerData = FileManager.default.contents(atPath: path) else {
            throw ModelError.badTokenFile(path: path, reason: "cannot read (expected the Text stage's token directory)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw ModelError.badTokenFile(path: path, reason: "not a JSON object")
        }
        guard obj["format"] as? String == "lmprobe-tokens-1" else {
            throw ModelError.badTokenFile(path: path, reason: "format is \(obj["format"] ?? "missing"), expected lmprobe-tokens-1")
        }
        func int(_ key: String) throws -> Int {
            guard let v = obj[key] as? Int, v >= 0 else {
                throw ModelError.badTokenFile(path: path, reason: "field \"\(key)\" missing or not a non-negative integer")
            }
            return v
        }
        vocabSize = try int("vocab_size")
        eotToken = try int("eot_token")
        let nTrain = try int("train_tokens"), nVal = try int("val_tokens")
        switch obj["dtype"] as? String {
        case "uint16": bytesPerToken = 2
        case "uint32": bytesPerToken = 4
        default: throw ModelError.badTokenFile(path: path, reason: "dtype must be \"uint16\" or \"uint32\"")
        }
        guard vocabSize > 0, vocabSize <= (bytesPerToken == 2 ? 65536 : Int(Int32.max)) else {
            throw ModelError.badTokenFile(path: path, reason: "vocab_size \(vocabSize) does not fit dtype")
        }
        let tok = obj["tokenizer"] as? String ?? "."
        tokenizerDirectory = (tok.hasPrefix("/") ? URL(fileURLWithPath: tok) : directory.appendingPathComponent(tok)).standardizedFileURL
        let bpt = bytesPerToken
        func mapped(_ name: String, _ count: Int) throws -> Data {
            let url = directory.appendingPathComponent(name)
            let d: Data
            do { d = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw ModelError.badTokenFile(path: url.path, reason: "cannot read: \(error.localizedDescription)")
            }
            guard d.count == count * bpt else {
                throw ModelError.badTokenFile(path: url.path, reason:
                    "has \(d.count) bytes, tokens.json promises \(count) tokens × \(bpt) bytes")
            }
            return d
        }
        let trainData = try mapped("train.bin", nTrain), valData = try mapped("val.bin", nVal)
        var h = Checksum()
        h.add(headerData)
        h.add(trainData)
        h.add(valData)
        train = trainData
        val = valData
        hash = h.hex
        for (name, data) in [("train.bin", trainData), ("val.bin", valData)] {
            if let bad = TokenDataset.firstOutOfRange(data, bytesPerToken: bytesPerToken, vocab: vocabSize) {
                throw ModelError.badTokenFile(path: directory.appendingPathComponent(name).path,
                                              reason: "token \(bad.value) at index \(bad.index) ≥ vocab_size \(vocabSize)")
            }
        }
    }

    static func firstOutOfRange(_ d: Data, bytesPerToken: Int, vocab: Int) -> (index: Int, value: Int)? {
        d.withUnsafeBytes { raw -> (Int, Int)? in
            if bytesPerToken == 2 {
                let p = raw.bindMemory(to: UInt16.self)
                if vocab >= 65536 { return nil }
                for i in 0..<p.count where Int(UInt16(littleEndian: p[i])) >= vocab { return (i, Int(UInt16(littleEndian: p[i]))) }
            } else {
                let p = raw.bindMemory(to: UInt32.self)
                for i in 0..<p.count where Int(UInt32(littleEndian: p[i])) >= vocab { return (i, Int(UInt32(littleEndian: p[i]))) }
            }
            return nil
        }
    }

    public func count(_ split: Split) -> Int { split == .train ? trainCount : valCount }

    /// Copies tokens [start, start+length) of `split` into `out` as Int32.
    public func copyTokens(_ split: Split, start: Int, length: Int, into out: UnsafeMutablePointer<Int32>) {
        let d = split == .train ? train : val
        d.withUnsafeBytes { raw in
            if bytesPerToken == 2 {
                let p = raw.bindMemory(to: UInt16.self)
                for i in 0..<length { out[i] = Int32(UInt16(littleEndian: p[start + i])) }
            } else {
                let p = raw.bindMemory(to: UInt32.self)
                for i in 0..<length { out[i] = Int32(bitPattern: UInt32(littleEndian: p[start + i])) }
            }
        }
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

/// A 64-bit checksum over byte streams: FNV-1a-style mixing of little-endian 8-byte words (tail bytes padded),
/// with the total length folded in. Detects corruption; not cryptographic.
public struct Checksum {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    var length: UInt64 = 0
    public init() {}

    public mutating func add(_ raw: UnsafeRawBufferPointer) {
        let n = raw.count, words = n / 8
        var x = h
        if let base = raw.baseAddress {
            for i in 0..<words {
                x = (x ^ UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))) &* 0x100_0000_01b3
                x ^= x >> 29
            }
            var tail: UInt64 = 0
            for i in (words * 8)..<n { tail |= UInt64(raw[i]) << (8 * UInt64(i - words * 8)) }
            if n % 8 != 0 { x = (x ^ tail) &* 0x100_0000_01b3; x ^= x >> 29 }
        }
        h = x
        length &+= UInt64(n)
    }

    public mutating func add(_ d: Data) { d.withUnsafeBytes { add($0) } }

    public var value: UInt64 { var x = h ^ length; x = (x ^ (x >> 33)) &* 0xff51_afd7_ed55_8ccd; return x ^ (x >> 33) }
    public var hex: String { String(format: "%016llx", value) }
}
