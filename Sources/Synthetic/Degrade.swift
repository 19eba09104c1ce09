import Analysis
import Foundation
import Linalg
import Probes
import Support
import Report

/// How `lmprobe synth degrade` spoils p* to reach a chosen ε without training:
/// mix: p_α = (1 − α)·p* + α·u, u = πᵀE the HMM's unigram distribution (the best context-free prediction);
/// noise: p_σ ∝ p*·exp(σ·g), g ~ N(0, 1) independently per context and word (log-space noise; zeros stay zero).
public enum SyntheticDegradation: String, Codable, CaseIterable, Sendable { case mix, noise }

/// One degraded p* on one task: the ε it has on the task's test contexts, and what the paper's bound says about it.
public struct SyntheticDegradedPoint: Codable, Equatable, Sendable {
    public var task: String
    public var degradation: SyntheticDegradation
    /// The ε asked for, and the α (mix) or σ (noise) that reaches it on the test contexts.
    public var targetEpsilon: Double
    public var strength: Double
    /// ε = E_s KL(p*(·|s) ‖ p_degraded(·|s)) over the test contexts, with its standard error over contexts.
    public var epsilon: Double
    public var epsilonStandardError: Double
    /// Natural tasks: τ, B, the bound τ + B√(2ε), ℓ(p_degraded, κv) (the task's direction, no fitting) and its gap
    /// to τ (by Pinsker at most B√(2ε)).
    public var tau: Double?
    public var B: Double?
    public var bound: Double?
    public var directionLoss: Double?
    public var directionGap: Double?
    /// Logistic test loss of a standardised probe fitted on the degraded distributions minus τ by fitting (the same
    /// probe on p*).
    public var probeGap: Double?
    /// Logistic and ridge probes fitted on the degraded distributions (feature "p_degraded").
    public var probes: [SyntheticProbe]

    enum CodingKeys: String, CodingKey {
        case task, degradation, strength, epsilon, tau, B = "b", bound, probes
        case targetEpsilon, epsilonStandardError
        case directionLoss, directionGap, probeGap
    }
}

public enum SyntheticDegrade {
    /// u = πᵀE: the probability of each word at a stationary position.
    public static func unigram(_ hmm: HiddenMarkovModel) -> [Double] {
        (0..<hmm.words).map { w in (0..<hmm.states).reduce(0.0) { $0 + hmm.initial[$1] * hmm.emission[$1, w] } }
    }

    /// n × V standard normal draws, deterministic in `seed`.
    public static func noise(rows: Int, cols: Int, seed: UInt64) -> Matrix<Double> {
        var rng = SeededRandom(seed: seed)
        return Matrix<Double>(rows: rows, cols: cols) { _, _ in rng.normal() }
    }

    /// KL(p ‖ p_degraded) of one row at `strength`, in closed form without building p_degraded:
    /// mix:   Σ_w p_w log(p_w / ((1 − α)p_w + α u_w));
    /// noise: log Σ_w p_w e^{σ g_w} − σ Σ_w p_w g_w (the normaliser of p e^{σg} against its mean exponent).
    static func kl(_ p: UnsafePointer<Double>, count V: Int, _ mode: SyntheticDegradation, _ strength: Double,
                   unigram u: [Double], noise g: UnsafePointer<Double>?) -> Double {
        var kl = 0.0
        switch mode {
        case .mix:
            for w in 0..<V where p[w] > 0 { kl += p[w] * Foundation.log(p[w] / ((1 - strength) * p[w] + strength * u[w])) }
        case .noise:
            guard let g else { return .nan }
            var m = -Double.infinity, mean = 0.0
            for w in 0..<V where p[w] > 0 { m = max(m, Foundation.log(p[w]) + strength * g[w]); mean += p[w] * g[w] }
            var s = 0.0
            for w in 0..<V where p[w] > 0 { s += Foundation.exp(Foundation.log(p[w]) + strength * g[w] - m) }
            kl = m + Foundation.log(s) - strength * mean
        }
        return max(0, kl)
    }

