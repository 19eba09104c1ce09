import Foundation

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

/// Check 3: downstream probe quality against the language model's validation cross-entropy across checkpoints.
public struct TransferCheck: Codable, Equatable, Sendable {
    /// A probe's outcome on one feature family.
    public struct ProbeOutcome: Codable, Equatable, Sendable {
        public var accuracy: Double
        public var loss: Double?
        public init(accuracy: Double, loss: Double? = nil) { self.accuracy = accuracy; self.loss = loss }
    }

    /// One checkpoint of the pretraining run.
    public struct Checkpoint: Codable, Equatable, Sendable {
        public var label: String
        public var step: Int
        public var validationLoss: Double
        /// Feature family → probe outcome.
        public var probes: [String: ProbeOutcome]
        public init(label: String, step: Int, validationLoss: Double, probes: [String: ProbeOutcome]) {
            self.label = label; self.step = step; self.validationLoss = validationLoss; self.probes = probes
        }
    }

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
    public let bestValidationLoss: Double
    /// √(ℓ − ℓ_best) per checkpoint, in `checkpoints` order.
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
        let cps = input.sorted { $0.step < $1.step }
        checkpoints = cps
        let best = cps.map { $0.validationLoss }.min()!
        bestValidationLoss = best
        sqrtExcessLoss = cps.map { ($0.validationLoss - best).squareRoot() }
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

    /// Markdown: the per-checkpoint table (accuracy % and probe loss per family) and the correlations.
    public func markdown() -> String {
        var out = "### Transfer vs language-model quality\n\n"
        out += "Best validation cross-entropy ℓ* = \(fmt(bestValidationLoss)). Accuracy in %, probe loss in brackets.\n\n"
        out += "| checkpoint | step | val. CE ℓ | √(ℓ − ℓ*) | " + features.joined(separator: " | ") + " |\n"
        out += "|---|---:|---:|---:|" + String(repeating: "---:|", count: features.count) + "\n"
        for (i, c) in checkpoints.enumerated() {
            out += "| \(c.label) | \(c.step) | \(fmt(c.validationLoss)) | \(fmt(sqrtExcessLoss[i])) |"
            for f in features {
                if let p = c.probes[f] {
                    out += " \(String(format: "%.1f", 100 * p.accuracy))"
                    if let l = p.loss { out += " (\(fmt(l, 3)))" }
                    out += " |"
                } else { out += " — |" }
            }
            out += "\n"
        }
        out += "\n| feature | checkpoints | Pearson(acc, ℓ) | Spearman(acc, ℓ) | Pearson(acc, √(ℓ − ℓ*)) | Pearson(probe loss, ℓ) |\n"
        out += "|---|---:|---:|---:|---:|---:|\n"
        for c in correlations {
            out += "| \(c.feature) | \(c.checkpoints) | \(fmt(c.pearsonAccuracyLoss, 3)) | \(fmt(c.spearmanAccuracyLoss, 3)) | "
            out += "\(fmt(c.pearsonAccuracySqrtExcess, 3)) | \(c.pearsonProbeLossLoss.map { fmt($0, 3) } ?? "—") |\n"
        }
        return out
    }

    /// Accuracy against validation loss (or against √(ℓ − ℓ*) when `sqrtExcess`), one line per feature family.
    public func svg(sqrtExcess: Bool = false, title: String = "Probe accuracy vs language-model loss") -> String {
        let series = features.map { f in
            (name: f, points: checkpoints.indices.compactMap { i -> (x: Double, y: Double)? in
                guard let p = checkpoints[i].probes[f] else { return nil }
                return (sqrtExcess ? sqrtExcessLoss[i] : checkpoints[i].validationLoss, p.accuracy)
            })
        }
        return SVGChart.lines(title: title, xLabel: sqrtExcess ? "√(validation CE − best)" : "validation cross-entropy",
                              yLabel: "probe accuracy", series: series, percent: true)
    }
}
