import Analysis
import Foundation
import Model
import Probes

// The Markdown and SVG renderings of the theory checks (Analysis computes them; rendering lives here).

/// Formats a number for Markdown with `digits` decimals (NaN as "—").
func fmt(_ x: Double, _ digits: Int = 4) -> String {
    x.isFinite ? String(format: "%.\(digits)f", x) : "—"
}


extension HyperplaneCheck {
    public func markdown() -> String {
        var s = "f(s) on the final LayerNorm's hyperplane: **\(onHyperplane ? "yes" : "no")**"
        if let r = maxRelativeResidual { s += " (max |Σ(f − β)/γ| / (‖(f − β)/γ‖√d) = \(String(format: "%.2g", r))" }
        else { s += " (" }
        s += "; λ_min/λ_max of the centred covariance of f = \(String(format: "%.2g", covarianceEigenRatio)))."
        if onHyperplane {
            s += " Every f lies on wᵀ(f − β) = 0 with w = 1/γ, so the Gram of f is singular and the affine fit is solved"
            s += " with a pseudo-inverse: one direction of f carries no information."
        }
        return s + "\n"
    }
}

extension TransferCheck {
    /// Markdown: the per-checkpoint table (accuracy % and probe loss per family) and the correlations.
    public func markdown() -> String {
        var out = "### Transfer vs language-model quality\n\n"
        out += "ℓ* = \(fmt(bestValidationLoss)): \(bestLossSource). Accuracy in % (± half the 95 % Wilson interval), probe loss in brackets. Correlations over \(checkpoints.count) checkpoints are descriptive: with so few points none is a test.\n\n"
        out += "| checkpoint | step | tokens | val. CE ℓ | √(ℓ − ℓ*) | " + features.joined(separator: " | ") + " |\n"
        out += "|---|---:|---:|---:|---:|" + String(repeating: "---:|", count: features.count) + "\n"
        for (i, c) in checkpoints.enumerated() {
            out += "| \(c.label) | \(c.step) | \(c.tokensSeen.map(String.init) ?? "—") | \(fmt(c.validationLoss)) | \(fmt(sqrtExcessLoss[i])) |"
            for f in features {
                if let p = c.probes[f] {
                    out += " \(String(format: "%.1f", 100 * p.accuracy))"
                    if let ci = p.interval { out += String(format: " ±%.1f", 100 * ci.halfWidth) }
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
        svg(x: sqrtExcess ? .sqrtExcessLoss : .validationLoss, title: title)
    }

    /// Accuracy against the chosen axis: one line per feature family, or per run × family when the checkpoints
    /// come from several runs (same colour for a run's families would hide them, so each pair has its own).
    /// Checkpoints without tokens seen are left out of the tokens axis.
    public func svg(x axis: Axis, title: String) -> String {
        let runs = checkpoints.reduce(into: [String?]()) { if !$0.contains($1.run) { $0.append($1.run) } }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        for run in runs {
            for f in features {
                let points = checkpoints.indices.compactMap { i -> (x: Double, y: Double)? in
                    guard checkpoints[i].run == run, let p = checkpoints[i].probes[f] else { return nil }
                    switch axis {
                    case .validationLoss: return (checkpoints[i].validationLoss, p.accuracy)
                    case .sqrtExcessLoss: return (sqrtExcessLoss[i], p.accuracy)
                    case .tokensSeen: return checkpoints[i].tokensSeen.map { (Double($0), p.accuracy) }
                    }
                }
                series.append((name: (run.map { $0 + " · " } ?? "") + f, points: points))
            }
        }
        let xLabel: String
        switch axis {
        case .validationLoss: xLabel = "validation cross-entropy"
        case .sqrtExcessLoss: xLabel = "√(validation CE − best)"
        case .tokensSeen: xLabel = "training tokens seen"
        }
        return SVGChart.lines(title: title, xLabel: xLabel, yLabel: "probe accuracy", series: series, percent: true)
    }
}

extension PlugInQuadLoss {
    public func markdown(quad: SplitLoss? = nil) -> String {
        var out = "### Plug-in Quad loss on the frozen Φ\n\n"
        out += "f = G⁻¹Φᵀp_CE(s) from the reference model, scored with the Quad objective on the real next token over "
        out += "\(windows) validation windows (\(tokens) tokens): **\(fmt(loss, 5)) ± \(fmt(standardError, 5))** "
        out += "(reference CE on the same tokens \(fmt(referenceCrossEntropy, 4))).\n"
        if let c = contextFreeLoss {
            out += "The best context-free f for this Φ (c = G⁻¹Φᵀû, û the next-word frequencies of the same positions) "
            out += "scores −½ûᵀP_Φû = **\(fmt(c, 5))**; the context-dependent part of the reachable loss is "
            out += "\(fmt(c - loss, 5)).\n"
        }
        if let q = quad {
            let gap = abs(q.objective - loss) / abs(loss)
            out += "Quad model on the same windows: \(fmt(q.objective, 5)) ± \(fmt(q.objectiveStandardError, 5)); "
            out += String(format: "relative gap %.1f %% (measured from f = 0) — %@.\n", 100 * gap,
                          gap <= 0.10 ? "within 10 % of the plug-in value" : "NOT within 10 % of the plug-in value")
            if let c = contextFreeLoss, c - loss > 0 {
                out += String(format: "Measured from the best constant f instead: %.1f %% of the context-dependent part reached, (c − q)/(c − plug-in).\n",
                              100 * (c - q.objective) / (c - loss))
            }
        }
        return out
    }
}

extension LinearityCheck {
    /// A short Markdown section.
    public func markdown() -> String {
        let s = heldOutR2PerDimensionSummary
        var out = "### Linearity of f ↦ Φp_f\n\n"
        if let c = contextSet { out += "Contexts: \(c).\n\n" }
        if let z = logPartition, z.isConstant { out += z.warning + "\n" }
        out += "Least-squares fit Φp_f(s) ≈ A f(s) + b on \(fitContexts) contexts, scored on \(heldOutContexts) "
        out += "held-out contexts (seed \(seed), d = \(dimension)"
        if let v = vocabularySize { out += ", V = \(v)" }
        out += "; \(solver)).\n\n"
        out += "| R² | value |\n|---|---:|\n"
        out += "| fit split (pooled) | \(fmt(trainR2)) |\n"
        out += "| held-out (pooled) | **\(fmt(heldOutR2))** |\n"
        out += "| held-out per dimension: mean | \(fmt(s.mean)) |\n"
        out += "| held-out per dimension: median | \(fmt(s.median)) |\n"
        out += "| held-out per dimension: min | \(fmt(s.min)) |\n"
        if let t = taylorHeldOutR2 {
            out += "| held-out, zero-parameter Taylor expansion at the mean context (baseline) | \(fmt(t)) |\n"
        }
        if let sp = spread {
            out += "\nContext spread: RMS distance from the mean context \(fmt(sp.rmsDistance, 3)) = "
            out += "\(fmt(sp.relativeSpread, 3)) × its norm \(fmt(sp.meanNorm, 3))"
            if let z = logPartition { out += String(format: "; log Z mean %.3f, std %.3g", z.mean, z.standardDeviation) }
            out += ". The fitted R² is evidence of linearity only as far as it exceeds the Taylor baseline on "
            out += "contexts this spread out.\n"
        }
        return out
    }
}

extension TrainingCurve {
    public static func svg(_ runs: [Run], title: String = "Training curves") throws -> String {
        guard !runs.isEmpty else { throw AnalysisError.emptyInput("training curve: no runs") }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        var styles: [SVGChart.LineStyle] = []
        for (i, r) in runs.enumerated() {
            guard !r.log.train.isEmpty || !r.log.validation.isEmpty else {
                throw AnalysisError.emptyInput("training curve: run \(r.name) logged no losses yet")
            }
            let prefix = runs.count == 1 ? "" : r.name + " · "
            series.append((prefix + "train loss", r.log.train.map { (Double($0.tokens), $0.value) }))
            styles.append(.init(colour: i, markers: false))
            series.append((prefix + "validation loss", r.log.validation.map { (Double($0.tokens), $0.value) }))
            styles.append(.init(colour: i, dashed: true, markers: true))
        }
        return SVGChart.lines(title: title, xLabel: "tokens seen", yLabel: "loss", series: series, percent: false,
                              styles: styles)
    }

    /// Markdown summary: per run, steps and tokens logged, last training loss, best and last validation loss.
    public static func markdown(_ runs: [Run]) -> String {
        var out = "| run | steps | tokens | last train loss | best val loss (step) | last val loss | last val CE |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|\n"
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "—" }
        for r in runs {
            let last = r.log.train.last, lastVal = r.log.validation.last
            let best = r.log.validation.min { $0.value < $1.value }
            let steps = max(last?.step ?? 0, lastVal?.step ?? 0), tokens = max(last?.tokens ?? 0, lastVal?.tokens ?? 0)
            out += "| \(r.name) | \(steps) | \(tokens) | \(f(last?.value)) | "
            out += "\(best.map { "\(f($0.value)) (\($0.step))" } ?? "—") | \(f(lastVal?.value)) | "
            out += "\(f(r.log.validationCrossEntropy.last?.value)) |\n"
        }
        return out
    }
}

extension LogPartitionCheck {
    public func markdown() -> String {
        var out = "### Quadratic log-partition\n\n"
        if let c = contextSet { out += "Contexts: \(c).\n\n" }
        if let z = constant, z.isConstant { out += z.warning + "\n" }
        out += "Fit of log Z(θ) = log Σ_w exp(φ_wᵀθ) over θ = f(s): \(fitContexts) fit contexts, \(heldOutContexts) "
        out += "held out (seed \(seed)); quadratic model: \(methodDescription). "
        out += "log Z on all contexts: mean \(fmt(logPartitionSummary.mean, 3)), range [\(fmt(logPartitionSummary.min, 3)), "
        out += "\(fmt(logPartitionSummary.max, 3))].\n\n"
        out += "| model | parameters | held-out rel. error (mean) | (median) | held-out R² | fit R² |\n"
        out += "|---|---:|---:|---:|---:|---:|\n"
        for q in [quadratic, linear] + [taylorSecondOrder, taylorFirstOrder].compactMap({ $0 }) {
            out += "| \(q.model) | \(q.parameters) | \(fmt(q.heldOutRelativeErrorMean, 5)) | "
            out += "\(fmt(q.heldOutRelativeErrorMedian, 5)) | \(fmt(q.heldOutR2)) | \(fmt(q.trainR2)) |\n"
        }
        if let sp = spread {
            out += "\nContext spread: RMS distance from the mean context \(fmt(sp.rmsDistance, 3)) = "
            out += "\(fmt(sp.relativeSpread, 3)) × its norm \(fmt(sp.meanNorm, 3)); log Z std "
            out += "\(fmt(constant?.standardDeviation ?? .nan, 4)). The fitted models are evidence of a quadratic log Z "
            out += "only as far as they beat the zero-parameter Taylor rows.\n"
        }
        return out
    }
}
