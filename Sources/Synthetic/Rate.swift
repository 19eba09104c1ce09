import Analysis
import Foundation
import Probes
import Report
import Support

/// `lmprobe synth rate`: the rate of issue 28's experiment 1 — how the probe-loss gap to τ falls with ε on trained
/// models — aggregated over `synth measure` reports, one per model seed, of one HMM and one set of tasks.
///
/// For every natural task, objective and gap, each seed's checkpoints give points (ε, gap). CE: the fitted logistic
/// probe on p_f against τ by fitting on p* ("probe"), and the task's own direction ℓ(p_f, κv) against τ
/// ("direction"), both against ε_task = KL(p* ‖ p_f) on the task's contexts. Quad does not fit p_f = softmax(Φf) (its
/// ε_task barely moves), so its gap is the logistic probe on f against τ by fitting ("probe on f"), against ε_quad =
/// E ½‖Φ(f − f*)‖², the excess Quad minimises (on the pretraining windows). The least-squares slope of log gap on
/// log ε over the points with a positive gap is that seed's descriptive slope. Over seeds: the mean slope and its t interval, and a verdict by `SyntheticRate.rule`. The bound's slack
/// B√(2ε) falls below ln 2 − τ (so τ + B√(2ε) < ln 2, the loss of predicting ½: the bound stops being vacuous) for
/// ε < ((ln 2 − τ)/B)²/2, the `vacuityEpsilon` of each series.
public struct SyntheticRateReport: Codable, Sendable {
    /// One `synth measure` report: the seed's name and where it was read.
    public struct Input: Codable, Sendable {
        public var name: String
        public var report: String
    }

    public struct Point: Codable, Sendable {
        public var step: Int
        /// ε_task or ε_quad, as the series' `epsilon` says.
        public var epsilon: Double
        /// Loss minus its τ (may be ≤ 0 for a fitted probe; such points are shown in the table, not fitted).
        public var gap: Double
    }

    /// One seed's run of one objective.
    public struct SeedLine: Codable, Sendable {
        public var seed: String
        public var run: String
        public var points: [Point]
        /// Log–log slope over the points with gap > 0 and ε_task > 0; nil with fewer than 2 of them.
        public var slope: Double?
        public var fittedPoints: Int
        enum CodingKeys: String, CodingKey { case seed, run, points, slope, fittedPoints }
    }

    public struct Series: Codable, Sendable {
        public var task: String
        public var label: String
        public var objective: String
        /// "probe" (logistic probe on p_f − τ by fitting) or "direction" (ℓ(p_f, κv) − τ).
        public var quantity: String
        /// The x axis: "ε_task" (KL on the task's contexts) or "ε_quad" (Quad's excess on the pretraining windows).
        public var epsilon: String
        public var tau: Double
        public var B: Double
        /// ε below which τ + B√(2ε) < ln 2; nil when τ ≥ ln 2 (never).
        public var vacuityEpsilon: Double?
        public var seeds: [SeedLine]
        public var slopeMean: Double?
        public var slopeInterval: ConfidenceInterval?
        public var verdict: String
        enum CodingKeys: String, CodingKey {
            case task, label, objective, quantity, epsilon, tau, B = "b", seeds, verdict
            case vacuityEpsilon, slopeMean, slopeInterval
        }
    }

    public var tool = "lmprobe synth rate"
    public var createdAt: String
    public var hmm: SyntheticReport.HMMSummary
    public var inputs: [Input]
    public var rule: String
    public var series: [Series]

    enum CodingKeys: String, CodingKey { case tool, hmm, inputs, rule, series, createdAt }
}

public enum SyntheticRate {
    /// The gaps of an objective: (name, x axis).
    static func quantities(_ objective: String) -> [(name: String, epsilon: String)] {
        objective == "quad" ? [("probe on f", "ε_quad")] : [("probe", "ε_task"), ("direction", "ε_task")]
    }

