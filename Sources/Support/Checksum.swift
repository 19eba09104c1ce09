import Foundation

/// A 64-bit checksum over byte streams: FNV-1a-style mixing of little-endian 8-byte words (tail bytes padded),
/// with the total length folded in. Detects corruption; not cryptographic.
public struct Checksum {
    var h: UInt64 = FNV.offset
    var length: UInt64 = 0
    public init() {}

    public mutating func add(_ raw: UnsafeRawBufferPointer) {
        let n = raw.count, words = n / 8
        var x = h
        if let base = raw.baseAddress {
            for i in 0..<words {
                x = FNV.mix(x, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)))
            }
            var tail: UInt64 = 0
            for i in (words * 8)..<n { tail |= UInt64(raw[i]) << (8 * UInt64(i - words * 8)) }
            if n % 8 != 0 { x = FNV.mix(x, tail) }
        }
        h = x
        length &+= UInt64(n)
    }

    public mutating func add(_ d: Data) { d.withUnsafeBytes { add($0) } }

    public var value: UInt64 { FNV.finish(h ^ length) }
    public var hex: String { String(format: "%016llx", value) }
}

/// THE FNV-style 64-bit hash step shared by `Checksum` (streams of bytes) and Text's word table (one word at a time):
/// FNV-1a over 8-byte little-endian words with an extra xor-shift per word, and a 64-bit finaliser. Not cryptographic.
public enum FNV {
    public static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x100_0000_01b3

    /// One 8-byte word (or a zero-padded tail) into the state.
    @inline(__always) @inlinable
    public static func mix(_ h: UInt64, _ word: UInt64) -> UInt64 {
        let x = (h ^ word) &* prime
        return x ^ (x >> 29)
    }

    /// One byte into the state (plain FNV-1a).
    @inline(__always) @inlinable
    public static func mixByte(_ h: UInt64, _ byte: UInt8) -> UInt64 { (h ^ UInt64(byte)) &* prime }

    /// The finaliser (murmur3's fmix64 half): spreads the state's bits.
    @inline(__always) @inlinable
    public static func finish(_ h: UInt64) -> UInt64 {
        let x = (h ^ (h >> 33)) &* 0xff51_afd7_ed55_8ccd
        return x ^ (x >> 33)
    }
}
