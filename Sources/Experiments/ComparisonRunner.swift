import Analysis
import Features
import Foundation
import Linalg
import Model
import Probes
import Text
import Support
import Report

/// Runs a comparison (`ComparisonReport`). Extracted features are cached under `cacheDirectory` (`FeatureCache`:
/// content-addressed, one pass of each model over each split yields every readout asked for), so a re-run reuses them.
public final class ComparisonRunner {
    public let models: [ComparisonModel]
    public let tasks: [TaskSpec]
    public let settings: ComparisonSettings
    public let cacheDirectory: URL
    let log: (String) -> Void
    let progress: ((String, Int, Int) -> Void)?

    public init(models: [ComparisonModel], tasks: [TaskSpec], settings: ComparisonSettings, cacheDirectory: URL,
                log: @escaping (String) -> Void = { _ in }, progress: ((String, Int, Int) -> Void)? = nil) throws {
        guard !models.isEmpty else { throw ExperimentError("compare: give at least one --checkpoint") }
        guard !tasks.isEmpty else { throw ExperimentError("compare: no tasks to run") }
        let names = models.map(\.name)
        if Set(names).count != names.count { throw ExperimentError("compare: model names must differ (\(names))") }
        // Names become file and folder names under --out and the cache: nothing may climb out of them.
        do {
            for n in names { try PathName.check(n, role: "model name") }
            for t in tasks { try PathName.check(t.name, role: "task name") }
        } catch { throw ExperimentError("compare: \(error)") }
        self.models = models; self.tasks = tasks; self.settings = settings; self.cacheDirectory = cacheDirectory
        self.log = log; self.progress = progress
    }

    /// A model to compare, loaded.
    struct Contender {
        let spec: ComparisonModel
        let model: LoadedModel
        var checkpoint: Checkpoint { model.checkpoint }
        var tokenizer: BPETokenizer { model.tokenizer }
    }

    /// The train and test folders of one readout, each opened once.
    struct FolderPair {
        let train: OpenedFeatureFolder
        let test: OpenedFeatureFolder

        /// The rows of `family` for probes fitted with each of `settings`, each split left in its file where
        /// `ProbeRoute` says the probes stream it.
        func features(_ family: FeatureFamily, for settings: [ProbeSettings]) throws
            -> (train: LabelledFeatures, test: LabelledFeatures) {
            let x = try train.features(family, keepInFile: ProbeRoute.train(settings))
            return (x, try test.features(family, keepInFile: ProbeRoute.test(settings, train: x.features)))
        }
    }

    /// Every readout of one model × task × prompt, from one cache request (one extraction pass per split).
    struct Readouts {
        /// f(s) at the last token and everything derived from it (the families, the zero-shot score).
        let main: FolderPair
        /// f_mean(s), when the settings ask for it.
        let mean: FolderPair?
        /// The residual stream after block k = 0…L at the last token, when the settings ask for the best layer.
        let layers: [FolderPair]
    }

    public func run() throws -> ComparisonReport {
        let start = Benchmark.now()
        let loader = ModelLoader()
        let loaded = try models.map { Contender(spec: $0, model: try loader.load($0.checkpoint)) }
        var outcomes: [TaskOutcome] = [], results: [ProbeResult] = []
        var corpora: [String: [String]] = [:]   // model name → pretraining documents (for leakage), decoded once
        for task in tasks {
            let (outcome, rows) = try run(task, loaded, earlier: outcomes, corpora: &corpora)
            outcomes.append(outcome)
            results += rows
        }
        return try report(loaded, outcomes, results, seconds: Benchmark.now() - start)
    }