    /// Per-row KL(p*_i ‖ degraded p*_i) of an n × V table.
    public static func klRows(_ p: Matrix<Double>, _ mode: SyntheticDegradation, strength: Double, unigram u: [Double],
                              noise g: Matrix<Double>?) -> [Double] {
        var out = [Double](repeating: 0, count: p.rows)
        out.withUnsafeMutableBufferPointer { o in
            parallelChunks(p.rows, minChunk: 64) { rows in
                for r in rows {
                    o[r] = kl(p.pointer + r &* p.stride, count: p.cols, mode, strength, unigram: u,
                              noise: g.map { $0.pointer + r &* $0.stride })
                }
            }
        }
        return out
    }

    /// The degraded table itself (n × V), rows summing to 1.
    public static func apply(_ p: Matrix<Double>, _ mode: SyntheticDegradation, strength: Double, unigram u: [Double],
                             noise g: Matrix<Double>?) -> Matrix<Double> {
        let q = Matrix<Double>(rows: p.rows, cols: p.cols)
        let V = p.cols
        for r in 0..<p.rows {
            let pr = p.pointer + r &* p.stride, qr = q.pointer + r &* q.stride
            switch mode {
            case .mix:
                for w in 0..<V { qr[w] = (1 - strength) * pr[w] + strength * u[w] }
            case .noise:
                let gr = g!.pointer + r &* g!.stride
                var m = -Double.infinity
                for w in 0..<V where pr[w] > 0 { m = max(m, Foundation.log(pr[w]) + strength * gr[w]) }
                var s = 0.0
                for w in 0..<V { qr[w] = pr[w] > 0 ? Foundation.exp(Foundation.log(pr[w]) + strength * gr[w] - m) : 0; s += qr[w] }
                for w in 0..<V { qr[w] /= s }
            }
        }
        return q
    }

