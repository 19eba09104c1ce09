import Linalg
import Support

// The exact-LOO machinery the primal (Ridge.swift) and dual (RidgeDual.swift) fits share: the ±1 targets, the
// per-λ scoring and selection, banded shifted solves, and the phase clock.

/// Cholesky factors of B + λI for every λ of a grid, B symmetric positive semi-definite with half-bandwidth b
/// (m × m; b = 1 is tridiagonal). B + λI = L·Lᵀ with L lower banded; stored row-major m × (b+1) per λ, row k
/// holding L[k, k−b … k].
struct BandShifts {
    let m: Int
    let b: Int
    let count: Int
    /// Factors of λ_a at offset a·m·(b+1).
    let factors: [Double]

    /// `band` is m × (b+1), row i holding B[i, i−b … i].
    init(band: Matrix<Double>, alphas: [Double]) throws {
        m = band.rows
        b = band.cols - 1
        count = alphas.count
        let w = b + 1, m = self.m, b = self.b
        var f = [Double](repeating: 0, count: m * w * alphas.count)
        for (a, alpha) in alphas.enumerated() {
            let base = a * m * w
            for k in 0..<m {
                for j in max(0, k - b)...k {
                    var s = band[k, b - (k - j)] + (j == k ? alpha : 0)
                    for p in max(0, k - b)..<j { s -= f[base + k * w + b - (k - p)] * f[base + j * w + b - (j - p)] }
                    if j < k {
                        f[base + k * w + b - (k - j)] = s / f[base + j * w + b]
                    } else {
                        guard s > 0, s.isFinite else {
                            throw ProbeError.numerical("Gram + \(alpha)·I is not positive definite (pivot \(s) at \(k))")
                        }
                        f[base + k * w + b] = s.squareRoot()
                    }
                }
            }
        }
        factors = f
    }

    /// (B + λ_a I)⁻¹R for every λ_a, side by side: m × (count·R.cols), block a in columns a·c..<(a+1)·c.
    func solveAll(_ r: Matrix<Double>) -> Matrix<Double> {
        let c = r.cols, ld = count * c, w = b + 1
        let out = Matrix<Double>(rows: m, cols: ld)
        let o = out.pointer
        for a in 0..<count {
            let base = a * m * w, col = a * c
            for k in 0..<m {                    // L y = r
                for j in 0..<c {
                    var s = r[k, j]
                    for p in max(0, k - b)..<k { s -= factors[base + k * w + b - (k - p)] * o[p * ld + col + j] }
                    o[k * ld + col + j] = s / factors[base + k * w + b]
                }
            }
            for k in stride(from: m - 1, through: 0, by: -1) {   // Lᵀ x = y
                for j in 0..<c {
                    var s = o[k * ld + col + j]
                    for q in (k + 1)..<min(m, k + b + 1) { s -= factors[base + q * w + b - (q - k)] * o[q * ld + col + j] }
                    o[k * ld + col + j] = s / factors[base + k * w + b]
                }
            }
        }
        return out
    }

    /// diag(Eᵀ(B + λ_a I)⁻¹E) for every λ_a, n × count (E is m × n): ‖L⁻¹E·eᵢ‖², with the forward substitution
    /// W_k = (E_k − Σ_p L[k,p]·W_p) / L[k,k] run down the rows of E — one streaming pass over E for all λ.
    func weightedDiagonal(_ e: Matrix<Double>) -> Matrix<Double> {
        let n = e.cols, na = count, m = self.m, b = self.b, w = b + 1
        let out = Matrix<Double>(rows: n, cols: na)
        let ep = e.pointer, lde = e.stride, op = out.pointer
        factors.withUnsafeBufferPointer { fb in
            let fp = fb.baseAddress!
            parallelChunks(n, minChunk: 64) { range in
                let block = 128
                // Ring of the last b+1 rows of W per λ, and the accumulators.
                let ring = UnsafeMutablePointer<Double>.allocate(capacity: na * w * block)
                let acc = UnsafeMutablePointer<Double>.allocate(capacity: na * block)
                defer { ring.deallocate(); acc.deallocate() }
                var start = range.lowerBound
                while start < range.upperBound {
                    let width = min(block, range.upperBound - start)
                    acc.initialize(repeating: 0, count: na * block)
                    for k in 0..<m {
                        let row = ep + (k &* lde &+ start)
                        for a in 0..<na {
                            let lk = fp + (a &* m &* w &+ k &* w)      // L[k, k−b … k]
                            let ringA = ring + a &* w &* block
                            let v = ringA + (k % w) &* block
                            for i in 0..<width { v[i] = row[i] }
                            var p = max(0, k - b)
                            while p < k {
                                let coef = lk[b - (k - p)], wp = ringA + (p % w) &* block
                                for i in 0..<width { v[i] -= coef * wp[i] }
                                p += 1
                            }
                            let inv = 1 / lk[b]
                            let aa = acc + a &* block
                            for i in 0..<width { let x = v[i] * inv; v[i] = x; aa[i] += x * x }
                        }
                    }
                    for i in 0..<width { for a in 0..<na { op[(start &+ i) &* na &+ a] = acc[a &* block &+ i] } }
                    start += width
                }
            }
        }
        return out
    }
}