    /// One task: its facts (sizes, BoW, leakage, notes) and its result rows for every model and prompt setting.
    func run(_ task: TaskSpec, _ loaded: [Contender], earlier: [TaskOutcome],
             corpora: inout [String: [String]]) throws -> (TaskOutcome, [ProbeResult]) {
        log("task \(task.name): loading data")
        let (trainSplit, testSplit) = try DatasetSplits.load(task)
        let train = trainSplit.data, test = testSplit.data
        var outcome = TaskOutcome(task: task.name, trainCount: train.count, testCount: test.count,
                                  classNames: train.classNames, prompt: task.prompt, bagOfWords: nil, leakage: [:])
        var results: [ProbeResult] = []
        // Subset families need a word of the task's list that is a single token of the model's tokenizer.
        var skips: [String: Set<FeatureFamily>] = [:]
        for m in loaded where WordSubset(words: task.words, tokenizer: m.tokenizer).count == 0 {
            skips[m.spec.name] = [.subsetLogits, .subsetProbs]
            let note = "\(m.spec.name): no word of the task's list is a single token of its tokenizer; subset families skipped"
            outcome.notes.append(note)
            log("task \(task.name): \(note)")
        }
        if settings.bagOfWords {
            let bow = try bagOfWords(task, trainSplit, testSplit)
            outcome.bagOfWords = bow
            results += try bagOfWordsRows(bow, task, loaded, truth: test.labels, classes: train.classNames.count)
        }
        if settings.leakageCheck {
            outcome.leakage = try leakage(task, trainSplit, testSplit, loaded, earlier: earlier, corpora: &corpora)
        }
        for m in loaded {
            for p in promptSettings(task) {
                let skip = skips[m.spec.name] ?? []
                let r = try readouts(m, task, trainSplit, testSplit, prompt: p, withWords: skip.isEmpty)
                results += try probe(m, task, p, r.main, classes: train.classNames.count, skip: skip)
                results += try readoutRows(m, task, p, r, classes: train.classNames.count)
            }
        }
        return (outcome, results)
    }

    /// One model-free baseline repeated in every column, with its per-example correctness: its interval, its pooled
    /// folds and a paired test against each model's best feature (`PairedTests`).
    func bagOfWordsRows(_ bow: BagOfWordsBaseline, _ task: TaskSpec, _ loaded: [Contender], truth: [Int],
                        classes: Int) throws -> [ProbeResult] {
        let metrics = try ClassificationMetrics(predicted: bow.testPredictions, truth: truth, classes: classes)
        return loaded.flatMap { m in
            promptSettings(task).map { p in
                ProbeResult(task: task.name, prompt: p, model: m.spec.name, feature: ProbeResult.bagOfWordsFeature,
                            metrics: metrics, probe: "ridge α=\(bow.alpha)")
            }
        }
    }

    /// Overlap of the task's sentences with each model's pretraining corpus. Resamplings of one task (TASK@s…,
    /// TASK@f…) share their sentences: an earlier resampling's counts are reused.
    func leakage(_ task: TaskSpec, _ train: DatasetSplit, _ test: DatasetSplit, _ loaded: [Contender],
                 earlier: [TaskOutcome], corpora: inout [String: [String]]) throws -> [String: LeakageReport] {
        let baseName = task.name.split(separator: "@").first.map(String.init) ?? task.name
        if let first = earlier.first(where: { $0.task.split(separator: "@").first.map(String.init) == baseName && $0.task != task.name }),
           !first.leakage.isEmpty {
            return first.leakage
        }
        var out: [String: LeakageReport] = [:]
        for m in loaded {
            if corpora[m.spec.name] == nil { corpora[m.spec.name] = try pretrainingDocuments(m) }
            guard let docs = corpora[m.spec.name], !docs.isEmpty else { continue }
            let index = SentenceIndex(sentences: train.data.texts + test.data.texts,
                                      minimumLength: settings.leakageMinimumLength)
            index.scan(documents: docs, progress: { done, total in
                self.progress?("leakage \(task.name) · \(m.spec.name)", done, total)
            })
            let rep = index.report()
            out[m.spec.name] = rep
            log("task \(task.name): \(rep.leaked) of \(rep.sentences) sentences occur in \(m.spec.name)'s pretraining corpus")
        }
        return out
    }

