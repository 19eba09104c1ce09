import Foundation

/// Counts of work that must happen once per input — hash passes over a split's texts, forward passes over a split,
/// reads and writes of a feature folder's `labels.npy` and `manifest.json` — so tests can assert "once" rather than
/// trust it. Process-wide and thread-safe; read a `snapshot` before and after the work and compare.
public enum WorkCount {
    public enum Kind: String, CaseIterable, Sendable {
        /// A SHA-256 pass over a split's texts and labels (`DatasetSplit.contentSHA256`).
        case contentDigest
        /// A pass of the model over one split's inputs (each batch run once, every readout of it).
        case extractionPass
        case labelsRead, labelsWrite, manifestRead, manifestWrite
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var counts: [Kind: Int] = [:]

    static func add(_ kind: Kind, _ n: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        counts[kind, default: 0] += n
    }

    /// The counts so far (a kind never counted is 0).
    public static func snapshot() -> [Kind: Int] {
        lock.lock(); defer { lock.unlock() }
        return Dictionary(uniqueKeysWithValues: Kind.allCases.map { ($0, counts[$0] ?? 0) })
    }
}
