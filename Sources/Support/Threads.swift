import CBLAS
import Dispatch
import Foundation

/// Thread control in one place. `Threads.set(n)` (the CLI's global `--threads N`) sets both OpenBLAS's thread count
/// and the number of workers `parallelFor` uses, so lmprobe's own loops never fight OpenBLAS for the cores:
/// a kernel runs either inside a GEMM (OpenBLAS threads) or in `parallelFor` (ours), never both at once.
public enum Threads {
    nonisolated(unsafe) private static var current: Int = {
        let n = ProcessInfo.processInfo.activeProcessorCount
        openblas_set_num_threads(Int32(n))
        return n
    }()

    /// Number of cores this process may use.
    public static var available: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Current thread count for OpenBLAS and `parallelFor`.
    public static var count: Int { current }

    /// Sets OpenBLAS's thread count and lmprobe's own; `n ≤ 0` means all cores, and more than the cores available
    /// is capped at that count (oversubscription only slows the kernels down, and OpenBLAS's per-thread buffers
    /// can exhaust a limited address space). Returns the count in effect.
    @discardableResult
    public static func set(_ n: Int) -> Int {
        let k = n <= 0 ? available : min(n, available)
        current = k
        openblas_set_num_threads(Int32(k))
        return k
    }

    /// Runs `body(w)` for w in 0..<n concurrently, one thread each, with OpenBLAS and `parallelWorkers` at one
    /// thread inside every part, then restores the current count: for work the caller has split into n independent
    /// parts (batch-parallel training steps run one half-batch per core), so that no kernel inside a part starts
    /// threads of its own. n should not exceed `count`; `body` must not change the count.
    public static func oneCoreEach(_ n: Int, _ body: (Int) -> Void) {
        let previous = current
        current = 1
        openblas_set_num_threads(1)
        defer {
            current = previous
            openblas_set_num_threads(Int32(previous))
        }
        DispatchQueue.concurrentPerform(iterations: n, execute: body)
    }

    /// Runs `body` with OpenBLAS limited to `n` threads, then restores the current count.
    public static func withBLASThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let previous = current
        openblas_set_num_threads(Int32(max(1, n)))
        defer { openblas_set_num_threads(Int32(previous)) }
        return try body()
    }
}

/// THE parallel-for: runs `body(worker, range)` over `n` items split into one contiguous range per worker (at most
/// `Threads.count`, chunks no smaller than `minChunk`). The split depends only on `n`, `minChunk` and the thread
/// count, so per-worker partial results reduced in worker order are deterministic. Returns the number of workers.
@discardableResult @inlinable
public func parallelWorkers(_ n: Int, minChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) -> Int {
    let workers = max(1, min(Threads.count, n / max(minChunk, 1)))
    if workers <= 1 {
        if n > 0 { body(0, 0..<n) }
        return 1
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = n * w / workers, hi = n * (w + 1) / workers
            if lo < hi { body(w, lo..<hi) }
        }
    }
    return workers
}

/// `parallelWorkers` for kernels that only need their range (to hoist pointers and accumulate locally).
@inlinable
public func parallelChunks(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    parallelWorkers(n, minChunk: minChunk) { _, range in body(range) }
}

/// `parallelWorkers` one index at a time: `body(i)` for i in 0..<n, safe to call concurrently for distinct i.
@inlinable
public func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    parallelWorkers(n) { _, range in for i in range { body(i) } }
}
