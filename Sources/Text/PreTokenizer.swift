/// GPT-2's pre-tokenisation rule, hand-written over UTF-8 bytes (no regular expressions). It is the regex
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// applied leftmost-first, as HF `tokenizers`' ByteLevel pre-tokenizer runs it (Oniguruma: `\s` is the Unicode
/// White_Space property, `\p{L}`/`\p{N}` the letter/number general categories). Bytes that are not valid UTF-8 are
/// treated one at a time as "other" symbols, so every byte string splits into words that concatenate back to it.
public enum PreTokenizer {
    /// Character classes: letter, number, other, whitespace.
    @usableFromInline static let letter: UInt8 = 0, number: UInt8 = 1, other: UInt8 = 2, space: UInt8 = 3

    /// Class of every BMP scalar (built once).
    @usableFromInline static let bmpClass: [UInt8] = {
        var t = [UInt8](repeating: other, count: 65536)
        for v in 0..<65536 {
            guard let u = Unicode.Scalar(UInt32(v)) else { continue }  // surrogates stay "other" (never decoded)
            t[v] = classify(u)
        }
        return t
    }()

    @usableFromInline static func classify(_ u: Unicode.Scalar) -> UInt8 {
        let p = u.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }

    /// Class and byte length of the scalar starting at `p[i]` (i < n). Invalid UTF-8: one byte, class other.
    @inlinable @inline(__always)
    static func scalar(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> (cls: UInt8, len: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (table[Int(b0)], 1) }
        if b0 < 0xC2 { return (other, 1) }
        if b0 < 0xE0 {
            guard i &+ 1 < n else { return (other, 1) }
            let b1 = UInt32(p[i &+ 1])
            guard b1 & 0xC0 == 0x80 else { return (other, 1) }
            return (table[Int(((b0 & 0x1F) << 6) | (b1 & 0x3F))], 2)
        }
        if b0 < 0xF0 {
            guard i &+ 2 < n else { return (other, 1) }
            let b1 = UInt32(p[i &+ 1]), b2 = UInt32(p[i &+ 2])
            guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return (other, 1) }
            let v = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
            guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return (other, 1) }
            return (table[Int(v)], 3)
        }
        if b0 < 0xF5 {
            guard i &+ 3 < n else { return (other, 1) }
            let b1 = UInt32(p[i &+ 1]), b2 = UInt32(p[i &+ 2]), b3 = UInt32(p[i &+ 3])
            guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return (other, 1) }
            let v = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            guard v >= 0x10000, v <= 0x10FFFF, let u = Unicode.Scalar(v) else { return (other, 1) }
            return (classify(u), 4)
        }
        return (other, 1)
    }

    /// Calls `body(start, end)` for each word of `bytes[0..<n]`, in order; the words tile the input exactly.
    @inlinable
    public static func forEachWord(_ p: UnsafePointer<UInt8>, count n: Int, _ body: (Int, Int) -> Void) {
        bmpClass.withUnsafeBufferPointer { tb in
            let table = tb.baseAddress!
            var i = 0
            while i < n {
                let c = p[i]
                // Contractions: 's 't 're 've 'm 'll 'd (lowercase only, as in GPT-2).
                if c == 0x27, i &+ 1 < n {
                    let d = p[i &+ 1]
                    if d == 0x73 || d == 0x74 || d == 0x6D || d == 0x64 { body(i, i &+ 2); i &+= 2; continue }
                    if i &+ 2 < n {
                        let e = p[i &+ 2]
                        if (d == 0x72 && e == 0x65) || (d == 0x76 && e == 0x65) || (d == 0x6C && e == 0x6C) {
                            body(i, i &+ 3); i &+= 3; continue
                        }
                    }
                }
                var (cls, len) = scalar(p, i, n, table)
                var j = i
                if c == 0x20, i &+ 1 < n {
                    // " ?X+" with the optional space: the class of the next scalar decides.
                    let (nc, nl) = scalar(p, i &+ 1, n, table)
                    if nc != space { cls = nc; j = i &+ 1; len = nl }
                }
                if cls != space {
                    j &+= len
                    while j < n {
                        let (k, l) = scalar(p, j, n, table)
                        if k != cls { break }
                        j &+= l
                    }
                    body(i, j); i = j; continue
                }
                // Whitespace: \s+(?!\S) takes the run but its last scalar when a non-space follows; else \s+.
                j = i &+ len
                var lastStart = i, scalars = 1
                while j < n {
                    let (k, l) = scalar(p, j, n, table)
                    if k != space { break }
                    lastStart = j; scalars &+= 1; j &+= l
                }
                if j == n || scalars == 1 { body(i, j); i = j }
                else { body(i, lastStart); i = lastStart }
            }
        }
    }

    /// The words of `text` as byte arrays (convenience for tests and small inputs).
    public static func words(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        bytes.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return }
            forEachWord(p, count: b.count) { s, e in out.append(Array(b[s..<e])) }
        }
        return out
    }

    /// The words of `text` as strings.
    public static func words(_ text: String) -> [String] {
        words(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }
}
