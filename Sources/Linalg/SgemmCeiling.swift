import Support

extension Benchmark {
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
