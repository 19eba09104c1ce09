import Analysis
import Features
import Foundation
import Model
import Probes
import Text
import Support
import Report

/// `lmprobe compare`: the paper's table from our own models. For each model × task × prompt setting it extracts
/// (or reuses) the feature families, probes each on the task's train split and scores the test split, adds the
/// class-word zero-shot score and a TF-IDF bag-of-words baseline, and checks the pretraining corpus for overlap
/// with the evaluation sentences.
public struct ComparisonSettings: Codable, Sendable {
    public enum PromptMode: String, Codable, Sendable, CaseIterable { case both, with, without }
    public var families: [FeatureFamily] = FeatureFamily.allCases
    /// Probe methods: ridge (closed form, exact LOO over `alphas`) and/or logistic (k-fold CV over `Cs`).
    public var methods: [ProbeMethod] = [.ridge]
    /// Families the logistic probe skips (p is V-wide and slow to fit iteratively).
    public var logisticSkips: [FeatureFamily] = [.p]
    public var prompts: PromptMode = .both
    /// Probe settings: THE defaults (`ProbeSettings`, shared with `lmprobe probe`; see Probes.docc).
    public var standardize = ProbeSettings().standardize
    public var alphas: [Double] = ProbeSettings().alphas
    public var Cs: [Double] = ProbeSettings().Cs
    public var folds = ProbeSettings().folds
    public var logisticTolerance = ProbeSettings().tolerance
    public var logisticMaxIterations = ProbeSettings().maxIterations
    public var bagOfWords = true
    public var leakageCheck = true
    /// Evaluation sentences shorter than this (normalised, in bytes) are not checked for leakage: short phrases
    /// ("Why ?") occur in unrelated text. The same threshold as `tokenize --exclude-min-length`.
    public var leakageMinimumLength = SentenceIndex.defaultMinimumLength
    public var pDtype = "<f4"
    public var maxBatchTokens = 8192
    /// lmprobe's probe settings or the paper's (`ProbeProtocol`: no scaling, the paper's C grids, one-vs-rest).
    public var probeProtocol: ProbeProtocol = .lmprobe
    /// Extend a grid whose chosen λ/C is at an end (`GridExtension`; the paper protocol's C grid is never extended).
    public var extendGrids = true
    /// Add f_mean(s) (the final-LayerNorm output averaged over every token, prompt included) beside f(s).
    public var meanPooled = true
    /// Add the best layer: the residual stream after each block k = 0…L at the last token, ridge-probed, the k
    /// with the highest leave-one-out training accuracy reported on the test split (L + 1 extractions).
    public var bestLayer = false

    /// JSON keys (`JSONCoding`): the properties in snake_case (`cs` for `Cs`).
    enum CodingKeys: String, CodingKey {
        case families, methods, logisticSkips, prompts, standardize, alphas, Cs = "cs", folds, logisticTolerance
        case logisticMaxIterations, bagOfWords, leakageCheck, leakageMinimumLength, pDtype, maxBatchTokens
        case probeProtocol, extendGrids, meanPooled, bestLayer
    }

    public init() {}
}

/// A model to compare: a display name and a checkpoint (file or run folder).
public struct ComparisonModel: Codable, Sendable {
    public var name: String
    public var checkpoint: String
    public init(name: String, checkpoint: String) { self.name = name; self.checkpoint = checkpoint }
}

/// Per-task facts of a comparison.
public struct TaskOutcome: Codable, Sendable {
    public var task: String
    public var trainCount: Int
    public var testCount: Int
    public var classNames: [String]
    public var prompt: String
    public var bagOfWords: BagOfWordsBaseline?
    /// Overlap of the task's sentences (train + test) with each model's pretraining corpus, by model name.
    public var leakage: [String: LeakageReport]
    /// What was skipped and why (e.g. subset families for a tokenizer without the task's words).
    public var notes: [String] = []
}

/// Model facts recorded in the report.
public struct ModelOutcome: Codable, Sendable {
    public var name: String
    public var checkpoint: String
    public var sha256: String
    public var config: String
    /// The training step; nil (JSON null, "step: unknown") for a model imported from a Hugging Face folder.
    public var step: Int?
    public var validationCrossEntropy: Double?
    public var validationLoss: Double?
}

