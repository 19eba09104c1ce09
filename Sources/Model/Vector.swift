import Linalg

// SIMD building blocks of the op kernels beyond Linalg's (`F8`, `load8`/`store8`, `exp8`, `vmax`/`vmin`, the row
// softmax, the parallel-for): tanh and a dot product.

/// tanh for 8 lanes as 1 − 2/(e^{2x} + 1); absolute error ≤ 3e-7.
@inline(__always) @usableFromInline
func tanh8(_ x: F8) -> F8 {
    let e = exp8(2 * x)
    return 1 - 2 / (e + 1)
}

@inline(__always) @usableFromInline
func tanh1(_ x: Float) -> Float { tanh8(F8(repeating: x))[0] }

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
