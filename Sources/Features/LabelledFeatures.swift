import Foundation
import Linalg
import Support

/// Features kept in their file's precision (Float32/16 files as Float, float64 as Double) to spare memory — or
/// left in their file (`inFile`), for a fit that streams them (the full-vocabulary ridge probe): then no value is
/// in memory, and whatever reads them (`NPY.WindowReader` in the streamed ridge fit and scorer) checks each value
/// as it reads it.
public enum AnyFeatures {
    case float(Matrix<Float>)
    case double(Matrix<Double>)
    /// A 2-D non-empty `.npy` whose header (and checksum, when recorded) the loader has checked; not read.
    case inFile(URL, NPY.Header)

    public var rows: Int {
        switch self { case .float(let m): return m.rows; case .double(let m): return m.rows; case .inFile(_, let h): return h.shape[0] }
    }
    public var cols: Int {
        switch self { case .float(let m): return m.cols; case .double(let m): return m.cols; case .inFile(_, let h): return h.shape[1] }
    }
    /// Whether the values are left in their file (see `inFile`).
    public var isInFile: Bool { if case .inFile = self { return true } else { return false } }

    /// The features in memory: `self`, or the file read in its precision and checked finite (a non-finite value
    /// named with `path`, default the file's).
    public func loaded(naming path: String? = nil) throws -> AnyFeatures {
        guard case .inFile(let url, let header) = self else { return self }
        let m: AnyFeatures = header.descr == "<f8" ? .double(try NPY.readMatrix(url, as: Double.self))
                                                   : .float(try NPY.readMatrix(url, as: Float.self))
        try m.checkFinite(path: path ?? url.path)
        return m
    }

    /// The features in precision `T` (shared when they already are, else converted; read when in their file).
    public func matrix<T: BLASScalar>(as _: T.Type = T.self) throws -> Matrix<T> {
        switch try loaded() {
        case .float(let m): return m as? Matrix<T> ?? m.converted(to: T.self)
        case .double(let m): return m as? Matrix<T> ?? m.converted(to: T.self)
        case .inFile: preconditionFailure("loaded() reads the file")
        }
    }

    /// Refuses a NaN or inf in memory, naming `path`, row and column (features left in their file are checked by
    /// their reader, value by value, as they are read).
    public func checkFinite(path: String) throws {
        func first<T: BLASScalar>(_ m: Matrix<T>) -> (Int, Int)? {
            for i in 0..<m.rows { for j in 0..<m.cols where !m[i, j].isFinite { return (i, j) } }
            return nil
        }
        let bad: (Int, Int)?
        switch self { case .float(let m): bad = first(m); case .double(let m): bad = first(m); case .inFile: bad = nil }
        if let (i, j) = bad { throw FeatureError.badInput("\(path): non-finite feature value (NaN or inf) at row \(i), column \(j)") }
    }
}

/// Whether the loader leaves a features file in its file (`AnyFeatures.inFile`) rather than reading it: asked with
/// the file and its checked header (2-D, non-empty). The probe path owns the answer (`ProbeRoute` in Experiments);
/// it may throw (a fit that would not fit in memory).
public typealias KeepInFile = (URL, NPY.Header) throws -> Bool

/// THE feature-folder loader: a features file and its labels file, loaded in the file's precision and checked
/// (2-D, non-empty, as many labels as rows, every value finite). `probe`, `compare`, `analyze transfer` and
/// `synth measure` read features through it.
public struct LabelledFeatures {
    public let featuresPath: String
    public let labelsPath: String
    public let features: AnyFeatures
    public let labels: [Int]
    /// Names of the label values (index = label), from the extract folder's manifest.json when present.
    public var classNames: [String]? = nil

    /// A features file with its labels file, and the shard identity when it is an extract folder with a manifest.
    public struct Source {
        public let featuresPath: String
        public let labelsPath: String
        public let identity: ShardIdentity?
        /// The checksums the folder's manifest records for the two files (nil: not recorded).
        public var checksums = Checksums()
    }

    /// What a manifest says the bytes of a features file and its labels file hash to (`Digest.checksum`).
    public struct Checksums {
        public var features: String?
        public var labels: String?
        public init(features: String? = nil, labels: String? = nil) { self.features = features; self.labels = labels }

