/// GPT-2's byte ↔ unicode table: every byte 0…255 is shown as one printable unicode scalar, so a token (a byte
/// string) is written in `vocab.json`/`merges.txt` as a plain string without spaces or control characters.
/// Printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) map to themselves; the other 68 bytes map, in byte order, to
/// U+0100, U+0101, … (so the space 0x20 is `Ġ` U+0120 and the newline 0x0A is `Ċ` U+010A).
public enum ByteLevel {
    /// `scalar[b]` is the unicode scalar value that shows byte `b`.
    public static let scalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { table[b] = UInt32(b) } else { table[b] = next; next += 1 }
        }
        return table
    }()

    /// Inverse of `scalar`: byte for a scalar value < 324, or nil.
    public static func byte(forScalar v: UInt32) -> UInt8? {
        guard v < 324 else { return nil }
        return inverse[Int(v)] >= 0 ? UInt8(inverse[Int(v)]) : nil
    }

    static let inverse: [Int16] = {
        var inv = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { inv[Int(scalar[b])] = Int16(b) }
        return inv
    }()

    /// The byte-level string showing `bytes` (e.g. `" great"` → `"Ġgreat"`).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalar[Int(b)])!) }
        return String(s)
    }

    /// The bytes a byte-level string shows, or nil if it contains a scalar outside the table.
    public static func decode(_ string: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(string.unicodeScalars.count)
        for u in string.unicodeScalars {
            guard let b = byte(forScalar: u.value) else { return nil }
            out.append(b)
        }
        return out
    }
}
