import Analysis
import ArgumentParser
import Cluster
import Dispatch
import Foundation
import Linalg
import Model
import Text


/// `lmprobe pretrain`: train a GPT with cross-entropy or Quad on the Text stage's token files.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain a GPT-2-style model (cross-entropy or the paper's Quad objective) on token files.",
        discussion: """
        Writes RUNDIR/ckpt-STEP.safetensors, RUNDIR/latest, RUNDIR/final.safetensors, RUNDIR/log.jsonl and, at the
        end, RUNDIR/curve.svg (training and validation loss against tokens seen; `lmprobe analyze curve` for several runs).
        Ctrl-C checkpoints after the current step; --resume continues a run bit-identically (same --threads).
        Data-parallel over MPI (build with `make build MPI=1`): `mpirun -np N lmprobe pretrain … --threads T`; each
        rank trains on its own --batch B micro-batches (global batch N·B·grad-accum), rank 0 alone prints and writes
        checkpoints, --resume needs the same N.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Token directory from `lmprobe tokenize` (tokens.json, train.bin, val.bin).") var data: String
    @Option(help: "Run directory for checkpoints and the log.") var out: String
    @OptionGroup var shape: ModelShapeOptions
    @Option(help: "Vocabulary size V (must match the token files).") var vocabSize: Int?
    @Option(help: "Objective: ce (cross-entropy) or quad (the paper's quadratic loss).") var objective: Objective = .ce
    @Flag(help: "Keep Φ separate from the input token embeddings.") var untiedPhi = false
    @Option(help: "Copy Φ from this checkpoint (file, run directory or Hugging Face GPT-2 folder).") var phiFrom: String?
    @Option(help: "Fine-tune: start from this checkpoint's weights and shape (file, run directory or Hugging Face GPT-2 folder); --layers/--dim/--heads/--context/--untied-phi come from it.")
    var initFrom: String?
    @Flag(help: "Do not train Φ (with tied Φ this freezes the token embeddings too).") var freezePhi = false
    @Option(help: ArgumentHelp("Fixed factor c on the final LayerNorm output, f(s) = c·LN(x): auto = 1/‖Φ‖_F of the starting Φ (after --phi-from), or a positive number. For Quad on a frozen trained Φ (keeps the LayerNorm gain O(1)); stored in the checkpoint.", valueName: "auto|c"))
    var outputScale: OutputScaleOption?
    @Option(help: "Sequences per micro-batch.") var batch = 16
    @Option(help: "Micro-batches per optimizer step.") var gradAccum = 1
    @Option(help: "Optimizer steps.") var steps: Int?
    @Option(help: "Wall-clock budget in MINUTES (the step count is planned from the measured step time).")
    var timeBudget: Double?
    @Option(help: "Peak learning rate.") var lr = 1e-3
    @Option(help: "Final learning rate of the cosine decay.") var minLr = 1e-4
    @Option(help: "Linear warmup steps.") var warmup = 100
    @Option(help: "AdamW decoupled weight decay (matrices only).") var weightDecay = 0.1
    @Option(help: "Gradient-norm clipping threshold (0: off).") var clip = 1.0
    @Option(help: "Validate every N steps.") var evalEvery = 200
    @Option(help: "Validation batches.") var evalBatches = 8
    @Option(help: "Checkpoint every N steps.") var checkpointEvery = 500
    @Option(help: "Also checkpoint at these steps, comma-separated (e.g. log-spaced: 10,30,100,300).")
    var checkpointAt: String?
    @Option(help: "Instead of --checkpoint-every: this many evenly spaced checkpoints over the planned run (with --time-budget, e.g. 9 over 45 minutes = one every ~5 minutes).")
    var checkpoints: Int?
    @Option(help: "Progress line and log entry every N steps.") var logEvery = 10
    @Flag(help: "Keep every periodic checkpoint (for analysis across training).") var keepCheckpoints = false
    @Option(help: "Random seed (initialisation and batch sampling).") var seed: UInt64 = 1337
    @Flag(help: "Continue the run in --out from its latest checkpoint (other options come from the checkpoint).")
    var resume = false

    func validate() throws {
        if steps != nil && timeBudget != nil { throw ValidationError("give either --steps or --time-budget, not both") }
    }

    func run() throws {
        global.apply()
        // Several ranks on one node share its cores: without --threads, each takes its share.
        if global.threads == nil, let local = Cluster.localRanks(), local > 1 {
            Threads.set(max(1, ProcessInfo.processInfo.activeProcessorCount / local))
        }
        try Cluster.session(try Cluster.join()) { try train(ranks: $0) }
    }

    func train(ranks: GradientReducer?) throws {
        let root = (ranks?.rank ?? 0) == 0
        let eprint: (String) -> Void = root ? { lmprobe.eprint($0) } : { _ in }
        let dataset = try TokenDataset(directory: URL(fileURLWithPath: data))
        // Every rank must run this configuration (token files by content); refused naming the first differing option.
        try Cluster.agree(on: .of(command: self, replacing: ["--data": "token files \(dataset.hash)"], ignoring: ["--threads"]), ranks: ranks)
        let runDir = URL(fileURLWithPath: out)
        let trainer: Trainer
        if resume {
            trainer = try Trainer(resuming: runDir, dataset: dataset, ranks: ranks)
            eprint("resuming \(out) at step \(trainer.state.step)/\(trainer.state.schedule.totalSteps)")
        } else {
            if let v = vocabSize, v != dataset.vocabSize {
                throw CLIError("--vocab-size \(v) does not match \(data)/tokens.json vocab_size \(dataset.vocabSize)")
            }
            var config: GPTConfig
            var model: GPT
            if let src = initFrom {
                let ck = try Checkpoint.load(url: URL(fileURLWithPath: src))
                try Self.checkSameTokenizer(checkpoint: ck, dataset: dataset, flag: "--init-from")
                var c = ck.config
                c.objective = objective
                config = c
                // Same layout (the objective is not part of it): copy the block as it is.
                model = try GPT(config: c) { block, layout in
                    block.update(from: ck.model.parameters.pointer, count: layout.count)
                }
                eprint("fine-tuning from \(ck.url.path) (\(c))")
            } else {
                config = GPTConfig(layers: shape.layers, dim: shape.dim, heads: shape.heads, context: shape.context,
                                   vocabSize: vocabSize ?? dataset.vocabSize, objective: objective, untiedPhi: untiedPhi)
                model = try GPT(config: config, seed: seed)
            }
            if let src = phiFrom {
                let ck = try Checkpoint.load(url: URL(fileURLWithPath: src))
                try Self.checkSameTokenizer(checkpoint: ck, dataset: dataset, flag: "--phi-from")
                try model.copyPhi(from: ck.model)
                eprint("copied Φ (\(config.vocabSize)×\(config.dim)) from \(ck.url.path)")
            }
            if let scale = outputScale {
                let c: Float
                switch scale {
                case .auto: c = try model.unitOutputScale()
                case .value(let v): c = v
                }
                model = try model.withOutputScale(c)
                config = model.config
                eprint("output scale c = \(c)\(scale == .auto ? " (1/‖Φ‖_F)" : ""): f(s) = c·LayerNorm output")
            }
            var o = TrainingOptions()
            o.batch = batch; o.gradAccum = gradAccum; o.steps = steps; o.timeBudgetMinutes = timeBudget
            o.lr = lr; o.minLR = minLr; o.warmup = warmup; o.weightDecay = weightDecay; o.clip = clip
            o.evalEvery = evalEvery; o.evalBatches = evalBatches; o.checkpointEvery = checkpointEvery
            o.checkpointCount = checkpoints
            o.logEvery = logEvery; o.seed = seed; o.keepCheckpoints = keepCheckpoints; o.freezePhi = freezePhi
            o.phiFrom = phiFrom
            if let a = checkpointAt {
                let steps = a.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !steps.isEmpty, steps.allSatisfy({ $0 != nil }) else {
                    throw CLIError("--checkpoint-at: expected comma-separated step numbers, got '\(a)'")
                }
                o.checkpointAt = steps.map { $0! }
            }
            trainer = try Trainer(model: model, dataset: dataset, options: o, runDirectory: runDir, ranks: ranks)
            eprint("model \(config), \(model.parameterCount) parameters; data \(dataset.trainCount) train / \(dataset.valCount) val tokens; threads \(Threads.count)\(ranks.map { " × \($0.size) ranks" } ?? "")")
        }
        let startStep = trainer.state.step
        signal(SIGINT, SIG_IGN)
        let sigint = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        sigint.setEventHandler {
            if Trainer.stopRequested {
                // Second Ctrl-C: abort now, without leaving a half-written checkpoint behind.
                Trainer.removeCheckpointTemporaries(in: runDir, pid: getpid())
                eprint("aborted; the last complete checkpoint is kept")
                Foundation.exit(130)
            }
            Trainer.stopRequested = true
            eprint("\ninterrupt: checkpointing after this step (Ctrl-C again to abort)")
        }
        sigint.resume()
        let summary = try trainer.run { event in
            switch event {
            case let .planned(total, perStep):
                eprint(String(format: "time budget: %.3f s/step → %d steps", perStep, total))
            case let .step(r):
                // Before a time budget is turned into a step count there is no total (and no ETA) to show.
                let planned = r.totalSteps < Int(Int32.max)
                let eta = planned && r.etaSeconds.isFinite
                    ? String(format: "  ETA %dm%02ds", Int(r.etaSeconds) / 60, Int(r.etaSeconds) % 60) : ""
                let total = planned ? "/\(r.totalSteps)" : " (planning the step count)"
                eprint(String(format: "step %6d%@  loss %.4f  lr %.2e  |g| %.3f  %7.0f tok/s%@", r.step, total,
                              r.loss, r.lr, r.gradNorm, r.tokensPerSecond, eta))
            case let .validation(v):
                eprint(String(format: "  val @%d: loss %.4f  ce %.4f  ppl %.2f", v.step, v.loss, v.crossEntropy, v.perplexity))
            case let .checkpoint(url):
                eprint("  checkpoint \(url.path)")
            case let .note(s):
                eprint("note: \(s)")
            }
        }
        sigint.cancel()
        guard root else { return }
        // The training curve of this run (RUNDIR/curve.svg); a failure here does not fail the training.
        let curveURL = runDir.appendingPathComponent("curve.svg")
        do {
            let log = try TrainingLog.read(runDirectory: runDir)
            try ReportWriter.writeText(try TrainingCurve.svg([.init(name: runDir.lastPathComponent, log: log)],
                                                             title: "Training curve · \(runDir.lastPathComponent)"),
                                       to: curveURL)
        } catch { eprint("warning: training curve not written (\(error))") }
        var lines = ["\(summary.interrupted ? "stopped" : "finished") at step \(summary.steps)/\(summary.totalSteps)",
                     String(format: "train loss %.4f, %.0f s, %.0f tok/s, %d tokens seen", summary.lastLoss,
                            summary.seconds, summary.tokensPerSecond, summary.tokensSeen)]
        if let r = ranks, r.size > 1, summary.steps > 0 {
            let trained = Double(max(1, summary.steps - startStep))
            lines.append(String(format: "allreduce (rank 0): %.1f ms/step for %.1f MB of gradients over %d ranks (%.1f%% of the wall time), plus %.1f ms/step waiting for the slowest rank",
                                1000 * summary.allreduceSeconds / trained, Double(trainer.model.layout.count * 4) / 1e6, r.size,
                                100 * summary.allreduceSeconds / max(summary.seconds, 1e-9), 1000 * summary.waitSeconds / trained))
        }
        if let v = summary.validation {
            lines.append(String(format: "validation (step %d): loss %.4f, cross-entropy %.4f, perplexity %.2f", v.step,
                                v.loss, v.crossEntropy, v.perplexity))
        }
        if let c = summary.checkpoint { lines.append("checkpoint: \(c.path)") }
        if summary.interrupted { lines.append("continue with: lmprobe pretrain --data \(data) --out \(out) --resume") }
        print(lines.joined(separator: "\n"))
        // Interrupted (Ctrl-C) runs exit like an interrupted process (128 + SIGINT), after their checkpoint.
        if summary.interrupted { throw ExitCode(130) }
    }

    /// Refuses a checkpoint whose tokenizer is not the token files' (ids would mean other words).
    static func checkSameTokenizer(checkpoint ck: Checkpoint, dataset: TokenDataset, flag: String) throws {
        guard ck.config.vocabSize == dataset.vocabSize else {
            throw CLIError("\(flag) \(ck.url.path): vocabulary \(ck.config.vocabSize) but the token files have \(dataset.vocabSize)")
        }
        guard let dir = ck.tokenizerDirectory,
              URL(fileURLWithPath: dir).standardizedFileURL.path != dataset.tokenizerDirectory.standardizedFileURL.path else { return }
        let a = try BPETokenizer(directory: URL(fileURLWithPath: dir)), b = try BPETokenizer(directory: dataset.tokenizerDirectory)
        guard a.tokenStrings == b.tokenStrings else {
            throw CLIError("\(flag) \(ck.url.path): its tokenizer (\(dir)) differs from the token files' (\(dataset.tokenizerDirectory.path))")
        }
    }
}