        /// The checksums `manifest` records for `feature` and (unless the labels come from elsewhere) labels.npy.
        public init(manifest: ExtractionManifest, feature: FeatureFamily, labels: Bool = true) {
            features = manifest.files[feature.rawValue]?.checksum
            self.labels = labels ? manifest.files["labels"]?.checksum : nil
        }

        /// Refuses a file whose bytes are not the ones its folder's manifest recorded.
        public func verify(features featuresPath: String, labels labelsPath: String) throws {
            for (path, expected) in [(featuresPath, features), (labelsPath, labels)] {
                guard let expected else { continue }
                let actual = try Digest.checksum(file: URL(fileURLWithPath: path))
                guard actual == expected else {
                    throw FeatureError.file(path: path, message: "its bytes are not the ones manifest.json records (checksum \(actual), recorded \(expected)): the file was changed or swapped in from another folder; extract again")
                }
            }
        }
    }

    /// The sources behind `paths`: one features file (with `labelsOption`) or extract folder, or every shard folder
    /// of one extraction — checked complete, unrepeated and consistent, and returned in shard (= dataset) order.
    /// With `complete: false` (`--stats-out` of some shards) missing shards are allowed.
    public static func sources(_ paths: [String], labels labelsOption: String?, feature: FeatureFamily, role: String,
                        complete: Bool = true) throws -> [Source] {
        guard !paths.isEmpty else { throw FeatureError.badInput("\(role): no features given") }
        if paths.count > 1, labelsOption != nil {
            throw FeatureError.badInput("\(role)-labels: several \(role) folders take their labels from each folder's labels.npy")
        }
        var out: [Source] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw FeatureError.badInput("\(path): no such file or folder (\(role))")
            }
            if isDir.boolValue {
                let manifestURL = URL(fileURLWithPath: path).appendingPathComponent("manifest.json")
                var identity: ShardIdentity? = nil
                var checksums = Checksums()
                if FileManager.default.fileExists(atPath: manifestURL.path) {
                    let manifest: ExtractionManifest
                    do { manifest = try FeatureFolder.manifest(URL(fileURLWithPath: path)) }
                    catch { throw FeatureError.badInput("\(manifestURL.path): \(error)") }
                    identity = ShardIdentity(manifest: manifest, feature: feature.rawValue)
                    checksums = Checksums(manifest: manifest, feature: feature, labels: labelsOption == nil)
                } else if paths.count > 1 {
                    throw FeatureError.badInput("\(path): no manifest.json, so it cannot be checked as a shard of the other \(role) folders")
                }
                out.append(Source(featuresPath: (path as NSString).appendingPathComponent("\(feature.rawValue).npy"),
                                  labelsPath: labelsOption ?? (path as NSString).appendingPathComponent("labels.npy"),
                                  identity: identity, checksums: checksums))
            } else {
                guard paths.count == 1 else { throw FeatureError.badInput("\(role) \(path): several \(role) inputs must be shard folders") }
                guard let l = labelsOption else {
                    throw FeatureError.badInput("\(role) \(path) is a file: give its labels with \(role)-labels")
                }
                out.append(Source(featuresPath: path, labelsPath: l, identity: nil))
            }
        }
        if out.count == 1 && out[0].identity?.shard == nil { return out }
        do {
            return try ShardIdentity.order(zip(paths, out).map { ($0, $1.identity!) }, complete: complete).map { out[$0] }
        } catch { throw FeatureError.badInput("\(role): \(error)") }
    }

    /// Features and labels of `paths` (see `sources`), shards concatenated in dataset order. `keepInFile` is asked
    /// of a single features file only: shards are concatenated in memory.
    public static func load(_ paths: [String], labels labelsOption: String?, feature: FeatureFamily, role: String,
                            keepInFile: KeepInFile? = nil) throws -> LabelledFeatures {
        let found = try sources(paths, labels: labelsOption, feature: feature, role: role)
        let parts = try found.map {
            try load($0.featuresPath, labels: $0.labelsPath,
                     classNames: labelsOption == nil ? $0.identity?.classNames : nil, checksums: $0.checksums,
                     keepInFile: found.count == 1 ? keepInFile : nil)
        }
        guard let first = parts.first else { throw FeatureError.badInput("\(role): no feature files in \(paths.joined(separator: ", "))") }
        guard parts.count > 1 else { return first }
        let d = parts[0].features.cols
        for p in parts where p.features.cols != d {
            throw FeatureError.badInput("\(p.featuresPath): \(p.features.cols) columns, but \(parts[0].featuresPath) has \(d)")
        }
        let rows = parts.map(\.features.rows).reduce(0, +)
        let features: AnyFeatures
        if parts.allSatisfy({ if case .float = $0.features { return true } else { return false } }) {
            let m = Matrix<Float>(rows: rows, cols: d)
            var r = 0
            for p in parts { if case .float(let x) = p.features { m.pointer.advanced(by: r * d).update(from: x.pointer, count: x.rows * d); r += x.rows } }
            features = .float(m)
        } else {
            let m = Matrix<Double>(rows: rows, cols: d)
            var r = 0
            for p in parts {
                for i in 0..<p.features.rows {
                    for j in 0..<d {
                        switch p.features {
                        case .float(let x): m[r, j] = Double(x[i, j])
                        case .double(let x): m[r, j] = x[i, j]
                        case .inFile: preconditionFailure("shards are loaded in memory")
                        }
                    }
                    r += 1
                }
            }
            features = .double(m)
        }
        return LabelledFeatures(featuresPath: parts.map(\.featuresPath).joined(separator: " "),
                                labelsPath: parts.map(\.labelsPath).joined(separator: " "),
                                features: features, labels: parts.flatMap(\.labels), classNames: parts[0].classNames)
    }

    /// Refuses a path that exists but is not a regular file (reading a FIFO would wait forever; a device, forever
    /// or garbage).
    public static func checkRegularFiles(_ paths: [String]) throws {
        for path in paths where FileIdentity(path: path)?.isRegular == false {
            throw FeatureError.file(path: path, message: "not a regular file (a folder, device or FIFO cannot hold features or labels)")
        }
    }

    /// `FAMILY.npy` and `labels.npy` of one extract folder, with the class names of its manifest when present.
    public static func load(folder: URL, feature: FeatureFamily, keepInFile: KeepInFile? = nil) throws -> LabelledFeatures {
        let manifestURL = folder.appendingPathComponent("manifest.json")
        let manifest = FileManager.default.fileExists(atPath: manifestURL.path) ? try FeatureFolder.manifest(folder) : nil
        return try load(folder.appendingPathComponent(feature.rawValue + ".npy").path,
                        labels: folder.appendingPathComponent("labels.npy").path, classNames: manifest?.classNames,
                        checksums: manifest.map { Checksums(manifest: $0, feature: feature) } ?? Checksums(),
                        keepInFile: keepInFile)
    }

    /// One features file and its labels file (`classNames`: the names of the label values, when known;
    /// `checksums`: what their folder's manifest recorded, verified before the values are used; `labelValues`: the
    /// labels file's values when the caller has already read and checked them; `keepInFile`: asked whether to leave
    /// the values in the file, `AnyFeatures.inFile`, instead of reading them — nil: read them).
    public static func load(_ featuresPath: String, labels labelsPath: String, classNames: [String]? = nil,
                            checksums: Checksums = Checksums(), labelValues: [Int]? = nil,
                            keepInFile: KeepInFile? = nil) throws -> LabelledFeatures {
        guard FileManager.default.fileExists(atPath: featuresPath) else {
            throw FeatureError.file(path: featuresPath, message: "no such feature file (was it extracted?)")
        }
        try checkRegularFiles([featuresPath, labelsPath])
        try checksums.verify(features: featuresPath, labels: labelsPath)
        let url = URL(fileURLWithPath: featuresPath)
        let header = try NPY.readHeader(url)
        guard header.shape.count == 2 else {
            throw FeatureError.badInput("\(featuresPath): expected a 2-D feature array (n × d), got shape \(header.shape)")
        }
        guard header.shape[0] > 0, header.shape[1] > 0 else {
            throw FeatureError.badInput("\(featuresPath): empty feature array (shape \(header.shape))")
        }
        let labels = try labelValues ?? NPY.readIntegers(URL(fileURLWithPath: labelsPath))
        guard labels.count == header.shape[0] else {
            throw FeatureError.badInput("\(labelsPath): \(labels.count) labels but \(featuresPath) has \(header.shape[0]) rows")
        }
        let inFile = AnyFeatures.inFile(url, header)
        let features = try keepInFile?(url, header) == true ? inFile : try inFile.loaded(naming: featuresPath)
        return LabelledFeatures(featuresPath: featuresPath, labelsPath: labelsPath, features: features, labels: labels,
                                classNames: classNames)
    }
}
