import Linalg
import Support

// The GPT's ops, llm.c style: each op is a forward/backward pair of plain functions over flat row-major buffers.
// Every pointer argument is commented with its shape. Backward functions quote the forward line they
// differentiate. Conventions:
//   * N = B·T rows (tokens), C channels, OC output channels, h heads, hs = C/h.
//   * Parameter gradients are ACCUMULATED (+=), so micro-batches add up; the caller zeroes them once per step.
//   * Activation gradients are overwritten unless the comment says "accumulated" (the residual stream).
//   * Matrix products go through cblas_sgemm/sgemv; element-wise kernels are 8-wide SIMD, parallel over rows with
//     `parallelChunks`, and never run while a multi-threaded GEMM is in flight.

/// Rows per parallel chunk below which element-wise kernels stay on one thread (spawn cost dominates).
@usableFromInline let minRowsPerChunk = 16

// MARK: - Encoder (token + position embeddings)

/// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
/// - out: (B,T,C); tokens: (B,T); wte: (V,C); wpe: (maxT,C)
func encoderForward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                    wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
    parallelChunks(B &* T, minChunk: minRowsPerChunk) { rows in
        for r in rows {
            let t = r % T
            let o = out + r &* C, e = wte + Int(tokens[r]) &* C, p = wpe + t &* C
            var j = 0
            while j &+ 8 <= C { store8(load8(e + j) + load8(p + j), o + j); j &+= 8 }
            while j < C { o[j] = e[j] + p[j]; j &+= 1 }
        }
    }
}

/// Differentiates `out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]`: dwte[tokens[b,t]] += dout[b,t], dwpe[t] += dout[b,t].
/// Serial (a token may repeat, so rows of dwte collide); it is O(N·C), negligible next to the GEMMs.
/// - dwte: (V,C) or nil when the token embeddings are frozen; dwpe: (maxT,C); dout: (B,T,C); tokens: (B,T)
func encoderBackward(dwte: UnsafeMutablePointer<Float>?, dwpe: UnsafeMutablePointer<Float>,
                     dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, B: Int, T: Int, C: Int) {
    for r in 0..<(B &* T) {
        let t = r % T
        let d = dout + r &* C, p = dwpe + t &* C
        var j = 0
        if let dwte {
            let e = dwte + Int(tokens[r]) &* C
            while j &+ 8 <= C {
                let g = load8(d + j)
                store8(load8(e + j) + g, e + j); store8(load8(p + j) + g, p + j); j &+= 8
            }
            while j < C { e[j] += d[j]; p[j] += d[j]; j &+= 1 }
        } else {
            while j &+ 8 <= C { store8(load8(p + j) + load8(d + j), p + j); j &+= 8 }
            while j < C { p[j] += d[j]; j &+= 1 }
        }
    }
}

// MARK: - LayerNorm

/// Epsilon inside LayerNorm's square root (GPT-2's value).
let layerNormEpsilon: Float = 1e-5

/// out = (x − mean(x))·rstd·weight + bias per row, rstd = 1/√(var(x) + ε) (biased variance).
/// - out: (N,C); mean, rstd: (N) saved for backward; inp: (N,C); weight, bias: (C)
func layernormForward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                      rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int) {
    let invC = 1 / Float(C)
    parallelChunks(N, minChunk: minRowsPerChunk) { rows in
        for r in rows {
            let x = inp + r &* C, o = out + r &* C
            var s8 = F8(), j = 0
            while j &+ 8 <= C { s8 += load8(x + j); j &+= 8 }
            var s = s8.sum()
            while j < C { s += x[j]; j &+= 1 }
            let m = s * invC
            var v8 = F8(); j = 0
            while j &+ 8 <= C { let d = load8(x + j) - m; v8 = v8.addingProduct(d, d); j &+= 8 }
            var v = v8.sum()
            while j < C { let d = x[j] - m; v += d * d; j &+= 1 }
            let rs = 1 / (v * invC + layerNormEpsilon).squareRoot()
            j = 0
            while j &+ 8 <= C {
                store8((load8(x + j) - m) * rs * load8(weight + j) + load8(bias + j), o + j)
                j &+= 8
            }
            while j < C { o[j] = (x[j] - m) * rs * weight[j] + bias[j]; j &+= 1 }
            mean[r] = m
            rstd[r] = rs
        }
    }
}

