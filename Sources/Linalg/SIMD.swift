import Foundation
import Support

// SIMD building blocks shared by every stage's hot loops — unaligned 8-wide loads/stores, lane-wise max/min, a
// vectorised exp — and THE row softmax (max-subtracted) of the model's attention and loss, the extractor's p_f,
// the linearity check's Φp_f and the logistic probe.

public typealias F8 = SIMD8<Float>

@inline(__always) @inlinable
public func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always) @inlinable
public func load8(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always) @inlinable
public func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

/// e^x for 8 lanes: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r, then
/// scaling by 2ⁿ through the exponent bits. Relative error ≤ 2 ulp on [−87, 88]; inputs below −87 give 0-ish
/// (they are clamped to −87.3), above 88 are clamped to 88.
@inline(__always) @inlinable
public func exp8(_ x0: F8) -> F8 {
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
@inline(__always) @inlinable
public func vmax(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .> a) }

@inline(__always) @inlinable
public func vmin(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .< a) }

/// Scalar e^x with the same polynomial (lane 0 of `exp8`), for loop tails.
@inline(__always) @inlinable
public func exp1(_ x: Float) -> Float { exp8(F8(repeating: x))[0] }

/// max of row[0..<n] (−∞ for n = 0).
@inline(__always) @inlinable
public func rowMax(_ row: UnsafePointer<Float>, count n: Int) -> Float {
    var m8 = F8(repeating: -.infinity), j = 0
    while j &+ 8 <= n { m8 = vmax(m8, load8(row + j)); j &+= 8 }
    var m = m8.max()
    while j < n { m = max(m, row[j]); j &+= 1 }
    return m
}

/// THE row softmax, in place: row[0..<n] ← scale · softmax(row[0..<n]) = scale · e^{row − m} / s, with
/// m = max row and s = Σ e^{row − m} (8-lane accumulators), both returned so callers also get log Σ e^{row} =
/// m + log s. Three passes: max, exp and sum, scale. Vectorised `exp8` (≤ 2 ulp).
@inline(__always) @inlinable @discardableResult
public func softmaxRow(_ row: UnsafeMutablePointer<Float>, count n: Int, scale: Float = 1) -> (max: Float, sum: Float) {
    let m = rowMax(row, count: n)
    var s8 = F8(), j = 0
    while j &+ 8 <= n { let e = exp8(load8(row + j) - m); store8(e, row + j); s8 += e; j &+= 8 }
    var s = s8.sum()
    while j < n { let e = exp1(row[j] - m); row[j] = e; s += e; j &+= 1 }
    let k = scale / s
    j = 0
    while j &+ 8 <= n { store8(load8(row + j) * k, row + j); j &+= 8 }
    while j < n { row[j] *= k; j &+= 1 }
    return (m, s)
}

/// log Σ e^{row[0..<n]} (max-subtracted) without writing the row.
@inline(__always) @inlinable
public func logSumExpRow(_ row: UnsafePointer<Float>, count n: Int) -> Float {
    let m = rowMax(row, count: n)
    var s8 = F8(), j = 0
    while j &+ 8 <= n { s8 += exp8(load8(row + j) - m); j &+= 8 }
    var s = s8.sum()
    while j < n { s += exp1(row[j] - m); j &+= 1 }
    return Foundation.log(s) + m
}

/// `softmaxRow` over every row of x (rows × cols, leading dimension `stride`), rows in parallel.
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int) {
    parallelChunks(rows) { range in
        for r in range { softmaxRow(x + r &* stride, count: cols) }
    }
}

/// The row softmax in Double (the logistic probe's K class scores): row ← softmax(row); returns (max, sum).
@inline(__always) @inlinable @discardableResult
public func softmaxRow(_ row: UnsafeMutablePointer<Double>, count n: Int) -> (max: Double, sum: Double) {
    var m = -Double.infinity
    for k in 0..<n where row[k] > m { m = row[k] }
    var s = 0.0
    for k in 0..<n { let e = Foundation.exp(row[k] - m); row[k] = e; s += e }
    let inv = 1 / s
    for k in 0..<n { row[k] *= inv }
    return (m, s)
}
