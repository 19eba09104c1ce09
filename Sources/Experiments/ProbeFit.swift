import Features
import Foundation
import Linalg
import Probes
import Support

/// The probe runner on features kept in their file's precision, or left in their file: those a ridge probe fits
/// and scores streamed (`ProbeRunner.streams`, `scoresStreamed`); any other fit reads them first.
extension AnyFeatures {
    public func fitProbe(labels: [Int], classValues: [Int]? = nil, settings: ProbeSettings) throws -> FittedProbe {
        switch self {
        case .float(let x): return try ProbeRunner.fit(x, labels: labels, classValues: classValues, settings: settings)
        case .double(let x): return try ProbeRunner.fit(x, labels: labels, classValues: classValues, settings: settings)
        case .inFile(let url, let header):
            if ProbeRunner.streams(header, settings: settings) {
                return try ProbeRunner.fit(streaming: url, labels: labels, classValues: classValues, settings: settings)
            }
            return try loaded().fitProbe(labels: labels, classValues: classValues, settings: settings)
        }
    }

    public func evaluate(_ probe: FittedProbe, labels: [Int]) throws -> ProbeEvaluation {
        switch self {
        case .float(let x): return try probe.evaluate(x, labels: labels)
        case .double(let x): return try probe.evaluate(x, labels: labels)
        case .inFile(let url, let header):
            if ProbeRunner.scoresStreamed(header, settings: probe.settings) {
                return try probe.evaluate(streaming: url, labels: labels)
            }
            return try loaded().evaluate(probe, labels: labels)
        }
    }
}

/// Which route the probe path takes on a features file, asked of the loader (`KeepInFile`) before it reads
/// anything: training rows stay in their file when every fit to run on them streams (`ProbeRunner.streams`);
/// otherwise they are read, once the in-memory fits are known to fit in memory (`ProbeRunner.requireInMemory`).
/// Test rows stay in their file when the training rows did and every probe scores them streamed.
public enum ProbeRoute {
    /// For the training rows of fits with each of `settings`.
    public static func train(_ settings: [ProbeSettings]) -> KeepInFile {
        { url, header in
            let inMemory = settings.filter { !ProbeRunner.streams(header, settings: $0) }
            do {
                for s in inMemory { try ProbeRunner.requireInMemory(header, settings: s, name: url.path) }
            } catch { throw FeatureError.badInput("\(error)") }
            return inMemory.isEmpty && !settings.isEmpty
        }
    }

    /// For the test rows of probes fitted with each of `settings` on `train`.
    public static func test(_ settings: [ProbeSettings], train: AnyFeatures) -> KeepInFile {
        { _, header in train.isInFile && settings.allSatisfy { ProbeRunner.scoresStreamed(header, settings: $0) } }
    }
}

extension LabelledFeatures {
    /// A probe error as one line naming the file it concerns (once: a streamed fit's errors already name it).
    public func describe(_ e: ProbeError) -> String {
        switch e {
        case .lengthMismatch, .singleClass, .labelOutOfRange: return "\(labelsPath): \(e)"
        default:
            let message = "\(e)"
            let named = [featuresPath, URL(fileURLWithPath: featuresPath).path].contains { message.hasPrefix($0 + ":") }
            return named ? message : "\(featuresPath): \(message)"
        }
    }
}

/// What `lmprobe probe` asks: training rows (feature files, extract folders or shard folders; or statistics files),
/// optional test rows, and the probe settings.
public struct FeatureProbeRequest {
    public var train: [String] = []
    public var trainLabels: String?
    public var test: [String] = []
    public var testLabels: String?
    public var feature: FeatureFamily = .f
    /// Statistics files (`--stats`): the training rows as merged ridge sufficient statistics instead of `train`.
    public var statistics: [String] = []
    public var settings = ProbeSettings()
    public init() {}
}