/// Differentiates `out = (x − mean)·rstd·weight + bias`. With n = (x − mean)·rstd and g = dout·weight:
///   dx += rstd·(g − mean(g) − n·mean(g·n))   (accumulated: x is the residual stream)
///   dweight += Σ_rows dout·n,  dbias += Σ_rows dout   (column sums by sgemv against a vector of ones)
/// - dinp: (N,C) accumulated; dweight, dbias: (C) accumulated; scratch: (N,C) workspace; ones: (N) all 1
/// - dout: (N,C); inp: (N,C); weight: (C); mean, rstd: (N) from the forward
func layernormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                       dbias: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                       ones: UnsafePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                       weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                       N: Int, C: Int) {
    let invC = 1 / Float(C)
    parallelChunks(N, minChunk: minRowsPerChunk) { rows in
        for r in rows {
            let x = inp + r &* C, d = dout + r &* C, dx = dinp + r &* C, sc = scratch + r &* C
            let m = mean[r], rs = rstd[r]
            var a8 = F8(), b8 = F8(), j = 0
            while j &+ 8 <= C {
                let n = (load8(x + j) - m) * rs, g = load8(d + j) * load8(weight + j)
                a8 += g; b8 = b8.addingProduct(g, n); j &+= 8
            }
            var gMean = a8.sum(), gnMean = b8.sum()
            while j < C { let n = (x[j] - m) * rs, g = d[j] * weight[j]; gMean += g; gnMean += g * n; j &+= 1 }
            gMean *= invC; gnMean *= invC
            j = 0
            while j &+ 8 <= C {
                let n = (load8(x + j) - m) * rs, dd = load8(d + j), g = dd * load8(weight + j)
                store8(load8(dx + j) + rs * (g - gMean - n * gnMean), dx + j)
                store8(dd * n, sc + j)
                j &+= 8
            }
            while j < C {
                let n = (x[j] - m) * rs, g = d[j] * weight[j]
                dx[j] += rs * (g - gMean - n * gnMean)
                sc[j] = d[j] * n
                j &+= 1
            }
        }
    }
    Float.gemv(true, N, C, 1, scratch, C, ones, 1, 1, dweight, 1)
    Float.gemv(true, N, C, 1, dout, C, ones, 1, 1, dbias, 1)
}

// MARK: - Matmul (linear layer)

/// out = [residual +] inp·weightᵀ + bias. The bias (and residual) are laid down first, then one sgemm with β = 1
/// adds the product, so the residual connection costs no extra pass.
/// - out: (N,OC); inp: (N,C); weight: (OC,C) (PyTorch layout); bias: (OC) or nil; residual: (N,OC) or nil
func matmulForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                   bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>? = nil, N: Int, C: Int, OC: Int) {
    var beta: Float = 0
    if bias != nil || residual != nil {
        beta = 1
        parallelChunks(N, minChunk: minRowsPerChunk) { rows in
            for r in rows {
                let o = out + r &* OC
                if let residual, let bias {
                    let s = residual + r &* OC
                    var j = 0
                    while j &+ 8 <= OC { store8(load8(s + j) + load8(bias + j), o + j); j &+= 8 }
                    while j < OC { o[j] = s[j] + bias[j]; j &+= 1 }
                } else if let residual {
                    o.update(from: residual + r &* OC, count: OC)
                } else if let bias {
                    o.update(from: bias, count: OC)
                }
            }
        }
    }
    BLAS.sgemm(transA: false, transB: true, m: N, n: OC, k: C, a: inp, lda: C, b: weight, ldb: C, beta: beta,
               c: out, ldc: OC)
}

/// Differentiates `out = inp·weightᵀ + bias`:
///   dinp = dout·weight (β = 0 overwrites, β = 1 accumulates), dweight += doutᵀ·inp, dbias += Σ_rows dout.
/// - dinp: (N,C) or nil; dweight: (OC,C) or nil (frozen); dbias: (OC) or nil; dout: (N,OC); inp: (N,C);
///   weight: (OC,C); ones: (N) all 1
func matmulBackward(dinp: UnsafeMutablePointer<Float>?, dinpBeta: Float = 0, dweight: UnsafeMutablePointer<Float>?,
                    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                    weight: UnsafePointer<Float>, ones: UnsafePointer<Float>, N: Int, C: Int, OC: Int) {
    if let dinp {
        BLAS.sgemm(transA: false, transB: false, m: N, n: C, k: OC, a: dout, lda: OC, b: weight, ldb: C,
                   beta: dinpBeta, c: dinp, ldc: C)
    }
    if let dweight {
        BLAS.sgemm(transA: true, transB: false, m: OC, n: C, k: N, a: dout, lda: OC, b: inp, ldb: C, beta: 1,
                   c: dweight, ldc: C)
    }
    if let dbias { Float.gemv(true, N, OC, 1, dout, OC, ones, 1, 1, dbias, 1) }
}

