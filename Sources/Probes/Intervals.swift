import Foundation
import Support

/// Uncertainty of a probe's test score, and paired tests between two probes scored on the same test examples.
///
/// * Accuracy: the Wilson score interval (Wilson 1927) for k correct of n, which keeps its coverage near 0 and 1
///   where the normal ("Wald") interval does not:
///     centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z·√(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n),  p̂ = k/n.
/// * Mean log-loss (or any per-example mean): the percentile bootstrap over test examples — `resamples` draws of n
///   indices with replacement from a seeded generator, the interval is the (α/2, 1 − α/2) quantiles of the means.
/// * Two probes on the same n examples: McNemar's test on the discordant pairs (b = only A right, c = only B right):
///   exact two-sided p = min(1, 2·P(X ≤ min(b, c))) with X ~ Binomial(b + c, ½), and the mid-p variant
///   p_mid = p_exact − P(X = min(b, c)) (Lancaster 1961; closer to nominal size, Fagerland et al. 2013). And the paired
///   bootstrap of the accuracy difference acc_A − acc_B (the same resampled indices for both): its percentile
///   interval and the two-sided p = min(1, 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0))).
/// Guarantees: deterministic for a given seed; exact binomial tails through log-gamma (no overflow for any n).
public struct ConfidenceInterval: Codable, Equatable, Sendable {
    public let lower: Double
    public let upper: Double
    /// Nominal coverage, e.g. 0.95.
    public let level: Double
    /// "wilson" or "bootstrap (B resamples, seed s)".
    public let method: String

    public init(lower: Double, upper: Double, level: Double, method: String) {
        self.lower = lower; self.upper = upper; self.level = level; self.method = method
    }

    /// Half of the width.
    public var halfWidth: Double { (upper - lower) / 2 }
    public func contains(_ v: Double) -> Bool { v >= lower && v <= upper }
}

public enum Intervals {
    /// The usual level of every report.
    public static let level = 0.95
    /// Bootstrap draws used by the reports (Monte-Carlo error of a 95 % percentile bound ≈ 0.3 % of the width).
    public static let resamples = 2000

