import Dispatch
import Linalg

// SIMD building blocks shared by the op kernels: unaligned 8-wide loads/stores, a vectorised exp and tanh,
// horizontal sums, and a parallel-for that hands each worker its index (for deterministic partial reductions).

public typealias F8 = SIMD8<Float>

@inline(__always) @usableFromInline
func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always) @usableFromInline
func load8(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always) @usableFromInline
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

/// e^x for 8 lanes: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r, then
/// scaling by 2ⁿ through the exponent bits. Relative error ≤ 2 ulp on [−87, 88]; inputs below −87 give 0-ish
/// (they are clamped to −87.3), above 88 are clamped to 88.
@inline(__always) @usableFromInline
func exp8(_ x0: F8) -> F8 {
    let x = vmin(vmax(x0, F8(repeating: -87.3)), F8(repeating: 88.0))
    // Round x·log2(e) to the nearest integer n with the 1.5·2²³ shifter: the integer sits in t's low mantissa
    // bits, so n's bits need no float→int conversion (which Swift's generic SIMD code does lane by lane).
    let shifter = F8(repeating: 12_582_912)
    let t = x * 1.442_695_04 + shifter
    let n = t - shifter
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p = F8(repeating: 1.987_569_1e-4)
    p = p * r + 1.398_199_9e-3
    p = p * r + 8.333_452e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    p = p * (r * r) + r + 1
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
    let bits = (ni &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: F8.self)
}

/// Lane-wise max/min as compare + blend (the stdlib's generic `pointwiseMax` is not always inlined).
@inline(__always) @usableFromInline
func vmax(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .> a) }

@inline(__always) @usableFromInline
func vmin(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .< a) }

/// Scalar e^x with the same polynomial (lane 0 of `exp8`), for loop tails.
@inline(__always) @usableFromInline
func exp1(_ x: Float) -> Float { exp8(F8(repeating: x))[0] }

/// tanh for 8 lanes as 1 − 2/(e^{2x} + 1); absolute error ≤ 3e-7.
@inline(__always) @usableFromInline
func tanh8(_ x: F8) -> F8 {
    let e = exp8(2 * x)
    return 1 - 2 / (e + 1)
}

@inline(__always) @usableFromInline
func tanh1(_ x: Float) -> Float { tanh8(F8(repeating: x))[0] }

/// Σ of the 8 lanes.
@inline(__always) @usableFromInline
func hsum(_ v: F8) -> Float { v.sum() }

/// Σ_{i<n} a_i·b_i with 8-wide accumulators (two of them to hide FMA latency).
@inline(__always) @usableFromInline
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var s0 = F8(), s1 = F8()
    var i = 0
    while i &+ 16 <= n {
        s0 = s0.addingProduct(load8(a + i), load8(b + i))
        s1 = s1.addingProduct(load8(a + (i &+ 8)), load8(b + (i &+ 8)))
        i &+= 16
    }
    if i &+ 8 <= n { s0 = s0.addingProduct(load8(a + i), load8(b + i)); i &+= 8 }
    var s = (s0 + s1).sum()
    while i < n { s += a[i] * b[i]; i &+= 1 }
    return s
}

/// Runs `body(worker, range)` over `n` items split into one contiguous range per worker (at most
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