// MARK: - GELU (tanh approximation)

@usableFromInline let geluK: Float = 0.797_884_56  // √(2/π)
@usableFromInline let geluA: Float = 0.044_715

/// out = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
/// - out, inp: (n)
func geluForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int) {
    parallelChunks(n / 8, minChunk: 512) { blocks in
        for b in blocks {
            let x = load8(inp + b &* 8)
            let t = tanh8(geluK * x.addingProduct(geluA * x * x, x))
            store8(0.5 * x * (1 + t), out + b &* 8)
        }
    }
    for i in (n / 8 * 8)..<n {
        let x = inp[i]
        out[i] = 0.5 * x * (1 + tanh1(geluK * (x + geluA * x * x * x)))
    }
}

/// Differentiates `out = ½·x·(1 + tanh(u))`, u = k(x + a·x³):
///   dx = dout·(½(1 + t) + ½·x·(1 − t²)·k(1 + 3a·x²)),  t = tanh(u).   `dinp` may alias `dout`.
/// - dinp, inp, dout: (n)
func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                  count n: Int) {
    parallelChunks(n / 8, minChunk: 512) { blocks in
        for b in blocks {
            let x = load8(inp + b &* 8)
            let x2 = x * x
            let t = tanh8(geluK * x.addingProduct(geluA * x2, x))
            let half: F8 = 0.5 * (1 + t)
            let du: F8 = geluK * (1 + (3 * geluA) * x2)
            let g: F8 = half + (0.5 * x) * (1 - t * t) * du
            store8(load8(dout + b &* 8) * g, dinp + b &* 8)
        }
    }
    for i in (n / 8 * 8)..<n {
        let x = inp[i]
        let t = tanh1(geluK * (x + geluA * x * x * x))
        dinp[i] = dout[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluK * (1 + 3 * geluA * x * x))
    }
}

// MARK: - Causal multi-head self-attention

/// Runs `body(i)` for i in 0..<count on our workers with one BLAS thread each (so per-head sgemms don't
/// oversubscribe the cores); with one thread or one item, runs serially with OpenBLAS's threads.
@inline(__always)
func perHead(_ count: Int, _ body: (Int) -> Void) {
    if Threads.count > 1 && count > 1 {
        Threads.withBLASThreads(1) { parallelFor(count, body) }
    } else {
        for i in 0..<count { body(i) }
    }
}

/// For every batch row b and head hh (q, k, v are the hh-th hs-wide slices of qkv's three C-wide blocks):
///   att = softmax_causal(q·kᵀ/√hs)   (row t attends to positions ≤ t; the rest is stored as 0)
///   out[:, hh·hs ..< (hh+1)·hs] = att·v
/// - out: (B,T,C); att: (B,h,T,T) post-softmax, saved for backward; qkv: (B,T,3C)
func attentionForward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                      qkv: UnsafePointer<Float>, B: Int, T: Int, C: Int, heads h: Int) {
    let hs = C / h, C3 = 3 &* C
    let scale = 1 / Float(hs).squareRoot()
    perHead(B &* h) { i in
        let b = i / h, hh = i % h
        let q = qkv + (b &* T &* C3 &+ hh &* hs), k = q + C, v = q + 2 &* C
        let a = att + i &* T &* T
        // att ← scale·q·kᵀ  (T×T)
        BLAS.sgemm(transA: false, transB: true, m: T, n: T, k: hs, alpha: scale, a: q, lda: C3, b: k, ldb: C3,
                   beta: 0, c: a, ldc: T)
        for t in 0..<T { causalSoftmaxRow(a + t &* T, valid: t &+ 1, length: T) }
        // out_h ← att·v  (T×hs)
        BLAS.sgemm(transA: false, transB: false, m: T, n: hs, k: T, a: a, lda: T, b: v, ldb: C3, beta: 0,
                   c: out + (b &* T &* C &+ hh &* hs), ldc: C)
    }
}

/// In place: row[0..<valid] ← softmax(row[0..<valid]); row[valid..<length] ← 0.
@inline(__always)
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid n: Int, length: Int) {
    softmaxRow(row, count: n)
    if n < length { (row + n).update(repeating: 0, count: length &- n) }
}

