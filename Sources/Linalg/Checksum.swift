import Foundation

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
