import Analysis
import ArgumentParser
import Experiments
import Features
import Foundation
import Linalg
import Model
import Text
import Report

/// `lmprobe analyze transfer`: check 1c, probe accuracy of every checkpoint of one run against its validation CE.
struct AnalyzeTransfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Probe every checkpoint of one pretraining run on a task; plot accuracy vs validation CE and vs √(CE − best CE).",
        discussion: """
        Checkpoints: RUNDIR/ckpt-*.safetensors by step, plus final.safetensors (pretrain with --keep-checkpoints); \
        several --run folders are analysed together (labels RUN/ckpt-STEP, one line per run and feature). \
        Validation CE is measured for every checkpoint on the whole validation split of the run's tokens (one \
        estimator). Features go to CACHE/features/<checkpoint-sha>-<task>-<settings-hash>/{train,test} and \
        validation losses to CACHE/validation/<checkpoint-sha>-<hash>.json (CACHE = --cache, default OUT); both are \
        reused when they match, so several tasks sharing one --cache measure each checkpoint's validation CE once. \
        Writes OUT/transfer.json, OUT/transfer.md, OUT/transfer-ce.svg, OUT/transfer-sqrt.svg, \
        OUT/transfer-tokens.svg.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup(title: "Runs, task and output") var main: TransferMain
    @OptionGroup(title: "Your own task (instead of --task; needs --test-dataset or --test-fraction)") var data: DatasetOptions
    @OptionGroup(title: "Features") var extraction: TransferFeatures
    @OptionGroup(title: "Validation loss") var validation: TransferValidation

    func validate() throws {
        guard !main.runDirectories.isEmpty else { throw ValidationError("give at least one --run") }
        guard (main.task == nil) != (data.dataset == nil) else { throw ValidationError("give exactly one of --task and --dataset") }
        if let m = validation.maxWindows, m < 1 { throw ValidationError("--max-windows must be at least 1 (got \(m))") }
    }

    // The groups' options under their own names (what the steps below read).
    var runDirectories: [String] { main.runDirectories }
    var task: String? { main.task }
    var dataDir: String { main.dataDir }
    var sstDir: String { main.sstDir }
    var out: String { main.out }
    var cache: String? { main.cache }
    var prompt: String? { extraction.prompt }
    var noPrompt: Bool { extraction.noPrompt }
    var words: String? { extraction.words }
    var withP: Bool { extraction.withP }
    var fMean: Bool { extraction.fMean }
    var tokenizer: String? { extraction.tokenizer }
    var maxBatchTokens: Int { extraction.maxBatchTokens }
    var tokens: String? { validation.tokens }
    var maxWindows: Int? { validation.maxWindows }

    func run() throws {
        global.apply()
        try transfer()
    }

    /// The task: name, train/test splits with digests, prompt and words.
    func loadTask() throws -> (name: String, splits: [DatasetSplit], prompt: String, words: [String]) {
        if let name = task {
            let spec = try TaskCatalog(dataDirectory: dataDir, sstDirectory: sstDir).task(name)
            guard FileManager.default.fileExists(atPath: spec.train.path) else {
                throw CLIError("--task \(name): \(spec.train.path) not found; run `make data` to fetch the default data into data/ (or give --data-dir)")
            }
            let (tr, te) = try DatasetSplits.load(spec)
            return (name, [tr, te], spec.prompt, words.map(WordSubset.parse) ?? spec.words)
        }
        let spec = try data.task(prompt: "", words: words.map(WordSubset.parse) ?? WordSubset.paperSentimentWords)
        let (tr, te) = try DatasetSplits.load(spec)
        return (spec.name, [tr, te], spec.prompt, spec.words)
    }

    func transfer() throws {
        let runNames = AnalyzeCurve.names(runDirectories)
        let files = try zip(runDirectories, runNames).flatMap { dir, name in
            try Checkpoint.list(in: URL(fileURLWithPath: dir)).map { (run: name, file: $0) }
        }
        let multiple = runDirectories.count > 1
        let t = try loadTask()
        var options = ExtractionOptions()
        let promptText = noPrompt ? "" : (prompt ?? t.prompt)
        options.prompt = promptText.isEmpty ? .none : try PromptTemplate(promptText)
        options.writeFullDistribution = withP
        options.maxBatchTokens = maxBatchTokens
        let outURL = URL(fileURLWithPath: out)
        let cacheURL = URL(fileURLWithPath: cache ?? out)
        var families: [FeatureFamily] = [.f, .phip]
        var rows: [TransferCheck.Checkpoint] = []
        var settings: [String: String] = ["run": runDirectories.joined(separator: " "), "task": t.name,
                                          "prompt": options.prompt.template,
                                          "probe": "compare's ridge probe (FamilyProbe, default settings: standardised, exact LOO λ over logspace(-3, 6, 19) extended at an edge)",
                                          "validation_ce": "whole validation split, every checkpoint measured (GPT.splitLoss)",
                                          "probe_loss": "test mean squared error of the ridge scores on ±1 targets"]
        let loader = ModelLoader(tokenizer: tokenizer)
        var validationDigests: [String: String] = [:]   // val.bin path → SHA-256, hashed once per token folder
        for (i, (runName, file)) in files.enumerated() {
            let label = multiple ? "\(runName)/\(file.label)" : file.label
            let model = try loader.load(file.url.path)
            let ckpt = model.checkpoint, tok = model.tokenizer, sha = model.sha256
            var opts = options
            opts.words = WordSubset(words: t.words, tokenizer: tok).count > 0 ? t.words : []
            if i == 0 {
                if opts.words.isEmpty {
                    if !t.words.isEmpty { eprint("note: no word of the list is a single token: subset features skipped") }
                } else { families += [.subsetProbs, .subsetLogits] }
                if withP { families.append(.p) }
                if fMean { settings["f_mean"] = ExtractionManifest.describe(pooling: .mean, layer: nil) }
                settings["words"] = opts.words.joined(separator: " ")
            }
            let (loss, lossReused) = try TransferRun.validationCrossEntropy(
                ckpt, checkpointSHA256: sha, tokenDirectory: tokens.map { URL(fileURLWithPath: $0) },
                maxWindows: maxWindows, cache: cacheURL, validationDigests: &validationDigests)
            let ce = loss.crossEntropy, source = loss.description + (lossReused ? ", reused" : "")
            // f(s)'s families and, with --f-mean, f_mean(s): one pass over every split (`FeatureCache.entries`),
            // content-addressed under CACHE/features, with a progress line over every split's sentences.
            var requests = [FeatureCache.Request(label: [String(sha.prefix(12)), t.name], options: opts)]
            if fMean {
                var mean = opts
                mean.pooling = .mean; mean.words = []; mean.writeFullDistribution = false
                requests.append(FeatureCache.Request(label: [String(sha.prefix(12)), t.name], options: mean))
            }
            let bar = ProgressLine("extract \(label)", total: t.splits.reduce(0) { $0 + $1.data.count }, unit: "sent")
            var offset = 0, lastSplit = ""
            let entries = try FeatureCache.entries(
                model: model, splits: t.splits, requests: requests, cache: cacheURL.appendingPathComponent("features"),
                progress: { split, done, _ in
                    if split != lastSplit, !lastSplit.isEmpty { offset += t.splits.first { $0.name == lastSplit }?.data.count ?? 0 }
                    lastSplit = split
                    bar.update(offset + done)
                })
            let (dir, reused) = (entries[0].directory, entries[0].reused)
            var probes: [String: TransferCheck.ProbeOutcome] = [:]
            for fam in families { probes[fam.rawValue] = try TransferRun.probe(directory: dir, family: fam) }
            if fMean { probes["f_mean"] = try TransferRun.probe(directory: entries[1].directory, family: .f) }
            eprint(String(format: "%@ (step %d): val CE %.4f (%@), features %@, f accuracy %.1f%%", label, file.step, ce,
                          source, reused ? "reused" : "extracted", 100 * (probes["f"]?.accuracy ?? .nan)))
            rows.append(.init(label: label, step: file.step, validationLoss: ce, probes: probes,
                              tokensSeen: ckpt.trainingState?.tokensSeen, run: multiple ? runName : nil))
            settings["checkpoint \(label)"] = "\(file.url.lastPathComponent) sha256 \(sha) val CE from \(source); features \(dir.lastPathComponent)"
        }
        let check = try TransferCheck(checkpoints: rows)
        let doc = CheckDocument(check: "transfer", settings: settings, result: check)
        try ReportWriter.writeJSON(doc, to: outURL.appendingPathComponent("transfer.json"))
        let title = "\(t.name)\(options.prompt.isEmpty ? "" : " with “\(options.prompt.template.trimmingCharacters(in: .whitespaces))”")"
        try ReportWriter.writeText(check.svg(title: "Probe accuracy vs validation CE · \(title)"),
                                   to: outURL.appendingPathComponent("transfer-ce.svg"))
        try ReportWriter.writeText(check.svg(sqrtExcess: true, title: "Probe accuracy vs √(CE − best CE) · \(title)"),
                                   to: outURL.appendingPathComponent("transfer-sqrt.svg"))
        try ReportWriter.writeText(check.svg(x: .tokensSeen, title: "Probe accuracy vs training tokens seen · \(title)"),
                                   to: outURL.appendingPathComponent("transfer-tokens.svg"))
        let md = check.markdown() + "\nPlots: transfer-ce.svg (accuracy vs validation CE), transfer-sqrt.svg (vs √(CE − best)), transfer-tokens.svg (vs training tokens seen).\n"
        try ReportWriter.writeText(md, to: outURL.appendingPathComponent("transfer.md"))
        print(md, terminator: "")
        eprint("wrote \(outURL.path)/transfer.{json,md} and transfer-{ce,sqrt,tokens}.svg")
    }
}

/// The runs to analyse, the default task, and where the report and cache go.
struct TransferMain: ParsableArguments {
    @Option(name: .customLong("run"), help: "Run directory of a pretraining run (repeatable: several runs, e.g. model sizes, on one chart).")
    var runDirectories: [String] = []
    @Option(help: "A default task by name (sst2, sst5, rt, bbc), or use --dataset.") var task: String?
    @Option(help: "Data folder of the default tasks (`make data`).") var dataDir = "data"
    @Option(help: "SST folder of the default tasks (sst_train.tsv, …; `make sst` fetches them).") var sstDir = "data/sst"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Folder of the content-addressed features and validation losses, shareable between tasks (default: OUT).")
    var cache: String?
}

/// What is extracted and probed at every checkpoint.
struct TransferFeatures: ParsableArguments {
    @Option(help: "Prompt template or suffix (default: the task's prompt; none for --dataset).") var prompt: String?
    @Flag(help: "No prompt, even for a default task.") var noPrompt = false
    @Option(help: "Word list for the subset features (default: the task's; the paper's sentiment words for --dataset; '' for none).")
    var words: String?
    @Flag(help: "Also extract and probe the full next-word distribution p_f (n × V: large).") var withP = false
    @Flag(help: "Also probe f_mean: the final LayerNorm output averaged over every token of the input (prompt included).")
    var fMean = false
    @Option(help: "Tokenizer folder (default: the one recorded in the checkpoints).") var tokenizer: String?
    @Option(help: "Maximum tokens per forward batch.") var maxBatchTokens = 8192
}

/// How each checkpoint's validation cross-entropy is measured.
struct TransferValidation: ParsableArguments {
    @Option(name: .customLong("data"), help: "Token folder for evaluating validation CE when a checkpoint has no record (default: recorded in it).")
    var tokens: String?
    @Option(help: "Score at most this many validation windows per checkpoint (evenly spaced; default: the whole split).")
    var maxWindows: Int?
}
