import Analysis
import Foundation
import Probes
import Text
import Support

/// One probe result: a feature family evaluated on one task, with or without a prompt, from one model.
public struct ProbeResult: Codable, Equatable, Sendable {
    public var task: String
    public var prompt: String?
    public var model: String
    public var feature: String
    /// Test accuracy in [0, 1].
    public var accuracy: Double
    /// Test loss of the probe (e.g. cross-entropy), when the probe reports one.
    public var loss: Double?
    /// Free-form probe settings (e.g. "ridge", chosen α).
    public var probe: String?
    /// 95 % Wilson interval of `accuracy` over the test examples.
    public var interval: ConfidenceInterval? = nil
    /// 95 % bootstrap interval of `loss` over the test examples (logistic probes).
    public var lossInterval: ConfidenceInterval? = nil
    /// Per test example, "1" when classified correctly else "0" (the input of every paired test).
    public var correct: String? = nil
    /// The grid search's note when the chosen λ or C landed at an end of the requested grid.
    public var gridNote: String? = nil

    public init(task: String, prompt: String?, model: String, feature: String, accuracy: Double, loss: Double? = nil,
                probe: String? = nil) {
        self.task = task; self.prompt = prompt; self.model = model; self.feature = feature
        self.accuracy = accuracy; self.loss = loss; self.probe = probe
    }

    /// A result with its intervals and per-example correctness taken from test metrics.
    public init(task: String, prompt: String?, model: String, feature: String, metrics: ClassificationMetrics,
                probe: String?, gridNote: String? = nil) {
        self.init(task: task, prompt: prompt, model: model, feature: feature, accuracy: metrics.accuracy,
                  loss: metrics.logLoss, probe: probe)
        interval = metrics.accuracyInterval
        lossInterval = metrics.logLossInterval
        correct = String(metrics.correct.map { $0 ? "1" : "0" })
        self.gridNote = gridNote.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `correct` decoded.
    public var correctness: [Bool]? { correct.map { $0.map { $0 == "1" } } }

    /// The feature name of the bag-of-words baseline: a model-free row repeated in every model's column.
    public static let bagOfWordsFeature = "BoW TF-IDF · ridge"
    public var isBagOfWords: Bool { feature == Self.bagOfWordsFeature }

    /// The table column this result belongs to.
    public var column: ComparisonTable.Column { .init(task: task, prompt: prompt, model: model) }
}

/// The comparison table: rows are feature families, columns are task × prompt × model; accuracies as percentages
/// with one decimal, the best value of each column in bold (all tied values, compared at the printed precision).
public struct ComparisonTable: Equatable, Sendable {
    public struct Column: Hashable, Codable, Sendable {
        public var task: String
        public var prompt: String?
        public var model: String
        public init(task: String, prompt: String?, model: String) { self.task = task; self.prompt = prompt; self.model = model }
        public var title: String {
            let p = prompt.map { $0.isEmpty ? "no prompt" : "“\($0.trimmingCharacters(in: .whitespaces))”" } ?? "no prompt"
            return "\(task) · \(p) · \(model)"
        }
    }

    public var columns: [Column]
    public var features: [String]
    /// values[feature][column], nil when not measured.
    public var values: [[Double?]]
    /// halfWidths[feature][column]: half the 95 % interval, printed as ±, when known.
    public var halfWidths: [[Double?]] = []
    /// notSignificant[feature][column]: the cell's model differs from the first model of the same task and prompt by
    /// less than a paired test can tell (McNemar mid-p ≥ 0.05 or the paired-bootstrap interval contains 0).
    public var notSignificant: [[Bool]] = []

    public init(columns: [Column], features: [String], values: [[Double?]]) throws {
        guard values.count == features.count, values.allSatisfy({ $0.count == columns.count }) else {
            throw AnalysisError.shapeMismatch("comparison table: values must be \(features.count) features × \(columns.count) columns")
        }
        self.columns = columns; self.features = features; self.values = values
    }

