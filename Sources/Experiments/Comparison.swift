import Analysis
import Features
import Foundation
import Linalg
import Probes
import Text
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