    /// The report: model facts, every row, the paired tests, resampled summaries and pooled folds.
    func report(_ loaded: [Contender], _ outcomes: [TaskOutcome], _ results: [ProbeResult],
                seconds: Double) throws -> ComparisonReport {
        let modelOutcomes = loaded.map { m in
            ModelOutcome(name: m.spec.name, checkpoint: reportPath(m.model.url.path), sha256: m.model.sha256, config: m.checkpoint.config.description,
                         step: m.checkpoint.recordedStep, validationCrossEntropy: m.checkpoint.validation.last?.crossEntropy,
                         validationLoss: m.checkpoint.validation.last?.loss)
        }
        var report = ComparisonReport(createdAt: ISO8601DateFormatter().string(from: Date()), settings: settings,
                                      models: modelOutcomes, tasks: outcomes, results: results, seconds: seconds)
        report.pairedTests = try PairedTests.all(results: results)
        report.resampled = ResampledResult.summarize(results)
        // K-fold tasks: every example is tested once, so the folds pool into one test of all examples.
        let pooled = try ResampledResult.poolFolds(results)
        report.pooledFolds = pooled
        report.pairedTests += try PairedTests.all(results: pooled)
        return report
    }

    /// The prompts a task runs with (the paper protocol's end in a space, as its official code writes them).
    func promptSettings(_ task: TaskSpec) -> [String?] {
        let prompt = settings.probeProtocol == .paper ? task.withTrailingSpacePrompt().prompt : task.prompt
        switch settings.prompts {
        case .both: return prompt.isEmpty ? [nil] : [nil, prompt]
        case .with: return [prompt]
        case .without: return [nil]
        }
    }

