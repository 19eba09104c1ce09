import Foundation

/// Timing helpers shared by every `lmprobe bench` subcommand (the sgemm ceiling they report against is
/// `Benchmark.sgemmGFLOPS`, in Linalg).
public enum Benchmark {
    /// Monotonic wall-clock seconds.
    @inlinable public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// CPU seconds (user + system) used so far by this process, all threads: on a loaded machine, the CPU time of
    /// a step divided by the cores it keeps busy estimates its wall time on an idle one.
    public static func cpuSeconds() -> Double {
        let u = usage()
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
    }

    /// The process's peak resident set so far in bytes (getrusage's ru_maxrss, which Linux reports in KiB).
    public static func peakResidentBytes() -> Int {
        Int(usage().ru_maxrss) * 1024
    }

    /// getrusage(RUSAGE_SELF).
    static func usage() -> rusage {
        var u = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        #else
        getrusage(RUSAGE_SELF, &u)
        #endif
        return u
    }

    /// Runs `body` once to warm up, then repeatedly until `minSeconds` have passed (at least `minRepeats` times);
    /// returns the fastest single run in seconds.
    public static func bestTime(minSeconds: Double = 0.5, minRepeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        let start = now()
        var reps = 0
        while reps < minRepeats || now() - start < minSeconds {
            let t0 = now()
            try body()
            best = min(best, now() - t0)
            reps += 1
        }
        return best
    }
}
