/// A read-mostly open-addressing map from a token pair (a, b), packed as `a << 32 | b`, to a packed value
/// (`rank << 32 | newId` for merges). Lookups are two multiplies and a probe, cheaper than `Dictionary` in the
/// encoder's inner loop; immutable after building, so safe to share between threads.
struct PairMap: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    static let empty = UInt64.max

    init(capacity: Int) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        keys = [UInt64](repeating: PairMap.empty, count: c)
        values = [UInt64](repeating: 0, count: c)
        mask = c - 1
    }

    @inline(__always) static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Inserts `value` for `key` unless the key is present (first insertion wins); returns whether it inserted.
    @discardableResult
    mutating func insertIfAbsent(_ key: UInt64, _ value: UInt64) -> Bool {
        if (count + 1) * 2 > keys.count { grow() }
        var s = PairMap.slot(key, mask)
        while keys[s] != PairMap.empty {
            if keys[s] == key { return false }
            s = (s &+ 1) & mask
        }
        keys[s] = key; values[s] = value; count += 1
        return true
    }

    @inline(__always) func get(_ key: UInt64) -> UInt64? {
        keys.withUnsafeBufferPointer { k in
            var s = PairMap.slot(key, mask)
            while true {
                let x = k[s]
                if x == key { return values[s] }
                if x == PairMap.empty { return nil }
                s = (s &+ 1) & mask
            }
        }
    }

    private mutating func grow() {
        let oldK = keys, oldV = values
        let c = keys.count * 2
        keys = [UInt64](repeating: PairMap.empty, count: c)
        values = [UInt64](repeating: 0, count: c)
        mask = c - 1
        count = 0
        for i in 0..<oldK.count where oldK[i] != PairMap.empty { insertIfAbsent(oldK[i], oldV[i]) }
    }
}
