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

/// An extract folder's files other than a feature family with its labels (that is `LabelledFeatures.load(folder:
/// feature:)`, the one feature-folder loader).
public enum FeatureFolder {
    /// `labels.npy` of a folder (checked against the checksum `manifest` records for it, when given).
    public static func labels(_ directory: URL, manifest: ExtractionManifest? = nil) throws -> [Int] {
        WorkCount.add(.labelsRead)
        let url = directory.appendingPathComponent("labels.npy")
        try LabelledFeatures.Checksums(features: nil, labels: manifest?.files["labels"]?.checksum)
            .verify(features: "", labels: url.path)
        return try NPY.readIntegers(url)
    }

    /// A folder whose several families are read: its labels read once, and its manifest once (or the one the caller
    /// already holds — e.g. the one extraction just wrote).
    public static func open(_ directory: URL, manifest known: ExtractionManifest? = nil) throws -> OpenedFeatureFolder {
        let manifest = try known ?? manifest(directory)
        return OpenedFeatureFolder(directory: directory, labels: try labels(directory, manifest: manifest), manifest: manifest)
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

    /// `family`.npy with the folder's labels, through THE feature-folder loader (`LabelledFeatures`: the file's
    /// precision, checksum, shape and finiteness checked), without reading labels.npy again (`keepInFile`: see
    /// `LabelledFeatures.load`).
    public func features(_ family: FeatureFamily, keepInFile: KeepInFile? = nil) throws -> LabelledFeatures {
        try LabelledFeatures.load(directory.appendingPathComponent(family.rawValue + ".npy").path,
                                  labels: directory.appendingPathComponent("labels.npy").path,
                                  classNames: manifest.classNames,
                                  checksums: .init(manifest: manifest, feature: family, labels: false), labelValues: labels,
                                  keepInFile: keepInFile)
    }
}
