import Foundation
import Probes

/// Pearson and Spearman correlation of two equally long lists (NaN when undefined: fewer than 2 points or a
/// constant list). Spearman is Pearson on average ranks (ties share their mean rank).
public enum Correlation {
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count == y.count, x.count >= 2 else { return .nan }
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b; sxx += a * a; syy += b * b
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    /// Ranks 1…n, ties given their average rank.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count == y.count else { return .nan }
        return pearson(ranks(x), ranks(y))
    }

    /// Least-squares slope of y on x (NaN with fewer than 2 points or constant x).
    public static func slope(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count == y.count, x.count >= 2 else { return .nan }
        let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx) }
        return sxx > 0 ? sxy / sxx : .nan
    }
}

/// The power law ℓ(t) = ℓ∞ + a·t^−b fitted by least squares to (step, validation loss) pairs: for each b on a fine
/// grid (0.01…4, then refined by golden section around the best) (ℓ∞, a) is an ordinary least-squares solve, and the
/// b with the smallest residual wins. ℓ∞ estimates the loss the run is heading for — the ℓ* of the O(√(ℓ − ℓ*))
/// bound — instead of taking the last checkpoint's loss as ℓ* (which makes the last √(ℓ − ℓ*) zero by definition).
/// Needs ≥ 3 checkpoints at steps > 0. `usable` is false when the fit is degenerate — a ≤ 0 (the loss does not
/// fall), b at an end of the search (0.01 or 4: the decrements do not shrink like a power law), or ℓ∞ outside
/// (0, smallest observed loss] — and callers then fall back to the smallest observed loss and say so.
public struct LossCurveFit: Codable, Equatable, Sendable {
    public let asymptote: Double
    public let scale: Double
    public let exponent: Double
    public let residualRMS: Double
    public let points: Int
    public let smallestLoss: Double

    /// JSON keys (`JSONCoding`): the properties in snake_case (`residual_rms`).
    enum CodingKeys: String, CodingKey { case asymptote, scale, exponent, residualRMS = "residualRms", points, smallestLoss }

    public var usable: Bool {
        scale > 0 && exponent > 0.0105 && exponent < 3.9 && asymptote.isFinite && asymptote > 0 && asymptote <= smallestLoss
    }

    public init(steps: [Int], losses: [Double]) throws {
        guard steps.count == losses.count else { throw AnalysisError.shapeMismatch("\(steps.count) steps, \(losses.count) losses") }
        let pts = zip(steps, losses).filter { $0.0 > 0 && $0.1.isFinite }
        guard pts.count >= 3 else {
            throw AnalysisError.emptyInput("a loss curve ℓ∞ + a·t^−b needs ≥ 3 checkpoints at steps > 0 (have \(pts.count))")
        }
        let t = pts.map { Double($0.0) }, y = pts.map(\.1)
        func solve(_ b: Double) -> (c: Double, a: Double, sse: Double) {
            let x = t.map { Foundation.pow($0, -b) }
            let n = Double(x.count), mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
            var sxy = 0.0, sxx = 0.0
            for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx) }
            let a = sxx > 0 ? sxy / sxx : 0, c = my - a * mx
            var sse = 0.0
            for i in x.indices { let e = y[i] - c - a * x[i]; sse += e * e }
            return (c, a, sse)
        }
        var bestB = 0.01, best = solve(0.01)
        var b = 0.01
        while b <= 4 { let r = solve(b); if r.sse < best.sse { best = r; bestB = b }; b *= 1.05 }
        var lo = bestB / 1.05, hi = bestB * 1.05
        let phi = (5.0.squareRoot() - 1) / 2
        for _ in 0..<60 {
            let m1 = hi - phi * (hi - lo), m2 = lo + phi * (hi - lo)
            if solve(m1).sse < solve(m2).sse { hi = m2 } else { lo = m1 }
        }
        let bb = (lo + hi) / 2, r = solve(bb)
        let final = r.sse <= best.sse ? (bb, r) : (bestB, best)
        exponent = final.0; asymptote = final.1.c; scale = final.1.a
        residualRMS = (final.1.sse / Double(t.count)).squareRoot()
        points = t.count
        smallestLoss = y.min()!
    }

    public func loss(atStep t: Double) -> Double { asymptote + scale * Foundation.pow(t, -exponent) }
}

/// Check 3: downstream probe quality against the language model's validation cross-entropy across checkpoints.
public struct TransferCheck: Codable, Equatable, Sendable {
    /// A probe's outcome on one feature family.
    public struct ProbeOutcome: Codable, Equatable, Sendable {
        public var accuracy: Double
        public var loss: Double?
        /// 95 % interval of `accuracy` over the test examples.
        public var interval: ConfidenceInterval? = nil
        public init(accuracy: Double, loss: Double? = nil) { self.accuracy = accuracy; self.loss = loss }
    }

    /// One checkpoint of the pretraining run.
    public struct Checkpoint: Codable, Equatable, Sendable {
        public var label: String
        public var step: Int
        public var validationLoss: Double
        /// Feature family → probe outcome.
        public var probes: [String: ProbeOutcome]
        /// Training tokens seen when the checkpoint was written (from its training state), when recorded.
        public var tokensSeen: Int?
        /// The run the checkpoint belongs to, when several runs are analysed together.
        public var run: String?
        public init(label: String, step: Int, validationLoss: Double, probes: [String: ProbeOutcome],
                    tokensSeen: Int? = nil, run: String? = nil) {
            self.label = label; self.step = step; self.validationLoss = validationLoss; self.probes = probes
            self.tokensSeen = tokensSeen; self.run = run
        }
    }

