/// Model — a GPT-2-style decoder trained on CPU at BLAS speed, with the paper's two objectives.
///
/// Architecture (`GPT`, `GPTConfig`): token + learned positional embeddings, L pre-LayerNorm blocks
/// (x ← x + Attn(LN₁(x)); x ← x + MLP(LN₂(x)), causal multi-head attention, MLP 4d with tanh-GELU), and a final
/// LayerNorm whose output is the context embedding **f(s)** ∈ ℝᵈ. The output word embeddings **Φ** are a V × d
/// matrix with rows φ_w (the paper's Φ is its transpose): tied to the token embeddings by default, a separate
/// tensor with `untiedPhi`.
///
/// Objectives (`Objective`), per token with next word w:
/// * cross-entropy  ℓ = log Σ_v exp(φ_vᵀf) − φ_wᵀf, one fused softmax + loss + gradient kernel;
/// * Quad           ℓ = −φ_wᵀf + ½‖Φf‖² = −φ_wᵀf + ½ fᵀGf with the d × d Gram G = ΦᵀΦ, so the loss and its
///   gradients cost O(d²) per token plus O(d²V) per step (never O(dV) per token). Its minimiser over f for a
///   next-word distribution p is f* = G⁻¹Φᵀp, and ½‖Φf − e_w‖² = ℓ + ½.
///
/// Implementation (llm.c style): each op is a forward/backward pair of plain functions over flat buffers
/// (`Ops.swift`); all parameters live in one contiguous block, gradients and both AdamW moments in blocks of the
/// identical layout (`ParameterLayout`), so the optimizer is a single loop; activations are preallocated for a
/// (B, T) shape. Every matrix product goes through cblas_sgemm; element-wise kernels are 8-wide SIMD and run on
/// lmprobe's own threads, never inside a GEMM.
///
/// Guarantees: forward and backward are deterministic for a fixed thread count (partial sums are reduced in a
/// fixed order), so training K steps, checkpointing and resuming for K more gives bit-identical parameters to
/// 2K straight steps. Gradients match central finite differences to Float precision (see the tests). The
/// vectorised exp/tanh are within 2 ulp / 3e-7 absolute. Not guaranteed: bit-identical results across different
/// thread counts or BLAS builds (summation order changes).
///
/// Quad in practice (see issue 4): with Φ tied and trained from N(0, 0.02), Quad degenerates; the recipe to try is
/// an untied Φ copied from a CE model and frozen (`lmprobe pretrain --objective quad --untied-phi --phi-from
/// CE_RUN --freeze-phi`), judged by Quad's own validation loss (½E‖Φf − e_w‖² − ½, a Brier-type score) and by
/// feature quality, not by the cross-entropy of softmax(Φf), which stays near ln V by design.
///
/// Public entry points for other stages: `Checkpoint.load(url:)` → `GPT` (config, `phi`, `contextEmbeddings`,
/// `evaluate`), `Text.TokenDataset` (the token files, read by Text's one reader), `Trainer` (pretraining).
import Foundation
import Linalg

/// Errors of the Model stage; each description is one line naming the file, argument or value at fault.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case badInput(String)
    case badCheckpoint(path: String, reason: String)
    case nonFiniteLoss(step: Int, loss: Double, lastCheckpoint: String?)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfig(m): return "invalid model configuration: \(m)"
        case let .badInput(m): return m
        case let .badCheckpoint(path, reason): return "\(path): not a valid lmprobe checkpoint: \(reason)"
        case let .nonFiniteLoss(step, loss, last):
            return "training stopped: non-finite loss \(loss) at step \(step); "
                + (last.map { "last good checkpoint is \($0)" } ?? "no checkpoint was written yet")
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}

/// The checkpoint checksum is Linalg's (shared with the token-dataset hash); this name keeps it in scope for files
/// that import only Foundation.
typealias Checksum = Linalg.Checksum
