import Features
import Foundation
import Text
import Support

/// One named split of a labelled dataset and the SHA-256 of the file (or class folder) it was read from.
public struct DatasetSplit {
    public var name: String
    public var data: LabelledDataset { didSet { content = ContentDigest() } }
    /// SHA-256 of the dataset file or folder (`Digest.sha256(path:)`), recorded in the feature manifests.
    public var digest: String
    public init(name: String, data: LabelledDataset, digest: String) {
        self.name = name; self.data = data; self.digest = digest
    }

    /// SHA-256 of the split's texts, labels and class names (`Digest.sha256(content:)`), computed on first use and
    /// then remembered: every cache key of a run reads this one value (copies of the split share it).
    public var contentSHA256: String { content.value(data) }
    private var content = ContentDigest()

    /// The memo behind `contentSHA256` (a class, so a `let` split can fill it; replaced when `data` changes).
    private final class ContentDigest: @unchecked Sendable {
        private let lock = NSLock()
        private var digest: String?
        func value(_ data: LabelledDataset) -> String {
            lock.lock(); defer { lock.unlock() }
            if let digest { return digest }
            let d = Digest.sha256(content: data)
            digest = d
            return d
        }
    }
}

/// The one train/test split loader: `extract`, `compare` and `analyze transfer` read datasets through it.
public enum DatasetSplits {
    /// `train` and `test` from two sources (the test read in the training class order), or a fixed-seed stratified
    /// `testFraction` split of `train`; with neither, one split named `all`. File hashes are computed once per path.
    public static func load(train: DatasetSource, test: DatasetSource? = nil, testFraction: Double = 0,
                            seed: UInt64 = 0) throws -> [DatasetSplit] {
        guard testFraction >= 0, testFraction < 1 else {
            throw ExperimentError("test fraction must be in [0, 1), got \(testFraction)")
        }
        let main = try train.load()
        let digest = try Digest.sha256(path: train.path)
        if let test {
            try main.checkTrainable()
            let te = try test.load(classNames: main.classNames)
            let testDigest = test.path == train.path ? digest : try Digest.sha256(path: test.path)
            return [DatasetSplit(name: "train", data: main, digest: digest),
                    DatasetSplit(name: "test", data: te, digest: testDigest)]
        }
        if testFraction > 0 {
            try main.checkTrainable()
            let (tr, te) = try main.stratifiedSplit(testFraction: testFraction, seed: seed)
            return [DatasetSplit(name: "train", data: tr, digest: digest), DatasetSplit(name: "test", data: te, digest: digest)]
        }
        return [DatasetSplit(name: "all", data: main, digest: digest)]
    }

    /// A task's train and test splits (its test file, its seeded stratified split, or one fold of its seeded
    /// stratified k-fold partition when `task.folds` is set).
    public static func load(_ task: TaskSpec) throws -> (train: DatasetSplit, test: DatasetSplit) {
        if task.test == nil, let k = task.folds {
            let all = try task.train.load()
            try all.checkTrainable()
            let digest = try Digest.sha256(path: task.train.path)
            let (tr, te) = try all.stratifiedFold(task.fold ?? 0, of: k, seed: task.seed)
            return (DatasetSplit(name: "train", data: tr, digest: digest), DatasetSplit(name: "test", data: te, digest: digest))
        }
        let s = try load(train: task.train, test: task.test, testFraction: task.test == nil ? task.testFraction : 0,
                         seed: task.seed)
        guard s.count == 2 else { throw ExperimentError("task \(task.name): no test split (give a test file or a test fraction > 0)") }
        return (s[0], s[1])
    }
}

/// The default tasks by name — `compare --task` and `analyze transfer --task` resolve names here.
public struct TaskCatalog {
    public let dataDirectory: String
    public let sstDirectory: String?
    /// The tasks whose files can be named: rt and bbc always, sst2/sst5 and their -detok variants when
    /// `sstDirectory` holds sst_train.tsv.
    public let available: [TaskSpec]
    public static let names = ["sst2", "sst5", "sst2-detok", "sst5-detok", "rt", "bbc"]

    public init(dataDirectory: String, sstDirectory: String?) {
        self.dataDirectory = dataDirectory
        self.sstDirectory = sstDirectory
        let sst = sstDirectory.flatMap { FileManager.default.fileExists(atPath: $0 + "/sst_train.tsv") ? $0 : nil }
        var tasks = TaskSpec.defaults(dataDirectory: dataDirectory, sstDirectory: sst)
        if let sst {
            tasks += TaskSpec.defaults(dataDirectory: dataDirectory, sstDirectory: sst, detokenizeSST: true)
                .filter { $0.name.hasSuffix("-detok") }
        }
        available = tasks
    }

    /// The task called `name`, or an error that says whether the name is unknown or its files are missing.
    public func task(_ name: String) throws -> TaskSpec {
        if let t = available.first(where: { $0.name == name }) {
            if !name.hasPrefix("sst"), !FileManager.default.fileExists(atPath: t.train.path) {
                throw ExperimentError("--task \(name): \(t.train.path) not found: run `make data` (or give --data-dir)")
            }
            return t
        }
        if name.hasPrefix("sst") && Self.names.contains(name) {
            throw ExperimentError("--task \(name): SST files not found in --sst-dir \(sstDirectory ?? "(none given)"): run `make sst` to fetch the paper's splits into data/sst (or give --sst-dir)")
        }
        throw ExperimentError("--task: unknown task '\(name)' (\(Self.names.joined(separator: ", ")), or use --tasks-file)")
    }

    /// The tasks whose data is present, without the -detok variants (compare's default).
    public var present: [TaskSpec] {
        available.filter { !$0.name.hasSuffix("-detok") && FileManager.default.fileExists(atPath: $0.train.path) }
    }

    /// An array of task specs from a JSON file (`--tasks-file`).
    public static func read(_ path: String) throws -> [TaskSpec] {
        let data: Data
        do { data = try readFileData(URL(fileURLWithPath: path)) } catch {
            throw ExperimentError("--tasks-file \(path): cannot read (\(ioErrorText(error)))")
        }
        do { return try JSONCoding.decoder().decode([TaskSpec].self, from: data) } catch {
            throw ExperimentError("--tasks-file \(path): not a JSON array of task specs (\(ioErrorText(error, json: data)))")
        }
    }
}
