import Foundation
import Linalg
import Support

/// p*(·|s): the forward algorithm with per-step normalisation, run on many sequences in lockstep so each step is one
/// gemm (B × K by K × K), and the predictive distributions of all positions come from one gemm with E.
///
/// Conventions. A context s = w_0 … w_t. The belief after s is b(s) = P(z_{t+1} | w_0 … w_t) (K), with
/// b(∅) = π. Observing w: α_k = b_k·E[k, w], c = Σ_k α_k = p*(w | previous words), α ← α / c, b ← αᵀA.
/// p*(·|s) = b(s)ᵀE (V). Each step's c is also the sequence's conditional likelihood, so Σ −log c is −log P(s).
extension HiddenMarkovModel {
    /// Beliefs after every prefix of B sequences of T words (row-major in `words`), each started at π and,
    /// if `prompt` is not empty, continued through the prompt words after the sequence (so a row is also produced
    /// for every prompt position). Returns the (B·T′) × K matrix of beliefs, T′ = T + prompt.count, row b·T′ + t =
    /// b(w_0 … w_t), and each sequence's per-position −log p*(w_t | w_<t) in `logLoss` (B·T′) when given.
    /// Throws when a word has probability 0 after its prefix (only possible for prompt words or foreign input).
    public func beliefs(words: UnsafePointer<Int32>, count B: Int, length T: Int, prompt: [Int32] = [],
                        logLoss: UnsafeMutablePointer<Double>? = nil) throws -> Matrix<Double> {
        let K = states, V = self.words, Tp = T + prompt.count
        let out = Matrix<Double>(rows: B * Tp, cols: K)
        guard B > 0, Tp > 0 else { return out }
        let cur = Matrix<Double>(rows: B, cols: K), alpha = Matrix<Double>(rows: B, cols: K)
        for b in 0..<B { for k in 0..<K { cur.pointer[b &* K &+ k] = initial[k] } }
        let e = emission.pointer, es = emission.stride
        for t in 0..<Tp {
            for b in 0..<B {
                let w = Int(t < T ? words[b &* T &+ t] : prompt[t - T])
                guard w >= 0, w < V else {
                    throw SyntheticError.badArgument("word id \(w) (sequence \(b), position \(t)) is outside the HMM's 0..<\(V)")
                }
                let bp = cur.pointer + b &* K, ap = alpha.pointer + b &* K
                var c = 0.0
                for k in 0..<K { let v = bp[k] * e[k &* es &+ w]; ap[k] = v; c += v }
                guard c > 0 else {
                    throw SyntheticError.badArgument("word \(w) at position \(t) of sequence \(b) has probability 0 under the HMM after its prefix")
                }
                let inv = 1 / c
                for k in 0..<K { ap[k] *= inv }
                logLoss?[b &* Tp &+ t] = -Foundation.log(c)
            }
            try BLAS.gemm(alpha, transition, into: cur)                      // b ← αA   (B × K)
            for b in 0..<B { (out.pointer + (b &* Tp &+ t) &* K).update(from: cur.pointer + b &* K, count: K) }
        }
        return out
    }

    /// P(w_0 … w_{m−1} = `words` | z_0 = k) for every state k (forward algorithm from each one-hot start).
    public func sequenceProbabilityByState(_ words: [Int32]) throws -> [Double] {
        let K = states
        return try (0..<K).map { k in
            var b = [Double](repeating: 0, count: K)
            b[k] = 1
            var p = 1.0
            for w in words {
                let wi = Int(w)
                guard wi >= 0, wi < self.words else { throw SyntheticError.badArgument("word id \(wi) is outside the HMM's 0..<\(self.words)") }
                var alpha = (0..<K).map { b[$0] * emission[$0, wi] }
                let c = alpha.reduce(0, +)
                p *= c
                if c == 0 { return 0 }
                alpha = alpha.map { $0 / c }
                b = (0..<K).map { j in (0..<K).reduce(0.0) { $0 + alpha[$1] * transition[$1, j] } }
            }
            return p
        }
    }

