import Foundation

/// Timing helpers shared by every `lmprobe bench` subcommand, and the sgemm ceiling they report against.
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
        var u = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        #else
        getrusage(RUSAGE_SELF, &u)
        #endif
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
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

    /// GFLOP/s of a square n×n×n sgemm (2n³ flops) on `threads` OpenBLAS threads, best of repeated runs.
    public static func sgemmGFLOPS(n: Int, threads: Int, minSeconds: Double = 0.5) -> Double {
        let a = Matrix<Float>(rows: n, cols: n), b = Matrix<Float>(rows: n, cols: n), c = Matrix<Float>(rows: n, cols: n)
        var rng = SeededRandom(seed: 1)
        rng.fillNormal(a.pointer, count: n * n, std: 1)
        rng.fillNormal(b.pointer, count: n * n, std: 1)
        let seconds = Threads.withBLASThreads(threads) {
            bestTime(minSeconds: minSeconds) {
                BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n,
                           c: c.pointer, ldc: n)
            }
        }
        return 2 * Double(n) * Double(n) * Double(n) / seconds / 1e9
    }
}