/// Everything `compare` measured (`report.json`).
public struct ComparisonReport: Codable, Sendable {
    public var tool = "lmprobe compare"
    public var version = lmprobeVersion
    public var createdAt: String
    public var settings: ComparisonSettings
    public var models: [ModelOutcome]
    public var tasks: [TaskOutcome]
    public var results: [ProbeResult]
    public var seconds: Double
    /// Every model against the first model and every family against the first of its probe method (`PairedTests`).
    public var pairedTests: [PairedTestRecord] = []
    /// Tasks run on K resamplings (TASK@sS splits or TASK@fF folds): each cell's mean ± std over them.
    public var resampled: [ResampledResult] = []
    /// K-fold tasks: each cell over all examples (its K test folds pooled, "TASK (K folds pooled)"), with its
    /// Wilson interval; their paired tests are in `pairedTests`.
    public var pooledFolds: [ProbeResult] = []

    /// Markdown: one table per task (rows: features; columns: prompt × model), then BoW and leakage facts, the
    /// paired tests, and the mean ± std of resampled tasks.
    public func markdown() throws -> String {
        var out = "# lmprobe compare\n\n"
        out += "Models: " + models.map { m in
            "**\(m.name)** (\(m.config), \(m.step.map { "step \($0)" } ?? "step: unknown")" +
                (m.validationCrossEntropy.map { String(format: ", val CE %.3f", $0) } ?? "") + ")"
        }.joined(separator: "; ") + ".\n"
        out += "Probes: \(settings.methods.map(\.rawValue).joined(separator: ", ")) on the train split, accuracy (%) on the test split"
        out += settings.probeProtocol == .paper ? ". " : (settings.standardize ? " (features standardised). " : ". ")
        out += settings.probeProtocol.describe + ".\n\n"
        for t in tasks {
            let rs = results.filter { $0.task == t.task }
            guard !rs.isEmpty else { continue }
            out += "## \(t.task) (\(t.trainCount) train / \(t.testCount) test, \(t.classNames.count) classes: "
            out += t.classNames.joined(separator: ", ") + ")\n\n"
            out += try ComparisonTable(results: rs).markdown() + "\n"
            if let b = t.bagOfWords {
                out += String(format: "BoW: TF-IDF uni+bigrams (%d features), ridge α = %g → %.1f%%", b.vocabularySize,
                              b.alpha, 100 * b.testAccuracy)
                out += b.gridNote.isEmpty ? ".\n" : " (α grid: \(b.gridNote)).\n"
            }
            for (model, l) in t.leakage.sorted(by: { $0.key < $1.key }) {
                out += "Leakage (\(model)'s pretraining corpus): \(l.leaked) of \(l.sentences - l.notChecked) sentences " +
                    "(≥ \(l.minimumLength) bytes) occur in it; \(l.notChecked) shorter ones not checked.\n"
            }
            for note in t.notes { out += "Note: \(note).\n" }
            let notes = rs.compactMap { r in r.gridNote.map { "\(r.model) · \(r.prompt == nil ? "no prompt" : "prompt") · \(r.feature): \($0)" } }
            if !notes.isEmpty {
                out += "\nGrid edges (λ or C at an end of the requested grid):\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n"
            }
            out += "\n"
        }
        if !resampled.isEmpty {
            out += "## Resampled tasks: mean ± std (%) over resamplings\n\n"
            out += "| task · prompt · model | feature | mean ± std | resamplings | values |\n|---|---|---:|---:|---|\n"
            for r in resampled {
                out += "| \(r.task) · \(r.prompt.map { "“\($0.trimmingCharacters(in: .whitespaces))”" } ?? "no prompt") · \(r.model) | \(r.feature) | "
                out += String(format: "%.1f ± %.1f | %d | ", 100 * r.score.mean, 100 * r.score.standardDeviation, r.score.values.count)
                out += r.score.values.map { String(format: "%.1f", 100 * $0) }.joined(separator: ", ") + " |\n"
            }
            out += "\n"
        }
        if !pooledFolds.isEmpty {
            out += "## K-fold tasks, all examples (test folds pooled)\n\n"
            out += try ComparisonTable(results: pooledFolds).markdown() + "\n"
        }
        if !pairedTests.isEmpty {
            out += "## Paired tests (same test examples)\n\n"
            out += "McNemar exact and mid-p on the discordant examples; Δ's 95 % interval by the paired bootstrap over "
            out += "test examples (\(Intervals.resamples) resamples). “significant”: mid-p < 0.05 and the interval excludes 0.\n\n"
            out += PairedTests.markdown(pairedTests) + "\n"
        }
        return out
    }
}