    /// P(z_t = k | w_0 … w_{T−1}) for one position `t` of each of B sequences of T words (row-major in `words`):
    /// the forward–backward posterior, B × K. Forward: the filtered α_t ∝ b(w_<t) ∘ E[·, w_t] (b from π, as in
    /// `beliefs`); backward: β_{T−1} = 1, β_{s−1} ∝ A (E[·, w_s] ∘ β_s) — both per-step normalised and run in
    /// lockstep over the sequences, one gemm per step; posterior ∝ α_t ∘ β_t.
    public func statePosterior(words: UnsafePointer<Int32>, count B: Int, length T: Int, position t: Int) throws -> Matrix<Double> {
        let K = states, V = self.words
        guard t >= 0, t < T else { throw SyntheticError.badArgument("position \(t) is outside 0..<\(T)") }
        let e = emission.pointer, es = emission.stride
        func word(_ b: Int, _ s: Int) throws -> Int {
            let w = Int(words[b &* T &+ s])
            guard w >= 0, w < V else { throw SyntheticError.badArgument("word id \(w) (sequence \(b), position \(s)) is outside the HMM's 0..<\(V)") }
            return w
        }
        /// x ← x ∘ E[·, w_s] row by row, then each row scaled to sum 1 (throws on a zero row: an impossible word).
        func weigh(_ x: Matrix<Double>, at s: Int) throws {
            for b in 0..<B {
                let w = try word(b, s), xp = x.pointer + b &* K
                var c = 0.0
                for k in 0..<K { xp[k] *= e[k &* es &+ w]; c += xp[k] }
                guard c > 0 else { throw SyntheticError.badArgument("word \(w) at position \(s) of sequence \(b) has probability 0 under the HMM") }
                for k in 0..<K { xp[k] /= c }
            }
        }
        let alpha = Matrix<Double>(rows: B, cols: K), next = Matrix<Double>(rows: B, cols: K)
        for b in 0..<B { for k in 0..<K { alpha.pointer[b &* K &+ k] = initial[k] } }
        for s in 0..<t {
            try weigh(alpha, at: s)
            try BLAS.gemm(alpha, transition, into: next)                                  // b ← αA
            alpha.pointer.update(from: next.pointer, count: B * K)
        }
        try weigh(alpha, at: t)                                                           // filtered α_t
        let beta = Matrix<Double>(rows: B, cols: K)
        beta.fill(1)
        for s in stride(from: T - 1, to: t, by: -1) {
            try weigh(beta, at: s)                                                        // E[·, w_s] ∘ β_s
            try BLAS.gemm(transB: true, beta, transition, into: next)                     // β_{s−1} = (E∘β) Aᵀ
            beta.pointer.update(from: next.pointer, count: B * K)
        }
        for b in 0..<B {
            let ap = alpha.pointer + b &* K, bp = beta.pointer + b &* K
            var c = 0.0
            for k in 0..<K { ap[k] *= bp[k]; c += ap[k] }
            guard c > 0 else { throw SyntheticError.badArgument("sequence \(b) has probability 0 under the HMM") }
            for k in 0..<K { ap[k] /= c }
        }
        return alpha
    }

    /// p*(·|s) for every row of `beliefs`: (n × K)·E = n × V.
    public func nextWordDistributions(beliefs: Matrix<Double>) throws -> Matrix<Double> {
        let p = Matrix<Double>(rows: beliefs.rows, cols: words)
        try BLAS.gemm(beliefs, emission, into: p)
        return p
    }

    /// Bytes the beliefs of one chunk of sequences may hold (`beliefs` keeps every position of every sequence).
    static let beliefChunkBytes = 256 << 20

    /// How many sequences of `positions` positions one `beliefs` call takes so its (B·T′) × K output stays within
    /// `beliefChunkBytes` (at least 1).
    func sequencesPerBeliefChunk(positions: Int) -> Int {
        let perSequence = SystemMemory.checkedSum(ofProducts: [[max(positions, 1), states, 8]]) ?? Int.max
        return max(1, Self.beliefChunkBytes / perSequence)
    }