/// Differentiates, per (b, head):
///   `att ← scale·q·kᵀ`, `att = softmax_causal(att)`, `out_h ← att·v`:
///   datt = dout_h·vᵀ;  dv = attᵀ·dout_h;
///   dpre_tj = scale·att_tj·(datt_tj − Σ_j' att_tj'·datt_tj')  (j ≤ t, else 0);
///   dq = dpre·k;  dk = dpreᵀ·q.
/// - dqkv: (B,T,3C) overwritten; datt: (B,h,T,T) workspace; dout: (B,T,C); qkv: (B,T,3C); att: (B,h,T,T)
func attentionBackward(dqkv: UnsafeMutablePointer<Float>, datt: UnsafeMutablePointer<Float>,
                       dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                       B: Int, T: Int, C: Int, heads h: Int) {
    let hs = C / h, C3 = 3 &* C
    let scale = 1 / Float(hs).squareRoot()
    perHead(B &* h) { i in
        let b = i / h, hh = i % h
        let off = b &* T &* C3 &+ hh &* hs
        let q = qkv + off, k = q + C, v = q + 2 &* C
        let dq = dqkv + off, dk = dq + C, dv = dq + 2 &* C
        let a = att + i &* T &* T, da = datt + i &* T &* T
        let dh = dout + (b &* T &* C &+ hh &* hs)
        BLAS.sgemm(transA: false, transB: true, m: T, n: T, k: hs, a: dh, lda: C, b: v, ldb: C3, beta: 0,
                   c: da, ldc: T)
        BLAS.sgemm(transA: true, transB: false, m: T, n: hs, k: T, a: a, lda: T, b: dh, ldb: C, beta: 0,
                   c: dv, ldc: C3)
        for t in 0..<T {
            let ar = a + t &* T, dr = da + t &* T, n = t &+ 1
            let s = dot(ar, dr, n)
            var j = 0
            while j &+ 8 <= n { store8(scale * load8(ar + j) * (load8(dr + j) - s), dr + j); j &+= 8 }
            while j < n { dr[j] = scale * ar[j] * (dr[j] - s); j &+= 1 }
            if n < T { (dr + n).update(repeating: 0, count: T &- n) }
        }
        BLAS.sgemm(transA: false, transB: false, m: T, n: hs, k: T, a: da, lda: T, b: k, ldb: C3, beta: 0,
                   c: dq, ldc: C3)
        BLAS.sgemm(transA: true, transB: false, m: T, n: hs, k: T, a: da, lda: T, b: q, ldb: C3, beta: 0,
                   c: dk, ldc: C3)
    }
}

/// Inference, one query per sequence: for each batch row b and head hh, with t_b = positions[b],
///   a = softmax(q_b·k_{b,j}ᵀ/√hs over j ≤ t_b);  out[b, hh·hs ..< (hh+1)·hs] = Σ_j a_j·v_{b,j}
/// — row t_b of `attentionForward`'s output, at O(T·C) per sequence instead of O(T²·C).
/// - out: (B,C); q: (B,C) queries; qkv: (B,T,3C) (only the key and value blocks are read);
///   att: workspace of B·h·T floats; positions: (B) in 0..<T
func attentionAtPositions(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                          att: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int>,
                          B: Int, T: Int, C: Int, heads h: Int) {
    let hs = C / h, C3 = 3 &* C
    let scale = 1 / Float(hs).squareRoot()
    parallelChunks(B &* h, minChunk: 8) { items in
        for i in items {
            let b = i / h, hh = i % h
            let n = positions[b] &+ 1
            let qh = q + (b &* C &+ hh &* hs), s = att + i &* T
            let k0 = qkv + (b &* T &* C3 &+ C &+ hh &* hs), v0 = k0 + C
            for t in 0..<n { s[t] = scale * dot(qh, k0 + t &* C3, hs) }
            causalSoftmaxRow(s, valid: n, length: n)
            let o = out + (b &* C &+ hh &* hs)
            o.update(repeating: 0, count: hs)
            for t in 0..<n {
                let w = F8(repeating: s[t]), v = v0 + t &* C3
                var j = 0
                while j &+ 8 <= hs { store8(load8(o + j).addingProduct(w, load8(v + j)), o + j); j &+= 8 }
                while j < hs { o[j] += s[t] * v[j]; j &+= 1 }
            }
        }
    }
}