/// One cell of a task run on K resamplings: its accuracy on each (TASK@s0…, or TASK@f0… whose test folds together
/// cover every example once).
public struct ResampledResult: Codable, Sendable {
    public var task: String
    public var prompt: String?
    public var model: String
    public var feature: String
    public var score: ResampledScore

    /// Groups results whose task names end in @sN or @fN by (base task, prompt, model, feature).
    public static func summarize(_ results: [ProbeResult]) -> [ResampledResult] {
        var order: [String] = [], groups: [String: (ResampledResult, [Double])] = [:]
        for r in results {
            guard let at = r.task.lastIndex(of: "@") else { continue }
            let suffix = r.task[r.task.index(after: at)...]
            guard let first = suffix.first, first == "s" || first == "f", Int(suffix.dropFirst()) != nil else { continue }
            let base = String(r.task[..<at])
            let key = [base, r.prompt ?? "\u{2}", r.model, r.feature].joined(separator: "\u{1}")
            if groups[key] == nil {
                order.append(key)
                groups[key] = (ResampledResult(task: base, prompt: r.prompt, model: r.model, feature: r.feature,
                                               score: ResampledScore([])), [])
            }
            groups[key]!.1.append(r.accuracy)
        }
        return order.map { k in
            var g = groups[k]!.0
            g.score = ResampledScore(groups[k]!.1)
            return g
        }
    }
}

extension ResampledResult {
    /// Results of TASK@f0 … TASK@f(K−1) pooled per (prompt, model, feature) into one result over all examples:
    /// correctness concatenated in fold order, accuracy and Wilson interval over the union. Needs every fold of the
    /// cell (with per-example correctness); other results are ignored.
    public static func poolFolds(_ results: [ProbeResult]) throws -> [ProbeResult] {
        var order: [String] = [], parts: [String: [(Int, ProbeResult)]] = [:]
        for r in results {
            guard let at = r.task.lastIndex(of: "@"), r.task[r.task.index(after: at)...].first == "f",
                  let fold = Int(r.task[r.task.index(r.task.index(after: at), offsetBy: 1)...]), r.correct != nil else { continue }
            let key = [String(r.task[..<at]), r.prompt ?? "\u{2}", r.model, r.feature].joined(separator: "\u{1}")
            if parts[key] == nil { order.append(key) }
            parts[key, default: []].append((fold, r))
        }
        return try order.compactMap { key in
            let ps = parts[key]!.sorted { $0.0 < $1.0 }
            guard ps.map(\.0) == Array(0..<ps.count), ps.count >= 2 else { return nil }
            let first = ps[0].1
            let base = String(first.task[..<first.task.lastIndex(of: "@")!])
            let correct = ps.map { $0.1.correct! }.joined()
            let k = correct.filter { $0 == "1" }.count
            var r = ProbeResult(task: "\(base) (\(ps.count) folds pooled)", prompt: first.prompt, model: first.model,
                                feature: first.feature, accuracy: Double(k) / Double(correct.count),
                                probe: "\(ps.count)-fold CV, test folds pooled")
            r.interval = try Intervals.wilson(successes: k, trials: correct.count)
            r.correct = correct
            return r
        }
    }
}

