import ArgumentParser
import Foundation
import Linalg
import Model

/// `lmprobe bench extract`: inference throughput of the feature-extraction forward (f at the last position of each
/// full-length sequence, plus the head's logits there) against the sgemm ceiling of this run.
struct BenchExtract: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Tokens/s of the inference forward with features (and logits) at the last position only.",
        discussion: """
            Random-init model, random tokens, B sequences of the full context length T per forward.
            gflops counts the full forward as PyTorch runs it: 2·(non-embedding params) + 4·L·T·d (attention
            scores and weighted sum, full T×T, causality NOT halved) per token, plus 2·d·V per sequence for the
            last-position logits. lmprobe skips the last block's work at the other positions, so it executes
            fewer FLOPs (executed_gflops); mfu = gflops / sgemm ceiling (n = 1024, all threads, measured in
            the same run).
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var shape: BenchModelOptions
    @Option(help: "Timed forwards (after 2 warm-up forwards); the median is reported.") var steps = 10
    @Flag(help: "Run the full forward at every position (the pre-pruning path), for comparison.") var fullForward = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1") }
    }

    func run() throws {
        global.apply()
        let (layers, dim, heads, context, vocabSize, batch) =
            (shape.layers, shape.dim, shape.heads, shape.context, shape.vocabSize, shape.batch)
        let c = GPTConfig(layers: layers, dim: dim, heads: heads, context: context, vocabSize: vocabSize)
        let model = try GPT(config: c, seed: 1)
        var rng = SeededRandom(seed: 2)
        let B = batch, T = context, d = dim, V = vocabSize, L = layers
        let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: vocabSize)) }
        let logits = Matrix<Float>(rows: B, cols: V)
        let phi = model.phi
        func forward() throws {
            let f = fullForward
                ? try model.contextEmbeddings(tokens: tokens, batch: B, length: T,
                                              positions: [Int](repeating: T - 1, count: B))
                : try tokens.withUnsafeBufferPointer {
                    try model.lastPositionFeatures(tokens: $0.baseAddress!, batch: B, length: T)
                }
            try BLAS.gemm(transB: true, f, phi, into: logits)   // last-position logits f·Φᵀ (B × V)
        }
        try forward(); try forward()
        var times: [Double] = []
        for _ in 0..<steps {
            let t0 = Benchmark.now()
            try forward()
            times.append(Benchmark.now() - t0)
        }
        times.sort()
        let median = times[times.count / 2]
        let ceiling = Benchmark.sgemmGFLOPS(n: 1024, threads: Threads.count)

        let (Dd, Tt, Vv, Ll, Bb) = (Double(d), Double(T), Double(V), Double(L), Double(B))
        let nonEmbedding = Double(model.parameterCount - V * d - T * d)
        let blockMACs = 12 * Dd * Dd                          // qkv 3d², proj d², mlp 8d² per token
        // Nominal (what a full forward costs), per sequence.
        let nominal = Tt * (2 * nonEmbedding + 4 * Ll * Tt * Dd) + 2 * Dd * Vv
        // Executed by lmprobe, per sequence: L−1 full blocks (attention as full T×T GEMMs), then keys/values
        // at all T positions and everything else at the last position only, then the head.
        let executed = fullForward ? nominal : (Ll - 1) * Tt * (2 * blockMACs + 4 * Tt * Dd) + 2 * (2 * Dd * Dd) * Tt
            + 2 * (10 * Dd * Dd) + 4 * Tt * Dd + 2 * Dd * Vv
        let tokS = Bb * Tt / median
        let gflops = Bb * nominal / median / 1e9
        let executedGflops = Bb * executed / median / 1e9
        if json {
            struct Summary: Encodable {
                let tokensPerS, gflops, mfu, sgemmCeilingGflops, executedGflops, msPerForward: Double
                let layers, dim, heads, context, vocabSize, batch, threads: Int
                let path: String
                enum CodingKeys: String, CodingKey {
                    case tokensPerS = "tokens_per_s", gflops, mfu, sgemmCeilingGflops = "sgemm_ceiling_gflops"
                    case executedGflops = "executed_gflops", msPerForward = "ms_per_forward", layers, dim, heads
                    case context, vocabSize = "vocab_size", batch, threads, path
                }
            }
            try printJSON(Summary(tokensPerS: tokS, gflops: gflops, mfu: gflops / ceiling, sgemmCeilingGflops: ceiling,
                                  executedGflops: executedGflops, msPerForward: median * 1e3, layers: layers, dim: dim,
                                  heads: heads, context: context, vocabSize: vocabSize, batch: batch,
                                  threads: Threads.count, path: fullForward ? "full" : "last-position"))
        } else {
            print("\(c), batch \(batch), \(model.parameterCount) params, \(Threads.count) threads")
            print(String(format: "%.0f tok/s  %.2f ms/forward (median of %d)  %.1f GFLOP/s nominal (%.1f executed)  ceiling %.1f  MFU %.1f%%",
                         tokS, median * 1e3, times.count, gflops, executedGflops, ceiling, 100 * gflops / ceiling))
        }
    }
}
