import Foundation
import Support

/// Prints one line to standard error.
func eprint(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Whether standard error is a terminal (progress redraws in place) or a pipe/file (plain lines).
let stderrIsTerminal = isatty(STDERR_FILENO) != 0

/// A progress line on standard error: `label  pct  done/total  rate unit/s  ETA m:ss`. On a terminal it is redrawn in
/// place (`\r`) at most twice a second; on a pipe or file it is a plain line every `pipeInterval` seconds, so a log
/// (`make demo | tee log`) holds readable lines, not `\r` frames. The rate and ETA appear from the second reading on
/// (the first covers only start-up). Safe to call from several threads.
final class ProgressLine {
    let label: String, unit: String, total: Int, divisor: Double
    let quiet: Bool
    static let pipeInterval = 5.0
    let start = Benchmark.now()
    var lastDraw = 0.0
    var readings = 0
    var finished = false
    let lock = NSLock()

    /// `divisor` scales the counts for display (e.g. 1e6 with unit "MB" for byte counts).
    init(_ label: String, total: Int, unit: String, divisor: Double = 1, quiet: Bool = false) {
        self.label = label; self.total = total; self.unit = unit; self.divisor = divisor; self.quiet = quiet
    }

    func update(_ done: Int, extra: String = "") {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        let now = Benchmark.now()
        let complete = done >= total
        let interval = stderrIsTerminal ? 0.5 : Self.pipeInterval
        guard now - lastDraw > interval || complete else { return }
        readings += 1
        if readings == 1 && !complete { lastDraw = now; if !stderrIsTerminal { return } }
        lastDraw = now
        finished = complete
        let elapsed = max(now - start, 1e-9), rate = Double(done) / elapsed
        let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
        var line = String(format: "%@ %5.1f%%  %@/%@ %@", label, pct, Self.count(Double(done) / divisor),
                          Self.count(Double(total) / divisor), unit)
        if readings > 1 || complete {
            line += String(format: "  %@ %@/s", Self.count(rate / divisor), unit)
            if !complete { line += "  ETA " + Self.clock(rate > 0 ? Double(max(total - done, 0)) / rate : 0) }
            else { line += String(format: "  %.1f s", elapsed) }
        }
        if !extra.isEmpty { line += "  " + extra }
        let text = stderrIsTerminal ? "\r" + line + "\u{1B}[K" + (complete ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func count(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(format: "%.0f", x) : String(format: x >= 100 ? "%.0f" : "%.1f", x)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
