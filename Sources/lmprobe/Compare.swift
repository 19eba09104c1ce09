import Analysis
import ArgumentParser
import Experiments
import Features
import Foundation
import Probes
import Report

/// `lmprobe compare`: every feature family × probe, for each model, task and prompt setting, with the BoW
/// baseline and the zero-shot score; writes report.md, report.json and one SVG chart per task.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The paper's comparison table from your checkpoints: all feature families, ± prompt, BoW baseline.",
        discussion: """
        Default tasks: sst2, sst5 (from --sst-dir, when present), rt (Rotten Tomatoes) and bbc (BBC News) from
        --data-dir (`make data`); also sst2-detok and sst5-detok (PTB tokenisation undone). Extracted features
        are cached in --cache by checkpoint hash, dataset, prompt and words, so re-runs reuse them.
        Ridge on a wide family (n ≤ d: p_f) is fitted streamed from its cached file, never loaded whole (the log \
        line says "streamed from the file"); with logistic also asked for that family, it is read into memory.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup(title: "Models, tasks and report") var main: CompareMainOptions
    @OptionGroup(title: "What is compared") var what: CompareProbeOptions
    @OptionGroup(title: "Task data") var taskData: CompareTaskOptions
    @OptionGroup(title: "Your own task (instead of or besides --task)") var data: DatasetOptions
    @OptionGroup(title: "Your own task (instead of or besides --task)") var ownTask: CompareOwnTaskOptions
    var checkpoints: [String] { main.checkpoints }
    var taskNames: [String] { main.taskNames }
    var out: String { main.out }
    var cache: String? { main.cache }
    var prompt: String { ownTask.prompt }
    var words: String? { ownTask.words }

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one --checkpoint") }
        try what.methods.check("--methods", noun: "a probe method")
        try what.families.check("--families", noun: "a feature family")
        guard taskData.seeds >= 1 else { throw ValidationError("--seeds must be at least 1 (got \(taskData.seeds))") }
        if taskData.cv && taskData.seeds < 2 { throw ValidationError("--cv needs --seeds K with K ≥ 2 (the number of folds)") }
        if data.dataset == nil && (prompt != "" || words != nil) {
            throw ValidationError("--prompt and --words describe your own task: give --dataset too")
        }
    }

    func run() throws {
        global.apply()
        var settings = ComparisonSettings()
        settings.prompts = what.prompts
        settings.methods = what.methods.values
        settings.families = what.families.values
        settings.standardize = what.standardize
        settings.bagOfWords = !what.noBow
        settings.leakageCheck = !what.noLeakageCheck
        settings.pDtype = what.pDtype.npyDescr
        settings.meanPooled = !what.noFMean
        settings.bestLayer = what.bestLayer
        settings.probeProtocol = what.probeProtocol

        let models = checkpoints.map { spec -> ComparisonModel in
            if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
                return ComparisonModel(name: String(spec[..<eq]), checkpoint: String(spec[spec.index(after: eq)...]))
            }
            let url = URL(fileURLWithPath: spec)
            let name = url.pathExtension == "safetensors" ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
            return ComparisonModel(name: name, checkpoint: spec)
        }
        let tasks = try resolveTasks().flatMap { $0.resamplings(taskData.seeds, crossValidate: taskData.cv) }
        let outURL = URL(fileURLWithPath: out)
        let runner = try ComparisonRunner(
            models: models, tasks: tasks, settings: settings,
            cacheDirectory: URL(fileURLWithPath: cache ?? outURL.appendingPathComponent("features").path),
            log: { eprint("compare: " + $0) },
            progress: { label, done, total in Self.bar(label, done, total) })
        let report = try runner.run()
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
        let b = bars[label] ?? ProgressLine(label, total: total, unit: label.hasPrefix("leakage") ? "docs" : "sent")
        bars[label] = b
        b.update(done)
    }

    func resolveTasks() throws -> [TaskSpec] {
        let catalog = TaskCatalog(dataDirectory: taskData.dataDir, sstDirectory: taskData.sstDir)
        var tasks = try taskData.tasksFile.map(TaskCatalog.read) ?? []
        tasks += try taskNames.map(catalog.task)
        if data.dataset != nil {
            tasks.append(try data.task(prompt: prompt, words: words.map(WordSubset.parse) ?? WordSubset.paperSentimentWords))
        }
        if tasks.isEmpty {
            tasks = catalog.present
            if tasks.isEmpty { throw CLIError("no task data found: run `make data` or give --task/--tasks-file") }
        }
        return tasks
    }
}

/// `compare`: the rows and columns of the table, and how each cell is probed.
struct CompareProbeOptions: ParsableArguments {
    @Option(help: "Probe methods, comma-separated: \(CommaList<ProbeMethod>.choices).")
    var methods = CommaList<ProbeMethod>([.ridge])
    @Option(help: "Feature families, comma-separated: \(CommaList<FeatureFamily>.choices).")
    var families = CommaList<FeatureFamily>(FeatureFamily.allCases)
    @Option(help: "Prompt settings.") var prompts: ComparisonSettings.PromptMode = .both
    @Flag(inversion: .prefixedNo, help: "Standardise features before probing (THE probe default, as `probe`).")
    var standardize = ProbeSettings().standardize
    @Option(name: .customLong("protocol"), help: "Probe protocol: lmprobe (default) or paper (the official test_downstream.py settings: prompts with a trailing space, no scaling, its C grids, one-vs-rest, subset = logits).")
    var probeProtocol: ProbeProtocol = .lmprobe
    @Flag(help: "Skip the f_mean(s) row (f averaged over every token, prompt included; one more extraction).")
    var noFMean = false
    @Flag(help: "Add the best layer: ridge on the residual stream after each block (0 = embeddings … L), the layer with the best leave-one-out accuracy reported (L + 1 extractions).")
    var bestLayer = false
    @Flag(help: "Skip the bag-of-words baseline.") var noBow = false
    @Flag(help: "Skip the pretraining-corpus overlap check.") var noLeakageCheck = false
    @Option(help: "dtype of cached p.npy.") var pDtype: ProbabilityDType = .float32
}

/// `compare`: where the named tasks' data is, and how tasks without a test file are resampled.
struct CompareTaskOptions: ParsableArguments {
    @Option(help: "JSON file with an array of task specs (name, train, test, prompt, words, classWords).")
    var tasksFile: String?
    @Option(help: "Default data folder (make data).") var dataDir = "data"
    @Option(help: "Folder with sst_train.tsv, sst_test.tsv, sst_fine_train.tsv, sst_fine_test.tsv (`make sst` fetches them).")
    var sstDir = "data/sst"
    @Option(help: "Tasks without a test file (rt, bbc): run K stratified splits (seeds 0..<K), or with --cv the K folds of one stratified K-fold partition; tables report mean ± std.")
    var seeds = 1
    @Flag(help: "With --seeds K: K-fold cross-validation over all examples instead of K random splits.") var cv = false
}

/// `compare`'s main options: which models on which tasks, and where the report goes.
struct CompareMainOptions: ParsableArguments {
    @Option(name: .customLong("checkpoint"), help: "NAME=PATH or PATH of a checkpoint, run folder or Hugging Face GPT-2 folder (repeatable).")
    var checkpoints: [String] = []
    @Option(name: .customLong("task"), help: "Task name (repeatable): sst2 sst5 sst2-detok sst5-detok rt bbc.")
    var taskNames: [String] = []
    @Option(help: "Report folder (report.md, report.json, <task>.svg).") var out: String
    @Option(help: "Feature cache folder (default: <out>/features).") var cache: String?
}

/// `compare --dataset`: the task's prompt and words.
struct CompareOwnTaskOptions: ParsableArguments {
    @Option(help: "With --dataset: the prompt suffix of the task (default: none).") var prompt: String = ""
    @Option(help: "With --dataset: the word list of the subset features (default: the paper's sentiment words).")
    var words: String?
}
