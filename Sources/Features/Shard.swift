import Foundation
import Support

/// Shard k of n of a dataset split (`extract --shard k/n`, k = 0 … n−1, e.g. a Slurm array task id): the
/// contiguous rows ⌊k·N/n⌋ ..< ⌊(k+1)·N/n⌋ of the split's N inputs, so concatenating shards 0 … n−1 gives the
/// split in its original order. Deterministic: it depends on N and n only (the split itself is already
/// deterministic: a file, or a fixed-seed stratified split).
public struct Shard: Codable, Sendable, Equatable {
    public var index: Int
    public var count: Int
    /// Rows of the split this shard holds, and the split's size.
    public var rowStart: Int
    public var rowEnd: Int
    public var splitRows: Int

    enum CodingKeys: String, CodingKey {
        case index, count, rowStart, rowEnd, splitRows
    }

    /// Parses "k/n" (0 ≤ k < n). The row range is filled in by `rows(of:)`.
    public static func parse(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 0, k < n else {
            throw FeatureError.badArgument("--shard must be k/n with 0 ≤ k < n (got '\(text)')")
        }
        return (k, n)
    }

    /// Shard `index` of `count` over a split of `rows` inputs. Throws when a shard would be empty.
    public init(index: Int, count: Int, of rows: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw FeatureError.badArgument("--shard \(index)/\(count): need 0 ≤ k < n")
        }
        guard rows >= count else {
            throw FeatureError.badArgument("--shard \(index)/\(count): the split has only \(rows) inputs, fewer than \(count) shards")
        }
        // ⌊k·N/n⌋ without overflow for any Int N (k < n ≤ N).
        func bound(_ k: Int) -> Int { let (q, r) = rows.quotientAndRemainder(dividingBy: count); return k * q + (k * r) / count }
        self.index = index
        self.count = count
        rowStart = bound(index)
        rowEnd = bound(index + 1)
        splitRows = rows
    }

    /// A shard read from a file (a manifest, a shard tag) is the one `init(index:count:of:)` makes: 0 ≤ k < n ≤ N
    /// and the rows ⌊k·N/n⌋ ..< ⌊(k+1)·N/n⌋. Anything else (n = 0, k ≥ n, rows of another shard) is refused, so
    /// no reader downstream sees an impossible shard.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let index = try c.decode(Int.self, forKey: .index), count = try c.decode(Int.self, forKey: .count)
        let rows = try c.decode(Int.self, forKey: .splitRows)
        let start = try c.decode(Int.self, forKey: .rowStart), end = try c.decode(Int.self, forKey: .rowEnd)
        let s: Shard
        do { s = try Shard(index: index, count: count, of: rows) } catch {
            throw DecodingError.dataCorruptedError(forKey: .count, in: c, debugDescription:
                "shard \(index)/\(count) of a \(rows)-row split is impossible (need 0 ≤ k < n ≤ rows)")
        }
        guard s.rowStart == start, s.rowEnd == end else {
            throw DecodingError.dataCorruptedError(forKey: .rowStart, in: c, debugDescription:
                "rows \(start)..<\(end) are not shard \(index)/\(count)'s rows \(s.rowStart)..<\(s.rowEnd) of \(rows)")
        }
        self = s
    }
}

/// What must agree across the shard folders of one split before their rows may be concatenated or their
/// statistics merged (`probe --train A B C`, `probe --stats …`).
public struct ShardIdentity: Codable, Sendable, Equatable {
    public var shard: Shard?
    public var checkpointSHA256: String
    public var datasetSHA256: String
    public var dataset: String
    public var split: String
    public var prompt: String
    public var words: [String]
    public var classNames: [String]
    /// The feature family (file stem) used from the folder, and the readout it was taken with (pooling, layer).
    public var feature: String
    public var readout: String?

    enum CodingKeys: String, CodingKey {
        case shard, checkpointSHA256 = "checkpointSha256", datasetSHA256 = "datasetSha256", dataset, split, prompt
        case words, classNames, feature, readout
    }

