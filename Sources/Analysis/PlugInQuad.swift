import Foundation
import Linalg
import Model
import Text

/// The Quad loss reachable on a frozen Φ, estimated by plugging a reference model's next-word distribution into the
/// Quad optimum (issue 14, the matched-compute CE vs Quad protocol).
///
/// For a context s the Quad objective E_w[−fᵀφ_w] + ½‖Φf‖² = −fᵀΦᵀp*(s) + ½fᵀGf (G = ΦᵀΦ) is minimised by
/// f*(s) = G⁻¹Φᵀp*(s). With the reference CE model's p_CE(s) = softmax(Φ f_CE(s)) in place of the unknown p*,
/// the plug-in f = G⁻¹Φᵀp_CE(s) is scored on the real next token w: ℓ = −fᵀφ_w + ½fᵀ(Φᵀp_CE). Averaged over the
/// whole validation split (the windows of `TokenDataset.tilingStarts`), this is the value a Quad model trained on
/// the same frozen Φ should approach; the protocol trains Quad until its validation loss is within 10 % of it.
/// The standard error is over forward batches of windows, as `SplitLoss`'s.
public struct PlugInQuadLoss: Codable, Equatable, Sendable {
    public let loss: Double
    public let standardError: Double
    public let windows: Int
    public let tokens: Int
    /// The reference model's own cross-entropy on the same tokens.
    public let referenceCrossEntropy: Double
    /// The Quad loss of the best context-free f for this Φ on the same positions: c = G⁻¹Φᵀû (û the empirical
    /// next-word distribution of the scored positions) scores −cᵀΦᵀû + ½cᵀGc = −½ûᵀP_Φû, P_Φ = ΦG⁻¹Φᵀ.
    /// `loss` − this is the context-dependent part of the reachable loss; a Quad model at or above this value
    /// has learned nothing a constant would not give. Nil in reports written before it existed.
    public var contextFreeLoss: Double? = nil

    /// `reference` supplies both f_CE(s) and the frozen Φ (its output embeddings).
    public static func compute(reference: GPT, data: TokenDataset, batch: Int = 8, maxWindows: Int? = nil) throws
        -> PlugInQuadLoss {
        guard data.vocabSize == reference.config.vocabSize else {
            throw AnalysisError.invalidArgument("\(data.directory.path): vocab_size \(data.vocabSize) does not match the reference model's \(reference.config.vocabSize)")
        }
        guard batch >= 1 else { throw AnalysisError.invalidArgument("batch must be ≥ 1 (got \(batch))") }
        let T = reference.config.context, d = reference.config.dim
        let starts = try data.tilingStarts(.val, length: T, maxWindows: maxWindows)
        let batch = min(batch, starts.count)   // never allocate for more windows than there are
        let phi = reference.phi.copy()                                   // V × d
        let optimum = try QuadOptimum(phi: phi, words: phi.rows)         // G = ΦᵀΦ, refused when singular
        let phiD = optimum.phi
        var inputs = [Int32](repeating: 0, count: batch * T), targets = inputs
        var batchMeans: [(Double, Int)] = [], ceSum = 0.0
        var counts = [Int](repeating: 0, count: reference.config.vocabSize)   // next-word counts of the scored positions
        var s = 0
        while s < starts.count {
            let b = min(batch, starts.count - s)
            inputs.withUnsafeMutableBufferPointer { x in
                targets.withUnsafeMutableBufferPointer { y in
                    data.fillBatch(.val, starts: Array(starts[s..<(s + b)]), length: T, inputs: x.baseAddress!,
                                   targets: y.baseAddress!)
                }
            }
            let f = try reference.contextEmbeddings(tokens: Array(inputs[0..<(b * T)]), batch: b, length: T)
            let stats = try SoftmaxStatistics.compute(f: f, phi: phi)        // Φᵀp_CE (b·T × d), log Z
            let mean = stats.conditionalMean.converted(to: Double.self)
            let plug = try optimum.solve(mean)                               // f = G⁻¹Φᵀp_CE, row-wise
            // Per position: ℓ = −f·φ_w + ½ f·(Φᵀp) for the plug-in f, and the reference's CE log Z − f_CE·φ_w.
            var sum = 0.0
            let pp = plug.pointer, mp = mean.pointer, fp = f.pointer, php = phiD.pointer
            targets.withUnsafeBufferPointer { tb in
                for r in 0..<(b &* T) {
                    let w = Int(tb[r])
                    counts[w] += 1
                    let pr = pp + r &* plug.stride, mr = mp + r &* mean.stride, fr = fp + r &* f.stride
                    let phw = php + w &* phiD.stride
                    var fPhi = 0.0, fMean = 0.0, logit = 0.0
                    for j in 0..<d {
                        fPhi += pr[j] * phw[j]
                        fMean += pr[j] * mr[j]
                        logit += Double(fr[j]) * phw[j]
                    }
                    sum += -fPhi + 0.5 * fMean
                    ceSum += stats.logPartition[r] - logit
                }
            }
            batchMeans.append((sum / Double(b * T), b))
            s += b
        }
        let tokens = starts.count * T
        let m = batchMeans.map { $0.0 * Double($0.1) }.reduce(0, +) / Double(starts.count)
        let k = Double(batchMeans.count)
        let varBatch = batchMeans.count < 2 ? 0 : batchMeans.map { ($0.0 - m) * ($0.0 - m) }.reduce(0, +) / (k - 1)
        var result = PlugInQuadLoss(loss: m, standardError: (varBatch / k).squareRoot(), windows: starts.count,
                                    tokens: tokens, referenceCrossEntropy: ceSum / Double(tokens))
        result.contextFreeLoss = try contextFree(optimum, counts: counts).loss
        return result
    }

    /// The best constant f for `optimum`'s Φ (V × d) on positions whose next words have `counts`: c = G⁻¹Φᵀû and its Quad
    /// loss −½ûᵀΦG⁻¹Φᵀû = −½(Φᵀû)ᵀc (closed form; û = counts / their total).
    public static func contextFree(_ optimum: QuadOptimum, counts: [Int]) throws -> (constant: [Double], loss: Double) {
        let phi = optimum.phi, n = Double(counts.reduce(0, +)), d = phi.cols
        guard n > 0, counts.count == phi.rows else {
            throw AnalysisError.invalidArgument("context-free Quad loss: \(counts.count) word counts (total \(Int(n))) for a Φ of \(phi.rows) rows")
        }
        let uHat = try Matrix<Double>(rows: 1, cols: counts.count, values: counts.map { Double($0) / n })
        let r = try BLAS.matmul(uHat, phi)                                  // (Φᵀû)ᵀ   (1 × d)
        let c = try optimum.solve(r)                                       // cᵀ = (Φᵀû)ᵀG⁻¹
        let constant = (0..<d).map { c[0, $0] }
        return (constant, -0.5 * (0..<d).reduce(0.0) { $0 + r[0, $1] * constant[$1] })
    }

    /// Throws unless `quad` is a Quad model whose Φ is exactly the reference's (the plug-in value applies only then).
    public static func checkComparable(reference: GPT, quad: GPT, quadPath: String) throws {
        guard quad.config.objective == .quad else { throw AnalysisError.invalidArgument("\(quadPath): not a Quad model") }
        let a = reference.phi, b = quad.phi
        guard a.rows == b.rows, a.cols == b.cols, try a.maxAbsDifference(b) == 0 else {
            throw AnalysisError.invalidArgument("\(quadPath): its Φ is not the reference's frozen Φ, so the plug-in value does not apply")
        }
    }

}
