import ArgumentParser
import Features
import Foundation
import Linalg
import Model
import Support

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

            With --checkpoint (an lmprobe checkpoint or a Hugging Face GPT-2 folder): the real extraction path
            (FeatureExtractor: length-bucketed batches, f, p over all V words written as float16, Φp_f) on
            --sentences random token sequences whose lengths are drawn from N(27, 10) clipped to [4, 80] (SST-2 plus
            a prompt in GPT-2 tokens); reports sentences_per_s. --peer-python runs the peer
            (experiments/hf/peer_extract.py: transformers GPT2LMHeadModel, torch threads = --threads, batches of 64
            with padding and an attention mask) on the same sequences in the same run, once per --peer-logits
            (every-position: the paper's code path; last-position: a careful user's), with OPENBLAS_CORETYPE and
            OPENBLAS_L2_SIZE removed from its environment (they select lmprobe's kernel, not the peer's).
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var shape: BenchModelOptions
    @Option(help: "Timed forwards (after 2 warm-up forwards); the median is reported.") var steps = 10
    @Flag(help: "Run the full forward at every position (the pre-pruning path), for comparison.") var fullForward = false
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Benchmark this checkpoint (lmprobe or Hugging Face GPT-2 folder) on SST-2-length inputs.")
    var checkpoint: String?
    @Option(help: "With --checkpoint: random sequences to extract.") var sentences = 256
    @Option(help: "With --checkpoint: Python with torch + transformers to run the peer in the same run.")
    var peerPython: String?
    @Option(help: "With --peer-python: the peer script.") var peerScript = "experiments/hf/peer_extract.py"
    @Option(help: "With --peer-python: where each peer computes the logits, repeatable: every-position (the paper's code path, B×T×V) and/or last-position (a careful user's, B×V). Every peer runs on the same sequences.")
    var peerLogits: [PeerLogits] = [.everyPosition]

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1") }
        guard sentences >= 1, sentences <= 1_000_000 else { throw ValidationError("--sentences must be in 1...1000000") }
    }

    func run() throws {
        global.apply()
        if let checkpoint {
            try runCheckpoint(URL(fileURLWithPath: checkpoint))
            return
        }
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
                    case tokensPerS, gflops, mfu, sgemmCeilingGflops
                    case executedGflops, msPerForward, layers, dim, heads
                    case context, vocabSize, batch, threads, path
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

/// Token ids written as decimal text, read back by `IDTokenizer`: lets the benchmark drive the real extractor.
private struct IDTokenizer: FeatureTokenizer {
    func encode(_ text: String) -> [Int] { text.split(separator: " ").compactMap { Int($0) } }
    func singleTokenID(_ text: String) -> Int? { nil }
}

extension BenchExtract {
    /// SST-2-like lengths: N(27, 10) rounded, clipped to [4, min(80, context)].
    static func sstLengths(_ n: Int, context: Int, rng: inout SeededRandom) -> [Int] {
        (0..<n).map { _ in min(max(4, Int((27 + 10 * rng.normal()).rounded())), min(80, context)) }
    }

    func runCheckpoint(_ url: URL) throws {
        let t0 = Benchmark.now()
        let ckpt = try ModelLoader.checkpoint(url.path).checkpoint
        let loadSeconds = Benchmark.now() - t0
        let c = ckpt.config, V = c.vocabSize, d = c.dim, L = c.layers
        var rng = SeededRandom(seed: 27)
        let lengths = Self.sstLengths(sentences, context: c.context, rng: &rng)
        let seqs = lengths.map { n in (0..<n).map { _ in rng.int(below: V) } }
        let texts = seqs.map { $0.map(String.init).joined(separator: " ") }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var options = ExtractionOptions()
        options.pDtype = "<f2"
        let extractor = FeatureExtractor(model: ckpt.model, tokenizer: IDTokenizer())
        let prov = Provenance(checkpoint: ckpt.url.path, checkpointSHA256: "", tokenizer: "", dataset: "random",
                              datasetSHA256: "", split: "bench")
        let m = try extractor.extract(texts: texts, labels: [Int](repeating: 0, count: sentences), classNames: ["x"],
                                      to: tmp, options: options, provenance: prov)
        let ceiling = Benchmark.sgemmGFLOPS(n: 1024, threads: Threads.count)
        // Nominal FLOPs (a full forward at every position, as PyTorch runs it without padding) + the head at the
        // last position: logits (2dV), Φp (2dV).
        let nonEmbedding = Double(ckpt.model.parameterCount - V * d - c.context * d - (c.untiedPhi ? V * d : 0))
        var flops = 0.0
        for T in lengths.map(Double.init) { flops += T * (2 * nonEmbedding + 4 * Double(L) * T * Double(d)) + 4 * Double(d * V) }
        let gflops = flops / m.seconds / 1e9
        let realTokens = lengths.reduce(0, +)
        /// `--json` (snake_case keys via `printJSON`).
        struct Summary: Encodable {
            var sentencesPerS, tokensPerS, seconds, loadSeconds, gflops, mfu, sgemmCeilingGflops: Double
            var sentences, realTokens: Int
            var meanLength: Double
            var layers, dim, vocabSize, threads: Int
            var pDtype = "float16"
            /// One entry per --peer-logits, in the order asked for.
            var peers: [PeerFigures]? = nil
        }
        var summary = Summary(sentencesPerS: m.sentencesPerSecond, tokensPerS: m.tokensPerSecond, seconds: m.seconds,
                              loadSeconds: loadSeconds, gflops: gflops, mfu: gflops / ceiling, sgemmCeilingGflops: ceiling,
                              sentences: sentences, realTokens: realTokens,
                              meanLength: Double(realTokens) / Double(sentences), layers: L, dim: d, vocabSize: V,
                              threads: Threads.count)
        if let py = peerPython {
            let inputs = tmp.appendingPathComponent("inputs.json")
            try AtomicFile.write(JSONSerialization.data(withJSONObject: seqs), to: inputs)
            summary.peers = try peerLogits.map { logits in
                let peer = try runPeer(python: py, model: ckpt.url.deletingLastPathComponent(), inputs: inputs, logits: logits)
                return PeerFigures(logits: logits.rawValue, peer: peer.name, sentencesPerS: peer.sentencesPerS,
                                   tokensPerS: peer.tokensPerS, speedup: m.sentencesPerSecond / peer.sentencesPerS)
            }
        }
        if json {
            try printJSON(summary)
        } else {
            print("\(c), \(Threads.count) threads, \(sentences) sentences (mean \(String(format: "%.1f", Double(realTokens) / Double(sentences))) tokens)")
            print(String(format: "%.2f sentences/s  %.0f tokens/s  %.1f GFLOP/s (%.1f%% of sgemm %.1f)  load %.2f s",
                         m.sentencesPerSecond, m.tokensPerSecond, gflops, 100 * gflops / ceiling, ceiling, loadSeconds))
            for p in summary.peers ?? [] {
                print(String(format: "peer (%@, logits at %@): %.2f sentences/s → lmprobe %.2f×", p.peer, p.logits,
                             p.sentencesPerS, p.speedup))
            }
        }
    }
}

/// Where the extraction peer computes the LM head's logits (`peer_extract.py --logits`).
enum PeerLogits: String, ExpressibleByArgument, CaseIterable {
    /// GPT2LMHeadModel's own forward: logits at every position of every padded sequence (B×T×V), the paper's code.
    case everyPosition = "every-position"
    /// The transformer body, then the head at each sequence's last real position only (B×V), as a careful user writes.
    case lastPosition = "last-position"
}

/// One peer's figures in `bench extract --json`.
struct PeerFigures: Encodable {
    let logits, peer: String
    let sentencesPerS: Double
    let tokensPerS: Double?
    /// lmprobe's sentences/s over this peer's, same sequences, same run.
    let speedup: Double
}

extension BenchExtract {
    /// Runs `--peer-script` under `python` on the sequences in `inputs`, with the OpenBLAS kernel settings removed
    /// from its environment: they choose lmprobe's kernel; the peer's libraries pick their own (the harness
    /// records which).
    func runPeer(python: String, model: URL, inputs: URL, logits: PeerLogits) throws
        -> (name: String, sentencesPerS: Double, tokensPerS: Double?) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [peerScript, model.path, inputs.path, "--threads", "\(Threads.count)", "--logits", logits.rawValue]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["OPENBLAS_L2_SIZE"] = nil
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw CLIError("--peer-python \(python): cannot run (\(error))") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let sps = obj["sentences_per_s"] as? Double, sps > 0 else {
            throw CLIError("--peer-python: \(peerScript) --logits \(logits.rawValue) failed (exit \(p.terminationStatus))")
        }
        return (obj["peer"] as? String ?? "?", sps, obj["tokens_per_s"] as? Double)
    }
}
