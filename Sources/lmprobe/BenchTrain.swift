import ArgumentParser
import Foundation
import Linalg
import Model
import Support

/// `lmprobe bench train`: training throughput of one configuration against the sgemm ceiling of this run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s of a full training step (forward, objective, backward, AdamW) on random tokens.",
        discussion: "FLOPs per token are the model FLOPs of the objective's step (GPTConfig.trainingFlopsPerToken: 6 per non-embedding parameter + 6·L·T·d, plus 6·V·d for cross-entropy's logits or Quad's Gram-form products); mfu = gflops / sgemm ceiling (n=1024)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var shape: BenchModelOptions
    @Option(help: "Objective.") var objective: Objective = .ce
    @Flag(help: "Untied Φ.") var untiedPhi = false
    @Option(help: "Timed steps (after 2 warm-up steps).") var steps = 6
    @Option(help: "How a step uses the cores: batch-parallel (default with ≥ 2 threads: one half-batch per core, single-threaded BLAS) or serial (one batch, multi-threaded BLAS).")
    var stepMode: StepMode = .batchParallel
    @Flag(help: "Also time the phases (forward, objective, backward, optimizer) of one step (serial mode).") var breakdown = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        global.apply()
        let (layers, dim, heads, context, vocabSize, batch) =
            (shape.layers, shape.dim, shape.heads, shape.context, shape.vocabSize, shape.batch)
        let c = GPTConfig(layers: layers, dim: dim, heads: heads, context: context, vocabSize: vocabSize,
                          objective: objective, untiedPhi: untiedPhi)
        let model = try GPT(config: c, seed: 1)
        model.batchParallel = stepMode == .batchParallel
        let opt = AdamW(layout: model.layout, dim: dim)
        var rng = SeededRandom(seed: 2)
        let n = batch * context
        let x = (0..<n).map { _ in Int32(rng.int(below: vocabSize)) }, y = (0..<n).map { _ in Int32(rng.int(below: vocabSize)) }
        func step() throws {
            model.zeroGradients()
            _ = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
                try model.forwardBackward(inputs: x, targets: y, batch: batch, length: context) } }
            _ = globalNorm(model.gradients.pointer, count: model.layout.count)
            opt.step(parameters: model.parameters, gradients: model.gradients, lr: 1e-4, weightDecay: 0.1)
        }
        try step(); try step()
        var times: [Double] = []
        for _ in 0..<max(1, steps) {
            let t0 = Benchmark.now()
            try step()
            times.append(Benchmark.now() - t0)
        }
        times.sort()
        let median = times[times.count / 2]
        var phases: [(String, Double)] = []
        if breakdown {
            phases = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in
                try model.profileStep(inputs: x, targets: y, batch: batch, length: context) } }
            let t0 = Benchmark.now()
            opt.step(parameters: model.parameters, gradients: model.gradients, lr: 1e-4, weightDecay: 0.1)
            phases.append(("optimizer", Benchmark.now() - t0))
        }
        let ceiling = Benchmark.sgemmGFLOPS(n: 1024, threads: Threads.count)
        let flopsPerToken = c.trainingFlopsPerToken(tokensPerStep: n)
        let tokS = Double(n) / median
        let gflops = tokS * flopsPerToken / 1e9
        if json {
            struct Summary: Encodable {
                let tokensPerS, msPerStep, gflops, sgemmCeilingGflops, mfu: Double
                let objective, stepMode: String
                let layers, dim, heads, context, vocabSize, batch, threads, params: Int
                let phasesMs: [String: Double]?
                enum CodingKeys: String, CodingKey {
                    case tokensPerS, msPerStep, gflops
                    case sgemmCeilingGflops, mfu, objective, stepMode, layers, dim, heads, context
                    case vocabSize, batch, threads, params, phasesMs
                }
            }
            try printJSON(Summary(tokensPerS: tokS, msPerStep: median * 1e3, gflops: gflops, sgemmCeilingGflops: ceiling,
                                  mfu: gflops / ceiling, objective: objective.rawValue,
                                  stepMode: stepMode.rawValue, layers: layers, dim: dim,
                                  heads: heads, context: context, vocabSize: vocabSize, batch: batch,
                                  threads: Threads.count, params: model.parameterCount,
                                  phasesMs: phases.isEmpty ? nil : Dictionary(phases.map { ($0.0, $0.1 * 1e3) },
                                                                              uniquingKeysWith: +)))
        } else {
            print("\(c), batch \(batch), \(model.parameterCount) params, \(Threads.count) threads, \(stepMode.rawValue) steps")
            print(String(format: "%.0f tok/s  %.1f ms/step (median of %d)  %.1f GFLOP/s  ceiling %.1f  MFU %.1f%%",
                         tokS, median * 1e3, times.count, gflops, ceiling, 100 * gflops / ceiling))
            for (name, s) in phases { print(String(format: "  %-10@ %8.2f ms", name, s * 1e3)) }
        }
    }
}

/// How a training step uses the cores (`GPT.batchParallel`).
enum StepMode: String, CaseIterable, ExpressibleByArgument {
    /// One half of the batch per core, single-threaded BLAS, the two gradients added (needs ≥ 2 threads and B ≥ 2).
    case batchParallel = "batch-parallel"
    /// The whole batch at once, OpenBLAS and lmprobe's kernels multi-threaded.
    case serial
}