/// A probe of `FeatureProbe.run`: the fitted probe, what it was fitted on and its test evaluation.
public struct FeatureProbeOutcome {
    public let probe: FittedProbe
    /// The training features (paths, or the statistics files), for messages.
    public let trainName: String
    public let nTrain: Int
    public let d: Int
    /// Names of the class values (from the extract folder's manifest, when it names every one).
    public let classNames: [String]?
    public let fromStatistics: [String]?
    public let test: ProbeEvaluation?
    public let nTest: Int?
}

/// `lmprobe probe` as a library call: loads (or merges statistics of) the training rows, checks every folder against
/// the others, fits through `ProbeRunner` and scores the test rows once.
public enum FeatureProbe {
    public static func run(_ r: FeatureProbeRequest) throws -> FeatureProbeOutcome {
        guard r.statistics.isEmpty != r.train.isEmpty else {
            throw FeatureError.badArgument(r.statistics.isEmpty ? "give --train (features) or --stats (statistics files)"
                                                                : "give --train or --stats, not both")
        }
        // Every folder (train shards, test shards) must come from the same extraction settings as the first.
        if let first = r.train.first {
            for other in r.train.dropFirst() + r.test {
                try FeatureFolder.checkSameExtraction(train: URL(fileURLWithPath: first), test: URL(fileURLWithPath: other))
            }
        }
        if r.statistics.isEmpty { return try runOnFeatures(r) }
        return try runOnStatistics(r)
    }

    static func runOnFeatures(_ r: FeatureProbeRequest) throws -> FeatureProbeOutcome {
        let train = try LabelledFeatures.load(r.train, labels: r.trainLabels, feature: r.feature, role: "--train",
                                              keepInFile: ProbeRoute.train([r.settings]))
        let probe: FittedProbe
        do { probe = try train.features.fitProbe(labels: train.labels, settings: r.settings) } catch let e as ProbeError {
            throw FeatureError.badInput(train.describe(e))
        }
        let names = train.classNames.flatMap { n in probe.classValues.allSatisfy { $0 >= 0 && $0 < n.count } ? n : nil }
        let test = try evaluate(probe, r, width: train.features.cols, trainName: train.featuresPath,
                                keepInFile: ProbeRoute.test([r.settings], train: train.features))
        return FeatureProbeOutcome(probe: probe, trainName: train.featuresPath, nTrain: train.labels.count,
                                   d: train.features.cols, classNames: names.map { n in probe.classValues.map { n[$0] } },
                                   fromStatistics: nil, test: test?.0, nTest: test?.1)
    }

    static func runOnStatistics(_ r: FeatureProbeRequest) throws -> FeatureProbeOutcome {
        let merged = try mergeStatistics(r.statistics)
        let trainName = r.statistics.joined(separator: " ")
        if !r.test.isEmpty { try checkTest(r, against: merged) }
        let probe: FittedProbe
        do { probe = try ProbeRunner.fit(statistics: merged, settings: r.settings) } catch let e as ProbeError {
            throw FeatureError.badInput("\(trainName): \(e)")
        }
        let test = try evaluate(probe, r, width: merged.d, trainName: trainName)
        return FeatureProbeOutcome(probe: probe, trainName: trainName, nTrain: merged.n, d: merged.d, classNames: nil,
                                   fromStatistics: r.statistics, test: test?.0, nTest: test?.1)
    }

    /// The --test rows scored once (nil without --test).
    static func evaluate(_ probe: FittedProbe, _ r: FeatureProbeRequest, width: Int, trainName: String,
                         keepInFile: KeepInFile? = nil) throws -> (ProbeEvaluation, Int)? {
        guard !r.test.isEmpty else { return nil }
        let t = try LabelledFeatures.load(r.test, labels: r.testLabels, feature: r.feature, role: "--test",
                                          keepInFile: keepInFile)
        guard t.features.cols == width else {
            throw FeatureError.badInput("\(t.featuresPath): test features have \(t.features.cols) columns but the training features (\(trainName)) have \(width)")
        }
        do { return (try t.features.evaluate(probe, labels: t.labels), t.labels.count) } catch let e as ProbeError {
            throw FeatureError.badInput("\(t.labelsPath): \(e)")
        }
    }

