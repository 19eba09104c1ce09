import Features
import Foundation
import Text

/// One named split of a labelled dataset and the SHA-256 of the file (or class folder) it was read from.
public struct DatasetSplit {
    public var name: String
    public var data: LabelledDataset
    /// SHA-256 of the dataset file or folder (`Digest.sha256(path:)`), recorded in the feature manifests.
    public var digest: String
    public init(name: String, data: LabelledDataset, digest: String) {
        self.name = name; self.data = data; self.digest = digest
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
