/// # Synthetic — a language whose next-word distribution is known
///
/// The paper's guarantee is about ε = E_s KL(p*(·|s) ‖ p_f(s)); on real text p* is unknown. This module draws a
/// hidden Markov language (`HiddenMarkovModel`: K states, V words, Dirichlet transition and emission rows, optional
/// word classes favoured by some states) and computes p* exactly, so ε, τ and the bound τ + B√(2ε) are measurements.
///
/// **Language and corpus.** The chain starts at its stationary law π (`HiddenMarkovModel.stationary`, residual
/// ‖πA − π‖₁ ≤ 1e-9 checked), so every window of the corpus (`SyntheticCorpus`, written by Text's token-file writer,
/// V + 1 ids with an end-of-text id that never occurs) is a stationary sample, and p* of a window is the forward
/// algorithm started at π over the window's words.
///
/// **p*.** `beliefs` runs the forward algorithm with per-step normalisation on many sequences in lockstep (one gemm
/// per step); `nextWordDistributions` multiplies by E. Guaranteed: equal to enumeration over all hidden paths to
/// 1e-12 (tested on K = 3, V = 5, length 6); the per-step normalisers give −log P(s) exactly.
///
/// **Tasks** (`SyntheticTask`): token-id datasets (`train.ids`, `test.ids`, Text's token-id format) with `task.json`.
/// Natural tasks label contexts by vᵀp*(·|s) (Bernoulli or sign), so τ = ℓ_T(p*, κv) and B = κ are known; the
/// control task labels by the parity of an earlier hidden state. A task remembers its HMM's configuration and is
/// refused against another HMM.
///
/// **Measurement** (`SyntheticMeasure`, `SyntheticStudy`): per checkpoint, ε on fresh stationary windows (every
/// position, standard error over windows), ε_quad for Quad models, ε on each task's contexts, the direction's own loss
/// on p_f (never above the bound, by Pinsker, example by example), and logistic/ridge probes on p_f, Φp_f, f, p* with
/// Wilson intervals — features extracted by the Features stage through the token-id path, probes from Probes, the
/// report written with Analysis' writers and chart. Not guaranteed: that a *fitted* probe stays under the bound (it
/// estimates an infimum from finite data), or that the bound is informative (B is large for sharp tasks).
public enum Synthetic {}