    /// Builds the table from results, keeping first-seen order of columns and features. A repeated
    /// (column, feature) pair is an error naming it.
    public init(results: [ProbeResult]) throws {
        var columns = [Column](), features = [String]()
        var cell = [Column: [String: Double]]()
        for r in results {
            let c = r.column
            if cell[c] == nil { columns.append(c); cell[c] = [:] }
            if !features.contains(r.feature) { features.append(r.feature) }
            guard cell[c]![r.feature] == nil else {
                throw AnalysisError.invalidArgument("comparison table: two results for \(r.feature) in \(c.title)")
            }
            cell[c]![r.feature] = r.accuracy
        }
        try self.init(columns: columns, features: features,
                      values: features.map { f in columns.map { cell[$0]![f] } })
        var byKey: [String: ProbeResult] = [:]
        for r in results { byKey["\(r.task)\u{1}\(r.prompt ?? "\u{2}")\u{1}\(r.model)\u{1}\(r.feature)"] = r }
        func find(_ c: Column, _ f: String) -> ProbeResult? { byKey["\(c.task)\u{1}\(c.prompt ?? "\u{2}")\u{1}\(c.model)\u{1}\(f)"] }
        halfWidths = features.map { f in columns.map { c in find(c, f)?.interval?.halfWidth } }
        // The first model seen for each task and prompt is the reference of the paired tests.
        var reference: [String: String] = [:]
        for c in columns where reference["\(c.task)\u{1}\(c.prompt ?? "")"] == nil { reference["\(c.task)\u{1}\(c.prompt ?? "")"] = c.model }
        notSignificant = try features.map { f in
            try columns.map { c in
                // The bag-of-words row is the same baseline in every model's column: nothing to test between models.
                guard f != ProbeResult.bagOfWordsFeature, let ref = reference["\(c.task)\u{1}\(c.prompt ?? "")"], ref != c.model,
                      let a = find(c, f)?.correctness,
                      let b = find(Column(task: c.task, prompt: c.prompt, model: ref), f)?.correctness,
                      a.count == b.count, !a.isEmpty else { return false }
                return !(try PairedComparison(correctA: a, correctB: b).significant())
            }
        }
    }

    static func percent(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "—" }
        return String(format: "%.1f", 100 * v)
    }

    /// GitHub-flavoured Markdown; `|` in names is escaped.
    public func markdown(featureHeader: String = "features") -> String {
        func cellText(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        var out = "| \(cellText(featureHeader)) | " + columns.map { cellText($0.title) }.joined(separator: " | ") + " |\n"
        out += "|---|" + String(repeating: "---:|", count: columns.count) + "\n"
        let best: [String?] = columns.indices.map { c in
            let printed = values.compactMap { $0[c] }.filter { $0.isFinite }
            return printed.max().map { Self.percent($0) }
        }
        for (f, name) in features.enumerated() {
            out += "| \(cellText(name)) |"
            for c in columns.indices {
                let text = Self.percent(values[f][c])
                var cell = text == best[c] ? "**\(text)**" : text
                if f < halfWidths.count, let h = halfWidths[f][c], values[f][c] != nil {
                    cell += String(format: " ±%.1f", 100 * h)
                }
                if f < notSignificant.count, notSignificant[f][c] { cell += " ⁿˢ" }
                out += " \(cell) |"
            }
            out += "\n"
        }
        if halfWidths.contains(where: { $0.contains { $0 != nil } }) {
            out += "\n± is half the 95 % Wilson interval over the test examples"
            out += notSignificant.contains(where: { $0.contains(true) })
                ? "; ⁿˢ: not significantly different from the first model's value in the same row (paired test, 5 %).\n"
                : ".\n"
        }
        return out
    }

    /// The grouped bar chart of this table: groups = columns, bars = features.
    public func svg(title: String) throws -> String {
        try SVGChart.groupedBars(title: title, groups: columns.map { $0.title }, series: features, values: values,
                                 yLabel: "accuracy", percent: true)
    }
}

/// Everything `compare`/`analyze` measured, with the exact settings, as one Codable document (`report.json`).
public struct AnalysisReport: Codable, Sendable {
    public var tool: String
    public var createdAt: String
    /// Exact settings (command line, seeds, paths, checkpoint hashes, …).
    public var settings: [String: String]
    public var results: [ProbeResult]
    public var linearity: LinearityCheck?
    public var logPartition: LogPartitionCheck?
    public var transfer: TransferCheck?
    public var leakage: LeakageReport?

    public init(settings: [String: String], results: [ProbeResult] = [], linearity: LinearityCheck? = nil,
                logPartition: LogPartitionCheck? = nil, transfer: TransferCheck? = nil, leakage: LeakageReport? = nil,
                createdAt: Date = Date()) {
        tool = "lmprobe"
        self.createdAt = ISO8601DateFormatter().string(from: createdAt)
        self.settings = settings; self.results = results; self.linearity = linearity
        self.logPartition = logPartition; self.transfer = transfer; self.leakage = leakage
    }

    /// All sections as one Markdown document (table first, then each check that is present).
    public func markdown(title: String = "lmprobe report") throws -> String {
        var out = "# \(title)\n\n"
        if !results.isEmpty { out += "## Probe accuracy (%)\n\n" + (try ComparisonTable(results: results)).markdown() + "\n" }
        if let leakage { out += leakage.markdown() + "\n" }
        if let linearity { out += linearity.markdown() + "\n" }
        if let logPartition { out += logPartition.markdown() + "\n" }
        if let transfer { out += transfer.markdown() + "\n" }
        return out
    }
}

/// Writes reports atomically, JSON with `JSONCoding` (pretty-printed, sorted snake_case keys; NaN and ±∞, e.g. R² of
/// a constant dimension, as the strings "nan", "inf", "-inf" because JSON has no such numbers).
public enum ReportWriter {

    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        try write(try JSONCoding.encoder().encode(value), to: url)
    }

    public static func writeText(_ text: String, to url: URL) throws { try write(Data(text.utf8), to: url) }

