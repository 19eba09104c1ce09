import Analysis
import ArgumentParser
import Experiments
import Features
import Foundation
import Linalg
import Probes

/// `lmprobe compare`: every feature family × probe, for each model, task and prompt setting, with the BoW
/// baseline and the zero-shot score; writes report.md, report.json and one SVG chart per task.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The paper's comparison table from your checkpoints: all feature families, ± prompt, BoW baseline.",
        discussion: """
        Default tasks: sst2, sst5 (from --sst-dir, when present), rt (Rotten Tomatoes) and bbc (BBC News) from
        --data-dir (`make data`); also sst2-detok and sst5-detok (PTB tokenisation undone). Extracted features
        are cached in --cache by checkpoint hash, dataset, prompt and words, so re-runs reuse them.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("checkpoint"), help: "NAME=PATH or PATH of a checkpoint, run folder or Hugging Face GPT-2 folder (repeatable).")
    var checkpoints: [String] = []
    @Option(name: .customLong("task"), help: "Task name (repeatable): sst2 sst5 sst2-detok sst5-detok rt bbc.")
    var taskNames: [String] = []
    @Option(help: "JSON file with an array of task specs (name, train, test, prompt, words, classWords).")
    var tasksFile: String?
    @Option(help: "Default data folder (make data).") var dataDir = "data"
    @Option(help: "Folder with sst_train.tsv, sst_test.tsv, sst_fine_train.tsv, sst_fine_test.tsv.")
    var sstDir = "../shared/data/sst"
    @Option(help: "Prompt settings: both, with, without.") var prompts = "both"
    @Option(help: "Probe methods, comma-separated: ridge, logistic.") var methods = "ridge"
    @Option(help: "Feature families, comma-separated: f, phip, p, subset_logits, subset_probs.")
    var families = "f,phip,p,subset_logits,subset_probs"
    @Flag(help: "Do not standardise features before probing.") var noStandardize = false
    @Flag(help: "Skip the bag-of-words baseline.") var noBow = false
    @Flag(help: "Skip the pretraining-corpus overlap check.") var noLeakageCheck = false
    @Option(help: "dtype of cached p.npy: float32 or float16.") var pDtype = "float32"
    @Flag(help: "Skip the f_mean(s) row (f averaged over every token, prompt included; one more extraction).")
    var noFMean = false
    @Flag(help: "Add the best layer: ridge on the residual stream after each block (0 = embeddings … L), the layer with the best leave-one-out accuracy reported (L + 1 extractions).")
    var bestLayer = false
    @Option(help: "Report folder (report.md, report.json, <task>.svg).") var out: String
    @Option(help: "Feature cache folder (default: <out>/features).") var cache: String?
    @Option(name: .customLong("protocol"), help: "Probe protocol: lmprobe (default) or paper (the official test_downstream.py settings: prompts with a trailing space, no scaling, its C grids, one-vs-rest, subset = logits).")
    var probeProtocol: ProbeProtocol = .lmprobe
    @Option(help: "Tasks without a test file (rt, bbc): run K stratified splits (seeds 0..<K), or with --cv the K folds of one stratified K-fold partition; tables report mean ± std.")
    var seeds = 1
    @Flag(help: "With --seeds K: K-fold cross-validation over all examples instead of K random splits.") var cv = false

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one --checkpoint") }
        guard ComparisonSettings.PromptMode(rawValue: prompts) != nil else {
            throw ValidationError("--prompts must be both, with or without")
        }
        guard ["float32", "float16"].contains(pDtype) else { throw ValidationError("--p-dtype must be float32 or float16") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1 (got \(seeds))") }
        if cv && seeds < 2 { throw ValidationError("--cv needs --seeds K with K ≥ 2 (the number of folds)") }
    }

    func run() throws {
        global.apply()
        do { try compare() } catch let e as CLIError { throw e } catch { throw CLIError("\(error)") }
    }

    func compare() throws {
        var settings = ComparisonSettings()
        settings.prompts = ComparisonSettings.PromptMode(rawValue: prompts)!
        settings.methods = methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        settings.families = try families.split(separator: ",").map {
            let name = $0.trimmingCharacters(in: .whitespaces)
            guard let f = FeatureFamily(rawValue: name) else {
                throw CLIError("--families: unknown family '\(name)' (f, phip, p, subset_logits, subset_probs)")
            }
            return f
        }
        settings.standardize = !noStandardize
        settings.bagOfWords = !noBow
        settings.leakageCheck = !noLeakageCheck
        settings.pDtype = pDtype == "float16" ? "<f2" : "<f4"
        settings.meanPooled = !noFMean
        settings.bestLayer = bestLayer
        settings.probeProtocol = probeProtocol

        let models = checkpoints.map { spec -> ComparisonModel in
            if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
                return ComparisonModel(name: String(spec[..<eq]), checkpoint: String(spec[spec.index(after: eq)...]))
            }
            let url = URL(fileURLWithPath: spec)
            let name = url.pathExtension == "safetensors" ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
            return ComparisonModel(name: name, checkpoint: spec)
        }
        let tasks = try resolveTasks().flatMap { $0.resamplings(seeds, crossValidate: cv) }
        let outURL = URL(fileURLWithPath: out)
        let runner = try ComparisonRunner(
            models: models, tasks: tasks, settings: settings,
            cacheDirectory: URL(fileURLWithPath: cache ?? outURL.appendingPathComponent("features").path),
            log: { eprint("compare: " + $0) },
            progress: { label, done, total in Self.bar(label, done, total) })
        let report = try runner.run()
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        try ReportWriter.writeJSON(report, to: outURL.appendingPathComponent("report.json"))
        let md = try report.markdown()
        try ReportWriter.writeText(md, to: outURL.appendingPathComponent("report.md"))
        for t in report.tasks {
            let rs = report.results.filter { $0.task == t.task }
            guard !rs.isEmpty else { continue }
            try ReportWriter.writeText(try ComparisonTable(results: rs).svg(title: "\(t.task): test accuracy (%)"),
                                       to: outURL.appendingPathComponent("\(t.task).svg"))
        }
        print(md)
        print("report: \(outURL.path)/report.md, report.json, " + report.tasks.map { "\($0.task).svg" }.joined(separator: ", "))
    }

    nonisolated(unsafe) static var bars: [String: ProgressLine] = [:]
    static func bar(_ label: String, _ done: Int, _ total: Int) {
        let b = bars[label] ?? ProgressLine(label, total: total, unit: "sent")
        bars[label] = b
        b.update(done)
    }

    func resolveTasks() throws -> [TaskSpec] {
        var tasks: [TaskSpec] = []
        if let f = tasksFile {
            guard let data = FileManager.default.contents(atPath: f) else { throw CLIError("--tasks-file \(f): cannot read") }
            do { tasks = try JSONDecoder().decode([TaskSpec].self, from: data) } catch {
                throw CLIError("--tasks-file \(f): not a JSON array of task specs (\(error))")
            }
        }
        let sstPresent = FileManager.default.fileExists(atPath: sstDir + "/sst_train.tsv")
        var available = TaskSpec.defaults(dataDirectory: dataDir, sstDirectory: sstPresent ? sstDir : nil)
        if sstPresent {
            available += TaskSpec.defaults(dataDirectory: dataDir, sstDirectory: sstDir, detokenizeSST: true)
                .filter { $0.name.hasSuffix("-detok") }
        }
        for name in taskNames {
            guard let t = available.first(where: { $0.name == name }) else {
                let known = ["sst2", "sst5", "sst2-detok", "sst5-detok", "rt", "bbc"]
                if name.hasPrefix("sst") && known.contains(name) {
                    throw CLIError("--task \(name): SST files not found in --sst-dir \(sstDir)")
                }
                throw CLIError("--task: unknown task '\(name)' (\(known.joined(separator: ", ")), or use --tasks-file)")
            }
            tasks.append(t)
        }
        if tasks.isEmpty {
            tasks = available.filter { !$0.name.hasSuffix("-detok") }.filter { t in
                FileManager.default.fileExists(atPath: t.train.path)
            }
            if tasks.isEmpty { throw CLIError("no task data found: run `make data` or give --task/--tasks-file") }
        }
        return tasks
    }
}

extension ProbeProtocol: ExpressibleByArgument {}
