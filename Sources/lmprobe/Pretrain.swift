import Analysis
import ArgumentParser
import Cluster
import Dispatch
import Foundation
import Model
import Text
import Support
import Report


/// `lmprobe pretrain`: train a GPT with cross-entropy or Quad on the Text stage's token files.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain a GPT-2-style model (cross-entropy or the paper's Quad objective) on token files.",
        discussion: """
        Writes RUNDIR/ckpt-STEP.safetensors, RUNDIR/latest, RUNDIR/final.safetensors, RUNDIR/log.jsonl and, at the
        end, RUNDIR/curve.svg (training and validation loss against tokens seen; `lmprobe analyze curve` for several runs).
        Ctrl-C checkpoints after the current step; --resume continues a run bit-identically (same --threads) with the
        options it recorded: a flag given with another value is refused (--steps too: train further with a new --out
        and --init-from), and a finished run says so and exits 0.
        Data-parallel over MPI (build with `make build MPI=1`): `mpirun -np N lmprobe pretrain … --threads T`; each
        rank trains on its own --batch B micro-batches (global batch N·B·grad-accum), rank 0 alone prints and writes
        checkpoints, --resume needs the same N.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup(title: "Data") var io: PretrainData
    @OptionGroup(title: "Model shape") var shape: PretrainShape
    @OptionGroup(title: "Objective and Φ") var objective: PretrainObjective
    @OptionGroup(title: "Optimiser") var optimiser: PretrainOptimiser
    @OptionGroup(title: "Schedule") var schedule: PretrainSchedule
    @OptionGroup(title: "Checkpoints") var checkpointing: PretrainCheckpoints

    /// Cross-option rules (usage errors, exit 64). Ranges of single values are `TrainingOptions.validate()`'s.
    func validate() throws {
        if io.resume {
            if objective.initFrom != nil {
                throw ValidationError("--init-from starts a new run from a checkpoint's weights; it cannot be combined with --resume")
            }
        } else if schedule.steps == nil && schedule.timeBudget == nil {
            throw ValidationError("give --steps N or --time-budget MINUTES (or --resume to continue the run in --out)")
        }
        if schedule.steps != nil && schedule.timeBudget != nil {
            throw ValidationError("give either --steps or --time-budget, not both")
        }
        if checkpointing.checkpoints != nil && checkpointing.checkpointEvery != nil {
            throw ValidationError("give either --checkpoints or --checkpoint-every, not both")
        }
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
        let dataset = try io.tokens()
        // Every rank must run this configuration (token files by content); refused naming the first differing option.
        try Cluster.agree(on: .of(command: self, replacing: ["--data": "token files \(dataset.hash)"], ignoring: ["--threads"]), ranks: ranks)
        let runDir = URL(fileURLWithPath: io.out)
        let trainer: Trainer
        if io.resume {
            trainer = try Trainer(resuming: runDir, dataset: dataset, ranks: ranks, accept: checkResumable)
            guard trainer.state.step < trainer.state.schedule.totalSteps else {
                // Nothing to train: say so (no loss to report), and succeed.
                if root { print("\(io.out) already finished at step \(trainer.state.step)/\(trainer.state.schedule.totalSteps): nothing to resume; final checkpoint \(runDir.appendingPathComponent("final.safetensors").path)") }
                return
            }
            eprint("resuming \(io.out) at step \(trainer.state.step)/\(trainer.state.schedule.totalSteps)")
        } else {
            let model = try startingModel(dataset: dataset, eprint: eprint)
            trainer = try Trainer(model: model, dataset: dataset, options: try trainingOptions(), runDirectory: runDir,
                                  ranks: ranks)
            eprint("model \(model.config), \(model.parameterCount) parameters; data \(dataset.trainCount) train / \(dataset.valCount) val tokens; threads \(Threads.count)\(ranks.map { " × \($0.size) ranks" } ?? "")")
        }
        let startStep = trainer.state.step
        let sigint = Self.checkpointOnInterrupt(runDirectory: runDir, eprint: eprint)
        let summary = try trainer.run { event in Self.printProgress(event, eprint: eprint) }
        sigint.cancel()
        guard root else { return }
        Self.writeCurve(runDirectory: runDir, eprint: eprint)
        print(summaryLines(summary, startStep: startStep, ranks: ranks, parameters: trainer.model.layout.count)
            .joined(separator: "\n"))
        // Interrupted (Ctrl-C) runs exit like an interrupted process (128 + SIGINT), after their checkpoint.
        if summary.interrupted { throw ExitCode(130) }
    }

    /// The model a new run starts from: fresh (the shape flags, --seed), or --init-from's weights and shape; then
    /// Φ from --phi-from and the output scale. Checkpoints come through THE model loader, which refuses a vocabulary
    /// or tokenizer other than the token files'.
    func startingModel(dataset: TokenDataset, eprint: (String) -> Void) throws -> GPT {
        if let v = shape.vocabSize, v != dataset.vocabSize {
            throw CLIError("--vocab-size \(v) does not match \(io.data)/tokens.json vocab_size \(dataset.vocabSize)")
        }
        var model: GPT
        if let src = objective.initFrom {
            let ck = try ModelLoader.checkpoint(src, trainingOn: dataset, flag: "--init-from")
            var c = ck.config
            c.objective = objective.objective ?? .ce
            // Same layout (the objective is not part of it): copy the block as it is.
            model = try GPT(config: c) { block, layout in
                block.update(from: ck.model.parameters.pointer, count: layout.count)
            }
            eprint("fine-tuning from \(ck.url.path) (\(c))")
        } else {
            model = try GPT(config: shape.config(vocabSize: dataset.vocabSize, objective: objective.objective ?? .ce),
                            seed: optimiser.seed ?? TrainingOptions().seed)
        }
        if let src = objective.phiFrom {
            let ck = try ModelLoader.checkpoint(src, trainingOn: dataset, flag: "--phi-from")
            try model.copyPhi(from: ck.model)
            eprint("copied Φ (\(model.config.vocabSize)×\(model.config.dim)) from \(ck.url.path)")
        }
        if let scale = objective.outputScale {
            let c: Float
            switch scale {
            case .auto: c = try model.unitOutputScale()
            case .value(let v): c = v
            }
            model = try model.withOutputScale(c)
            eprint("output scale c = \(c)\(scale == .auto ? " (1/‖Φ‖_F)" : ""): f(s) = c·LayerNorm output")
        }
        return model
    }

    /// The training options of a new run: each flag given, else `TrainingOptions`' default (the one home of the
    /// defaults the help text shows).
    func trainingOptions() throws -> TrainingOptions {
        var o = TrainingOptions()
        o.steps = schedule.steps; o.timeBudgetMinutes = schedule.timeBudget
        if let v = optimiser.batch { o.batch = v }
        if let v = optimiser.gradAccum { o.gradAccum = v }
        if let v = optimiser.lr { o.lr = v }
        if let v = optimiser.minLr { o.minLR = v }
        if let v = optimiser.weightDecay { o.weightDecay = v }
        if let v = optimiser.clip { o.clip = v }
        if let v = optimiser.seed { o.seed = v }
        if let v = schedule.warmup { o.warmup = v }
        if let v = schedule.evalEvery { o.evalEvery = v }
        if let v = schedule.evalBatches { o.evalBatches = v }
        if let v = schedule.logEvery { o.logEvery = v }
        if let v = checkpointing.checkpointEvery { o.checkpointEvery = v }
        o.checkpointCount = checkpointing.checkpoints
        o.checkpointAt = checkpointing.checkpointAt?.values
        o.keepCheckpoints = checkpointing.keepCheckpoints
        o.freezePhi = objective.freezePhi
        o.phiFrom = objective.phiFrom
        return o
    }

    /// `--resume` continues a run with the options it recorded: a flag given with another value than the recorded
    /// one is refused, naming the flag (a flag repeating the recorded value is accepted, so a script may pass the
    /// same arguments again). `--steps` is no exception: a longer cosine schedule would change the learning rate
    /// of the steps already taken; train further with a new --out and --init-from.
    func checkResumable(config c: GPTConfig, state: TrainingState) throws {
        let o = state.options
        func differs<T: Equatable>(_ flag: String, _ given: T?, _ recorded: T?, _ show: (T?) -> String = { $0.map { "\($0)" } ?? "none" }) throws {
            guard let given, given != recorded else { return }
            throw CLIError("--resume: \(flag) \(show(given)) differs from this run's recorded \(show(recorded)); a resumed run keeps its recorded options (drop \(flag), or train a new --out with --init-from \(io.out))")
        }
        try differs("--layers", shape.layers, c.layers)
        try differs("--dim", shape.dim, c.dim)
        try differs("--heads", shape.heads, c.heads)
        try differs("--context", shape.context, c.context)
        try differs("--vocab-size", shape.vocabSize, c.vocabSize)
        try differs("--untied-phi", shape.untiedPhi ? true : nil, c.untiedPhi)
        try differs("--objective", objective.objective, c.objective)
        try differs("--phi-from", objective.phiFrom, o.phiFrom)
        try differs("--freeze-phi", objective.freezePhi ? true : nil, o.freezePhi)
        if let scale = objective.outputScale {
            guard case .value(let v) = scale else {
                throw CLIError("--resume: --output-scale auto is measured when a run starts; this run's scale is \(c.outputScale) (drop --output-scale)")
            }
            try differs("--output-scale", v, c.outputScale)
        }
        try differs("--batch", optimiser.batch, o.batch)
        try differs("--grad-accum", optimiser.gradAccum, o.gradAccum)
        try differs("--lr", optimiser.lr, o.lr)
        try differs("--min-lr", optimiser.minLr, o.minLR)
        try differs("--weight-decay", optimiser.weightDecay, o.weightDecay)
        try differs("--clip", optimiser.clip, o.clip)
        try differs("--seed", optimiser.seed, o.seed)
        try differs("--steps", schedule.steps, o.steps)
        try differs("--time-budget", schedule.timeBudget, o.timeBudgetMinutes)
        try differs("--warmup", schedule.warmup, o.warmup)
        try differs("--eval-every", schedule.evalEvery, o.evalEvery)
        try differs("--eval-batches", schedule.evalBatches, o.evalBatches)
        try differs("--log-every", schedule.logEvery, o.logEvery)
        try differs("--checkpoint-every", checkpointing.checkpointEvery, o.checkpointEvery)
        try differs("--checkpoints", checkpointing.checkpoints, o.checkpointCount)
        try differs("--checkpoint-at", checkpointing.checkpointAt?.values, o.checkpointAt) {
            $0.map { $0.map(String.init).joined(separator: ",") } ?? "none"
        }
        try differs("--keep-checkpoints", checkpointing.keepCheckpoints ? true : nil, o.keepCheckpoints)
    }

    /// Ctrl-C: checkpoint after the current step; a second Ctrl-C aborts without a half-written checkpoint.
    static func checkpointOnInterrupt(runDirectory: URL, eprint: @escaping (String) -> Void) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let sigint = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        sigint.setEventHandler {
            if Trainer.stopRequested {
                // Second Ctrl-C: abort now, without leaving a half-written checkpoint behind.
                Trainer.removeCheckpointTemporaries(in: runDirectory, pid: getpid())
                eprint("aborted; the last complete checkpoint is kept")
                Foundation.exit(130)
            }
            Trainer.stopRequested = true
            eprint("\ninterrupt: checkpointing after this step (Ctrl-C again to abort)")
        }
        sigint.resume()
        return sigint
    }

    /// The progress line of one training event (stderr, rank 0).
    static func printProgress(_ event: TrainingEvent, eprint: (String) -> Void) {
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

    /// The training curve of this run (RUNDIR/curve.svg); a failure here does not fail the training.
    static func writeCurve(runDirectory runDir: URL, eprint: (String) -> Void) {
        let curveURL = runDir.appendingPathComponent("curve.svg")
        do {
            let log = try TrainingLog.read(runDirectory: runDir)
            try ReportWriter.writeText(try TrainingCurve.svg([.init(name: runDir.lastPathComponent, log: log)],
                                                             title: "Training curve · \(runDir.lastPathComponent)"),
                                       to: curveURL)
        } catch { eprint("warning: training curve not written (\(error))") }
    }

    /// The closing summary (stdout): where the run stopped, loss and throughput, allreduce cost over ranks, the
    /// last validation, the checkpoint, and how to continue an interrupted run.
    func summaryLines(_ summary: TrainingSummary, startStep: Int, ranks: GradientReducer?, parameters: Int) -> [String] {
        var lines = ["\(summary.interrupted ? "stopped" : "finished") at step \(summary.steps)/\(summary.totalSteps)",
                     summary.steps > startStep
                        ? String(format: "train loss %.4f, %.0f s, %.0f tok/s, %d tokens seen", summary.lastLoss,
                                 summary.seconds, summary.tokensPerSecond, summary.tokensSeen)
                        : "no step trained in this call, \(summary.tokensSeen) tokens seen"]
        if let r = ranks, r.size > 1, summary.steps > 0 {
            let trained = Double(max(1, summary.steps - startStep))
            lines.append(String(format: "allreduce (rank 0): %.1f ms/step for %.1f MB of gradients over %d ranks (%.1f%% of the wall time), plus %.1f ms/step waiting for the slowest rank",
                                1000 * summary.allreduceSeconds / trained, Double(parameters * 4) / 1e6, r.size,
                                100 * summary.allreduceSeconds / max(summary.seconds, 1e-9), 1000 * summary.waitSeconds / trained))
        }
        if let v = summary.validation {
            lines.append(String(format: "validation (step %d): loss %.4f, cross-entropy %.4f, perplexity %.2f", v.step,
                                v.loss, v.crossEntropy, v.perplexity))
        }
        if let c = summary.checkpoint { lines.append("checkpoint: \(c.path)") }
        if summary.interrupted { lines.append("continue with: lmprobe pretrain --data \(io.data) --out \(io.out) --resume") }
        return lines
    }
}

// MARK: - Option groups (`pretrain --help` shows them under these titles)

/// Where the tokens come from and where the run goes.
struct PretrainData: ParsableArguments {
    @Option(help: "Token directory from `lmprobe tokenize` (tokens.json, train.bin, val.bin).") var data: String
    @Option(help: "Run directory for checkpoints and the log.") var out: String
    @Flag(help: "Continue the run in --out from its latest checkpoint with its recorded options (a flag given with another value is refused).")
    var resume = false

    /// The token files, or an error that says how to make them.
    func tokens() throws -> TokenDataset {
        let dir = URL(fileURLWithPath: data)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokens.json").path) else {
            throw CLIError("--data \(data): not a token folder (no tokens.json); make one with `lmprobe tokenize --out \(data) CORPUS…` (`make data` fetches the default corpora)")
        }
        return try TokenDataset(directory: dir)
    }
}

/// The GPT's shape (a new run; --init-from takes it from the checkpoint).
struct PretrainShape: ParsableArguments {
    @Option(help: "Transformer blocks L (default \(ModelShapeOptions.defaults.layers)).") var layers: Int?
    @Option(help: "Width d (default \(ModelShapeOptions.defaults.dim)).") var dim: Int?
    @Option(help: "Attention heads h (default \(ModelShapeOptions.defaults.heads)).") var heads: Int?
    @Option(help: "Context length T (default \(ModelShapeOptions.defaults.context)).") var context: Int?
    @Option(help: "Vocabulary size V (default and only accepted value: the token files').") var vocabSize: Int?
    @Flag(help: "Keep Φ separate from the input token embeddings.") var untiedPhi = false

    func validate() throws {
        for (flag, v) in [("--layers", layers), ("--dim", dim), ("--heads", heads), ("--context", context)] {
            if let v, v < 1 { throw ValidationError("\(flag) must be ≥ 1 (got \(v))") }
        }
    }

    func config(vocabSize v: Int, objective: Objective) -> GPTConfig {
        let d = ModelShapeOptions.defaults
        return GPTConfig(layers: layers ?? d.layers, dim: dim ?? d.dim, heads: heads ?? d.heads,
                         context: context ?? d.context, vocabSize: vocabSize ?? v, objective: objective,
                         untiedPhi: untiedPhi)
    }
}

/// What is trained: the objective, where Φ (or every weight) comes from, and whether Φ trains.
struct PretrainObjective: ParsableArguments {
    @Option(help: "Objective: ce (cross-entropy, the default) or quad (the paper's quadratic loss).") var objective: Objective?
    @Option(help: "Copy Φ from this checkpoint (file, run directory or Hugging Face GPT-2 folder).") var phiFrom: String?
    @Option(help: "Fine-tune: start from this checkpoint's weights and shape (file, run directory or Hugging Face GPT-2 folder); --layers/--dim/--heads/--context/--untied-phi come from it.")
    var initFrom: String?
    @Flag(help: "Do not train Φ (with tied Φ this freezes the token embeddings too).") var freezePhi = false
    @Option(help: ArgumentHelp("Fixed factor c on the final LayerNorm output, f(s) = c·LN(x): auto = 1/‖Φ‖_F of the starting Φ (after --phi-from), or a positive number. For Quad on a frozen trained Φ (keeps the LayerNorm gain O(1)); stored in the checkpoint.", valueName: "auto|c"))
    var outputScale: OutputScaleOption?
}

/// AdamW, its batches and the seed (defaults: `TrainingOptions`).
struct PretrainOptimiser: ParsableArguments {
    @Option(help: "Sequences per micro-batch (default \(TrainingOptions().batch)).") var batch: Int?
    @Option(help: "Micro-batches per optimizer step (default \(TrainingOptions().gradAccum)).") var gradAccum: Int?
    @Option(help: "Peak learning rate (default \(TrainingOptions().lr)).") var lr: Double?
    @Option(help: "Final learning rate of the cosine decay (default \(TrainingOptions().minLR)).") var minLr: Double?
    @Option(help: "AdamW decoupled weight decay, matrices only (default \(TrainingOptions().weightDecay)).")
    var weightDecay: Double?
    @Option(help: "Gradient-norm clipping threshold, 0: off (default \(TrainingOptions().clip)).") var clip: Double?
    @Option(help: "Random seed: initialisation and batch sampling (default \(TrainingOptions().seed)).") var seed: UInt64?
}

/// How long the run is, and how often it validates and logs.
struct PretrainSchedule: ParsableArguments {
    @Option(help: "Optimizer steps (or --time-budget).") var steps: Int?
    @Option(help: "Wall-clock budget in MINUTES (the step count is planned from the measured step time).")
    var timeBudget: Double?
    @Option(help: "Linear warmup steps (default \(TrainingOptions().warmup)).") var warmup: Int?
    @Option(help: "Validate every N steps (default \(TrainingOptions().evalEvery)).") var evalEvery: Int?
    @Option(help: "Validation batches (default \(TrainingOptions().evalBatches)).") var evalBatches: Int?
    @Option(help: "Progress line and log entry every N steps (default \(TrainingOptions().logEvery)).") var logEvery: Int?
}

/// When checkpoints are written and which are kept.
struct PretrainCheckpoints: ParsableArguments {
    @Option(help: "Checkpoint every N steps (default \(TrainingOptions().checkpointEvery)).") var checkpointEvery: Int?
    @Option(help: "Also checkpoint at these steps, comma-separated (e.g. log-spaced: 10,30,100,300).")
    var checkpointAt: CommaList<Int>?
    @Option(help: "Instead of --checkpoint-every: this many evenly spaced checkpoints over the planned run (with --time-budget, e.g. 9 over 45 minutes = one every ~5 minutes).")
    var checkpoints: Int?
    @Flag(help: "Keep every periodic checkpoint (for analysis across training).") var keepCheckpoints = false
}
