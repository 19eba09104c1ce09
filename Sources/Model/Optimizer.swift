import Foundation
import Linalg
import Support

/// AdamW (Loshchilov & Hutter) over the flat parameter block, with decoupled weight decay on matrices only:
///   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),
///   θ ← θ − lr·(m̂/(√v̂ + ε) + λ·θ)   (λ = 0 for LayerNorm gains and biases; frozen tensors are not touched).
/// The moments are blocks of the parameters' layout, so the update is one loop over the tensors.
public final class AdamW {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    /// First and second moments, laid out like the parameters.
    public let m: Matrix<Float>, v: Matrix<Float>
    /// Number of updates taken (t in the bias corrections).
    public var stepsTaken: Int = 0
    let segments: [(range: Range<Int>, decay: Bool)]

    /// - frozen: parameter ranges (e.g. Φ) that the optimizer must leave unchanged.
    public init(layout: ParameterLayout, dim: Int, frozen: [Range<Int>] = []) {
        m = Matrix(rows: layout.count / dim, cols: dim)
        v = Matrix(rows: layout.count / dim, cols: dim)
        segments = layout.tensors.filter { t in !frozen.contains { $0.overlaps(t.range) } }
            .map { ($0.range, $0.isMatrix) }
    }

    /// One update of `parameters` from `gradients` (same layout) at learning rate `lr`.
    public func step(parameters: Matrix<Float>, gradients: Matrix<Float>, lr: Float, weightDecay: Float) {
        stepsTaken += 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 / (1 - Float(Foundation.pow(Double(b1), Double(stepsTaken))))
        let c2 = 1 / (1 - Float(Foundation.pow(Double(b2), Double(stepsTaken))))
        let p = parameters.pointer, g = gradients.pointer, mp = m.pointer, vp = v.pointer
        for seg in segments {
            let decay = seg.decay ? lr * weightDecay : 0
            let lo = seg.range.lowerBound, n = seg.range.count
            parallelChunks(n / 8, minChunk: 1024) { blocks in
                for blk in blocks {
                    let i = lo &+ blk &* 8
                    let gi = load8(g + i)
                    let mi = b1 * load8(mp + i) + (1 - b1) * gi
                    let vi = b2 * load8(vp + i) + (1 - b2) * gi * gi
                    store8(mi, mp + i); store8(vi, vp + i)
                    let upd = (mi * c1) / ((vi * c2).squareRoot() + eps)
                    let pi = load8(p + i)
                    store8(pi - lr * upd - decay * pi, p + i)
                }
            }
            for i in (lo + n / 8 * 8)..<(lo + n) {
                let gi = g[i]
                let mi = b1 * mp[i] + (1 - b1) * gi
                let vi = b2 * vp[i] + (1 - b2) * gi * gi
                mp[i] = mi; vp[i] = vi
                p[i] = p[i] - lr * (mi * c1) / ((vi * c2).squareRoot() + eps) - decay * p[i]
            }
        }
    }
}

/// ‖g‖₂ over `count` floats, accumulated per worker in Double and reduced in worker order (deterministic).
public func globalNorm(_ g: UnsafePointer<Float>, count n: Int) -> Double {
    let maxWorkers = max(Threads.count, 1)
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: maxWorkers)
    partial.initialize(repeating: 0, count: maxWorkers)
    defer { partial.deallocate() }
    let workers = parallelWorkers(n, minChunk: 1 << 14) { w, range in
        var acc = 0.0
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(i + 4096, range.upperBound)
            var s8 = F8(), j = i
            while j &+ 8 <= end { let x = load8(g + j); s8 = s8.addingProduct(x, x); j &+= 8 }
            var s = s8.sum()
            while j < end { s += g[j] * g[j]; j &+= 1 }
            acc += Double(s)
            i = end
        }
        partial[w] = acc
    }
    var total = 0.0
    for w in 0..<workers { total += partial[w] }
    return total.squareRoot()
}

/// Linear warmup from lr/warmup to lr over `warmup` steps, then cosine decay to `minLR` at `totalSteps`.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var maxLR: Double
    public var minLR: Double
    public var warmup: Int
    public var totalSteps: Int

    public init(maxLR: Double, minLR: Double, warmup: Int, totalSteps: Int) {
        self.maxLR = maxLR; self.minLR = minLR; self.warmup = warmup; self.totalSteps = totalSteps
    }

    /// JSON keys (`JSONCoding`): `max_lr`, `min_lr` (read also as the older `maxLR`, `minLR`).
    enum CodingKeys: String, CodingKey { case maxLR = "maxLr", minLR = "minLr", warmup, totalSteps }

    /// Learning rate for the update at 0-based `step`.
    public func lr(at step: Int) -> Double {
        if step < warmup { return maxLR * Double(step + 1) / Double(warmup) }
        let span = max(1, totalSteps - warmup)
        let progress = min(1, Double(step - warmup) / Double(span))
        return minLR + 0.5 * (maxLR - minLR) * (1 + Foundation.cos(Double.pi * progress))
    }
}
