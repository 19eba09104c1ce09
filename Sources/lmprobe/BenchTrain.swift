import ArgumentParser
import Foundation
import Linalg
import Model

/// `lmprobe bench train`: training throughput of one configuration against the sgemm ceiling of this run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s of a full training step (forward, objective, backward, AdamW) on random tokens.",
        discussion: "FLOPs per token are counted as 6·params + 6·L·T·d; mfu = gflops / sgemm ceiling (n=1024)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var shape: BenchModelOptions
    @Option(help: "ce or quad.") var objective = "ce"
    @Flag(help: "Untied Φ.") var untiedPhi = false
    @Option(help: "Timed steps (after 2 warm-up steps).") var steps = 6
    @Flag(help: "Also time the phases (forward, objective, backward, optimizer) of one step.") var breakdown = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        global.apply()
        let (layers, dim, heads, context, vocabSize, batch) =
            (shape.layers, shape.dim, shape.heads, shape.context, shape.vocabSize, shape.batch)
        guard let obj = Objective(rawValue: objective) else { throw CLIError("--objective must be ce or quad") }
        let c = GPTConfig(layers: layers, dim: dim, heads: heads, context: context, vocabSize: vocabSize,
                          objective: obj, untiedPhi: untiedPhi)
        let model: GPT
        do { model = try GPT(config: c, seed: 1) } catch { throw CLIError("\(error)") }
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
        let flopsPerToken = 6.0 * Double(model.parameterCount) + 6.0 * Double(layers * context * dim)
        let tokS = Double(n) / median
        let gflops = tokS * flopsPerToken / 1e9
        if json {
            var fields = [String(format: "\"tokens_per_s\":%.1f", tokS), String(format: "\"ms_per_step\":%.2f", median * 1e3),
                          String(format: "\"gflops\":%.2f", gflops), String(format: "\"sgemm_ceiling_gflops\":%.2f", ceiling),
                          String(format: "\"mfu\":%.4f", gflops / ceiling), "\"objective\":\"\(objective)\"",
                          "\"layers\":\(layers)", "\"dim\":\(dim)", "\"heads\":\(heads)", "\"context\":\(context)",
                          "\"vocab_size\":\(vocabSize)", "\"batch\":\(batch)", "\"threads\":\(Threads.count)",
                          "\"params\":\(model.parameterCount)"]
            if !phases.isEmpty {
                fields.append("\"phases_ms\":{" + phases.map { String(format: "\"%@\":%.2f", $0.0, $0.1 * 1e3) }.joined(separator: ",") + "}")
            }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            print("\(c), batch \(batch), \(model.parameterCount) params, \(Threads.count) threads")
            print(String(format: "%.0f tok/s  %.1f ms/step (median of %d)  %.1f GFLOP/s  ceiling %.1f  MFU %.1f%%",
                         tokS, median * 1e3, times.count, gflops, ceiling, 100 * gflops / ceiling))
            for (name, s) in phases { print(String(format: "  %-10@ %8.2f ms", name, s * 1e3)) }
        }
    }
}
