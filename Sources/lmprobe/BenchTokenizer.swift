import ArgumentParser
import Foundation
import Text
import Support

/// `lmprobe bench tokenizer FILE`: BPE training time and encoding throughput on a plain-text file.
struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Seconds to train a byte-level BPE on FILE (word counting + merges) and MB/s to encode FILE with it.",
        discussion: "Reference (HF tokenizers 0.23, IMDb text 32.6 MB, vocab 8192): train 7.1 s / 3.7 s, encode 3.6 / 7.3 MB/s on 1 / 2 threads."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A plain-text file (e.g. data/imdb.txt from `make data`).") var file: String
    @Option(help: "Vocabulary size to train.") var vocabSize: Int = 8192
    @Flag(help: "Print {\"train_s\", \"encode_mb_per_s\", \"tokens\", …} as JSON.") var json = false

    func validate() throws {
        if vocabSize < 257 { throw ValidationError("--vocab-size must be at least 257, got \(vocabSize)") }
    }

    func run() throws {
        global.apply()
        let url = URL(fileURLWithPath: file)
        let data: Data
        do { data = try readFileData(url) } catch { throw CLIError("\(url.path): cannot read (\(ioErrorText(error)))") }
        if data.isEmpty { throw TextError(file: url, "empty file") }
        let bytes = [UInt8](data)
        let mb = Double(bytes.count) / 1e6
        let t0 = Benchmark.now()
        let counts = bytes.withUnsafeBufferPointer { WordCounts.count(corpus: $0) }
        let t1 = Benchmark.now()
        let tok = try BPETrainer(vocabSize: vocabSize).train(counts)
        let t2 = Benchmark.now()
        let ids = bytes.withUnsafeBufferPointer { tok.encodeCorpus($0) }
        let t3 = Benchmark.now()
        let trainS = t2 - t0, encodeS = t3 - t2
        if json {
            struct Summary: Encodable {
                let trainS, countS, mergeS, encodeS, encodeMbPerS: Double
                let tokens: Int, mb: Double, threads, vocabSize, distinctWords: Int
                enum CodingKeys: String, CodingKey {
                    case trainS, countS, mergeS, encodeS
                    case encodeMbPerS, tokens, mb, threads, vocabSize
                    case distinctWords
                }
            }
            try printJSON(Summary(trainS: trainS, countS: t1 - t0, mergeS: t2 - t1, encodeS: encodeS,
                                  encodeMbPerS: mb / encodeS, tokens: ids.count, mb: mb, threads: Threads.count,
                                  vocabSize: tok.vocabSize, distinctWords: counts.distinct))
        } else {
            print(String(format: "%@: %.1f MB, %d threads, vocabulary %d", file, mb, Threads.count, tok.vocabSize))
            print(String(format: "train  %.2f s (count words %.2f s, %d distinct; merges %.2f s)", trainS, t1 - t0, counts.distinct, t2 - t1))
            print(String(format: "encode %.2f s = %.1f MB/s, %d tokens", encodeS, mb / encodeS, ids.count))
        }
    }
}