    /// How the verdict is computed, stated in every report.
    public static let rule = "With at least two seeds: the gap follows √ε if the 95 % t interval of the per-seed slopes "
        + "contains ½ and not 1, follows ε if it contains 1 and not ½, cannot tell √ε from ε if it contains both, and follows "
        + "neither if it contains neither; with fewer than two seeds with a slope there is no verdict."

    /// ε below which the bound τ + B√(2ε) is under ln 2: ((ln 2 − τ)/B)²/2 (nil when τ ≥ ln 2 or B ≤ 0).
    public static func vacuityEpsilon(tau: Double, B: Double) -> Double? {
        let room = Foundation.log(2.0) - tau
        guard room > 0, B > 0, B.isFinite else { return nil }
        return (room / B) * (room / B) / 2
    }

    /// The verdict of `rule` for one interval of slopes.
    public static func verdict(_ interval: ConfidenceInterval?) -> String {
        guard let i = interval else { return "no verdict (fewer than two seeds with a slope)" }
        switch (i.contains(0.5), i.contains(1)) {
        case (true, false): return "√ε"
        case (false, true): return "ε"
        case (true, true): return "cannot tell √ε from ε"
        case (false, false): return "neither"
        }
    }

    /// Reads `synth measure` reports (a folder holding report.json, or the file itself), named by seed.
    public static func load(_ inputs: [(name: String, url: URL)]) throws -> [(input: SyntheticRateReport.Input, report: SyntheticReport)] {
        try inputs.map { input in
            var url = input.url
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                url = url.appendingPathComponent("report.json")
            }
            let data: Data
            do { data = try readFileData(url) } catch {
                throw FileError(path: url.path, message: "cannot read (\(ioErrorText(error))); give a `synth measure` output folder or its report.json")
            }
            let report: SyntheticReport
            do { report = try JSONCoding.decoder().decode(SyntheticReport.self, from: data) } catch {
                throw FileError(path: url.path, message: "not a `synth measure` report (\(ioErrorText(error, json: data)))")
            }
            return (SyntheticRateReport.Input(name: input.name, report: reportPath(url.path)), report)
        }
    }

    /// Refuses reports of different HMMs or tasks, and reports with two runs of one objective (a seed is one run).
    static func checkComparable(_ reports: [(input: SyntheticRateReport.Input, report: SyntheticReport)]) throws {
        guard let first = reports.first else { throw SyntheticError.badArgument("give at least one --measure report") }
        func taskKey(_ t: SyntheticReport.TaskSummary) -> String {
            let s = t.spec
            return "\(s.name) \(s.kind.rawValue) \(s.label?.rawValue ?? "-") seed \(s.seed) τ \(s.tau) B \(s.B ?? .nan) \(s.trainCount)/\(s.testCount)"
        }
        let tasks = first.report.tasks.map(taskKey)
        for r in reports {
            guard r.report.hmm.config == first.report.hmm.config else {
                let a = r.report.hmm.config, b = first.report.hmm.config
                throw FileError(path: r.input.report, message: "measured on another HMM (seed \(a.seed), K = \(a.states), V = \(a.words)) than \(first.input.report) (seed \(b.seed), K = \(b.states), V = \(b.words)); aggregate the reports of one language")
            }
            let these = r.report.tasks.map(taskKey)
            guard these == tasks else {
                throw FileError(path: r.input.report, message: "has other tasks than \(first.input.report) (\(these.joined(separator: "; ")) vs \(tasks.joined(separator: "; "))); measure every seed on the same task folders")
            }
            let objectives = r.report.checkpoints.map { "\($0.objective)\u{1}\($0.run)" }
            for o in Set(r.report.checkpoints.map(\.objective)) {
                let runs = Set(objectives.filter { $0.hasPrefix(o + "\u{1}") })
                guard runs.count == 1 else {
                    throw FileError(path: r.input.report, message: "holds \(runs.count) \(o) runs; a seed's report must hold one run per objective")
                }
            }
        }
    }

    /// (ε, gap) of one checkpoint's task point for `quantity` ("probe", "direction" or "probe on f").
    static func point(_ c: SyntheticCheckpointPoint, _ p: SyntheticTaskPoint, quantity: String, tau: Double,
                      tauFit: Double) -> (epsilon: Double, gap: Double)? {
        switch quantity {
        case "probe": return p.probe("p_f", "logistic").map { (p.epsilonTask, $0.loss - tauFit) }
        case "direction": return p.directionLoss.map { (p.epsilonTask, $0 - tau) }
        default:
            guard let q = c.epsilon.epsilonQuad, let l = p.probe("f", "logistic") else { return nil }
            return (q, l.loss - tauFit)
        }
    }

    /// One seed's line of one task, objective and gap.
    static func seedLine(_ r: (input: SyntheticRateReport.Input, report: SyntheticReport), task: SyntheticReport.TaskSummary,
                         objective: String, quantity: String) -> SyntheticRateReport.SeedLine? {
        let cps = r.report.checkpoints.filter { $0.objective == objective }.sorted { $0.step < $1.step }
        guard let run = cps.first?.run else { return nil }
        let tauFit = task.pStar.first { $0.method == "logistic" }?.loss ?? task.spec.tau
        let points: [SyntheticRateReport.Point] = cps.compactMap { c in
            guard let p = c.tasks.first(where: { $0.task == task.spec.name }),
                  let xy = point(c, p, quantity: quantity, tau: task.spec.tau, tauFit: tauFit) else { return nil }
            return .init(step: c.step, epsilon: xy.epsilon, gap: xy.gap)
        }
        let used = points.filter { $0.gap > 0 && $0.epsilon > 0 && $0.gap.isFinite && $0.epsilon.isFinite }
        let slope = Correlation.slope(used.map { Foundation.log($0.epsilon) }, used.map { Foundation.log($0.gap) })
        return .init(seed: r.input.name, run: run, points: points, slope: slope.isFinite ? slope : nil, fittedPoints: used.count)
    }

    /// Aggregates per-seed reports (already checked to be of one HMM and task set) into the rate report.
    public static func aggregate(_ reports: [(input: SyntheticRateReport.Input, report: SyntheticReport)]) throws -> SyntheticRateReport {
        try checkComparable(reports)
        let first = reports[0].report
        let objectives = Array(Set(reports.flatMap { $0.report.checkpoints.map(\.objective) })).sorted()
        var series: [SyntheticRateReport.Series] = []
        for task in first.tasks where task.spec.kind == .natural {
            guard let B = task.spec.B else { continue }
            for objective in objectives {
                for q in quantities(objective) {
                    let lines = reports.compactMap { seedLine($0, task: task, objective: objective, quantity: q.name) }
                    guard !lines.isEmpty else { continue }
                    let slopes = lines.compactMap(\.slope)
                    let interval = slopes.count >= 2 ? try Intervals.tMean(slopes) : nil
                    series.append(.init(task: task.spec.name, label: task.spec.label?.rawValue ?? "", objective: objective,
                                        quantity: q.name, epsilon: q.epsilon, tau: task.spec.tau, B: B,
                                        vacuityEpsilon: vacuityEpsilon(tau: task.spec.tau, B: B), seeds: lines,
                                        slopeMean: slopes.isEmpty ? nil : slopes.reduce(0, +) / Double(slopes.count),
                                        slopeInterval: interval, verdict: verdict(interval)))
                }
            }
        }
        guard !series.isEmpty else {
            throw SyntheticError.badArgument("the reports hold no natural task with checkpoints; measure trained runs on a natural task first")
        }
        return SyntheticRateReport(createdAt: ISO8601DateFormatter().string(from: Date()), hmm: first.hmm,
                                   inputs: reports.map(\.input), rule: rule, series: series)
    }

    /// report.json, report.md and one chart per task and objective (TASK-OBJECTIVE.svg) into `out`.
    public static func write(_ report: SyntheticRateReport, to out: URL) throws {
        try ReportWriter.writeJSON(report, to: out.appendingPathComponent("report.json"))
        try ReportWriter.writeText(report.markdown(), to: out.appendingPathComponent("report.md"))
        for (task, objective) in report.charts {
            if let svg = report.svg(task: task, objective: objective) {
                try ReportWriter.writeText(svg, to: out.appendingPathComponent("\(task)-\(objective).svg"))
            }
        }
    }
}

