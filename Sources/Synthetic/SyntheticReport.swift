import Analysis
import Foundation
import Report

/// Everything `lmprobe synth measure` found: the language, the tasks with their ceilings, and every checkpoint.
public struct SyntheticReport: Codable, Sendable {
    public struct HMMSummary: Codable, Sendable {
        public var directory: String
        public var config: HMMConfig
        /// Entropy rate (nats/word) with its standard error, and ℓ_xent(p*) of windows of the models' context.
        public var entropyRate: Double
        public var entropyRateStandardError: Double
        enum CodingKeys: String, CodingKey {
            case directory, config
            case entropyRate, entropyRateStandardError
        }
    }

    public struct TaskSummary: Codable, Sendable {
        public var spec: SyntheticTaskSpec
        public var directory: String
        /// Probes on p* itself: the logistic one's test loss is τ by fitting.
        public var pStar: [SyntheticProbe]
        /// Control tasks: the Bayes-optimal prediction of the label from the words (forward–backward posterior).
        public var bayes: SyntheticBayes? = nil
        enum CodingKeys: String, CodingKey { case spec, directory, pStar, bayes }
    }

    /// Log–log slope of the excess probe loss over τ against ε (points with positive excess only).
    public struct Slope: Codable, Sendable {
        public var task: String
        public var objective: String
        public var quantity: String
        public var slope: Double
        public var points: Int
    }

    public var tool = "lmprobe synth measure"
    public var createdAt: String
    public var settings: [String: String]
    public var hmm: HMMSummary
    public var tasks: [TaskSummary]
    public var checkpoints: [SyntheticCheckpointPoint]
    public var slopes: [Slope] = []
    /// `synth degrade`: p* degraded toward a chosen ε without training, and the gaps' log–log slopes against ε.
    public var degraded: [SyntheticDegradedPoint]? = nil
    public var degradedSlopes: [Slope]? = nil

    enum CodingKeys: String, CodingKey {
        case tool, settings, hmm, tasks, checkpoints, slopes, degraded
        case createdAt, degradedSlopes
    }

    public init(settings: [String: String], hmm: HMMSummary, tasks: [TaskSummary], checkpoints: [SyntheticCheckpointPoint],
                degraded: [SyntheticDegradedPoint]? = nil) {
        let f = ISO8601DateFormatter()
        createdAt = f.string(from: Date())
        self.settings = settings; self.hmm = hmm; self.tasks = tasks; self.checkpoints = checkpoints
        slopes = computeSlopes()
        if let d = degraded {
            tool = "lmprobe synth degrade"
            self.degraded = d
            degradedSlopes = SyntheticDegrade.slopes(d)
        }
    }

    func computeSlopes() -> [Slope] {
        var out: [Slope] = []
        for t in tasks where t.spec.kind == .natural {
            let tauFit = t.pStar.first { $0.method == "logistic" }?.loss ?? t.spec.tau
            for obj in Array(Set(checkpoints.map(\.objective))).sorted() {
                let pts = checkpoints.filter { $0.objective == obj }.compactMap { c in c.tasks.first { $0.task == t.spec.name } }
                for (quantity, value, base) in [("ℓ(p_f, κv) − τ", { (p: SyntheticTaskPoint) in p.directionLoss }, t.spec.tau),
                                                ("logistic probe on p_f − τ_fit", { (p: SyntheticTaskPoint) in p.probe("p_f", "logistic")?.loss }, tauFit)] {
                    var xs: [Double] = [], ys: [Double] = []
                    for p in pts {
                        if let v = value(p), v - base > 0, p.epsilonTask > 0 { xs.append(log(p.epsilonTask)); ys.append(log(v - base)) }
                    }
                    out.append(Slope(task: t.spec.name, objective: obj, quantity: quantity,
                                     slope: Correlation.slope(xs, ys), points: xs.count))
                }
            }
        }
        return out
    }