    static func write(_ data: Data, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(data, to: url)
        } catch {
            throw AnalysisError.invalidArgument("\(url.path): cannot write (\(ioErrorText(error)))")
        }
    }
}

/// One paired test between two probe results on the same test examples.
public struct PairedTestRecord: Codable, Equatable, Sendable {
    public var task: String
    public var prompt: String?
    /// "model · feature" of each side; the difference is A − B.
    public var a: String
    public var b: String
    public var comparison: PairedComparison
}

/// The paired tests a comparison reports: every model against the first model (same task, prompt and feature),
/// within each model every feature against the first feature of the same probe method (e.g. p_f · ridge vs
/// f · ridge), and each model's most accurate feature against the bag-of-words baseline. That feature is chosen by
/// its test accuracy, so the last test leans towards the LM side: a gap it calls significant is conservative, a
/// "not significant" one is not evidence of parity. Results without per-example correctness, or with different test
/// sets, are skipped.
public enum PairedTests {
    public static func all(results: [ProbeResult]) throws -> [PairedTestRecord] {
        var out: [PairedTestRecord] = []
        func key(_ r: ProbeResult) -> String { "\(r.task)\u{1}\(r.prompt ?? "\u{2}")" }
        var firstModel: [String: String] = [:]
        for r in results where firstModel[key(r)] == nil { firstModel[key(r)] = r.model }
        func method(_ feature: String) -> String { feature.components(separatedBy: " · ").last ?? feature }
        var firstFeature: [String: String] = [:]   // key + model + method → reference feature
        for r in results where r.correct != nil && !r.isBagOfWords {
            let k = key(r) + "\u{1}" + r.model + "\u{1}" + method(r.feature)
            if firstFeature[k] == nil { firstFeature[k] = r.feature }
        }
        for r in results where !r.isBagOfWords {
            guard let a = r.correctness else { continue }
            if let ref = firstModel[key(r)], ref != r.model,
               let other = results.first(where: { key($0) == key(r) && $0.model == ref && $0.feature == r.feature }),
               let b = other.correctness, b.count == a.count {
                out.append(PairedTestRecord(task: r.task, prompt: r.prompt, a: "\(r.model) · \(r.feature)",
                                            b: "\(ref) · \(r.feature)",
                                            comparison: try PairedComparison(correctA: a, correctB: b)))
            }
            let k = key(r) + "\u{1}" + r.model + "\u{1}" + method(r.feature)
            if let ref = firstFeature[k], ref != r.feature,
               let other = results.first(where: { key($0) == key(r) && $0.model == r.model && $0.feature == ref }),
               let b = other.correctness, b.count == a.count {
                out.append(PairedTestRecord(task: r.task, prompt: r.prompt, a: "\(r.model) · \(r.feature)",
                                            b: "\(r.model) · \(ref)",
                                            comparison: try PairedComparison(correctA: a, correctB: b)))
            }
        }
        // Each model's best feature (first on ties) against the bag-of-words row of its column.
        var columns: [String] = [], best: [String: ProbeResult] = [:], bow: [String: ProbeResult] = [:]
        for r in results where r.correct != nil {
            let k = key(r) + "\u{1}" + r.model
            if best[k] == nil && bow[k] == nil { columns.append(k) }
            if r.isBagOfWords { if bow[k] == nil { bow[k] = r } }
            else if best[k].map({ r.accuracy > $0.accuracy }) ?? true { best[k] = r }
        }
        for k in columns {
            guard let r = best[k], let a = r.correctness, let b = bow[k]?.correctness, a.count == b.count else { continue }
            out.append(PairedTestRecord(task: r.task, prompt: r.prompt, a: "\(r.model) · \(r.feature) (best)",
                                        b: ProbeResult.bagOfWordsFeature,
                                        comparison: try PairedComparison(correctA: a, correctB: b)))
        }
        return out
    }

    /// A Markdown table of the tests: Δ (points), its 95 % paired-bootstrap interval, McNemar exact and mid-p.
    public static func markdown(_ records: [PairedTestRecord]) -> String {
        guard !records.isEmpty else { return "" }
        var out = "| task · prompt | A | B | Δ = A − B (points) | 95 % interval | discordant (A only / B only) | McNemar p (mid-p) | significant |\n"
        out += "|---|---|---|---:|---:|---:|---:|:---:|\n"
        for r in records {
            let c = r.comparison
            let p = r.prompt.map { "“\($0.trimmingCharacters(in: .whitespaces))”" } ?? "no prompt"
            out += "| \(r.task) · \(p) | \(r.a) | \(r.b) | " + String(format: "%+.1f | [%+.1f, %+.1f] | %d / %d | %.3g (%.3g) | %@ |\n",
                100 * c.difference, 100 * c.differenceInterval.lower, 100 * c.differenceInterval.upper,
                c.onlyA, c.onlyB, c.mcNemarExactP, c.mcNemarMidP, c.significant() ? "yes" : "no")
        }
        return out
    }
}
