/// Analysis — the checks of the paper's theory and the report writers (it analyses; running the stages together is
/// `Experiments`).
///
/// Notation (Saunshi, Malladi & Arora, ICLR 2021): a context s has embedding f(s) ∈ ℝᵈ; the output word embeddings
/// are the rows φ_w of Φ ∈ ℝ^{V×d}; the model's next-word distribution is p_f(s) = softmax(Φ f(s)) ∈ Δ_V; and the
/// conditional mean embedding is Φᵀp_f(s) = Σ_w p_f(s)_w φ_w ∈ ℝᵈ ("Φp_f" in the paper). The log-partition is
/// log Z(θ) = log Σ_w exp(φ_wᵀθ), whose gradient is exactly ∇ log Z(θ) = Φᵀ softmax(Φθ) = Φp_θ.
///
/// * **Linearity of f ↔ Φp_f** (`LinearityCheck`). If log Z(θ) = ½θᵀAθ + bᵀθ + c then Φp_θ = ∇ log Z = Aθ + b is
///   affine in θ — the paper's reason why Φp_f is as good a feature as f. We compute Φp_f for every context in blocks
///   of rows (`SoftmaxStatistics`: one sgemm F_blk Φᵀ, a stable row softmax, one sgemm P_blk Φ; n × V is never held
///   at once), fit Φp_f ≈ A f + b by least squares (Double normal equations solved by an eigen pseudo-inverse, since a
///   final LayerNorm makes the Gram of f exactly singular) on a seeded random fit split, and report R² = 1 − SSE/SST on the held-out split, pooled over
///   dimensions and per dimension (mean, median, min), next to the fit-split R².
/// * **Quadratic log-partition** (`LogPartitionCheck`). Fits log Z(θ) ≈ ½θᵀAθ + bᵀθ + c over θ = f(s). The monomials
///   θ_iθ_j (i ≤ j) number d(d+1)/2, so either (a) the quadratic part lives on the top-k principal components of θ
///   (k configurable; every linear term of θ is kept, so the model contains the linear fit) and is solved exactly by
///   least squares, or (b) it is kernel ridge regression with the degree-2 polynomial kernel (1 + θᵀθ')², whose
///   feature space is exactly the span of {1, θ_i, θ_iθ_j}. The result states which. Reported: held-out relative
///   error |pred − log Z| / |log Z| (mean, median) and R², beside the same numbers for the linear fit bᵀθ + c.
/// * **Transfer vs LM quality** (`TransferCheck`). For checkpoints of one run: probe accuracy and loss per feature
///   family against validation cross-entropy ℓ and against √(ℓ − ℓ_best) (the paper's O(√ε) bound), with Pearson
///   and Spearman (average ranks for ties) correlations per family.
/// * **Reports** (`SVGChart`, `MarkdownTable`, `ReportWriter`): hand-written SVG (escaped, well-formed XML), Markdown
///   tables with the best value per column in bold, and Codable JSON.
///
/// Guarantees: every function validates shapes and finiteness and throws `AnalysisError` with a one-line message
/// naming the argument; nothing here traps on user input. Fits are computed in Double regardless of input precision.
import Foundation
import Linalg

/// Errors from the analysis stage; each description is one line naming the offending argument.
public enum AnalysisError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)
    case shapeMismatch(String)
    case nonFinite(String)
    case emptyInput(String)

    public var description: String {
        switch self {
        case let .invalidArgument(m): return m
        case let .shapeMismatch(m): return m
        case let .nonFinite(m): return m
        case let .emptyInput(m): return m
        }
    }
}

/// Throws `.nonFinite` naming `name` and the first bad element when `m` holds a NaN or infinity.
func requireFinite<T: BLASScalar>(_ m: Matrix<T>, _ name: String) throws {
    let p = m.pointer
    for i in 0..<m.rows {
        for j in 0..<m.cols where !p[i &* m.stride &+ j].isFinite {
            throw AnalysisError.nonFinite("\(name): non-finite value \(p[i &* m.stride &+ j]) at (\(i), \(j))")
        }
    }
}

/// Formats a number for Markdown with `digits` decimals (NaN as "—").
func fmt(_ x: Double, _ digits: Int = 4) -> String {
    x.isFinite ? String(format: "%.\(digits)f", x) : "—"
}