/// Runs a comparison. Extracted features are cached under `cacheDirectory`, content-addressed by checkpoint hash,
/// dataset definition, prompt, word lists and lmprobe version, so a re-run reuses them.
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

    public func run() throws -> ComparisonReport {
        let start = Benchmark.now()
        let loader = ModelLoader()
        let loaded = try models.map { Contender(spec: $0, model: try loader.load($0.checkpoint)) }
        var outcomes: [TaskOutcome] = [], results: [ProbeResult] = []
        var corpora: [String: [String]] = [:]   // model name → pretraining documents (for leakage), decoded once
        for task in tasks {
            log("task \(task.name): loading data")
            let (trainSplit, testSplit) = try DatasetSplits.load(task)
            let train = trainSplit.data, test = testSplit.data
            var outcome = TaskOutcome(task: task.name, trainCount: train.count, testCount: test.count,
                                      classNames: train.classNames, prompt: task.prompt, bagOfWords: nil, leakage: [:])
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
                let metrics = try ClassificationMetrics(predicted: bow.testPredictions, truth: test.labels,
                                                        classes: train.classNames.count)
                for m in loaded {
                    for p in promptSettings(task) {
                        // One model-free baseline repeated in every column, with its per-example correctness: its
                        // interval, its pooled folds and a paired test against each model's best feature (PairedTests).
                        results.append(ProbeResult(task: task.name, prompt: p, model: m.spec.name,
                                                   feature: ProbeResult.bagOfWordsFeature, metrics: metrics,
                                                   probe: "ridge α=\(bow.alpha)"))
                    }
                }
            }
            // Resamplings of one task (TASK@s…, TASK@f…) share their sentences: count the leakage once.
            let baseName = task.name.split(separator: "@").first.map(String.init) ?? task.name
            if settings.leakageCheck, let first = outcomes.first(where: { $0.task.split(separator: "@").first.map(String.init) == baseName && $0.task != task.name }),
               !first.leakage.isEmpty {
                outcome.leakage = first.leakage
            } else if settings.leakageCheck {
                for m in loaded {
                    if corpora[m.spec.name] == nil { corpora[m.spec.name] = try pretrainingDocuments(m) }
                    guard let docs = corpora[m.spec.name], !docs.isEmpty else { continue }
                    let index = SentenceIndex(sentences: train.texts + test.texts,
                                              minimumLength: settings.leakageMinimumLength)
                    index.scan(documents: docs, progress: { done, total in
                        self.progress?("leakage \(task.name) · \(m.spec.name)", done, total)
                    })
                    let rep = index.report()
                    outcome.leakage[m.spec.name] = rep
                    log("task \(task.name): \(rep.leaked) of \(rep.sentences) sentences occur in \(m.spec.name)'s pretraining corpus")
                }
            }
            for m in loaded {
                for p in promptSettings(task) {
                    let skip = skips[m.spec.name] ?? []
                    let dirs = try features(m, task, trainSplit, testSplit, prompt: p, withWords: skip.isEmpty)
                    results += try probe(m, task, p, dirs, classes: train.classNames.count, skip: skip)
                    results += try readoutRows(m, task, trainSplit, testSplit, prompt: p, classes: train.classNames.count)
                }
            }
            outcomes.append(outcome)
        }
        let modelOutcomes = loaded.map { m in
            ModelOutcome(name: m.spec.name, checkpoint: m.model.url.path, sha256: m.model.sha256, config: m.checkpoint.config.description,
                         step: m.checkpoint.recordedStep, validationCrossEntropy: m.checkpoint.validation.last?.crossEntropy,
                         validationLoss: m.checkpoint.validation.last?.loss)
        }
        var report = ComparisonReport(createdAt: ISO8601DateFormatter().string(from: Date()), settings: settings,
                                      models: modelOutcomes, tasks: outcomes, results: results,
                                      seconds: Benchmark.now() - start)
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

    /// Feature folders (train, test) for one model × task × prompt, extracted unless a matching cache entry exists.
    /// With a `pooling`/`layer` other than the default only f.npy is extracted (see `ExtractionOptions.layer`).
    func features(_ m: Contender, _ task: TaskSpec, _ train: DatasetSplit, _ test: DatasetSplit,
                  prompt: String?, withWords: Bool = true, pooling: Pooling = .last,
                  layer: Int? = nil) throws -> (train: URL, test: URL) {
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
            let usable = cw.allSatisfy { WordSubset(words: $0, tokenizer: m.tokenizer).count > 0 }
            if usable { options.classWords = cw } else {
                log("task \(task.name): some class has no single-token class word in \(m.spec.name)'s vocabulary; no zero-shot score")
            }
        }
        let splits = [train, test]
        let key = FeatureCache.key(checkpointSHA256: m.model.sha256, splits: splits, options: options).prefix(16)
        let readout = full ? "" : "-\(pooling == .mean ? "mean" : "last")\(layer.map { "-layer\($0)" } ?? "")"
        let base = cacheDirectory.appendingPathComponent("\(m.spec.name)-\(task.name)-\(prompt == nil ? "noprompt" : "prompt")\(readout)-\(key)")
        let dirs = (base.appendingPathComponent("train"), base.appendingPathComponent("test"))
        let label = "extract \(m.spec.name) · \(task.name) · \(prompt == nil ? "no prompt" : "prompt")"
        let reused = try FeatureCache.features(model: m.model, splits: splits, options: options, directory: base,
                                               progress: { split, done, total in self.progress?("\(label) · \(split)", done, total) })
        if reused {
            log("\(m.spec.name) · \(task.name) · \(prompt ?? "no prompt"): reusing features \(base.lastPathComponent)")
        } else {
            for (split, dir) in [("train", dirs.0), ("test", dirs.1)] {
                let man = try FeatureFolder.manifest(dir)
                log(String(format: "%@ · %@: %d sentences, %.0f sentences/s", label, split, man.n, man.sentencesPerSecond))
            }
        }
        return dirs
    }

    /// The f_mean(s) rows (every probe method) and the best-layer row (ridge), as the settings ask.
    func readoutRows(_ m: Contender, _ task: TaskSpec, _ train: DatasetSplit, _ test: DatasetSplit,
                     prompt: String?, classes: Int) throws -> [ProbeResult] {
        guard settings.families.contains(.f) else { return [] }
        var out: [ProbeResult] = []
        if settings.meanPooled {
            let dirs = try features(m, task, train, test, prompt: prompt, pooling: .mean)
            out += try probe(m, task, prompt, dirs, classes: classes, only: .f, name: "f_mean(s)")
        }
        if settings.bestLayer {
            let L = m.checkpoint.config.layers
            var best: (loo: Double, result: ProbeResult)? = nil
            for k in 0...L {
                let dirs = try features(m, task, train, test, prompt: prompt, layer: k)
                let o = try FamilyProbe.run(train: try LabelledFeatures.load(folder: dirs.train, feature: .f),
                                            test: try LabelledFeatures.load(folder: dirs.test, feature: .f),
                                            classes: classes, family: .f, method: .ridge, settings: settings)
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
            if let b = best { out.append(b.result) }
        }
        return out
    }

    /// Every family of the settings (or only `only`, then shown as `name` and without the zero-shot row).
    func probe(_ m: Contender, _ task: TaskSpec, _ prompt: String?, _ dirs: (train: URL, test: URL),
               classes: Int, skip: Set<FeatureFamily> = [], only: FeatureFamily? = nil,
               name displayName: String? = nil) throws -> [ProbeResult] {
        var out: [ProbeResult] = []
        // The paper's "subset" feature is the logits f·Φ_Sᵀ; its protocol has no subset-probability row.
        let families = only.map { [$0] }
            ?? (settings.probeProtocol == .paper ? settings.families.filter { $0 != .subsetProbs } : settings.families)
        for family in families where !skip.contains(family) {
            let train = try LabelledFeatures.load(folder: dirs.train, feature: family)
            let test = try LabelledFeatures.load(folder: dirs.test, feature: family)
            for method in settings.methods {
                if method == .logistic && settings.logisticSkips.contains(family) { continue }
                let t0 = Benchmark.now()
                let o = try FamilyProbe.run(train: train, test: test, classes: classes, family: family, method: method,
                                            settings: settings)
                log(String(format: "%@ · %@ · %@ · %@ %@: %.1f%% (%.1f s)", m.spec.name, task.name, prompt ?? "no prompt",
                           displayName ?? family.displayName, method.rawValue, 100 * o.metrics.accuracy, Benchmark.now() - t0)
                    + (o.gridNote.map { " — " + $0 } ?? ""))
                out.append(ProbeResult(task: task.name, prompt: prompt, model: m.spec.name,
                                       feature: "\(displayName ?? family.displayName) · \(method.rawValue)", metrics: o.metrics,
                                       probe: o.detail, gridNote: o.gridNote))
            }
        }
        let manifest = try FeatureFolder.manifest(dirs.test)
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
