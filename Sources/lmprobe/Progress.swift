import Foundation
import Linalg

/// Prints one line to standard error.
func eprint(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// A progress line on standard error: `label  done/total  rate unit/s  ETA m:ss`, redrawn at most twice a second.
final class ProgressLine {
    let label: String, unit: String, total: Int
    let start = Benchmark.now()
    var lastDraw = 0.0
    let quiet: Bool

    init(_ label: String, total: Int, unit: String, quiet: Bool = false) {
        self.label = label; self.total = total; self.unit = unit; self.quiet = quiet
    }

    func update(_ done: Int, extra: String = "") {
        guard !quiet else { return }
        let now = Benchmark.now()
        guard now - lastDraw > 0.5 || done >= total else { return }
        lastDraw = now
        let elapsed = max(now - start, 1e-9), rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
        let line = String(format: "\r%@ %5.1f%%  %d/%d  %.0f %@/s  ETA %@ %@", label, pct, done, total, rate, unit,
                          Self.clock(eta), extra)
        FileHandle.standardError.write(Data((line + (done >= total ? "\n" : "")).utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