    /// Statistics of extract folders name their checkpoint, extraction and feature family: the --test folders must
    /// have been extracted the same way (and not be the statistics' own rows).
    static func checkTest(_ r: FeatureProbeRequest, against merged: RidgeStatistics) throws {
        let tagged = merged.sources.compactMap { $0.tag.flatMap { ShardIdentity(tag: $0) } }
        guard let model = tagged.first else { return }
        if model.feature != r.feature.rawValue {
            throw FeatureError.badArgument("--stats: the statistics are of \(model.feature).npy but --feature is \(r.feature); give --feature \(model.feature) for the --test folders")
        }
        for source in try LabelledFeatures.sources(r.test, labels: r.testLabels, feature: r.feature, role: "--test") {
            guard let t = source.identity else {
                throw FeatureError.badInput("\(source.featuresPath): the statistics come from extract folders, so --test must be an extract folder (its manifest.json names the model) too")
            }
            var differences: [String] = []
            if t.checkpointSHA256 != model.checkpointSHA256 { differences.append("checkpoint (SHA-256 \(t.checkpointSHA256.prefix(12)) vs \(model.checkpointSHA256.prefix(12)))") }
            if t.prompt != model.prompt { differences.append("prompt ('\(t.prompt)' vs '\(model.prompt)')") }
            if t.words != model.words { differences.append("words") }
            if t.classNames != model.classNames { differences.append("classes (\(t.classNames) vs \(model.classNames))") }
            if t.readout != model.readout { differences.append("readout (\(t.readout ?? "default") vs \(model.readout ?? "default"))") }
            if !differences.isEmpty {
                throw FeatureError.badInput("\(source.featuresPath): extracted differently from the --stats rows: \(differences.joined(separator: ", ")) differ; score a test folder of the same model and extraction")
            }
            if tagged.contains(where: { $0.datasetSHA256 == t.datasetSHA256 && $0.split == t.split && $0.shard == t.shard }) {
                throw FeatureError.badInput("\(source.featuresPath): these are rows the --stats were accumulated from (same dataset, split and shard); give the test split")
            }
        }
    }
}

// MARK: Statistics files

extension FeatureProbe {
    /// `--stats-out`: statistics of every --train source, streamed, merged in shard order, written atomically to
    /// `path`. The rule for `path`: it may be new, or an existing statistics file (replaced); anything else that
    /// exists — a file of another kind, a folder, a device, any file this run reads — is refused.
    public static func writeStatistics(train: [String], labels: String?, feature: FeatureFamily, to path: String) throws
        -> (statistics: RidgeStatistics, sources: Int) {
        let sources = try LabelledFeatures.sources(train, labels: labels, feature: feature, role: "--train", complete: false)
        let inputs = sources.flatMap { s in [s.featuresPath, s.labelsPath] }
            + sources.compactMap { s in s.identity == nil ? nil : (s.featuresPath as NSString).deletingLastPathComponent + "/manifest.json" }
        try checkStatisticsOutput(path, inputs: inputs)
        var total: RidgeStatistics? = nil
        do {
            for src in sources {
                try LabelledFeatures.checkRegularFiles([src.featuresPath, src.labelsPath])
                try src.checksums.verify(features: src.featuresPath, labels: src.labelsPath)
                let labels = try NPY.readIntegers(URL(fileURLWithPath: src.labelsPath))
                let part = try RidgeStatistics.accumulate(features: URL(fileURLWithPath: src.featuresPath).standardizedFileURL,
                                                          labels: labels,
                                                          labelsPath: URL(fileURLWithPath: src.labelsPath).standardizedFileURL.path,
                                                          tag: try src.identity.map { try $0.tag() })
                if total == nil { total = part } else { try total!.merge(part) }
            }
            try total!.write(to: URL(fileURLWithPath: path))
        } catch let e as ProbeError {
            throw FeatureError.badInput("\(e)")
        }
        return (total!, sources.count)
    }