    /// The pretraining documents of a model (its token files decoded, split at `<|endoftext|>`), or [] with a log
    /// line when the checkpoint does not say where they are.
    func pretrainingDocuments(_ m: Contender) throws -> [String] {
        guard let dir = m.checkpoint.metadata["data"] else {
            log("leakage: \(m.model.url.path) records no pretraining data folder; not checked")
            return []
        }
        let url = URL(fileURLWithPath: dir)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("tokens.json").path) else {
            log("leakage: pretraining tokens \(dir) are gone; not checked")
            return []
        }
        var docs: [String] = []
        for split in [TokenFile.Split.train, .val] {
            let file = try TokenFile(directory: url, split: split)
            let eot = Int32(file.header.eotToken)
            var current: [Int] = []
            current.reserveCapacity(4096)
            for i in 0..<file.count {
                let t = file[i]
                if t == eot {
                    if !current.isEmpty { docs.append(m.tokenizer.decode(current)); current.removeAll(keepingCapacity: true) }
                } else { current.append(Int(t)) }
            }
            if !current.isEmpty { docs.append(m.tokenizer.decode(current)) }
        }
        return docs
    }

    func bagOfWords(_ task: TaskSpec, _ train: DatasetSplit, _ test: DatasetSplit) throws -> BagOfWordsBaseline {
        let key = FeatureCache.key("bag of words: TF-IDF uni+bigrams, ridge alphas \(BagOfWordsBaseline.defaultAlphas)",
                                   splits: [train, test]).prefix(16)
        let url = cacheDirectory.appendingPathComponent("bow-\(task.name)-\(key).json")
        if let data = try? readFileData(url),
           let cached = try? JSONCoding.decoder().decode(BagOfWordsBaseline.self, from: data) {
            log("task \(task.name): reusing bag-of-words baseline \(url.lastPathComponent)")
            return cached
        }
        log("task \(task.name): bag-of-words baseline (TF-IDF uni+bigrams, ridge on the Gram matrix with exact LOO)")
        let t0 = Benchmark.now(), cpu0 = Benchmark.cpuSeconds()
        let bow = try BagOfWordsBaseline(trainTexts: train.data.texts, trainLabels: train.data.labels,
                                         testTexts: test.data.texts, testLabels: test.data.labels,
                                         log: { self.log("task \(task.name): BoW \($0)") })
        log(String(format: "task %@: BoW %.1f%% (%.1f s wall, %.1f s CPU on %d threads)", task.name, 100 * bow.testAccuracy,
                   Benchmark.now() - t0, Benchmark.cpuSeconds() - cpu0, Threads.count))
        try ReportWriter.writeJSON(bow, to: url)
        return bow
    }

    /// The extraction settings of one readout for one model × task × prompt. With a `pooling`/`layer` other than the
    /// default only f.npy is extracted (see `ExtractionOptions.layer`).
    func extractionOptions(_ m: Contender, _ task: TaskSpec, prompt: String?, withWords: Bool, pooling: Pooling = .last,
                           layer: Int? = nil) throws -> ExtractionOptions {
        var options = ExtractionOptions()
        options.prompt = try PromptTemplate(prompt ?? "{text}")
        options.pooling = pooling
        options.layer = layer
        let full = options.isDefaultReadout
        options.words = full && withWords ? task.words : []
        options.pDtype = settings.pDtype
        options.writeFullDistribution = full && settings.families.contains(.p)
        options.maxBatchTokens = settings.maxBatchTokens
        if full, let cw = task.classWords {
            // Zero-shot needs a single-token word for every class; otherwise skip it for this tokenizer.
            if cw.allSatisfy({ WordSubset(words: $0, tokenizer: m.tokenizer).count > 0 }) { options.classWords = cw }
        }
        return options
    }

    /// Every readout the settings ask for (f(s) and its families; f_mean(s); each layer for the best layer) of one
    /// model × task × prompt, from the cache or from ONE extraction pass per split.
    func readouts(_ m: Contender, _ task: TaskSpec, _ train: DatasetSplit, _ test: DatasetSplit,
                  prompt: String?, withWords: Bool = true) throws -> Readouts {
        let label = [m.spec.name, task.name, prompt == nil ? "noprompt" : "prompt"]
        let main = try extractionOptions(m, task, prompt: prompt, withWords: withWords)
        if task.classWords != nil && main.classWords == nil {
            log("task \(task.name): some class has no single-token class word in \(m.spec.name)'s vocabulary; no zero-shot score")
        }
        var requests = [FeatureCache.Request(label: label, options: main)]
        let withF = settings.families.contains(.f)
        if withF && settings.meanPooled {
            requests.append(.init(label: label, options: try extractionOptions(m, task, prompt: prompt, withWords: withWords,
                                                                               pooling: .mean)))
        }
        let layers = withF && settings.bestLayer ? Array(0...m.checkpoint.config.layers) : []
        for k in layers {
            requests.append(.init(label: label, options: try extractionOptions(m, task, prompt: prompt, withWords: withWords,
                                                                               layer: k)))
        }
        let what = "extract \(m.spec.name) · \(task.name) · \(prompt == nil ? "no prompt" : "prompt")"
        let entries = try FeatureCache.entries(model: m.model, splits: [train, test], requests: requests,
                                               cache: cacheDirectory,
                                               progress: { split, done, total in self.progress?("\(what) · \(split)", done, total) })
        for e in entries {
            if e.reused {
                log("\(m.spec.name) · \(task.name) · \(prompt ?? "no prompt"): reusing features \(e.directory.lastPathComponent)")
            } else {
                for split in [train.name, test.name] {
                    guard let man = e.manifests[split] else { continue }
                    log(String(format: "%@ · %@: %d sentences, %.0f sentences/s (%@)", what, split, man.n,
                               man.sentencesPerSecond, man.readout ?? "f(s)"))
                }
            }
        }
        let pairs = try entries.map { FolderPair(train: try $0.folder(train.name), test: try $0.folder(test.name)) }
        let meanCount = withF && settings.meanPooled ? 1 : 0
        return Readouts(main: pairs[0], mean: meanCount == 1 ? pairs[1] : nil, layers: Array(pairs.dropFirst(1 + meanCount)))
    }

    /// The f_mean(s) rows (every probe method) and the best-layer row (ridge), as the settings ask.
    func readoutRows(_ m: Contender, _ task: TaskSpec, _ prompt: String?, _ r: Readouts,
                     classes: Int) throws -> [ProbeResult] {
        var out: [ProbeResult] = []
        if let mean = r.mean {
            out += try probe(m, task, prompt, mean, classes: classes, only: .f, name: "f_mean(s)")
        }
        if let best = try bestLayer(m, task, prompt, r.layers, classes: classes) { out.append(best) }
        return out
    }

    /// The ridge-probed layer with the highest leave-one-out training accuracy, scored on the test split (nil when
    /// no layer was extracted).
    func bestLayer(_ m: Contender, _ task: TaskSpec, _ prompt: String?, _ layers: [FolderPair],
                   classes: Int) throws -> ProbeResult? {
        let L = layers.count - 1
        var best: (loo: Double, result: ProbeResult)? = nil
        for (k, pair) in layers.enumerated() {
            let rows = try pair.features(.f, for: [FamilyProbe.probeSettings(settings, family: .f, method: .ridge, classes: classes,
                                                                             trainingRows: pair.train.labels.count)])
            let o = try FamilyProbe.run(train: rows.train, test: rows.test, classes: classes, family: .f, method: .ridge,
                                        settings: settings)
            let model = o.probe.ridge!, metrics = o.metrics
            let loo = model.looAccuracy[model.chosenIndex]
            log(String(format: "%@ · %@ · %@ · layer %d: LOO %.1f%%, test %.1f%%", m.spec.name, task.name,
                       prompt ?? "no prompt", k, 100 * loo, 100 * metrics.accuracy))
            if best == nil || loo > best!.loo {
                best = (loo, ProbeResult(task: task.name, prompt: prompt, model: m.spec.name,
                                         feature: "f best layer (LOO) · ridge", metrics: metrics,
                                         probe: "ridge α=\(model.alpha), layer \(k) of 0…\(L)",
                                         gridNote: model.gridSearch?.note))
            }
        }
        return best?.result
    }

    /// Every family of the settings (or only `only`, then shown as `name` and without the zero-shot row).
    func probe(_ m: Contender, _ task: TaskSpec, _ prompt: String?, _ pair: FolderPair,
               classes: Int, skip: Set<FeatureFamily> = [], only: FeatureFamily? = nil,
               name displayName: String? = nil) throws -> [ProbeResult] {
        var out: [ProbeResult] = []
        // The paper's "subset" feature is the logits f·Φ_Sᵀ; its protocol has no subset-probability row.
        let families = only.map { [$0] }
            ?? (settings.probeProtocol == .paper ? settings.families.filter { $0 != .subsetProbs } : settings.families)
        for family in families where !skip.contains(family) {
            let methods = settings.methods.filter { !($0 == .logistic && settings.logisticSkips.contains(family)) }
            let (train, test) = try pair.features(family, for: methods.map {
                FamilyProbe.probeSettings(settings, family: family, method: $0, classes: classes,
                                          trainingRows: pair.train.labels.count)
            })
            for method in methods {
                let t0 = Benchmark.now()
                let o = try FamilyProbe.run(train: train, test: test, classes: classes, family: family, method: method,
                                            settings: settings)
                log(String(format: "%@ · %@ · %@ · %@ %@: %.1f%% (%.1f s%@)", m.spec.name, task.name, prompt ?? "no prompt",
                           displayName ?? family.displayName, method.rawValue, 100 * o.metrics.accuracy, Benchmark.now() - t0,
                           o.probe.streamed ? ", streamed from the file" : "")
                    + (o.gridNote.map { " — " + $0 } ?? ""))
                out.append(ProbeResult(task: task.name, prompt: prompt, model: m.spec.name,
                                       feature: "\(displayName ?? family.displayName) · \(method.rawValue)", metrics: o.metrics,
                                       probe: o.detail, gridNote: o.gridNote))
            }
        }
        let manifest = pair.test.manifest
        if only == nil, let z = manifest.zeroShotAccuracy {
            var r = ProbeResult(task: task.name, prompt: prompt, model: m.spec.name,
                                feature: "zero-shot (class words)", accuracy: z, probe: "argmax of class-word p_f")
            let k = Int((z * Double(manifest.n)).rounded())
            r.interval = try? Intervals.wilson(successes: k, trials: manifest.n)
            out.append(r)
        }
        return out
    }
}
