import Foundation
import Support

/// Corpus → documents → token files: the `lmprobe tokenize` pipeline.
public enum Corpus {
    /// How a plain-text file is cut into documents.
    public enum DocSplit: String, CaseIterable, Sendable {
        /// The whole file is one document.
        case file
        /// Documents are separated by blank (empty or whitespace-only) lines.
        case blankLine = "blank-line"
        /// Every non-empty line is a document.
        case line
    }

    public struct Options {
        public var docSplit: DocSplit = .file
        public var csvColumn = "text"
        /// Keep only CSV rows whose `column` equals `value` (e.g. source=imdb).
        public var csvFilter: (column: String, value: String)? = nil
        public var jsonlField = "text"
        /// Replace `<br />`, `<br/>`, `<br>` (any case) by a space.
        public var stripHTMLBreaks = false
        /// Drop exact duplicate documents (after break stripping), keeping the first.
        public var dedupe = true
        /// Sentences (one per line, or `label<TAB>sentence` lines as in the SST files); documents that contain one of
        /// them (`SentenceIndex`, the same test as `compare`'s leakage count) are dropped and counted.
        public var exclude: URL? = nil
        /// Ignore excluded sentences shorter than this many bytes after `SentenceNormalization` (the same threshold
        /// and default as `compare`'s leakage count).
        public var excludeMinimumLength = SentenceIndex.defaultMinimumLength
        public var valFraction = 0.05
        public var seed: UInt64 = 0
        /// Train a tokenizer of this size on the training documents …
        public var vocabSize: Int? = nil
        public var minFrequency = 2
        /// … or reuse this one (a folder with vocab.json + merges.txt).
        public var tokenizer: URL? = nil
        public init() {}
    }

    /// What `tokenize` wrote (the content of `tokens.json`).
    public struct Summary {
        public var vocabSize: Int
        public var dtype: String
        public var trainTokens: Int
        public var valTokens: Int
        public var eotToken: Int
        public var documents: Int
        public var trainDocuments: Int
        public var valDocuments: Int
        public var duplicatesRemoved: Int
        public var excluded: Int
        public var sources: [(path: String, sha256: String)]
        public var trainedTokenizer: Bool
    }

    // MARK: Reading documents

    /// The path `tokenize -` reads (standard input, streamed like any pipe).
    public static let standardInput = "/dev/stdin"

