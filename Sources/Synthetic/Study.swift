import Analysis
import Features
import Foundation
import Model
import Support
import Report

/// `lmprobe synth measure` end to end: every checkpoint of every run × every task → `report.json`, `report.md`,
/// one SVG per natural task (probe loss against √ε with the bound) and, with Quad runs, one per task against √ε_quad. Each checkpoint's result is also kept in `out/points/RUN/LABEL.json` under a key
/// (checkpoint SHA-256, tasks, windows, seed, probe settings), so a re-run after an interruption or with more checkpoints only
/// measures what is new; features go to `out/features/RUN/LABEL/TASK/{train,test}` and are replaced on each measure.
public enum SyntheticStudy {
    struct CachedPoint: Codable {
        var key: String
        var point: SyntheticCheckpointPoint
    }

    public static func measure(hmmDirectory: URL, taskDirectories: [URL], runs: [(name: String, url: URL)], out: URL,
                               options: SyntheticMeasureOptions, maxCheckpoints: Int? = nil,
                               log: (String) -> Void = { _ in }) throws -> SyntheticReport {
        guard !taskDirectories.isEmpty else { throw SyntheticError.badArgument("give at least one --task") }
        guard !runs.isEmpty else { throw SyntheticError.badArgument("give at least one --lm") }
        for r in runs { try PathName.check(r.name, role: "--lm NAME") }
        if let m = maxCheckpoints, m < 1 { throw SyntheticError.badArgument("--max-checkpoints must be at least 1 (got \(m))") }
        guard options.maxIterations >= 1 else { throw SyntheticError.badArgument("--max-iterations must be at least 1 (got \(options.maxIterations))") }
        let hmm = try HiddenMarkovModel.load(from: hmmDirectory)
        let tasks = try taskDirectories.map { try LoadedSyntheticTask(directory: $0, hmm: hmm) }
        let names = tasks.map(\.spec.name)
        guard Set(names).count == names.count else { throw SyntheticError.badArgument("two tasks share a name: \(names)") }
        let h = try hmm.entropyRate(sequences: 200, length: 1000, burnIn: 200, seed: options.seed ^ 0xE7)
        log(String(format: "HMM: entropy rate %.4f ± %.4f nats/word", h.rate, h.standardError))
        var summaries: [SyntheticReport.TaskSummary] = []
        for t in tasks {
            let ps = try SyntheticMeasure.pStarProbes(t, options: options)
            let bayes = try SyntheticMeasure.controlBayes(t, hmm: hmm)
            summaries.append(.init(spec: t.spec, directory: t.directory.path, pStar: ps, bayes: bayes))
            let lp = ps.first { $0.method == "logistic" }!
            log(String(format: "task %@: τ = %.4f, probe on p*: loss %.4f, accuracy %.1f%%", t.spec.name, t.spec.tau, lp.loss, 100 * lp.accuracy)
                + (bayes.map { String(format: "; Bayes accuracy from the words %.1f%% (loss %.4f)", 100 * $0.accuracy, $0.loss) } ?? ""))
        }
        var points: [SyntheticCheckpointPoint] = []
        for run in runs {
            var files = try Checkpoint.list(in: run.url)
            if let m = maxCheckpoints, files.count > m {
                // Keep m checkpoints spread over the run (always the first and the last).
                files = (0..<m).map { files[$0 * (files.count - 1) / max(m - 1, 1)] }
            }
            for file in files {
                let sha = try Digest.sha256(file: file.url)
                let key = Digest.sha256(["f*-v1", sha, names.joined(separator: ","), "\(options.windows)", "\(options.seed)",
                                         tasks.map { $0.spec.seed.description }.joined(separator: ","),
                                         options.logisticCs.map { "\($0)" }.joined(separator: ","), "\(options.folds)",
                                         "\(options.maxIterations)"].joined(separator: "|"))
                let cacheURL = out.appendingPathComponent("points/\(run.name)/\(file.label).json")
                if let data = FileManager.default.contents(atPath: cacheURL.path),
                   let c = try? JSONCoding.decoder().decode(CachedPoint.self, from: data), c.key == key {
                    points.append(c.point)
                    log("\(run.name) \(file.label): cached")
                    continue
                }
                let t0 = Benchmark.now()
                let ckpt = try ModelLoader.checkpoint(file.url.path).checkpoint
                let eps = try SyntheticMeasure.epsilon(model: ckpt.model, hmm: hmm, windows: options.windows, seed: options.seed)
                var tp: [SyntheticTaskPoint] = []
                for t in tasks {
                    let dir = out.appendingPathComponent("features/\(run.name)/\(file.label)/\(t.spec.name)")
                    tp.append(try SyntheticMeasure.taskPoint(model: ckpt.model, checkpointURL: file.url, checkpointSHA256: sha,
                                                             task: t, featureDirectory: dir, options: options,
                                                             pretrainingEpsilon: eps.epsilon))
                }
                let p = SyntheticCheckpointPoint(run: run.name, objective: ckpt.config.objective.rawValue,
                                                 model: ckpt.config.description, step: ckpt.step, checkpoint: reportPath(file.url.path),
                                                 epsilon: eps, tasks: tp)
                try ReportWriter.writeJSON(CachedPoint(key: key, point: p), to: cacheURL)
                points.append(p)
                var line = String(format: "%@ %@ (step %d): ε %.4f ± %.4f", run.name, file.label, ckpt.step, eps.epsilon, eps.epsilonStandardError)
                if let q = eps.epsilonQuad { line += String(format: ", ε_quad %.4g (context-free %.4g)", q, eps.epsilonQuadContextFree ?? .nan) }
                for x in tp {
                    line += String(format: "; %@: ε_task %.4f", x.task, x.epsilonTask)
                    if let b = x.bound, let d = x.directionLoss { line += String(format: ", ℓ(p_f,κv) %.4f ≤ bound %.4f", d, b) }
                    if let l = x.probe("p_f", "logistic") { line += String(format: ", probe p_f %.4f (%.1f%%)", l.loss, 100 * l.accuracy) }
                }
                log(line + String(format: "  [%.1f s]", Benchmark.now() - t0))
            }
        }
        let settings = ["hmm": hmmDirectory.path, "tasks": taskDirectories.map(\.path).joined(separator: ", "),
                        "runs": runs.map { "\($0.name)=\($0.url.path)" }.joined(separator: ", "),
                        "windows": "\(options.windows)", "seed": "\(options.seed)", "folds": "\(options.folds)",
                        "max_iterations": "\(options.maxIterations)",
                        "logistic_Cs": options.logisticCs.map { String(format: "%g", $0) }.joined(separator: ","),
                        "threads": "\(Threads.count)"]
        let report = SyntheticReport(settings: settings,
                                     hmm: .init(directory: reportPath(hmmDirectory.path), config: hmm.config, entropyRate: h.rate,
                                                entropyRateStandardError: h.standardError),
                                     tasks: summaries, checkpoints: points)
        try ReportWriter.writeJSON(report, to: out.appendingPathComponent("report.json"))
        try ReportWriter.writeText(report.markdown(), to: out.appendingPathComponent("report.md"))
        for t in tasks {
            if let svg = report.svg(task: t.spec.name) { try ReportWriter.writeText(svg, to: out.appendingPathComponent("\(t.spec.name).svg")) }
            if let svg = report.svgQuad(task: t.spec.name) {
                try ReportWriter.writeText(svg, to: out.appendingPathComponent("\(t.spec.name)-quad.svg"))
            }
        }
        return report
    }
}