    /// p*(·|s) after each of B sequences (and the prompt): the last position of each, n = B rows × V. The forward
    /// pass runs over chunks of sequences, so only one chunk's beliefs of every position are held at a time.
    public func nextWordDistributions(contexts words: [Int32], count B: Int, length T: Int, prompt: [Int32] = []) throws -> Matrix<Double> {
        let Tp = T + prompt.count, K = states
        let last = Matrix<Double>(rows: B, cols: K)
        let chunk = sequencesPerBeliefChunk(positions: Tp)
        try words.withUnsafeBufferPointer { wp in
            for start in stride(from: 0, to: B, by: chunk) {
                let n = min(chunk, B - start)
                let bel = try beliefs(words: wp.baseAddress! + start * T, count: n, length: T, prompt: prompt)
                for b in 0..<n { (last.pointer + (start + b) * K).update(from: bel.pointer + (b * Tp + Tp - 1) * K, count: K) }
            }
        }
        return try nextWordDistributions(beliefs: last)
    }

    /// The entropy rate H = lim E[−log p*(w_t | w_<t)], estimated from `sequences` independent stationary samples of
    /// `burnIn + length` words: each sequence's mean −log p* over its last `length` positions is one draw, so the
    /// standard error is their standard deviation / √sequences.
    public func entropyRate(sequences: Int, length: Int, burnIn: Int, seed: UInt64) throws
        -> (rate: Double, standardError: Double) {
        let T = burnIn + length
        let (w, _) = sampleSequences(count: sequences, length: T, seed: seed)
        var ll = [Double](repeating: 0, count: sequences * T)
        let chunk = sequencesPerBeliefChunk(positions: T)
        try w.withUnsafeBufferPointer { wp in
            try ll.withUnsafeMutableBufferPointer { lp in
                for start in stride(from: 0, to: sequences, by: chunk) {
                    _ = try beliefs(words: wp.baseAddress! + start * T, count: min(chunk, sequences - start), length: T,
                                    logLoss: lp.baseAddress! + start * T)
                }
            }
        }
        let tail = (0..<sequences).map { s in ll[(s * T + burnIn)..<(s * T + T)].reduce(0, +) / Double(length) }
        let (m, se) = meanAndStandardError(tail)
        return (m, se)
    }
}

/// Mean and standard error (sample standard deviation / √n) of independent draws.
public func meanAndStandardError(_ x: [Double]) -> (mean: Double, standardError: Double) {
    let n = Double(x.count)
    guard x.count > 0 else { return (.nan, .nan) }
    let m = x.reduce(0, +) / n
    guard x.count > 1 else { return (m, .nan) }
    let v = x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
    return (m, (v / n).squareRoot())
}

/// Information measures on distributions given as rows.
public enum Divergence {
    /// H(p) = −Σ p log p in nats (0·log 0 = 0).
    public static func entropy(_ p: UnsafePointer<Double>, count n: Int) -> Double {
        var h = 0.0
        for j in 0..<n where p[j] > 0 { h -= p[j] * Foundation.log(p[j]) }
        return h
    }

    /// KL(p* ‖ softmax(z)) in nats: `pStar` has V entries, `logits` has V′ ≥ V entries (words V..<V′, e.g. an
    /// end-of-text token, have p* = 0). Computed as
    /// Σ p*_w (log p*_w − z_w) + logsumexp(z) in float64, so a model with z = log p* scores 0 to rounding.
    public static func kl(pStar: UnsafePointer<Double>, count V: Int, logits z: UnsafePointer<Float>, logitCount Vp: Int) -> Double {
        var m = -Double.infinity
        for j in 0..<Vp { m = max(m, Double(z[j])) }
        var s = 0.0
        for j in 0..<Vp { s += Foundation.exp(Double(z[j]) - m) }
        let lse = m + Foundation.log(s)
        var kl = 0.0
        for j in 0..<V where pStar[j] > 0 { kl += pStar[j] * (Foundation.log(pStar[j]) - Double(z[j])) }
        return max(0, kl + lse)   // ≥ 0 mathematically; clip rounding below 0
    }
}
