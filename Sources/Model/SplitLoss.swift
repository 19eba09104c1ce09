import Foundation
import Text

/// A model's losses on a whole token split: the one validation estimator for comparing checkpoints (issue 14 found
/// two estimators mixed in one transfer table — 16 evenly spaced batches from training metadata for some
/// checkpoints, 8 re-measured for others — which moved step 900's CE from 5.401 to 5.460).
///
/// The split is tiled by non-overlapping windows of the model's context length T: window k predicts tokens
/// kT+1 … kT+T from kT … kT+T−1, for every k with kT + T + 1 ≤ count (the < T tokens left at the end are the only
/// ones not scored). Every scored token has equal weight. The standard error is over the forward batches of
/// `batch` consecutive windows (sd of the batch means / √batches), which respects the dependence of tokens inside a
/// window and of neighbouring windows.
public struct SplitLoss: Codable, Equatable, Sendable {
    /// Mean of the model's own objective (CE, or Quad's −fᵀφ_w + ½‖Φf‖²) over the scored tokens.
    public let objective: Double
    public let objectiveStandardError: Double
    /// Mean cross-entropy of softmax(Φf) (equal to `objective` for a CE model).
    public let crossEntropy: Double
    public let crossEntropyStandardError: Double
    public let windows: Int
    public let tokens: Int
    public let splitTokens: Int
    public var description: String {
        String(format: "whole validation split: %d windows × T, %d of %d tokens scored", windows, tokens, splitTokens)
    }
}

extension GPT {
    /// Losses over the whole `split` of `data` (see `SplitLoss`), `batch` windows per forward pass; `maxWindows`
    /// caps the windows (evenly thinned) for quick checks. Throws when the split holds no full window or the
    /// vocabularies differ.
    public func splitLoss(data: TokenDataset, split: TokenDataset.Split = .val, batch: Int = 16,
                          maxWindows: Int? = nil) throws -> SplitLoss {
        try windowLoss(data: data, split: split,
                       starts: try data.tilingStarts(split, length: config.context, maxWindows: maxWindows), batch: batch)
    }

    /// The one windowed loss routine: mean objective and cross-entropy over the windows of length T starting at
    /// `starts` (each predicting its next T tokens), `batch` windows per forward pass, with standard errors over the
    /// forward batches. `splitLoss` tiles the whole split; training's periodic validation uses evenly spaced windows.
    public func windowLoss(data: TokenDataset, split: TokenDataset.Split, starts: [Int], batch: Int) throws -> SplitLoss {
        let T = config.context, count = data.count(split)
        guard data.vocabSize == config.vocabSize else {
            throw ModelError.badInput("\(data.directory.path): vocab_size \(data.vocabSize) does not match the model's \(config.vocabSize)")
        }
        guard batch >= 1 else { throw ModelError.badInput("batch must be ≥ 1 (got \(batch))") }
        guard !starts.isEmpty else { throw ModelError.badInput("no windows to evaluate") }
        for s in starts where s < 0 || s + T + 1 > count {
            throw ModelError.badInput("window start \(s) + \(T + 1) tokens is outside the \(split) split's \(count) tokens")
        }
        let batch = min(batch, starts.count)   // never allocate for more windows than there are
        var inputs = [Int32](repeating: 0, count: batch * T), targets = inputs
        var objectives: [Double] = [], entropies: [Double] = []
        var s = 0
        while s < starts.count {
            let b = min(batch, starts.count - s)
            let chunk = Array(starts[s..<(s + b)])
            inputs.withUnsafeMutableBufferPointer { x in
                targets.withUnsafeMutableBufferPointer { y in
                    data.fillBatch(split, starts: chunk, length: T, inputs: x.baseAddress!, targets: y.baseAddress!)
                }
            }
            // Per-batch means, counted once per window they hold (so the overall mean is the per-token mean).
            let r = try inputs.withUnsafeBufferPointer { x in
                try targets.withUnsafeBufferPointer { y in
                    try evaluate(inputs: UnsafeBufferPointer(rebasing: x[0..<(b * T)]),
                                 targets: UnsafeBufferPointer(rebasing: y[0..<(b * T)]), batch: b, length: T)
                }
            }
            for _ in 0..<b { objectives.append(r.objective); entropies.append(r.crossEntropy) }
            s += b
        }
        func meanAndError(_ v: [Double], groups: Int) -> (Double, Double) {
            let n = Double(v.count), m = v.reduce(0, +) / n
            // v repeats each batch mean once per window: the spread is that of batch means, whose count is `groups`.
            let g = Double(groups)
            let varBatch = groups < 2 ? 0 : v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / n * g / (g - 1)
            return (m, (varBatch / g).squareRoot())
        }
        let groups = (starts.count + batch - 1) / batch
        let (o, oe) = meanAndError(objectives, groups: groups), (c, ce) = meanAndError(entropies, groups: groups)
        return SplitLoss(objective: o, objectiveStandardError: oe, crossEntropy: c, crossEntropyStandardError: ce,
                         windows: starts.count, tokens: starts.count * T, splitTokens: count)
    }
}

extension TokenDataset {
    /// Starts of the non-overlapping windows of `length` (+1 target) tiling `split` — the windows `splitLoss` and
    /// every whole-split estimate score — thinned evenly to `maxWindows` when given.
    public func tilingStarts(_ split: Split, length T: Int, maxWindows: Int? = nil) throws -> [Int] {
        let count = self.count(split)
        let full = count > T ? (count - 1) / T : 0
        guard full >= 1 else {
            throw ModelError.badInput("\(directory.path): the \(split) split has \(count) tokens, need more than \(T + 1)")
        }
        let starts = (0..<full).map { $0 * T }
        if let m = maxWindows, m >= 1, m < full { return (0..<m).map { starts[$0 * full / m] } }
        return starts
    }
}