/// Wall-clock phases of a fit.
final class PhaseClock {
    var timings: [(phase: String, seconds: Double, cpuSeconds: Double)] = []
    var clock = Benchmark.now(), cpu = Benchmark.cpuSeconds()
    func lap(_ phase: String) {
        let t = Benchmark.now(), c = Benchmark.cpuSeconds()
        timings.append((phase, t - clock, c - cpu))
        clock = t; cpu = c
    }
}

/// ±1 one-vs-rest targets of a ridge fit: Y_c (centred, n × K′), their means ȳ, and [Y_c | 1] (both right-hand
/// sides of every LOO formula, so each basis is packed once).
struct RidgeTargets {
    let n: Int
    let kk: Int
    let yc: Matrix<Double>
    let yMean: [Double]
    let yc1: Matrix<Double>

    init(labels: [Int], classes: Int) {
        let n = labels.count, kk = classes == 2 ? 1 : classes
        let yc = Matrix<Double>(rows: n, cols: kk)
        var yMean = [Double](repeating: 0, count: kk)
        for i in 0..<n {
            for k in 0..<kk {
                let target: Double = kk == 1 ? (labels[i] == 1 ? 1 : -1) : (labels[i] == k ? 1 : -1)
                yc.pointer[i &* kk &+ k] = target
                yMean[k] += target
            }
        }
        for k in 0..<kk { yMean[k] /= Double(n) }
        for i in 0..<n { for k in 0..<kk { yc.pointer[i &* kk &+ k] -= yMean[k] } }
        let yc1 = Matrix<Double>(rows: n, cols: kk + 1)
        for i in 0..<n {
            for k in 0..<kk { yc1.pointer[i &* (kk + 1) &+ k] = yc.pointer[i &* kk &+ k] }
            yc1.pointer[i &* (kk + 1) &+ kk] = 1
        }
        self.n = n; self.kk = kk; self.yc = yc; self.yMean = yMean; self.yc1 = yc1
    }
}

/// Scores each λ from its exact LOO residuals and remembers the best (first on ties).
struct LeaveOneOutSelection {
    let targets: RidgeTargets
    let labels: [Int]
    let select: RidgeSelection
    var mse: [Double]
    var acc: [Double]
    var best = -1

    init(targets: RidgeTargets, labels: [Int], select: RidgeSelection, count: Int) {
        self.targets = targets; self.labels = labels; self.select = select
        mse = [Double](repeating: 0, count: count); acc = mse
    }

    /// Scores λ number a from its LOO residuals e = num/den (n × K′, den one value per row); whether it is the best so far.
    mutating func score(_ a: Int, numerator: Matrix<Double>, denominator: (Int) -> Double) -> Bool {
        let n = targets.n, kk = targets.kk, yc = targets.yc.pointer
        var sq = 0.0, correct = 0
        let num = numerator.pointer, ldn = numerator.stride
        var pred = [Double](repeating: 0, count: kk)
        for i in 0..<n {
            let den = denominator(i)
            for k in 0..<kk {
                let e = num[i &* ldn &+ k] / den
                sq += e * e
                pred[k] = yc[i &* kk &+ k] + targets.yMean[k] - e   // LOO decision value, uncentred
            }
            var cls: Int
            if kk == 1 { cls = pred[0] > 0 ? 1 : 0 } else {
                cls = 0
                for k in 1..<kk where pred[k] > pred[cls] { cls = k }
            }
            if cls == labels[i] { correct += 1 }
        }
        mse[a] = sq / Double(n * kk)
        acc[a] = Double(correct) / Double(n)
        let better: Bool
        if best < 0 { better = true } else {
            switch select {
            case .squaredError: better = mse[a] < mse[best]
            case .accuracy: better = acc[a] > acc[best]
            }
        }
        if better { best = a }
        return better
    }

    /// The search's outcome over `alphas` (the grid these scores are for).
    func path(alphas: [Double]) -> RidgePath {
        RidgePath(alphas: alphas, selection: select, looMeanSquaredError: mse, looAccuracy: acc, chosenIndex: best)
    }

    func requireFinite() throws {
        for v in mse + acc where !v.isFinite {
            throw ProbeError.numerical("ridge leave-one-out scores are not finite (ill-conditioned features?)")
        }
    }
}