    /// Documents from the inputs (files or folders, read recursively in sorted order; `.csv` files by column,
    /// `.jsonl`/`.ndjson` by field, anything else as UTF-8 text split by `docSplit`), with each file's SHA-256.
    /// A pipe, FIFO or standard input is streamed to its end (`readFileBytes`) and read as text.
    public static func readDocuments(_ inputs: [URL], options: Options) throws -> (documents: [String], sources: [(path: String, sha256: String)]) {
        var files: [URL] = []
        let fm = FileManager.default
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input.path, isDirectory: &isDir) else { throw TextError(file: input, "no such file or folder") }
            if isDir.boolValue {
                guard let e = fm.enumerator(at: input, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
                    throw TextError(file: input, "cannot list folder")
                }
                var found: [URL] = []
                for case let u as URL in e where (try? u.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { found.append(u) }
                if found.isEmpty { throw TextError(file: input, "folder has no files") }
                files += found.sorted { $0.path < $1.path }
            } else { files.append(input) }
        }
        var docs: [String] = [], sources: [(String, String)] = []
        for f in files {
            let bytes = try readFileBytes(f)
            sources.append((f.path, SHA256.hex(bytes)))
            let ext = f.pathExtension.lowercased()
            if ext == "csv" { docs += try csvColumn(bytes, file: f, column: options.csvColumn, filter: options.csvFilter) }
            else if ext == "jsonl" || ext == "ndjson" { docs += try jsonlField(bytes, file: f, field: options.jsonlField) }
            else { docs += split(try decodeUTF8(bytes, file: f.path), options.docSplit) }
        }
        return (docs, sources)
    }

    static func split(_ text: String, _ mode: DocSplit) -> [String] {
        switch mode {
        case .file:
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.isEmpty ? [] : [t]
        case .line:
            return textLines(text).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        case .blankLine:
            var docs: [String] = [], current: [Substring] = []
            for line in textLines(text) {
                if line.allSatisfy({ $0.isWhitespace }) {
                    if !current.isEmpty { docs.append(current.joined(separator: "\n")); current = [] }
                } else { current.append(line.hasSuffix("\r") ? line.dropLast() : line) }
            }
            if !current.isEmpty { docs.append(current.joined(separator: "\n")) }
            return docs
        }
    }

    /// Records of a CSV file (RFC 4180: `,` separators, `"` quoting with `""` escapes, quoted fields may span lines,
    /// LF or CRLF record ends) with a header row. Returns the header, the data records and each record's first line;
    /// errors name the file and line.
    static func csvRows(_ bytes: [UInt8], file: URL, required: [String]) throws -> (header: [String], rows: [[String]], lines: [Int]) {
        _ = try decodeUTF8(bytes, file: file.path)  // reject wrong encodings up front, with the line
        var records: [[String]] = [], lines: [Int] = []
        try bytes.withUnsafeBufferPointer { b in
            let n = b.count
            var i = (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) ? 3 : 0
            var line = 1
            var record: [String] = [], field: [UInt8] = []
            var recordLine = 1
            func endField() { record.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true) }
            func endRecord() {
                endField()
                if !(record.count == 1 && record[0].isEmpty) { records.append(record); lines.append(recordLine) }
                record = []
            }
            var atFieldStart = true
            while i < n {
                let c = b[i]
                if atFieldStart && c == 0x22 {
                    let quoteLine = line
                    i += 1
                    while true {
                        guard i < n else { throw TextError(file: file, line: quoteLine, "quoted field is never closed") }
                        let q = b[i]
                        if q == 0x22 {
                            if i + 1 < n && b[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                            i += 1; break
                        }
                        if q == 0x0A { line += 1 }
                        field.append(q); i += 1
                    }
                    if i < n, b[i] != 0x2C, b[i] != 0x0A, !(b[i] == 0x0D && i + 1 < n && b[i + 1] == 0x0A) {
                        throw TextError(file: file, line: line, "unexpected character after a closing quote")
                    }
                    atFieldStart = false
                    continue
                }
                atFieldStart = false
                if c == 0x2C { endField(); atFieldStart = true; i += 1 }
                else if c == 0x0A || (c == 0x0D && i + 1 < n && b[i + 1] == 0x0A) {
                    endRecord(); i += c == 0x0D ? 2 : 1; line += 1; recordLine = line; atFieldStart = true
                } else { field.append(c); i += 1 }
            }
            if !atFieldStart || !field.isEmpty || !record.isEmpty { endRecord() }
        }
        guard let header = records.first else { throw TextError(file: file, line: 1, "CSV file has no header row") }
        for name in required where !header.contains(name) {
            throw TextError(file: file, line: 1, "no column \"\(name)\" (columns: \(header.joined(separator: ", ")))")
        }
        for (r, l) in zip(records.dropFirst(), lines.dropFirst()) where r.count != header.count {
            throw TextError(file: file, line: l, "record has \(r.count) fields, the header has \(header.count)")
        }
        return (header, Array(records.dropFirst()), Array(lines.dropFirst()))
    }

    static func csvColumn(_ bytes: [UInt8], file: URL, column: String, filter: (column: String, value: String)?) throws -> [String] {
        let (header, rows, _) = try csvRows(bytes, file: file, required: [column] + (filter.map { [$0.column] } ?? []))
        let c = header.firstIndex(of: column)!
        let fc = filter.map { header.firstIndex(of: $0.column)! }
        return rows.compactMap { row in
            if let fc = fc, row[fc] != filter!.value { return nil }
            let t = row[c].trimmingCharacters(in: .whitespacesAndNewlines)
            return t.isEmpty ? nil : t
        }
    }

    static func jsonlField(_ bytes: [UInt8], file: URL, field: String) throws -> [String] {
        let text = try decodeUTF8(bytes, file: file.path)
        var docs: [String] = []
        for (i, line) in textLines(text).enumerated() {
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8))
            guard let dict = obj as? [String: Any] else { throw TextError(file: file, line: i + 1, "not a JSON object") }
            guard let v = dict[field] else { throw TextError(file: file, line: i + 1, "no field \"\(field)\"") }
            guard let s = v as? String else { throw TextError(file: file, line: i + 1, "field \"\(field)\" is not a string") }
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { docs.append(t) }
        }
        return docs
    }

    /// `text` with every `<br>`, `<br/>`, `<br />` (any case, spaces before `/`) replaced by one space.
    public static func stripHTMLBreaks(_ text: String) -> String {
        let b = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == 0x3C, i + 3 < b.count, b[i + 1] | 0x20 == 0x62, b[i + 2] | 0x20 == 0x72 {
                var j = i + 3
                while j < b.count, b[j] == 0x20 { j += 1 }
                if j < b.count, b[j] == 0x2F { j += 1 }
                if j < b.count, b[j] == 0x3E { out.append(0x20); i = j + 1; continue }
            }
            out.append(b[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Exclusion of evaluation sentences

    /// The documents that contain none of `sentences` (of ≥ `minimumLength` normalised bytes), by `SentenceIndex`.
    public static func excluding(_ sentences: [String], from documents: [String],
                                 minimumLength: Int = SentenceIndex.defaultMinimumLength) -> (kept: [String], index: SentenceIndex) {
        let index = SentenceIndex(sentences: sentences, minimumLength: minimumLength)
        let contains = index.scan(documents: documents)
        return (zip(documents, contains).filter { !$0.1 }.map(\.0), index)
    }

    // MARK: Splitting and writing

    /// Indices of the validation documents: a fixed-seed random subset of round(k · fraction) documents
    /// (at least one when fraction > 0 and k ≥ 2), returned sorted.
    public static func validationIndices(count k: Int, fraction: Double, seed: UInt64) -> [Int] {
        guard fraction > 0, k >= 2 else { return [] }
        let m = min(k - 1, max(1, Int((Double(k) * fraction).rounded())))
        var perm = Array(0..<k)
        var rng = SeededRandom(seed: seed)
        for i in stride(from: k - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(below: i + 1)) }
        return perm[0..<m].sorted()
    }

    /// Cut points 0 = c₀ < c₁ < … < c_m = n of a buffer, about n/pieces apart, each just after a newline that is
    /// followed by an ASCII non-whitespace byte — always a pre-tokeniser word boundary.
    static func safeCuts(_ b: UnsafeBufferPointer<UInt8>, pieces: Int) -> [Int] {
        let n = b.count
        var cuts = [0]
        for k in 1..<max(1, pieces) {
            var i = max(n * k / pieces, cuts.last! + 1)
            while i < n {
                if b[i - 1] == 0x0A, b[i] < 0x80, b[i] != 0x20, b[i] != 0x0A, b[i] != 0x09, b[i] != 0x0D, b[i] != 0x0B, b[i] != 0x0C { break }
                i += 1
            }
            if i < n { cuts.append(i) } else { break }
        }
        cuts.append(n)
        return cuts
    }

    /// Reads, cleans, de-duplicates, filters and splits the documents, trains or loads the tokenizer, and writes
    /// `vocab.json`, `merges.txt`, `train.bin`, `val.bin` and `tokens.json` into `out`. Each document is preceded by
    /// `<|endoftext|>` in the token stream. `progress(doneBytes, totalBytes)` is called while encoding.
    public static func tokenize(inputs: [URL], out: URL, options: Options,
                                log: (String) -> Void = { _ in },
                                progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        guard options.valFraction >= 0, options.valFraction < 1 else {
            throw TextError("--val-fraction must be in [0, 1), got \(options.valFraction)")
        }
        guard options.tokenizer != nil || options.vocabSize != nil else { throw TextError("give --vocab-size N (train) or --tokenizer DIR (reuse)") }
        // Everything is written into a staging folder that replaces `out` at the end in one step: an interrupted or
        // failed run never leaves one run's vocab.json beside another's train.bin.
        let staging: OutputFolder
        do { staging = try OutputFolder(replacing: out, markers: ["tokens.json"]) } catch { throw TextError("\(error)") }
        let out = staging.url
        let tRead = Benchmark.now()
        var (docs, sources) = try readDocuments(inputs, options: options)
        log(String(format: "read %d documents from %d files in %.1f s", docs.count, sources.count, Benchmark.now() - tRead))
        if options.stripHTMLBreaks { docs = docs.map(stripHTMLBreaks) }
        if docs.isEmpty { throw TextError("no documents in \(inputs.map(\.path).joined(separator: ", "))") }
        var duplicates = 0
        if options.dedupe {
            var seen = Set<String>(minimumCapacity: docs.count)
            let before = docs.count
            docs = docs.filter { seen.insert($0).inserted }
            duplicates = before - docs.count
        }
        var excluded = 0
        if let ex = options.exclude {
            let sentences = try textLines(readUTF8(ex)).map { line -> String in
                // `label<TAB>sentence` lines (the SST files) contribute their sentence.
                if let tab = line.firstIndex(of: "\t") { return String(line[line.index(after: tab)...]) }
                return String(line)
            }.filter { !$0.allSatisfy(\.isWhitespace) }
            let tEx = Benchmark.now()
            let before = docs.count
            let (kept, index) = excluding(sentences, from: docs, minimumLength: options.excludeMinimumLength)
            docs = kept
            excluded = before - docs.count
            let ignored = index.report().notChecked
            log(String(format: "excluded %d documents containing one of %d sentences from %@ (%.1f s)", excluded, index.checkedCount, ex.path, Benchmark.now() - tEx)
                + (ignored > 0 ? "; ignored \(ignored) sentences under \(options.excludeMinimumLength) bytes" : ""))
            if docs.isEmpty { throw TextError(file: ex, "every document contains an excluded sentence") }
        }
        let valSet = Set(validationIndices(count: docs.count, fraction: options.valFraction, seed: options.seed))
        var trainDocs: [String] = [], valDocs: [String] = []
        for (i, d) in docs.enumerated() { if valSet.contains(i) { valDocs.append(d) } else { trainDocs.append(d) } }

        let tokenizer: BPETokenizer
        if let dir = options.tokenizer {
            tokenizer = try BPETokenizer(directory: dir)
        } else {
            let t0 = Benchmark.now()
            tokenizer = try BPETrainer(vocabSize: options.vocabSize!, minFrequency: options.minFrequency).train(documents: trainDocs)
            log(String(format: "trained a %d-token BPE on %d documents in %.1f s", tokenizer.vocabSize, trainDocs.count, Benchmark.now() - t0))
        }
        guard let eot = tokenizer.eotToken else { throw TextError("the tokenizer has no \(BPETokenizer.endOfText) token") }
        try tokenizer.save(directory: out)
        let wide = TokenFile.dtype(vocabSize: tokenizer.vocabSize) == "uint32"
        let totalBytes = docs.reduce(0) { $0 + $1.utf8.count }
        var doneBytes = 0
        var caches: [BPETokenizer.Cache] = []
        progress?(0, totalBytes)
        func write(_ docs: [String], split: TokenFile.Split) throws -> Int {
            var data = Data()
            var tokens = 0
            let batch = max(256, Threads.count * 64)
            for lo in stride(from: 0, to: docs.count, by: batch) {
                let part = Array(docs[lo..<min(docs.count, lo + batch)])
                let encoded = tokenizer.encodeBatch(part, caches: &caches)
                for ids in encoded {
                    tokens += ids.count + 1
                    ([Int32(eot)] + ids).withUnsafeBufferPointer { TokenFile.append($0, wide: wide, to: &data) }
                }
                doneBytes += part.reduce(0) { $0 + $1.utf8.count }
                progress?(doneBytes, totalBytes)
            }
            try TokenFile.writeSplit(data, split: split, directory: out)
            return tokens
        }
        let trainTokens = try write(trainDocs, split: .train)
        let valTokens = try write(valDocs, split: .val)
        let summary = Summary(vocabSize: tokenizer.vocabSize, dtype: wide ? "uint32" : "uint16", trainTokens: trainTokens,
                              valTokens: valTokens, eotToken: eot, documents: docs.count, trainDocuments: trainDocs.count,
                              valDocuments: valDocs.count, duplicatesRemoved: duplicates, excluded: excluded,
                              sources: sources, trainedTokenizer: options.tokenizer == nil)
        let provenance = TokenProvenance(
            documents: docs.count, trainDocuments: trainDocs.count, valDocuments: valDocs.count,
            duplicatesRemoved: duplicates, excludedDocuments: excluded,
            sources: sources.map { .init(path: $0.path, sha256: $0.sha256) }, tokenizerTrained: summary.trainedTokenizer,
            valFraction: options.valFraction, seed: options.seed, docSplit: options.docSplit.rawValue,
            stripHtmlBreaks: options.stripHTMLBreaks, dedupe: options.dedupe,
            minFrequency: options.tokenizer == nil ? options.minFrequency : nil,
            csvFilter: options.csvFilter.map { "\($0.column)=\($0.value)" }, exclude: options.exclude?.path,
            excludeMinLength: options.exclude == nil ? nil : options.excludeMinimumLength)
        try TokenFile.writeHeader(directory: out, vocabSize: summary.vocabSize, trainTokens: trainTokens,
                                  valTokens: valTokens, eotToken: eot, tokenizer: ".", provenance: provenance)
        do { try staging.commit() } catch { throw TextError("\(error)") }
        return summary
    }
}

/// What made a token folder (written into its tokens.json beside the fields every reader needs).
struct TokenProvenance: Encodable {
    struct Source: Encodable { var path: String; var sha256: String }
    var documents, trainDocuments, valDocuments, duplicatesRemoved, excludedDocuments: Int
    var sources: [Source]
    var tokenizerTrained: Bool
    var valFraction: Double
    var seed: UInt64
    var docSplit: String
    var stripHtmlBreaks: Bool
    var dedupe: Bool
    var documentsStartWithEot = true
    var minFrequency: Int?
    var csvFilter: String?
    var exclude: String?
    var excludeMinLength: Int?
}