    public init(shard: Shard?, checkpointSHA256: String, datasetSHA256: String, dataset: String, split: String,
                prompt: String, words: [String], classNames: [String], feature: String, readout: String? = nil) {
        self.shard = shard; self.checkpointSHA256 = checkpointSHA256; self.datasetSHA256 = datasetSHA256
        self.dataset = dataset; self.split = split; self.prompt = prompt; self.words = words
        self.classNames = classNames; self.feature = feature; self.readout = readout
    }

    /// The identity as the one-line JSON tag a statistics file records per source (`probe --stats-out`).
    public func tag() throws -> String { String(decoding: try JSONCoding.encoder(pretty: false).encode(self), as: UTF8.self) }

    /// The identity a statistics file's source tag records; nil when the tag is not one.
    public init?(tag: String) {
        guard let id = try? JSONCoding.decoder().decode(ShardIdentity.self, from: Data(tag.utf8)) else { return nil }
        self = id
    }

    public init(manifest m: ExtractionManifest, feature: String) {
        shard = m.provenance.shard
        checkpointSHA256 = m.provenance.checkpointSHA256
        datasetSHA256 = m.provenance.datasetSHA256
        dataset = m.provenance.dataset
        split = m.provenance.split
        prompt = m.prompt
        words = m.wordSubset?.words ?? []
        classNames = m.classNames
        self.feature = feature
        readout = m.readout
    }

    /// Checks that `parts` (a name for messages, its identity) are the complete shard set of one extraction: all
    /// sharded with the same n, every k in 0..<n exactly once, the same checkpoint, dataset, split, prompt, words,
    /// classes and feature. Returns the parts' indices in shard order. A single unsharded part is accepted as is.
    /// With `complete: false` (statistics of some of the shards, merged later) missing shards are allowed.
    public static func order(_ parts: [(name: String, identity: ShardIdentity)], complete: Bool = true) throws -> [Int] {
        guard let first = parts.first else { throw FeatureError.badArgument("no feature folders given") }
        if parts.count == 1 && first.identity.shard == nil { return [0] }
        for p in parts where p.identity.shard == nil {
            throw FeatureError.badArgument("\(p.name): not a shard (extracted without --shard), but several folders were given")
        }
        let n = first.identity.shard!.count
        for p in parts.dropFirst() {
            let a = first.identity, b = p.identity
            func differ(_ what: String, _ x: String, _ y: String) -> FeatureError {
                .badArgument("\(p.name): \(what) \(y) differs from \(first.name)'s \(x): the shards are not of one extraction")
            }
            if b.shard!.count != n { throw differ("shard count", "\(n)", "\(b.shard!.count)") }
            if b.checkpointSHA256 != a.checkpointSHA256 { throw differ("checkpoint (SHA-256)", a.checkpointSHA256, b.checkpointSHA256) }
            if b.datasetSHA256 != a.datasetSHA256 { throw differ("dataset (SHA-256)", a.datasetSHA256, b.datasetSHA256) }
            if b.split != a.split { throw differ("split", a.split, b.split) }
            if b.shard!.splitRows != a.shard!.splitRows { throw differ("split size", "\(a.shard!.splitRows)", "\(b.shard!.splitRows)") }
            if b.prompt != a.prompt { throw differ("prompt", "'\(a.prompt)'", "'\(b.prompt)'") }
            if b.words != a.words { throw differ("word list", a.words.joined(separator: " "), b.words.joined(separator: " ")) }
            if b.classNames != a.classNames { throw differ("classes", "\(a.classNames)", "\(b.classNames)") }
            if b.feature != a.feature { throw differ("feature", a.feature, b.feature) }
            if b.readout != a.readout { throw differ("readout", a.readout ?? "default", b.readout ?? "default") }
        }
        var byIndex: [Int: Int] = [:]
        for (i, p) in parts.enumerated() {
            let k = p.identity.shard!.index
            if let j = byIndex[k] {
                throw FeatureError.badArgument("\(p.name): shard \(k)/\(n) given twice (also \(parts[j].name))")
            }
            byIndex[k] = i
        }
        let missing = (0..<n).filter { byIndex[$0] == nil }
        guard missing.isEmpty || !complete else {
            throw FeatureError.badArgument("shard\(missing.count > 1 ? "s" : "") \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) missing (given: \(byIndex.keys.sorted().map { "\($0)" }.joined(separator: ", ")))")
        }
        return (0..<n).compactMap { byIndex[$0] }
    }
}
