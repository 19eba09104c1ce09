import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How much memory this process may allocate: the smaller of physical memory and the address-space limit
/// (`ulimit -v`). Sizes read from files or flags are compared with it before allocating, so a request the machine
/// cannot hold is a one-line error instead of an allocation abort or swapping to a halt.
public enum SystemMemory {
    public static var limitBytes: Int {
        var limit = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max {
            limit = min(limit, Int(clamping: rl.rlim_cur))
        }
        return limit
    }

    /// "12.3 GB" (decimal units, as `df -H`).
    public static func format(_ bytes: Int) -> String {
        bytes >= 1_000_000_000 ? String(format: "%.1f GB", Double(bytes) / 1e9) : String(format: "%.0f MB", Double(bytes) / 1e6)
    }

    /// Throws a one-line error naming `what`, the bytes it needs and the limit, unless Σ products of `terms` (checked
    /// for overflow) fits in `limitBytes`. Call before allocating anything sized by a flag or a file.
    public static func require(_ terms: [[Int]], for what: String) throws {
        let limit = limitBytes
        guard let bytes = checkedSum(ofProducts: terms), bytes <= limit else {
            let need = checkedSum(ofProducts: terms).map(format) ?? "more than can be addressed"
            throw SupportError("\(what) needs \(need) of memory; this process may allocate \(format(limit)) — use smaller sizes")
        }
    }

    /// Σ factors[i] products with overflow checks: nil when the total does not fit an Int.
    public static func checkedSum(ofProducts terms: [[Int]]) -> Int? {
        var total = 0
        for factors in terms {
            var p = 1
            for f in factors {
                guard f >= 0 else { return nil }
                let (q, o) = p.multipliedReportingOverflow(by: f)
                if o { return nil }
                p = q
            }
            let (t, o) = total.addingReportingOverflow(p)
            if o { return nil }
            total = t
        }
        return total
    }
}
