import ArgumentParser
import Foundation
import Linalg
import Support

/// `lmprobe bench …`: throughput of each stage, reported against the sgemm ceiling measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (GFLOP/s, tokens/s, seconds) for each pipeline stage.",
        subcommands: [BenchGemm.self, BenchTokenizer.self, BenchTrain.self, BenchProbe.self, BenchExtract.self, BenchAnalysis.self]
    )
}

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of square sgemm at n = 256…2048 on 1 thread and on all threads (the machine's ceiling)."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Matrix sizes, comma-separated.") var sizes = CommaList<Int>([256, 512, 1024, 2048])
    @Option(help: "Minimum seconds of timing per measurement.") var seconds: Double = 0.5
    @Flag(help: "Print a JSON array of {\"n\", \"threads\", \"gflops\"}.") var json = false

    func validate() throws {
        try sizes.check("--sizes", noun: "an integer")
        for n in sizes.values where n < 1 { throw ValidationError("--sizes: \(n) is not a positive integer") }
    }

    func run() throws {
        global.apply()
        let ns = sizes.values
        let all = Threads.count
        let threadCounts = all > 1 ? [1, all] : [1]
        var rows: [(n: Int, threads: Int, gflops: Double)] = []
        for n in ns {
            for t in threadCounts {
                rows.append((n, t, Benchmark.sgemmGFLOPS(n: n, threads: t, minSeconds: seconds)))
            }
        }
        if json {
            struct Row: Encodable { let n: Int, threads: Int, gflops: Double }
            try printJSON(rows.map { Row(n: $0.n, threads: $0.threads, gflops: $0.gflops) })
        } else {
            print("sgemm (square, row-major, OpenBLAS)")
            print("     n  threads    GFLOP/s")
            for r in rows { print(String(format: "%6d  %7d  %9.1f", r.n, r.threads, r.gflops)) }
        }
    }
}

/// The model shape every model benchmark takes (defaults: the reference config L=4, d=256, h=4, T=128, V=8192, B=16).
struct BenchModelOptions: ParsableArguments {
    @OptionGroup var shape: ModelShapeOptions
    @Option(help: "Vocabulary size V.") var vocabSize = 8192
    @Option(help: "Sequences per batch B.") var batch = 16

    var layers: Int { shape.layers }
    var dim: Int { shape.dim }
    var heads: Int { shape.heads }
    var context: Int { shape.context }

    func validate() throws {
        guard vocabSize >= 1, batch >= 1 else { throw ValidationError("--vocab-size and --batch must be ≥ 1") }
    }
}