    /// The strength at which the mean KL over `p`'s rows equals `target` (bisection: the mean KL is 0 at strength 0
    /// and increases with it — for mix because KL(p ‖ (1 − α)p + αu) is convex in α with its minimum 0 at α = 0, for
    /// noise because it is a cumulant generating function minus its tangent at 0). Nil when `target` is beyond
    /// reach (mix: above ε at α = 1, i.e. E KL(p* ‖ u); noise: above ε at σ = 1024).
    public static func calibrate(target: Double, _ p: Matrix<Double>, _ mode: SyntheticDegradation, unigram u: [Double],
                                 noise g: Matrix<Double>?) -> Double? {
        func eps(_ s: Double) -> Double { meanAndStandardError(klRows(p, mode, strength: s, unigram: u, noise: g)).mean }
        guard target > 0, target.isFinite else { return nil }
        var hi = 1.0
        if mode == .noise {
            while eps(hi) < target { hi *= 2; if hi > 1024 { return nil } }
        } else if eps(hi) < target { return nil }
        var lo = 0.0
        for _ in 0..<60 {
            let mid = 0.5 * (lo + hi)
            if eps(mid) < target { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// `count` targets spread evenly in log over [from, to] (both included).
    public static func grid(from lo: Double, to hi: Double, perDecade: Int) -> [Double] {
        let decades = Foundation.log10(hi / lo)
        let n = max(1, Int((decades * Double(perDecade)).rounded()) + 1)
        return n == 1 ? [lo] : (0..<n).map { lo * Foundation.pow(10, decades * Double($0) / Double(n - 1)) }
    }

    /// Scores degraded p* on one task at every target ε and each degradation: ε, the direction's loss, the bound,
    /// and probes fitted on the degraded train split, scored on the degraded test split. `tauFit` is the logistic
    /// probe's loss on p* itself. Targets out of reach are skipped (reported through `log`).
    public static func points(task: LoadedSyntheticTask, hmm: HiddenMarkovModel, modes: [SyntheticDegradation],
                              targets: [Double], tauFit: Double?, options: SyntheticMeasureOptions, seed: UInt64,
                              log: (String) -> Void = { _ in }) throws -> [SyntheticDegradedPoint] {
        let spec = task.spec
        try SystemMemory.require([[task.pStarTrain.rows, hmm.words, 8, 5], [task.pStarTest.rows, hmm.words, 8, 5]],
                                 for: "degrading p* of task \(spec.name) (noise and degraded copies of both n × V tables)")
        let u = unigram(hmm)
        var out: [SyntheticDegradedPoint] = []
        for mode in modes {
            let gTrain = mode == .noise ? noise(rows: task.pStarTrain.rows, cols: hmm.words, seed: seed ^ 0x7EA1) : nil
            let gTest = mode == .noise ? noise(rows: task.pStarTest.rows, cols: hmm.words, seed: seed ^ 0x7E57) : nil
            for target in targets {
                guard let s = calibrate(target: target, task.pStarTest, mode, unigram: u, noise: gTest) else {
                    log(String(format: "task %@, %@: ε = %.3g is beyond reach; skipped", spec.name, mode.rawValue, target))
                    continue
                }
                let (e, se) = meanAndStandardError(klRows(task.pStarTest, mode, strength: s, unigram: u, noise: gTest))
                let train = apply(task.pStarTrain, mode, strength: s, unigram: u, noise: gTrain)
                let test = apply(task.pStarTest, mode, strength: s, unigram: u, noise: gTest)
                var p = SyntheticDegradedPoint(task: spec.name, degradation: mode, targetEpsilon: target, strength: s,
                                               epsilon: e, epsilonStandardError: se, probes: [])
                if spec.kind == .natural, let v = task.direction, let k = spec.kappa, let b = spec.bias, let B = spec.B {
                    let scores = try SyntheticTask.scores(test, direction: v)
                    let loss = SyntheticTask.directionLoss(scores: scores, labels: task.test.labels, kappa: k, bias: b).mean
                    p.tau = spec.tau; p.B = B; p.bound = spec.tau + B * (2 * e).squareRoot()
                    p.directionLoss = loss; p.directionGap = loss - spec.tau
                }
                p.probes = try SyntheticMeasure.probes(feature: "p_degraded", train: train, trainLabels: task.train.labels,
                                                       test: test, testLabels: task.test.labels, options: options)
                if let t = tauFit, let l = p.probes.first(where: { $0.method == "logistic" }) { p.probeGap = l.loss - t }
                var line = String(format: "task %@, %@ %.4g: ε %.3g (target %.3g)", spec.name, mode.rawValue, s, e, target)
                if let d = p.directionGap, let b = p.bound { line += String(format: ", ℓ(p, κv) − τ %.3g, bound %.4f", d, b) }
                if let g = p.probeGap { line += String(format: ", probe − τ_fit %.3g", g) }
                log(line)
                out.append(p)
            }
        }
        return out
    }

    /// Log–log slopes of each gap against ε, per task × degradation (points with a positive gap only).
    public static func slopes(_ points: [SyntheticDegradedPoint]) -> [SyntheticReport.Slope] {
        var out: [SyntheticReport.Slope] = []
        let tasks = points.map(\.task).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for t in tasks {
            for mode in SyntheticDegradation.allCases {
                let pts = points.filter { $0.task == t && $0.degradation == mode }
                guard !pts.isEmpty else { continue }
                for (quantity, value) in [("ℓ(p, κv) − τ", { (p: SyntheticDegradedPoint) in p.directionGap }),
                                          ("logistic probe − τ_fit", { (p: SyntheticDegradedPoint) in p.probeGap })] {
                    guard pts.contains(where: { value($0) != nil }) else { continue }   // e.g. no direction on a control task
                    var xs: [Double] = [], ys: [Double] = []
                    for p in pts { if let v = value(p), v > 0, p.epsilon > 0 { xs.append(Foundation.log(p.epsilon)); ys.append(Foundation.log(v)) } }
                    out.append(.init(task: t, objective: "degraded: \(mode.rawValue)", quantity: quantity,
                                     slope: Correlation.slope(xs, ys), points: xs.count))
                }
            }
        }
        return out
    }
}

extension SyntheticDegrade {
    /// `lmprobe synth degrade` end to end: every task × degradation × target ε → `report.json` and `report.md` (the
    /// `synth measure` report with `degraded` rows and no checkpoints) and `TASK-degraded.svg` per natural task,
    /// written into a staging folder and put in place as `out` at the end.
    public static func study(hmmDirectory: URL, taskDirectories: [URL], out: URL, modes: [SyntheticDegradation],
                             targets: [Double], options: SyntheticMeasureOptions,
                             log: (String) -> Void = { _ in }) throws -> SyntheticReport {
        guard !taskDirectories.isEmpty else { throw SyntheticError.badArgument("give at least one --task") }
        guard !modes.isEmpty, !targets.isEmpty else { throw SyntheticError.badArgument("give at least one degradation and one target ε") }
        for d in ["points", "features"] where FileManager.default.fileExists(atPath: out.appendingPathComponent(d).path) {
            throw SyntheticError.badArgument("--out \(out.path) holds a `synth measure` report (\(d)/); choose another folder")
        }
        let staging = try OutputFolder(replacing: out, markers: ["report.json"])
        defer { staging.discard() }
        let hmm = try HiddenMarkovModel.load(from: hmmDirectory)
        let tasks = try taskDirectories.map { try LoadedSyntheticTask(directory: $0, hmm: hmm) }
        let names = tasks.map(\.spec.name)
        guard Set(names).count == names.count else { throw SyntheticError.badArgument("two tasks share a name: \(names)") }
        let h = try hmm.entropyRate(sequences: 200, length: 1000, burnIn: 200, seed: options.seed ^ 0xE7)
        var summaries: [SyntheticReport.TaskSummary] = [], points: [SyntheticDegradedPoint] = []
        for t in tasks {
            let ps = try SyntheticMeasure.pStarProbes(t, options: options)
            summaries.append(.init(spec: t.spec, directory: t.directory.path, pStar: ps,
                                   bayes: try SyntheticMeasure.controlBayes(t, hmm: hmm)))
            let tauFit = ps.first { $0.method == "logistic" }?.loss
            points += try Self.points(task: t, hmm: hmm, modes: modes, targets: targets, tauFit: tauFit, options: options,
                                      seed: options.seed, log: log)
        }
        let settings = ["hmm": hmmDirectory.path, "tasks": taskDirectories.map(\.path).joined(separator: ", "),
                        "degradations": modes.map(\.rawValue).joined(separator: ","),
                        "targets": targets.map { String(format: "%g", $0) }.joined(separator: ","),
                        "seed": "\(options.seed)", "folds": "\(options.folds)", "max_iterations": "\(options.maxIterations)",
                        "logistic_Cs": options.logisticCs.map { String(format: "%g", $0) }.joined(separator: ","),
                        "threads": "\(Threads.count)"]
        let report = SyntheticReport(settings: settings,
                                     hmm: .init(directory: reportPath(hmmDirectory.path), config: hmm.config, entropyRate: h.rate,
                                                entropyRateStandardError: h.standardError),
                                     tasks: summaries, checkpoints: [], degraded: points)
        try ReportWriter.writeJSON(report, to: staging.url.appendingPathComponent("report.json"))
        try ReportWriter.writeText(report.markdown(), to: staging.url.appendingPathComponent("report.md"))
        for t in tasks {
            if let svg = report.svgDegraded(task: t.spec.name) {
                try ReportWriter.writeText(svg, to: staging.url.appendingPathComponent("\(t.spec.name)-degraded.svg"))
            }
        }
        try staging.commit()
        return report
    }
}