    /// Standard normal upper quantile z with P(Z > z) = (1 − level)/2, by bisection on erfc (exact to 1e-12).
    public static func normalQuantile(level: Double) throws -> Double {
        guard level > 0, level < 1 else { throw ProbeError.invalidArgument("confidence level must be in (0, 1), got \(level)") }
        let tail = (1 - level) / 2
        var lo = 0.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * Foundation.erfc(mid / 2.0.squareRoot()) > tail { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Student-t upper quantile t with P(|T| > t) = 1 − level for ν degrees of freedom, by bisection on the
    /// tail P(T > t) = ½·I_{ν/(ν+t²)}(ν/2, ½) (regularised incomplete beta; exact to 1e-10).
    public static func studentTQuantile(level: Double, degreesOfFreedom nu: Int) throws -> Double {
        guard level > 0, level < 1 else { throw ProbeError.invalidArgument("confidence level must be in (0, 1), got \(level)") }
        guard nu >= 1 else { throw ProbeError.invalidArgument("a t quantile needs at least 1 degree of freedom (got \(nu))") }
        let tail = (1 - level) / 2, v = Double(nu)
        var lo = 0.0, hi = 1.0
        while 0.5 * regularisedBeta(v / (v + hi * hi), v / 2, 0.5) > tail { hi *= 2 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * regularisedBeta(v / (v + mid * mid), v / 2, 0.5) > tail { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// The t interval of the mean of `values` (n ≥ 2, finite): mean ± t_{ν = n−1}·s/√n.
    public static func tMean(_ values: [Double], level: Double = Intervals.level) throws -> ConfidenceInterval {
        guard values.count >= 2 else { throw ProbeError.empty("a t interval needs at least two values (got \(values.count))") }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw ProbeError.invalidArgument("t interval: non-finite value \(values[i]) at index \(i)")
        }
        let score = ResampledScore(values)
        let half = try studentTQuantile(level: level, degreesOfFreedom: values.count - 1) * score.standardDeviation
            / Double(values.count).squareRoot()
        return ConfidenceInterval(lower: score.mean - half, upper: score.mean + half, level: level,
                                  method: "t (\(values.count - 1) degrees of freedom)")
    }

    /// I_x(a, b), the regularised incomplete beta function, by its continued fraction (Lentz; Numerical Recipes
    /// betacf), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func regularisedBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - regularisedBeta(1 - x, b, a) }
        let logBeta: Double = Foundation.lgamma(a) + Foundation.lgamma(b) - Foundation.lgamma(a + b)
        let logPowers: Double = a * Foundation.log(x) + b * Foundation.log(1 - x)
        let front = Foundation.exp(logPowers - logBeta)
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...400 {
            let m2 = Double(2 * m), mm = Double(m)
            var num = mm * (b - mm) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            num = -(a + mm) * (a + b + mm) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return front * h / a
    }

    /// Wilson score interval for `successes` of `trials` (throws when trials ≤ 0 or successes outside 0…trials).
    public static func wilson(successes k: Int, trials n: Int, level: Double = Intervals.level) throws -> ConfidenceInterval {
        guard n > 0 else { throw ProbeError.empty("a Wilson interval needs at least one trial") }
        guard k >= 0, k <= n else { throw ProbeError.invalidArgument("\(k) successes of \(n) trials") }
        let z = try normalQuantile(level: level), nn = Double(n), p = Double(k) / nn, z2 = z * z
        let denom = 1 + z2 / nn
        let centre = (p + z2 / (2 * nn)) / denom
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / denom
        // At k = 0 (k = n) the bound is exactly 0 (1); clamp the rounding.
        return ConfidenceInterval(lower: k == 0 ? 0 : max(0, centre - half), upper: k == n ? 1 : min(1, centre + half),
                                  level: level, method: "wilson")
    }

    /// Percentile bootstrap interval of the mean of `values` over resampled examples.
    public static func bootstrapMean(_ values: [Double], level: Double = Intervals.level,
                                     resamples: Int = Intervals.resamples, seed: UInt64 = 0) throws -> ConfidenceInterval {
        guard !values.isEmpty else { throw ProbeError.empty("a bootstrap interval needs at least one value") }
        guard resamples >= 10 else { throw ProbeError.invalidArgument("bootstrap: resamples must be ≥ 10 (got \(resamples))") }
        guard level > 0, level < 1 else { throw ProbeError.invalidArgument("confidence level must be in (0, 1), got \(level)") }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw ProbeError.invalidArgument("bootstrap: non-finite value \(values[i]) at index \(i)")
        }
        let n = values.count
        var rng = SeededRandom(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        values.withUnsafeBufferPointer { v in
            for r in 0..<resamples {
                var s = 0.0
                for _ in 0..<n { s += v[rng.int(below: n)] }
                means[r] = s / Double(n)
            }
        }
        means.sort()
        return ConfidenceInterval(lower: quantile(means, (1 - level) / 2), upper: quantile(means, 1 - (1 - level) / 2),
                                  level: level, method: "bootstrap (\(resamples) resamples, seed \(seed))")
    }

    /// Linear-interpolation quantile of sorted values (numpy's default).
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let i = Int(pos.rounded(.down)), frac = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] + frac * (sorted[i + 1] - sorted[i]) : sorted[i]
    }

    /// log P(X = i) for X ~ Binomial(n, ½).
    static func logBinomialHalf(_ n: Int, _ i: Int) -> Double {
        Foundation.lgamma(Double(n + 1)) - Foundation.lgamma(Double(i + 1)) - Foundation.lgamma(Double(n - i + 1))
            - Double(n) * Foundation.log(2.0)
    }

    /// McNemar's exact and mid-p two-sided p-values for b and c discordant pairs (1 when b = c = 0).
    public static func mcNemar(b: Int, c: Int) -> (exact: Double, midP: Double) {
        let n = b + c, k = min(b, c)
        guard n > 0 else { return (1, 1) }
        var tail = 0.0
        for i in 0...k { tail += Foundation.exp(logBinomialHalf(n, i)) }
        let point = Foundation.exp(logBinomialHalf(n, k))
        let exact = min(1, 2 * tail)
        let mid = min(1, 2 * (tail - 0.5 * point))
        return (exact, mid)
    }
}

/// Two probes (A, B) scored on the same test examples: accuracies with Wilson intervals, McNemar, paired bootstrap.
public struct PairedComparison: Codable, Equatable, Sendable {
    public let count: Int
    public let accuracyA: Double
    public let accuracyB: Double
    /// acc_A − acc_B.
    public let difference: Double
    /// Examples only A (b) / only B (c) classifies correctly.
    public let onlyA: Int
    public let onlyB: Int
    public let mcNemarExactP: Double
    public let mcNemarMidP: Double
    /// Percentile interval of acc_A − acc_B over paired resamples of the test examples.
    public let differenceInterval: ConfidenceInterval
    public let bootstrapP: Double

    /// Significant at 1 − level by both McNemar mid-p and the bootstrap interval excluding 0.
    public func significant(level: Double = Intervals.level) -> Bool {
        mcNemarMidP < 1 - level && !differenceInterval.contains(0)
    }

    /// `correctA[i]` / `correctB[i]`: whether A / B classified test example i correctly.
    public init(correctA: [Bool], correctB: [Bool], level: Double = Intervals.level,
                resamples: Int = Intervals.resamples, seed: UInt64 = 0) throws {
        guard correctA.count == correctB.count else {
            throw ProbeError.invalidArgument("paired test: \(correctA.count) predictions for A but \(correctB.count) for B")
        }
        guard !correctA.isEmpty else { throw ProbeError.empty("paired test: no test examples") }
        guard resamples >= 10 else { throw ProbeError.invalidArgument("bootstrap: resamples must be ≥ 10 (got \(resamples))") }
        let n = correctA.count
        var b = 0, c = 0, ka = 0, kb = 0
        // d_i ∈ {−1, 0, 1}: the per-example difference whose mean is acc_A − acc_B.
        var d = [Int8](repeating: 0, count: n)
        for i in 0..<n {
            if correctA[i] { ka += 1 }
            if correctB[i] { kb += 1 }
            if correctA[i] && !correctB[i] { b += 1; d[i] = 1 }
            if !correctA[i] && correctB[i] { c += 1; d[i] = -1 }
        }
        count = n; onlyA = b; onlyB = c
        accuracyA = Double(ka) / Double(n); accuracyB = Double(kb) / Double(n)
        difference = accuracyA - accuracyB
        (mcNemarExactP, mcNemarMidP) = Intervals.mcNemar(b: b, c: c)
        var rng = SeededRandom(seed: seed)
        var diffs = [Double](repeating: 0, count: resamples)
        var le = 0, ge = 0
        d.withUnsafeBufferPointer { dp in
            for r in 0..<resamples {
                var s = 0
                for _ in 0..<n { s &+= Int(dp[rng.int(below: n)]) }
                let v = Double(s) / Double(n)
                diffs[r] = v
                if v <= 0 { le += 1 }
                if v >= 0 { ge += 1 }
            }
        }
        diffs.sort()
        differenceInterval = ConfidenceInterval(lower: Intervals.quantile(diffs, (1 - level) / 2),
                                                upper: Intervals.quantile(diffs, 1 - (1 - level) / 2), level: level,
                                                method: "paired bootstrap (\(resamples) resamples, seed \(seed))")
        bootstrapP = b == c && b == 0 ? 1 : min(1, 2 * Double(min(le, ge)) / Double(resamples))
    }
}

/// One score over K resamplings (seeds or folds): mean ± sample standard deviation (n − 1), and the values.
public struct ResampledScore: Codable, Equatable, Sendable {
    public let values: [Double]
    public let mean: Double
    /// Sample standard deviation (0 for one value).
    public let standardDeviation: Double

    public init(_ values: [Double]) {
        self.values = values
        let n = Double(values.count)
        mean = values.isEmpty ? .nan : values.reduce(0, +) / n
        let m = mean
        standardDeviation = values.count < 2 ? 0 : (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (n - 1)).squareRoot()
    }
}