    /// Refuses a `--stats-out` path that is an input of this run (by file identity: a symlink or hard link to an
    /// input counts), or exists and is not a regular lmprobe statistics file.
    static func checkStatisticsOutput(_ path: String, inputs: [String]) throws {
        guard let target = FileIdentity(path: path) else { return }
        if inputs.contains(where: { FileIdentity(path: $0) == target }) {
            throw FeatureError.badArgument("--stats-out \(path): that is a file this run reads; give a new path")
        }
        guard target.isRegular, RidgeStatistics.isStatisticsFile(URL(fileURLWithPath: path)) else {
            throw FeatureError.badArgument("--stats-out \(path) exists and is not an lmprobe statistics file; it is not overwritten (give a new path, or remove it)")
        }
    }

    /// Reads and merges statistics files, refusing a set whose shards are incomplete, repeated or mismatched, or
    /// that counts one features file twice (by file identity or content, whatever the path).
    public static func mergeStatistics(_ paths: [String]) throws -> RidgeStatistics {
        var files: [RidgeStatistics] = []
        for p in paths {
            do { files.append(try RidgeStatistics(contentsOf: URL(fileURLWithPath: p))) } catch let e as ProbeError {
                throw FeatureError.badInput("--stats: \(e)")
            }
        }
        let parts = try shardParts(files, paths)
        var fileOrder = Array(files.indices)
        if !parts.isEmpty {
            let order: [Int]
            do { order = try ShardIdentity.order(parts.map { ($0.name, $0.identity) }) } catch {
                throw FeatureError.badInput("--stats: \(error)")
            }
            var seen = Set<Int>()
            fileOrder = order.map { parts[$0].file }.filter { seen.insert($0).inserted }
        }
        let d = files[fileOrder[0]].d
        var merged = RidgeStatistics(d: d)
        for f in fileOrder {
            guard files[f].d == d else {
                throw FeatureError.badInput("\(paths[f]): statistics of \(files[f].d) features, but \(paths[fileOrder[0]]) has \(d)")
            }
            do { try merged.merge(files[f]) } catch let e as ProbeError { throw FeatureError.badInput("\(paths[f]): \(e)") }
        }
        return merged
    }

    /// Every source of every file that has a shard identity (from extract folders); plain feature files are checked
    /// to be distinct files with distinct contents. The two kinds cannot be mixed.
    static func shardParts(_ files: [RidgeStatistics], _ paths: [String]) throws
        -> [(name: String, identity: ShardIdentity, file: Int)] {
        var parts: [(name: String, identity: ShardIdentity, file: Int)] = []
        var byIdentity: [FileIdentity: String] = [:], byContent: [String: String] = [:]
        var plain: [String] = []
        for (f, st) in files.enumerated() {
            for src in st.sources {
                let name = "\(src.features) (in \(paths[f]))"
                if let tag = src.tag {
                    guard let id = ShardIdentity(tag: tag) else {
                        throw FeatureError.badInput("\(paths[f]): source \(src.features) has an unreadable provenance tag")
                    }
                    parts.append((name, id, f))
                    continue
                }
                plain.append(src.features)
                let content = "\(src.rows):\(src.checksum)"
                if let other = byContent[content] {
                    throw FeatureError.badInput("--stats: \(name) has the same rows as \(other): one features file would be counted twice")
                }
                byContent[content] = name
                if let id = FileIdentity(path: src.features) {
                    if let other = byIdentity[id] {
                        throw FeatureError.badInput("--stats: \(name) is the same file as \(other): it would be counted twice")
                    }
                    byIdentity[id] = name
                }
            }
        }
        guard parts.isEmpty || plain.isEmpty else {
            throw FeatureError.badInput("--stats: statistics of extract folders and of plain feature files cannot be merged (\(plain.sorted().first!))")
        }
        return parts
    }
}