extension SyntheticRateReport {
    /// (task, objective) pairs in report order, each once.
    var charts: [(task: String, objective: String)] {
        var seen = Set<String>(), out: [(String, String)] = []
        for s in series where seen.insert("\(s.task)\u{1}\(s.objective)").inserted { out.append((s.task, s.objective)) }
        return out
    }

    static func f(_ x: Double?, _ format: String = "%.3f") -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: format, x)
    }

    public func markdown() -> String {
        var s = "# Synthetic language: the probe-loss gap against ε over seeds\n\n"
        let c = hmm.config
        s += "HMM `\(hmm.directory)`: K = \(c.states), V = \(c.words), class mass \(c.classMass), seed \(c.seed). "
        s += "Seeds (one `synth measure` report each): " + inputs.map { "\($0.name) (`\($0.report)`)" }.joined(separator: ", ") + ".\n\n"
        s += "Gaps: *probe* = test log-loss of the logistic probe fitted on p_f minus τ by fitting (the same probe on p*); "
        s += "*direction* = ℓ(p_f, κv) − τ, the task's own direction without fitting (the loss the bound τ + B√(2ε) bounds); "
        s += "both against ε_task = KL(p* ‖ p_f) on the task's test contexts. Quad does not fit p_f = softmax(Φf), so for Quad: "
        s += "*probe on f* = the logistic probe on f minus τ by fitting, against ε_quad = E ½‖Φ(f − f*)‖² (pretraining windows); "
        s += "the bound τ + B√(2ε) is about ε_task and is not drawn there. "
        s += "Slopes: least squares of log gap on log ε over one seed's checkpoints with a positive gap — descriptive, "
        s += "along training (the theorem bounds the level B√(2ε), not a slope). Interval: 95 % t over seeds. "
        s += "Vacuity: τ + B√(2ε_task) is under ln 2 only for ε_task < ((ln 2 − τ)/B)²/2.\n\n"
        s += "Rule: \(rule)\n\n"
        for (task, objective) in charts {
            let rows = series.filter { $0.task == task && $0.objective == objective }
            guard let r0 = rows.first else { continue }
            s += "## `\(task)` (\(r0.label), B = \(Self.f(r0.B, "%.2f")), τ = \(Self.f(r0.tau, "%.4f"))) · \(objective.uppercased())\n\n"
            for r in rows where r.epsilon == "ε_task" {
                let eps = r.seeds.flatMap { $0.points.map(\.epsilon) }
                let below = r.vacuityEpsilon.map { v in eps.filter { $0 < v }.count } ?? 0
                s += "Bound non-vacuous below ε_task = \(Self.f(r.vacuityEpsilon, "%.3g")); checkpoints there: \(below) of \(eps.count); "
                s += "smallest ε_task reached: \(Self.f(eps.min(), "%.3g")). "
                break
            }
            s += "Chart: `\(task)-\(objective).svg`.\n\n"
            s += "| gap | against | " + r0.seeds.map { "slope \($0.seed) (points)" }.joined(separator: " | ") + " | mean | 95 % t interval | follows |\n"
            s += "|---|---|" + String(repeating: "---:|", count: r0.seeds.count + 2) + "---|\n"
            for r in rows {
                s += "| \(r.quantity) | \(r.epsilon) | " + r.seeds.map { "\(Self.f($0.slope)) (\($0.fittedPoints)/\($0.points.count))" }.joined(separator: " | ")
                s += " | \(Self.f(r.slopeMean)) | " + (r.slopeInterval.map { "[\(Self.f($0.lower)), \(Self.f($0.upper))]" } ?? "–")
                s += " | \(r.verdict) |\n"
            }
            s += "\n| gap | seed | step | ε | gap (nats) |" + (r0.epsilon == "ε_task" ? " B√(2ε) |" : "") + "\n"
            s += "|---|---|---:|---:|---:|" + (r0.epsilon == "ε_task" ? "---:|" : "") + "\n"
            for r in rows {
                for line in r.seeds {
                    for p in line.points {
                        s += "| \(r.quantity) | \(line.seed) | \(p.step) | \(Self.f(p.epsilon, "%.3g")) | \(Self.f(p.gap, "%.3g")) |"
                        s += r0.epsilon == "ε_task" ? " \(Self.f(r.B * (2 * p.epsilon).squareRoot(), "%.3g")) |\n" : "\n"
                    }
                }
            }
            s += "\n"
        }
        return s
    }

    /// Gap against ε on log–log axes for one task and objective: every seed's gaps (probe solid, direction dashed),
    /// reference slopes ½ and 1 through the points' centre and, against ε_task, the bound's slack B√(2ε) and the
    /// vacuity ε as a vertical line. Nil when the pair has no positive point.
    public func svg(task: String, objective: String) -> String? {
        let rows = series.filter { $0.task == task && $0.objective == objective }
        guard let r0 = rows.first else { return nil }
        var out: [(name: String, points: [(x: Double, y: Double)])] = [], styles: [SVGChart.LineStyle] = []
        for r in rows {
            for (i, line) in r.seeds.enumerated() {
                out.append(("\(line.seed): \(r.quantity) gap", line.points.map { (x: $0.epsilon, y: $0.gap) }))
                styles.append(.init(colour: i, dashed: r.quantity == "direction"))
            }
        }
        let positive = out.flatMap(\.points).filter { $0.x > 0 && $0.y > 0 }
        guard var lo = positive.map(\.x).min(), let hi = positive.map(\.x).max() else { return nil }
        let bound = r0.epsilon == "ε_task"
        if bound, let v = r0.vacuityEpsilon { lo = min(lo, v) }
        let xs = (0...8).map { lo * pow(hi / lo, Double($0) / 8) }
        if bound {
            out.append(("bound's slack B√(2ε)", xs.map { (x: $0, y: r0.B * (2 * $0).squareRoot()) }))
            styles.append(.init(colour: 9, markers: false))
        }
        let centre = positive.reduce((0.0, 0.0)) { ($0.0 + Foundation.log($1.x), $0.1 + Foundation.log($1.y)) }
        let (cx, cy) = (centre.0 / Double(positive.count), centre.1 / Double(positive.count))
        for (k, slope) in [(8, 0.5), (6, 1.0)] {
            out.append(("slope \(slope == 0.5 ? "½" : "1") (reference)", xs.map { (x: $0, y: Foundation.exp(cy + slope * (Foundation.log($0) - cx))) }))
            styles.append(.init(colour: k, dashed: true, markers: false))
        }
        if bound, let v = r0.vacuityEpsilon {
            let ys = out.flatMap(\.points).map(\.y).filter { $0 > 0 }
            out.append(("bound < ln 2 left of ε = \(SyntheticRateReport.f(v, "%.2g"))", [(v, ys.min() ?? 1e-6), (v, ys.max() ?? 1)]))
            styles.append(.init(colour: 2, dashed: true, markers: false))
        }
        return SVGChart.lines(title: "\(task) · \(objective.uppercased()): gap to τ against \(r0.epsilon) (B = \(SyntheticRateReport.f(r0.B, "%.2g")))",
                              xLabel: "\(r0.epsilon) (nats)", yLabel: "loss − τ (nats)", series: out, percent: false, styles: styles, logAxes: true)
    }
}