    /// The x axis of `svg`.
    public enum Axis: Sendable { case validationLoss, sqrtExcessLoss, tokensSeen }

    /// Per feature family: correlations over the checkpoints that measured it.
    public struct FamilyCorrelation: Codable, Equatable, Sendable {
        public var feature: String
        public var checkpoints: Int
        /// Accuracy vs validation loss (expected negative: lower loss, higher accuracy).
        public var pearsonAccuracyLoss: Double
        public var spearmanAccuracyLoss: Double
        /// Accuracy vs √(loss − best loss).
        public var pearsonAccuracySqrtExcess: Double
        /// Probe loss vs validation loss, when probe losses are given at ≥ 2 checkpoints.
        public var pearsonProbeLossLoss: Double?
        public var spearmanProbeLossLoss: Double?
    }

    /// Checkpoints sorted by step.
    public let checkpoints: [Checkpoint]
    /// ℓ*: the fitted asymptote ℓ∞ of ℓ(t) = ℓ∞ + a·t^−b when that fit is usable, else the smallest observed loss.
    public let bestValidationLoss: Double
    /// The fit behind ℓ* (nil with fewer than 3 checkpoints).
    public var lossCurve: LossCurveFit? = nil
    /// How ℓ* was obtained, for the report.
    public var bestLossSource: String = "smallest observed validation loss"
    /// √(max(0, ℓ − ℓ*)) per checkpoint, in `checkpoints` order.
    public let sqrtExcessLoss: [Double]
    /// Feature families in first-seen order.
    public let features: [String]
    public let correlations: [FamilyCorrelation]

    public init(checkpoints input: [Checkpoint]) throws {
        guard !input.isEmpty else { throw AnalysisError.emptyInput("transfer check: no checkpoints") }
        for c in input {
            guard c.validationLoss.isFinite else {
                throw AnalysisError.nonFinite("transfer check: checkpoint \(c.label) has validation loss \(c.validationLoss)")
            }
            for (f, p) in c.probes where !p.accuracy.isFinite || p.accuracy < 0 || p.accuracy > 1 {
                throw AnalysisError.invalidArgument("transfer check: checkpoint \(c.label), \(f): accuracy \(p.accuracy) not in [0, 1]")
            }
        }
        let cps = input.sorted { ($0.run ?? "", $0.step) < ($1.run ?? "", $1.step) }
        checkpoints = cps
        var best = cps.map { $0.validationLoss }.min()!
        if Set(cps.map(\.run)).count > 1 {
            // Steps of different runs (sizes, recipes) are not one curve: no ℓ(t) to fit.
            bestLossSource = "smallest observed validation loss (checkpoints of \(Set(cps.map(\.run)).count) runs: no single loss curve to fit)"
        } else if let fit = try? LossCurveFit(steps: cps.map(\.step), losses: cps.map(\.validationLoss)) {
            lossCurve = fit
            if fit.usable {
                best = fit.asymptote
                bestLossSource = String(format: "ℓ∞ of ℓ(t) = ℓ∞ + a·t^−b fitted to the %d checkpoints (a = %.3g, b = %.3g, "
                                        + "residual RMS %.2g)", fit.points, fit.scale, fit.exponent, fit.residualRMS)
            } else {
                bestLossSource = String(format: "smallest observed validation loss (the fit ℓ∞ + a·t^−b is degenerate: "
                                        + "ℓ∞ = %.3g, a = %.3g, b = %.3g)", fit.asymptote, fit.scale, fit.exponent)
            }
        } else {
            bestLossSource = "smallest observed validation loss (fewer than 3 checkpoints to fit ℓ∞ + a·t^−b)"
        }
        bestValidationLoss = best
        sqrtExcessLoss = cps.map { max(0, $0.validationLoss - best).squareRoot() }
        var features = [String]()
        for c in cps { for f in c.probes.keys.sorted() where !features.contains(f) { features.append(f) } }
        self.features = features
        let excess = sqrtExcessLoss
        correlations = features.map { f in
            let idx = cps.indices.filter { cps[$0].probes[f] != nil }
            let acc = idx.map { cps[$0].probes[f]!.accuracy }, loss = idx.map { cps[$0].validationLoss }
            let withLoss = idx.filter { cps[$0].probes[f]!.loss.map { $0.isFinite } ?? false }
            let pl = withLoss.map { cps[$0].probes[f]!.loss! }, vl = withLoss.map { cps[$0].validationLoss }
            return FamilyCorrelation(feature: f, checkpoints: idx.count,
                                     pearsonAccuracyLoss: Correlation.pearson(acc, loss),
                                     spearmanAccuracyLoss: Correlation.spearman(acc, loss),
                                     pearsonAccuracySqrtExcess: Correlation.pearson(acc, idx.map { excess[$0] }),
                                     pearsonProbeLossLoss: withLoss.count >= 2 ? Correlation.pearson(pl, vl) : nil,
                                     spearmanProbeLossLoss: withLoss.count >= 2 ? Correlation.spearman(pl, vl) : nil)
        }
    }



}
