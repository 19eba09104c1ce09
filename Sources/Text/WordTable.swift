import Support

/// An open-addressing hash table interning byte strings (pre-tokenised words): `index(of:)` returns a dense index
/// 0, 1, 2, … per distinct word, in first-seen order. Used for word counts in training and for the per-worker cache
/// of word encodings. A value type (arrays, no class), so workers each own one and hot loops see no exclusivity checks.
struct WordTable {
    private(set) var arena: [UInt8] = []
    private(set) var starts: [Int] = []
    private(set) var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        slots = [Int32](repeating: -1, count: c)
        mask = c - 1
        starts = [0]
    }

    var count: Int { hashes.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        // Linalg's FNV step over 8-byte words, then the tail bytes, then its finaliser.
        var h = FNV.offset ^ UInt64(n)
        var i = 0
        while i &+ 8 <= n {
            h = FNV.mix(h, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            i &+= 8
        }
        while i < n { h = FNV.mixByte(h, p[i]); i &+= 1 }
        return FNV.finish(h)
    }

    /// Bytes of word `k`.
    func word(_ k: Int) -> ArraySlice<UInt8> { arena[starts[k]..<starts[k + 1]] }

    /// Index of the word `p[0..<n]`, or nil when absent.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int? {
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { sl in
            arena.withUnsafeBufferPointer { ar in
                hashes.withUnsafeBufferPointer { hs in
                    starts.withUnsafeBufferPointer { st in
                        while true {
                            let k = Int(sl[s])
                            if k < 0 { return nil }
                            if hs[k] == h, st[k &+ 1] &- st[k] == n,
                               n == 0 || memcmp(ar.baseAddress! + st[k], p, n) == 0 { return k }
                            s = (s &+ 1) & mask
                        }
                    }
                }
            }
        }
    }

    /// Index of the word `p[0..<n]`, inserting it if new; `inserted` tells which.
    @inline(__always)
    mutating func intern(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> (index: Int, inserted: Bool) {
        if let k = find(p, n, hash: h) { return (k, false) }
        let k = hashes.count
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        starts.append(arena.count)
        hashes.append(h)
        if (k + 1) * 2 > slots.count { grow() }
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] >= 0 { s = (s &+ 1) & mask }
        slots[s] = Int32(k)
        return (k, true)
    }

    private mutating func grow() {
        let c = slots.count * 2
        slots = [Int32](repeating: -1, count: c)
        mask = c - 1
        for k in 0..<hashes.count {
            var s = Int(truncatingIfNeeded: hashes[k]) & mask
            while slots[s] >= 0 { s = (s &+ 1) & mask }
            slots[s] = Int32(k)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
import Support
#endif
