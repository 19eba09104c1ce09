import Foundation
import Linalg

/// The feature families an extract folder holds, by file stem.
public enum FeatureFamily: String, CaseIterable, Codable, Sendable {
    case f, phip, p, subsetLogits = "subset_logits", subsetProbs = "subset_probs"

    /// How the paper / report names it.
    public var displayName: String {
        switch self {
        case .f: return "f(s)"
        case .phip: return "Φp_f(s)"
        case .p: return "p_f(s)"
        case .subsetLogits: return "subset logits"
        case .subsetProbs: return "subset p_f"
        }
    }
}

/// Loads features and labels from an extract folder.
public enum FeatureFolder {
    public static func load<T: BLASScalar>(_ directory: URL, family: FeatureFamily, as _: T.Type = T.self) throws
        -> (x: Matrix<T>, labels: [Int]) {
        let xURL = directory.appendingPathComponent(family.rawValue + ".npy")
        guard FileManager.default.fileExists(atPath: xURL.path) else {
            throw FeatureError.file(path: xURL.path, message: "no such feature file (was it extracted?)")
        }
        let x: Matrix<T> = try NPY.readMatrix(xURL)
        let labels = try Self.labels(directory)
        guard labels.count == x.rows else {
            throw FeatureError.file(path: xURL.path, message: "\(x.rows) feature rows but labels.npy has \(labels.count)")
        }
        return (x, labels)
    }

    /// `labels.npy` of a folder.
    public static func labels(_ directory: URL) throws -> [Int] {
        WorkCount.add(.labelsRead)
        return try NPY.readIntegers(directory.appendingPathComponent("labels.npy"))
    }

    /// A folder whose several families are read: its labels read once, and its manifest once (or the one the caller
    /// already holds — e.g. the one extraction just wrote).
    public static func open(_ directory: URL, manifest known: ExtractionManifest? = nil) throws -> OpenedFeatureFolder {
        OpenedFeatureFolder(directory: directory, labels: try labels(directory), manifest: try known ?? manifest(directory))
    }

    /// Rows of `name`.npy from every folder, stacked; nil when some folder lacks the file.
    public static func stacked(_ name: String, in dirs: [URL]) throws -> Matrix<Float>? {
        var parts: [Matrix<Float>] = []
        for d in dirs {
            let url = d.appendingPathComponent(name + ".npy")
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            let m: Matrix<Float> = try NPY.readMatrix(url)
            if let first = parts.first, first.cols != m.cols {
                throw FeatureError.file(path: url.path, message: "\(m.cols) columns but \(dirs[0].path)/\(name).npy has \(first.cols)")
            }
            parts.append(m)
        }
        guard let first = parts.first else { return nil }
        if parts.count == 1 { return first }
        let out = Matrix<Float>(rows: parts.reduce(0) { $0 + $1.rows }, cols: first.cols)
        var r = 0
        for p in parts {
            try out.rows(r..<(r + p.rows)).assign(p)
            r += p.rows
        }
        return out
    }

    public static func manifest(_ directory: URL) throws -> ExtractionManifest {
        try ExtractionManifest.read(from: directory.appendingPathComponent("manifest.json"))
    }
}

/// A feature folder opened by `FeatureFolder.open`: labels and manifest in memory, each family read on demand.
public struct OpenedFeatureFolder {
    public let directory: URL
    public let labels: [Int]
    public let manifest: ExtractionManifest

    /// `family`.npy as Float, checked to have one row per label.
    public func features(_ family: FeatureFamily) throws -> Matrix<Float> {
        let url = directory.appendingPathComponent(family.rawValue + ".npy")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FeatureError.file(path: url.path, message: "no such feature file (was it extracted?)")
        }
        let x: Matrix<Float> = try NPY.readMatrix(url)
        guard labels.count == x.rows else {
            throw FeatureError.file(path: url.path, message: "\(x.rows) feature rows but labels.npy has \(labels.count)")
        }
        return x
    }
}