    static func f(_ x: Double?, _ digits: Int = 4) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.\(digits)f", x)
    }

    /// Three significant digits (ε_quad and its references span decades).
    static func g(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.3g", x)
    }

    /// The context-free references of the measured windows, once per context length (every checkpoint of one
    /// length sees the same windows): E KL(p* ‖ p̄) (CE) and ½E‖p* − u‖² (Quad, Φ-free). Empty without them.
    func contextFreeLines() -> String {
        var seen: Set<Int> = []
        var s = ""
        for c in checkpoints {
            let e = c.epsilon, T = e.positions / max(e.windows, 1)
            guard let kl = e.contextFreeKL, let sq = e.unigramSquare, seen.insert(T).inserted else { continue }
            s += "Context-free references on the \(e.windows) held-out windows of \(T) words: the best constant prediction p̄ = E p* "
            s += "has ε = E KL(p* ‖ p̄) = \(Self.f(kl)) (a model above it has learned nothing from the context); "
            s += "½E‖p* − u‖² = \(Self.g(sq)) (u = πᵀE the unigram distribution): the context-free Quad excess without Φ, "
            s += "an upper bound on ε_quad^cf for every Φ.\n\n"
        }
        return s
    }

    static func acc(_ p: SyntheticProbe?) -> String {
        guard let p else { return "–" }
        return String(format: "%.1f [%.1f, %.1f]", 100 * p.accuracy, 100 * p.accuracyLower, 100 * p.accuracyUpper)
    }

    public func markdown() -> String {
        var s = "# Synthetic language: the paper's theorem measured\n\n"
        s += "HMM `\(hmm.directory)`: K = \(hmm.config.states) states, V = \(hmm.config.words) words, Dirichlet("
        s += "\(hmm.config.emissionConcentration)) emissions, Dirichlet(\(hmm.config.transitionConcentration)) transitions, "
        s += "\(hmm.config.classes) word classes of \(hmm.config.classSize), seed \(hmm.config.seed). "
        s += "Entropy rate \(Self.f(hmm.entropyRate)) ± \(Self.f(hmm.entropyRateStandardError)) nats/word.\n\n"
        s += "ε = E_s KL(p*(·|s) ‖ p_f(s)) on held-out stationary windows (every position; ± standard error over windows); "
        s += "ε_task on the task's test contexts; bound = τ + B·√(2·ε_task) (γ = 1: measured on the task's own contexts); "
        s += "bound (ε/γ) = τ + B·√(2ε/γ), the theorem read literally with the pretraining ε and γ = min_k P(prompt | z = k)/T. "
        s += "ε_quad^cf = ½E‖P_Φ(p* − p̄)‖² is the Quad excess of the best context-free f for the checkpoint's Φ (ε_quad/ε_quad^cf = 1: "
        s += "nothing learned beyond a constant). f* = (ΦᵀΦ)⁻¹Φᵀp* is the Quad optimum for the checkpoint's Φ: its probe is the f* probe ceiling, "
        s += "beside the p* ceiling of each task. "
        s += "ℓ(p_f, κv) is the task's own direction applied to p_f without fitting. Probe losses: logistic test log-loss (nats), "
        s += "C by \(settings["folds"] ?? "3")-fold CV log-loss over {\(settings["logistic_Cs"] ?? "")}, at most \(settings["max_iterations"] ?? "–") L-BFGS iterations; accuracies in % with 95 % Wilson intervals.\n\n"
        s += contextFreeLines()
        for t in tasks {
            let spec = t.spec
            s += "## Task `\(spec.name)` (\(spec.kind.rawValue)"
            if spec.kind == .natural { s += ", \(spec.label?.rawValue ?? "") labels, direction \(spec.direction?.rawValue ?? "")" }
            else { s += ", parity of the hidden state \(spec.lag ?? 0) words before the last" }
            s += ")\n\n"
            s += "\(spec.trainCount) train / \(spec.testCount) test contexts of \(spec.length) words"
            s += spec.prompt.isEmpty ? "" : " + prompt \(spec.prompt)"
            s += "; majority class \(Self.f(100 * spec.majority, 1)) %. "
            if spec.kind == .natural {
                s += "κ = B = \(Self.f(spec.B, 2)), τ = ℓ_T(p*, κv) = \(Self.f(spec.tau)) ± \(Self.f(spec.tauStandardError))"
                if let e = spec.tauExpected { s += " (expectation over labels \(Self.f(e)))" }
                s += ". "
            } else {
                s += "Loss of no features (label entropy) \(Self.f(spec.tau)). "
            }
            let lp = t.pStar.first { $0.method == "logistic" }, rp = t.pStar.first { $0.method == "ridge" }
            s += "Probes on p*: logistic loss (τ by fitting) \(Self.f(lp?.loss)), accuracy \(Self.acc(lp)); ridge accuracy \(Self.acc(rp)). "
            s += "The f* probe ceiling (the Quad optimum for each checkpoint's Φ) is in the table's f* columns."
            if let b = t.bayes {
                s += String(format: " Bayes-optimal from the words (forward–backward posterior of the hidden state): accuracy %.1f [%.1f, %.1f] %%, expected %.1f %%, loss %.4f.",
                            100 * b.accuracy, 100 * b.accuracyLower, 100 * b.accuracyUpper, 100 * b.expectedAccuracy, b.loss)
            }
            s += "\n\n"
            if !checkpoints.isEmpty || degraded == nil { s += checkpointTable(spec) }
            s += degradedTable(spec)
            s += "\n"
        }
        return s
    }

    func checkpointTable(_ spec: SyntheticTaskSpec) -> String {
        var s = ""
        s += "| run | objective | step | ε | ε_quad | ε_quad^cf | ε_quad/ε_quad^cf | ε_task | bound | bound (ε/γ) | ℓ(p_f, κv) | logistic p_f | Φp_f | f | f* | acc p_f | acc Φp_f | acc f | acc f* | ridge acc p_f | ridge acc f |\n"
        s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for c in checkpoints {
            guard let p = c.tasks.first(where: { $0.task == spec.name }) else { continue }
            s += "| \(c.run) | \(c.objective) | \(c.step) | \(Self.f(c.epsilon.epsilon)) ± \(Self.f(c.epsilon.epsilonStandardError)) | "
            let e = c.epsilon
            let ratio = e.epsilonQuad.flatMap { q in e.epsilonQuadContextFree.map { q / $0 } }
            s += "\(Self.g(e.epsilonQuad)) | \(Self.g(e.epsilonQuadContextFree)) | \(Self.f(ratio, 3)) | \(Self.f(p.epsilonTask)) | \(Self.f(p.bound)) | \(Self.f(p.boundTheorem, 2)) | \(Self.f(p.directionLoss)) | "
            s += "\(Self.f(p.probe("p_f", "logistic")?.loss)) | \(Self.f(p.probe("Φp_f", "logistic")?.loss)) | "
            s += "\(Self.f(p.probe("f", "logistic")?.loss)) | \(Self.f(p.probe("f*", "logistic")?.loss)) | \(Self.acc(p.probe("p_f", "logistic"))) | "
            s += "\(Self.acc(p.probe("Φp_f", "logistic"))) | \(Self.acc(p.probe("f", "logistic"))) | \(Self.acc(p.probe("f*", "logistic"))) | "
            s += "\(Self.acc(p.probe("p_f", "ridge"))) | \(Self.acc(p.probe("f", "ridge"))) |\n"
        }
        let sl = slopes.filter { $0.task == spec.name }
        if !sl.isEmpty {
            s += "\nLog–log slope against ε_task (descriptive, along training; the theorem bounds the level τ + B√(2ε), not a slope):\n\n| objective | quantity | slope | points |\n|---|---|---:|---:|\n"
            for x in sl { s += "| \(x.objective) | \(x.quantity) | \(Self.f(x.slope, 3)) | \(x.points) |\n" }
        }
        return s
    }

    /// The degraded-p* rows of one task (empty without them).
    func degradedTable(_ spec: SyntheticTaskSpec) -> String {
        let rows = (degraded ?? []).filter { $0.task == spec.name }
        guard !rows.isEmpty else { return "" }
        var s = "\nDegraded p* (no training; mix: (1 − α)p* + α·u toward the unigram u, noise: p* e^{σg} renormalised): "
        s += "ε on the test contexts, the direction's gap ℓ(p, κv) − τ against the bound's B√(2ε), and a logistic probe fitted on the degraded p* against τ by fitting.\n\n"
        s += "| degradation | α or σ | target ε | ε | B√(2ε) | bound | ℓ(p, κv) − τ | probe − τ_fit | probe acc |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for p in rows {
            let slack = p.B.map { $0 * (2 * p.epsilon).squareRoot() }
            s += "| \(p.degradation.rawValue) | \(String(format: "%.4g", p.strength)) | \(String(format: "%.3g", p.targetEpsilon)) | "
            s += "\(String(format: "%.3g", p.epsilon)) | \(Self.f(slack)) | \(Self.f(p.bound)) | \(Self.f(p.directionGap, 5)) | "
            s += "\(Self.f(p.probeGap, 5)) | \(Self.acc(p.probes.first { $0.method == "logistic" })) |\n"
        }
        let sl = (degradedSlopes ?? []).filter { $0.task == spec.name }
        if !sl.isEmpty {
            s += "\nLog–log slopes of the gaps against ε (descriptive; the theorem bounds the level, B√(2ε), not a slope):\n\n"
            s += "| degradation | quantity | slope | points |\n|---|---|---:|---:|\n"
            for x in sl { s += "| \(x.objective) | \(x.quantity) | \(Self.f(x.slope, 3)) | \(x.points) |\n" }
        }
        return s
    }

    /// Degraded p* of a natural task on log–log axes: log10 of each gap against log10 ε, with the bound's slack
    /// B√(2ε) as a line. Nil without degraded points for the task.
    public func svgDegraded(task name: String) -> String? {
        guard let t = tasks.first(where: { $0.spec.name == name }), t.spec.kind == .natural, let B = t.spec.B else { return nil }
        let rows = (degraded ?? []).filter { $0.task == name }
        guard !rows.isEmpty else { return nil }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        for mode in SyntheticDegradation.allCases {
            for (label, value) in [("ℓ(p, κv) − τ", { (p: SyntheticDegradedPoint) in p.directionGap }),
                                   ("probe − τ_fit", { (p: SyntheticDegradedPoint) in p.probeGap })] {
                let pts: [(x: Double, y: Double)] = rows.filter { $0.degradation == mode }.compactMap { p in
                    guard let y = value(p), y > 0, p.epsilon > 0 else { return nil }
                    return (log10(p.epsilon), log10(y))
                }
                if !pts.isEmpty { series.append(("\(mode.rawValue): \(label)", pts)) }
            }
        }
        let xs = rows.map(\.epsilon).filter { $0 > 0 }.map(log10)
        if let lo = xs.min(), let hi = xs.max() {
            series.append(("bound: B√(2ε)", [lo, hi].map { x in (x, log10(B * (2 * pow(10, x)).squareRoot())) }))
        }
        return SVGChart.lines(title: "Task \(name): degraded p*, gap to τ against ε (log10, B = \(Self.f(B, 1)))", xLabel: "log10 ε",
                              yLabel: "log10 (loss − τ)", series: series, percent: false)
    }

    /// For Quad runs: logistic probe losses on f and Φp_f against √ε_quad (the Quad objective's own excess, by which
    /// the paper bounds f on Φ-natural tasks), with τ by fitting on p* as a line. Nil without Quad checkpoints.
    public func svgQuad(task name: String) -> String? {
        guard let t = tasks.first(where: { $0.spec.name == name }) else { return nil }
        let quad = checkpoints.filter { $0.epsilon.epsilonQuad != nil }
        guard !quad.isEmpty else { return nil }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        var xmax = 0.0
        for (feature, label) in [("f", "f"), ("Φp_f", "Φp_f")] {
            let pts: [(x: Double, y: Double)] = quad.compactMap { c in
                guard let q = c.epsilon.epsilonQuad, let p = c.tasks.first(where: { $0.task == name }),
                      let y = p.probe(feature, "logistic")?.loss else { return nil }
                return (max(q, 0).squareRoot(), y)
            }
            xmax = max(xmax, pts.map(\.x).max() ?? 0)
            series.append(("Quad: logistic probe on \(label)", pts))
        }
        if let tauFit = t.pStar.first(where: { $0.method == "logistic" })?.loss {
            series.append(("τ by fitting on p*", [(0, tauFit), (xmax, tauFit)]))
        }
        return SVGChart.lines(title: "Task \(name): Quad probe loss against √ε_quad", xLabel: "√ε_quad",
                              yLabel: "test logistic loss (nats)", series: series, percent: false)
    }

    /// Probe loss against √ε_task for a natural task, with the bound τ + B·√2·x as a line (cut where it leaves the
    /// plotted range) and τ; CE and Quad points in their own colours.
    public func svg(task name: String) -> String? {
        guard let t = tasks.first(where: { $0.spec.name == name }), t.spec.kind == .natural, let B = t.spec.B else { return nil }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        let objectives = Array(Set(checkpoints.map(\.objective))).sorted()
        var ys: [Double] = [t.spec.tau], xmax = 0.0
        for (label, value) in [("logistic probe on p_f", { (p: SyntheticTaskPoint) in p.probe("p_f", "logistic")?.loss }),
                               ("ℓ(p_f, κv)", { (p: SyntheticTaskPoint) in p.directionLoss })] {
            for obj in objectives {
                let pts: [(x: Double, y: Double)] = checkpoints.filter { $0.objective == obj }.compactMap { c in
                    guard let p = c.tasks.first(where: { $0.task == name }), let y = value(p) else { return nil }
                    return (max(p.epsilonTask, 0).squareRoot(), y)
                }
                ys += pts.map(\.y); xmax = max(xmax, pts.map(\.x).max() ?? 0)
                series.append(("\(obj.uppercased()): \(label)", pts))
            }
        }
        let cap = (ys.max() ?? 1) * 1.3
        let xEnd = min(xmax, max(0, (cap - t.spec.tau) / (B * 2.0.squareRoot())))
        series.append(("bound τ + B√(2ε)", [(0, t.spec.tau), (xEnd, t.spec.tau + B * 2.0.squareRoot() * xEnd)]))
        series.append(("τ = ℓ_T(p*, κv)", [(0, t.spec.tau), (xmax, t.spec.tau)]))
        return SVGChart.lines(title: "Task \(name): probe loss against √ε (B = \(Self.f(B, 1)))", xLabel: "√ε_task",
                              yLabel: "test logistic loss (nats)", series: series, percent: false)
    }
}
