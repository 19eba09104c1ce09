import Foundation
import Text

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

    public init(task: String, prompt: String?, model: String, feature: String, accuracy: Double, loss: Double? = nil,
                probe: String? = nil) {
        self.task = task; self.prompt = prompt; self.model = model; self.feature = feature
        self.accuracy = accuracy; self.loss = loss; self.probe = probe
    }

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
                out += text == best[c] ? " **\(text)** |" : " \(text) |"
            }
            out += "\n"
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

/// Writes reports atomically. JSON is pretty-printed with sorted keys; NaN and ±∞ (e.g. R² of a constant
/// dimension) are written as the strings "nan", "inf", "-inf" because JSON has no such numbers.
public enum ReportWriter {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                  nan: "nan")
        return d
    }

    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        try write(try encoder().encode(value), to: url)
    }

    public static func writeText(_ text: String, to url: URL) throws { try write(Data(text.utf8), to: url) }

    static func write(_ data: Data, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw AnalysisError.invalidArgument("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }
}
