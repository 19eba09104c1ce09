import Foundation
import Linalg

/// The Quad objective's optimum for one checkpoint's output matrix Φ (V′ × d here; the paper writes it d × V): the
/// one home of f* = G⁻¹Φᵀp, its conditioning check and the context-free reference (`synth measure`'s f* probes and
/// ε_quad, `analyze plug-in`).
///
/// Quad's loss ℓ(f) = E_s[−f(s)ᵀΦᵀp*(s) + ½‖Φf(s)‖²] is minimised context by context at
/// f*(s) = G⁻¹Φᵀp*(s), G = ΦᵀΦ (d × d), and its excess over that optimum is ε_quad(f) = E ½(f − f*)ᵀG(f − f*)
/// = E ½‖Φ(f − f*)‖². p* may cover fewer words V than Φ has rows (an HMM's words; the model's end-of-text row has
/// p* = 0), so Φᵀp* uses the first V rows while G uses all V′ (the loss the model trains on).
///
/// Guaranteed: `init` refuses, in one line, a Φ whose G is singular to working precision (condition number above
/// 1/(V′·ε_double)); f*, ε_quad and the context-free values are then not defined, and solving anyway would print
/// rounding noise. Not guaranteed: anything about how well a fitted probe on f* does — that is measured.
public struct QuadOptimum {
    /// Φ's first V rows (the HMM's words), in double: V × d.
    public let phi: Matrix<Double>
    /// G = ΦᵀΦ over all V′ rows: d × d.
    public let gram: Matrix<Double>
    /// λ_max(G) / λ_min(G).
    public let conditionNumber: Double

    /// `phi`: the model's V′ × d output matrix (V′ ≥ `words`).
    public init(phi modelPhi: Matrix<Float>, words V: Int) throws {
        guard modelPhi.rows >= V else {
            throw AnalysisError.invalidArgument("Φ has \(modelPhi.rows) rows, fewer than the HMM's \(V) words")
        }
        let all = modelPhi.converted(to: Double.self)
        let d = all.cols
        let g = Matrix<Double>(rows: d, cols: d)
        try BLAS.gemm(transA: true, all, all, into: g)                  // G = ΦᵀΦ   (d × d)
        let eig = try LAPACK.syevd(g).values                             // ascending
        let lo = eig.first ?? 0, hi = eig.last ?? 0
        conditionNumber = lo > 0 ? hi / lo : .infinity
        guard hi > 0, lo > hi * Double(max(all.rows, d)) * Double.ulpOfOne else {
            throw AnalysisError.invalidArgument(String(format: "Φ (%d × %d) is singular to working precision (ΦᵀΦ has eigenvalues %.3g … %.3g): f* = (ΦᵀΦ)⁻¹Φᵀp* and ε_quad are undefined for this checkpoint; measure checkpoints whose Φ has full column rank", all.rows, d, lo, hi))
        }
        gram = g
        phi = all.rows(0..<V)
    }

    /// F* = P*ΦG⁻¹, one f*(s) per row of `pStar` (n × V): n × d.
    public func fStar(_ pStar: Matrix<Double>) throws -> Matrix<Double> {
        let r = Matrix<Double>(rows: pStar.rows, cols: phi.cols)
        try BLAS.gemm(pStar, phi, into: r)                               // R = P*Φ   (n × d)
        return try solve(r)
    }

    /// RG⁻¹ for rows r = (Φᵀp)ᵀ already formed (n × d): f = G⁻¹Φᵀp per row.
    public func solve(_ r: Matrix<Double>) throws -> Matrix<Double> {
        try LAPACK.posv(gram, r.transposed()).transposed()               // (G⁻¹Rᵀ)ᵀ
    }

    /// ½(f − f*)ᵀG(f − f*) per row: the Quad excess of each context (n values).
    public func excess(f: Matrix<Double>, fStar: Matrix<Double>) throws -> [Double] {
        let n = f.rows, d = gram.rows
        let delta = Matrix<Double>(rows: n, cols: d) { i, j in f[i, j] - fStar[i, j] }
        let dg = Matrix<Double>(rows: n, cols: d)
        try BLAS.gemm(delta, gram, into: dg)                             // ΔG
        return (0..<n).map { i in
            var s = 0.0
            for j in 0..<d { s += delta[i, j] * dg[i, j] }
            return 0.5 * s
        }
    }

    /// The best context-free f for this Φ, fed chunk by chunk: c = E f* = G⁻¹Φᵀp̄ (p̄ = E p* over the contexts
    /// added), and its excess ε_quad^cf = ε_quad(c) = ½E(f* − c)ᵀG(f* − c) = ½E‖P_Φ(p* − p̄)‖²,
    /// P_Φ = ΦG⁻¹Φᵀ, computed as ½(E f*ᵀGf* − cᵀGc).
    public struct ContextFree {
        var sumQuadratic = 0.0
        var sumF: [Double]
        var count = 0
        let gram: Matrix<Double>

        public init(_ q: QuadOptimum) { gram = q.gram; sumF = [Double](repeating: 0, count: q.gram.rows) }

        public mutating func add(_ fStar: Matrix<Double>) throws {
            let d = gram.rows
            let fg = Matrix<Double>(rows: fStar.rows, cols: d)
            try BLAS.gemm(fStar, gram, into: fg)                         // F*G
            for i in 0..<fStar.rows {
                for j in 0..<d { sumQuadratic += fStar[i, j] * fg[i, j]; sumF[j] += fStar[i, j] }
            }
            count += fStar.rows
        }

        /// c = E f*: the best constant f.
        public var constant: [Double] { sumF.map { $0 / Double(max(count, 1)) } }

        /// ε_quad^cf = ½(E f*ᵀGf* − cᵀGc) (0 when nothing was added).
        public var excess: Double {
            guard count > 0 else { return 0 }
            let c = constant, d = gram.rows
            var cgc = 0.0
            for i in 0..<d { for j in 0..<d { cgc += c[i] * gram[i, j] * c[j] } }
            return max(0, 0.5 * (sumQuadratic / Double(count) - cgc))
        }
    }
}
