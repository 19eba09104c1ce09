import Foundation
import Linalg
import Support

/// The pretraining objective on top of f(s), the final-LayerNorm output.
public enum Objective: String, Codable, CaseIterable, Sendable {
    /// Cross-entropy of softmax(Φf) against the next token: ℓ = −log softmax(Φf)_w.
    case ce
    /// The paper's quadratic loss: ℓ = −fᵀφ_w + ½‖Φf‖² (Φ is V×d here, rows φ_w).
    case quad
}

// MARK: - Cross-entropy (fused softmax + loss + gradient)

/// For each row i: loss_i = log Σ_v e^{z_iv} − z_{i,w_i}. When `gradScale` is given, the row is overwritten with
/// dloss/dz = gradScale·(softmax(z_i) − e_{w_i}) (gradScale = 1/N for a mean over N rows).
/// - logits: (N,V) in, dlogits out; losses: (N); targets: (N) in 0..<V
func crossEntropyForwardBackward(logits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>,
                                 targets: UnsafePointer<Int32>, N: Int, V: Int, gradScale: Float?) {
    parallelChunks(N, minChunk: 4) { rows in
        for r in rows {
            let z = logits + r &* V
            let w = Int(targets[r])
            let zw = z[w]
            if let g = gradScale {
                let (m, s) = softmaxRow(z, count: V, scale: g)   // z ← g·softmax(z)
                losses[r] = Foundation.log(s) + m - zw
                z[w] -= g
            } else {
                losses[r] = logSumExpRow(z, count: V) - zw
            }
        }
    }
}

// MARK: - Quad (the paper's quadratic objective, fast Gram form)

/// Workspace for `quadForwardBackward`: the Gram G = ΦᵀΦ (d×d), S = FᵀF (d×d) and H = F·G (N×d).
struct QuadWorkspace {
    let gram: UnsafeMutablePointer<Float>
    let fTf: UnsafeMutablePointer<Float>
    let fG: UnsafeMutablePointer<Float>
}

/// ℓ_i = −f_iᵀφ_{w_i} + ½ f_iᵀ G f_i with G = ΦᵀΦ (so ½‖Φf_i‖² costs O(d²), not O(dV)):
///   H = F·G;  loss_i = −f_i·φ_{w_i} + ½ f_i·h_i;
///   df_i = gradScale·(h_i − φ_{w_i});
///   dΦ += gradScale·Φ·(FᵀF) − gradScale·Σ_i e_{w_i} f_iᵀ.
/// Cost: 2d²V for G, 2Nd² for H, and 2Nd² + 2Vd² for dΦ — versus 6NdV for cross-entropy.
/// - f: (N,d) final-LayerNorm outputs; phi: (V,d); targets: (N); losses: (N);
///   df: (N,d) or nil (evaluation only; may alias ws.fG); dphi: (V,d) or nil (frozen Φ, or evaluation)
/// - shared: the batch-parallel step's split of the V-sized work: G is already in `ws.gram` (computed once for
///   both halves by `quadGram`), and dΦ's Φ·S term is left to the caller, with S = gradScale·FᵀF in `ws.fTf`
///   (the caller adds the halves' S and multiplies once) — so neither 2d²V product is done twice.
func quadForwardBackward(f: UnsafePointer<Float>, phi: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                         losses: UnsafeMutablePointer<Float>, df: UnsafeMutablePointer<Float>?,
                         dphi: UnsafeMutablePointer<Float>?, gradScale: Float, workspace ws: QuadWorkspace,
                         N: Int, d: Int, V: Int, shared: Bool = false) {
    if !shared { quadGram(phi: phi, into: ws.gram, d: d, V: V) }
    // H = F·G  (N×d)
    BLAS.sgemm(transA: false, transB: false, m: N, n: d, k: d, a: f, lda: d, b: ws.gram, ldb: d, beta: 0,
               c: ws.fG, ldc: d)
    parallelChunks(N, minChunk: 16) { rows in
        for r in rows {
            let fr = f + r &* d, hr = ws.fG + r &* d, pw = phi + Int(targets[r]) &* d
            losses[r] = 0.5 * dot(fr, hr, d) - dot(fr, pw, d)
            if let df {
                let o = df + r &* d
                var j = 0
                while j &+ 8 <= d { store8(gradScale * (load8(hr + j) - load8(pw + j)), o + j); j &+= 8 }
                while j < d { o[j] = gradScale * (hr[j] - pw[j]); j &+= 1 }
            }
        }
    }
    guard let dphi else { return }
    // S = gradScale·FᵀF (d×d);  dΦ += Φ·S
    BLAS.sgemm(transA: true, transB: false, m: d, n: d, k: N, alpha: gradScale, a: f, lda: d, b: f, ldb: d,
               beta: 0, c: ws.fTf, ldc: d)
    if !shared { quadPhiS(phi: phi, s: ws.fTf, dphi: dphi, d: d, V: V) }
    // dφ_{w_i} −= gradScale·f_i  (serial: targets repeat)
    for r in 0..<N {
        let fr = f + r &* d, o = dphi + Int(targets[r]) &* d
        var j = 0
        while j &+ 8 <= d { store8(load8(o + j) - gradScale * load8(fr + j), o + j); j &+= 8 }
        while j < d { o[j] -= gradScale * fr[j]; j &+= 1 }
    }
}

/// G = ΦᵀΦ (d×d) of Φ (V×d): Quad's Gram.
func quadGram(phi: UnsafePointer<Float>, into gram: UnsafeMutablePointer<Float>, d: Int, V: Int) {
    BLAS.sgemm(transA: true, transB: false, m: d, n: d, k: V, a: phi, lda: d, b: phi, ldb: d, beta: 0,
               c: gram, ldc: d)
}

/// dΦ += Φ·S (V×d): the Gram part of Quad's Φ gradient, S = gradScale·FᵀF (d×d).
func quadPhiS(phi: UnsafePointer<Float>, s: UnsafePointer<Float>, dphi: UnsafeMutablePointer<Float>, d: Int, V: Int) {
    BLAS.sgemm(transA: false, transB: false, m: V, n: d, k: d, a: phi, lda: d, b: s, ldb: d, beta: 1, c: dphi, ldc: d)
}
