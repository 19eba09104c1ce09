import Foundation
import Linalg
import Text
import Support

/// Hyper-parameters of a pretraining run (stored in every training checkpoint).
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Sequences per micro-batch (B) and micro-batches per optimizer step.
    public var batch = 16
    public var gradAccum = 1
    /// Fixed number of optimizer steps; or nil with `timeBudgetMinutes`, in which case the step count is planned
    /// after measuring the warmup steps (and then fixed, so the cosine schedule ends with the budget).
    public var steps: Int? = 1000
    public var timeBudgetMinutes: Double? = nil
    public var lr = 1e-3
    public var minLR = 1e-4
    public var warmup = 100
    public var weightDecay = 0.1
    /// Global gradient-norm clipping threshold (≤ 0: no clipping).
    public var clip = 1.0
    public var evalEvery = 200
    public var evalBatches = 8
    public var checkpointEvery = 500
    /// Further steps to checkpoint at (e.g. log-spaced, for measurements across training); nil: none.
    public var checkpointAt: [Int]? = nil
    /// When set, `checkpointEvery` becomes ⌈total steps / this count⌉ once the total is known (at start with
    /// `steps`, after the probe steps with a time budget): at most this many evenly spaced checkpoints, the final
    /// one last (exactly this many unless ⌈total / count⌉ rounding leaves one fewer, e.g. total 9, count 4).
    public var checkpointCount: Int? = nil
    public var logEvery = 10
    public var seed: UInt64 = 1337
    /// Keep every periodic checkpoint (for analysis across training), not only the newest.
    public var keepCheckpoints = false
    public var freezePhi = false
    public var phiFrom: String? = nil

    public init() {}

    /// JSON keys (`JSONCoding`): `min_lr` (read also as the older `minLR`); every other key is the property's name
    /// in snake_case.
    enum CodingKeys: String, CodingKey {
        case batch, gradAccum, steps, timeBudgetMinutes, lr, minLR = "minLr", warmup, weightDecay, clip, evalEvery
        case evalBatches, checkpointEvery, checkpointAt, checkpointCount, logEvery, seed, keepCheckpoints, freezePhi
        case phiFrom
    }

    /// Upper limits (far above any CPU run; they keep every derived size — window starts, step counts, schedules —
    /// well inside an Int).
    public static let maxBatch = 1 << 16, maxGradAccum = 1 << 16, maxSteps = 1 << 31, maxEvalBatches = 1 << 16

    /// Checks every field, for a fresh run (from flags) and for a resumed one (from a checkpoint) alike: each count
    /// in its range, each real number finite and in its range. Messages name the flag.
    public func validate() throws {
        func bad(_ m: String) -> ModelError { .invalidConfig(m) }
        func range(_ flag: String, _ v: Int, _ lo: Int, _ hi: Int) throws {
            if v < lo || v > hi { throw bad("--\(flag) must be in \(lo)...\(hi) (got \(v))") }
        }
        try range("batch", batch, 1, TrainingOptions.maxBatch)
        try range("grad-accum", gradAccum, 1, TrainingOptions.maxGradAccum)
        if let s = steps { try range("steps", s, 1, TrainingOptions.maxSteps) }
        if steps == nil && timeBudgetMinutes == nil { throw bad("give --steps or --time-budget") }
        if steps != nil && timeBudgetMinutes != nil { throw bad("give either --steps or --time-budget, not both") }
        if let t = timeBudgetMinutes, !(t > 0 && t <= 525_600) { throw bad("--time-budget must be positive minutes, at most a year (got \(t))") }
        if !(lr > 0 && lr.isFinite) { throw bad("--lr must be a positive finite number (got \(lr))") }
        if !(minLR >= 0 && minLR <= lr) { throw bad("--min-lr must be in [0, lr] (got \(minLR))") }
        try range("warmup", warmup, 0, TrainingOptions.maxSteps)
        if !(weightDecay >= 0 && weightDecay.isFinite) { throw bad("--weight-decay must be a finite number ≥ 0 (got \(weightDecay))") }
        if !clip.isFinite { throw bad("--clip must be a finite number (≤ 0: off; got \(clip))") }
        try range("eval-every", evalEvery, 1, TrainingOptions.maxSteps)
        try range("eval-batches", evalBatches, 1, TrainingOptions.maxEvalBatches)
        try range("checkpoint-every", checkpointEvery, 1, TrainingOptions.maxSteps)
        try range("log-every", logEvery, 1, TrainingOptions.maxSteps)
        if let a = checkpointAt, a.contains(where: { $0 < 1 || $0 > TrainingOptions.maxSteps }) {
            throw bad("--checkpoint-at steps must be in 1...\(TrainingOptions.maxSteps)")
        }
        if let n = checkpointCount { try range("checkpoints", n, 1, TrainingOptions.maxSteps) }
    }
}

/// One logged optimizer step.
public struct StepReport: Sendable {
    public var step: Int, totalSteps: Int
    public var loss: Double, lr: Double, gradNorm: Double
    public var tokensPerSecond: Double, elapsedSeconds: Double, etaSeconds: Double
}

public enum TrainingEvent: Sendable {
    /// The time budget was turned into a fixed step count.
    case planned(totalSteps: Int, secondsPerStep: Double)
    case step(StepReport)
    case validation(ValidationRecord)
    case checkpoint(URL)
    case note(String)
}

public struct TrainingSummary: Sendable {
    public var steps: Int, totalSteps: Int
    public var lastLoss: Double
    public var validation: ValidationRecord?
    public var tokensSeen: Int
    public var seconds: Double
    public var tokensPerSecond: Double
    public var checkpoint: URL?
    /// True when the run stopped before `totalSteps` (interrupt or `stopAfter`); `--resume` continues it.
    public var interrupted: Bool
    /// Wall-clock seconds this rank spent in the per-step gradient allreduces (0 for one process), and waiting for
    /// the slowest rank before them (the small loss/stop allreduce that precedes each gradient allreduce).
    public var allreduceSeconds: Double = 0
    public var waitSeconds: Double = 0
}

/// The collectives data-parallel pretraining needs: the consumer owns the protocol, `Cluster.MPICommunicator`
/// conforms over MPI (tests may use fakes). Every rank calls each collective in the same order.
public protocol GradientReducer: AnyObject {
    /// This process's rank in 0..<size.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }
    /// Sums `count` floats elementwise over all ranks, in place, on every rank.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
    /// Sums a few doubles elementwise over all ranks, in place, on every rank.
    func sum(_ values: inout [Double]) throws
}

/// Pretraining loop: random context windows from the token files, gradient accumulation, clipping, AdamW with
/// warmup + cosine, periodic validation, atomic checkpoints (RUNDIR/ckpt-STEP.safetensors, RUNDIR/latest,
/// RUNDIR/final.safetensors at the end) and a JSONL log (RUNDIR/log.jsonl). Deterministic for a fixed seed
/// and thread count; resuming from a checkpoint reproduces the uninterrupted run bit for bit.
///
/// Data parallelism (`ranks`, e.g. `mpirun -np N`): every rank holds the same parameters and optimizer state.
/// Each step draws N·gradAccum micro-batches of B windows from ONE sampler stream (the same on every rank, so
/// the checkpointed sampler state is every rank's); rank r takes micro-batches r·gradAccum ..< (r+1)·gradAccum,
/// disjoint from the others'. Micro-batch gradients (loss scaled by 1/(N·gradAccum)) are each computed into zeroed
/// gradients and added to a running sum, then one allreduce sums the flat gradient block over ranks, and every
/// rank applies the same clipping and AdamW step. So `mpirun -np 2` with batch B is bit-identical to one process
/// with batch B and `gradAccum` 2 (the same micro-batches; a two-term sum does not depend on its order), and equal
/// to rounding for other N. Rank 0 alone validates, reports progress, writes the log and the checkpoints; the
/// checkpoint records N, and `--resume` requires the same N. A stop request on any rank stops every rank after
/// the same step (the stop flag travels with the loss in a small allreduce).
public final class Trainer {
    public let model: GPT
    public let optimizer: AdamW
    public let dataset: TokenDataset
    public let runDirectory: URL
    public private(set) var state: TrainingState
    var sampler: SeededRandom
    public private(set) var lastCheckpoint: URL?
    var totalPlanned: Bool
    /// Ranks of a data-parallel run (nil: one process).
    public let ranks: GradientReducer?
    var rank: Int { ranks?.rank ?? 0 }
    var worldSize: Int { ranks?.size ?? 1 }
    /// The run folder's lock, held from init to the end of `run` (one writer per run folder: rank 0 of a
    /// data-parallel run; the other ranks never write there).
    var lock: DirectoryLock?

    /// Set (e.g. from a SIGINT handler) to make `run` checkpoint and return after the current step.
    nonisolated(unsafe) public static var stopRequested = false

    /// A fresh run. `model.config.vocabSize` must equal the dataset's; the run directory is created.
    public init(model: GPT, dataset: TokenDataset, options: TrainingOptions, runDirectory: URL,
                ranks: GradientReducer? = nil) throws {
        try options.validate()
        try Trainer.checkCompatible(model.config, options, dataset)
        try Trainer.checkMemory(model.config, options)
        let lock = (ranks?.rank ?? 0) == 0 ? try Trainer.lockRun(runDirectory) : nil
        if FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent("latest").path) {
            throw ModelError.badInput("--out \(runDirectory.path) already holds a run; use --resume to continue it or choose another directory")
        }
        self.lock = lock
        self.model = model
        self.dataset = dataset
        self.runDirectory = runDirectory
        self.ranks = ranks
        model.freezePhi = options.freezePhi
        let c = model.config
        optimizer = AdamW(layout: model.layout, dim: c.dim,
                          frozen: options.freezePhi ? [model.layout.phi..<(model.layout.phi + c.vocabSize * c.dim)] : [])
        sampler = SeededRandom(seed: options.seed ^ 0x5EED_0F_DA7A)
        let total = options.steps ?? Int(Int32.max)
        totalPlanned = options.steps != nil
        var options = options
        if let n = options.checkpointCount, let steps = options.steps { options.checkpointEvery = Trainer.spacing(steps, n) }
        state = TrainingState(step: 0, schedule: LearningRateSchedule(maxLR: options.lr, minLR: options.minLR,
                                                                      warmup: options.warmup, totalSteps: total),
                              options: options, samplerState: [], adamSteps: 0, tokensSeen: 0, validation: [],
                              threads: Threads.count, ranks: ranks.map(\.size))
    }

    /// Continues the run in `runDirectory` from `checkpoint` (default: the one named by RUNDIR/latest).
    /// `accept` sees the recorded model configuration and training state first and may refuse the resumption
    /// (e.g. the CLI when a flag differs from the recorded option) before anything in the run folder changes.
    public init(resuming runDirectory: URL, dataset: TokenDataset, checkpoint: URL? = nil,
                ranks: GradientReducer? = nil,
                accept: (GPTConfig, TrainingState) throws -> Void = { _, _ in }) throws {
        let root = (ranks?.rank ?? 0) == 0
        let lock = root ? try Trainer.lockRun(runDirectory) : nil
        let url = try checkpoint ?? Checkpoint.latest(in: runDirectory)
        let (model, opt, st, meta) = try ModelLoader.training(url)
        try accept(model.config, st)
        let size = ranks?.size ?? 1
        guard (st.ranks ?? 1) == size else {
            throw ModelError.badInput("\(url.path) was written by a run over \(st.ranks ?? 1) rank(s); resume it with the same number (mpirun -np \(st.ranks ?? 1)), not \(size)")
        }
        if let h = meta["tokens_hash"], h != dataset.hash {
            throw ModelError.badInput("--data \(dataset.directory.path): token files differ from the ones this run was trained on (hash \(dataset.hash) ≠ \(h))")
        }
        // A checkpoint's options are validated like flags: a zero logEvery or a negative batch must not reach the loop.
        do { try st.options.validate() } catch {
            throw ModelError.badCheckpoint(path: url.path, reason: "stored training options: \(error)")
        }
        guard st.step >= 0, st.step <= st.schedule.totalSteps, st.schedule.totalSteps <= TrainingOptions.maxSteps,
              st.schedule.warmup >= 0, st.schedule.maxLR.isFinite, st.schedule.minLR.isFinite, st.tokensSeen >= 0,
              st.adamSteps >= 0, st.threads >= 1 else {
            throw ModelError.badCheckpoint(path: url.path, reason: "stored training state is out of range (step \(st.step) of \(st.schedule.totalSteps))")
        }
        try Trainer.checkCompatible(model.config, st.options, dataset)
        try Trainer.checkMemory(model.config, st.options)
        self.model = model
        optimizer = opt
        self.dataset = dataset
        self.runDirectory = runDirectory
        self.ranks = ranks
        state = st
        guard st.samplerState.count == 4 else {
            throw ModelError.badCheckpoint(path: url.path, reason: "sampler state has \(st.samplerState.count) words, expected 4")
        }
        var words: [UInt64] = []
        for w in st.samplerState {
            guard let v = UInt64(w, radix: 16) else {
                throw ModelError.badCheckpoint(path: url.path, reason: "sampler state word \"\(w)\" is not hex")
            }
            words.append(v)
        }
        sampler = SeededRandom(stateWords: words)
        lastCheckpoint = url
        totalPlanned = true
        self.lock = lock
        // Steps after the checkpoint were logged by the run that died; they are redone now, so their lines go.
        if root { try Trainer.truncateLog(runDirectory.appendingPathComponent("log.jsonl"), afterStep: st.step) }
    }

    /// Takes RUNDIR's lock and removes checkpoint temporaries a killed run left behind (under the lock nobody
    /// else is writing them).
    static func lockRun(_ runDirectory: URL) throws -> DirectoryLock {
        let lock: DirectoryLock
        do { lock = try DirectoryLock(directory: runDirectory, purpose: "pretrain") } catch {
            throw ModelError.badInput("\(error)")
        }
        removeCheckpointTemporaries(in: runDirectory)
        return lock
    }

    /// Removes `.NAME.safetensors.tmp-PID` files in `runDirectory` (an interrupted checkpoint write), or only
    /// those of process `pid`. Returns their names.
    @discardableResult
    public static func removeCheckpointTemporaries(in runDirectory: URL, pid: Int32? = nil) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        let stale = names.filter { n in
            n.hasPrefix(".") && n.contains(".safetensors.tmp-") && (pid == nil || n.hasSuffix(".tmp-\(pid!)"))
        }
        for n in stale { try? FileManager.default.removeItem(at: runDirectory.appendingPathComponent(n)) }
        return stale
    }

    /// Rewrites `log` (atomically) without the lines of steps after `step` and without a torn last line (read by
    /// `TrainingLog.records`, whose rule refuses a damaged complete line naming FILE:LINE). No log: nothing to do.
    static func truncateLog(_ log: URL, afterStep step: Int) throws {
        guard FileManager.default.fileExists(atPath: log.path) else { return }
        let data: Data
        do { data = try readFileData(log) } catch {
            throw ModelError.io(path: log.path, reason: "cannot read the training log (\(ioErrorText(error)))")
        }
        var kept = Data()
        for r in try TrainingLog.records(in: data, path: log.path) where (r.step ?? step) <= step {
            kept.append(r.bytes); kept.append(0x0A)
        }
        guard kept != data else { return }
        do { try AtomicFile.write(kept, to: log) } catch {
            throw ModelError.io(path: log.path, reason: "cannot rewrite the training log (\(ioErrorText(error)))")
        }
    }

    /// Steps between checkpoints for `count` evenly spaced ones over `total` steps: ⌈total / count⌉, so the last
    /// periodic one would fall at or after the end, where the final checkpoint is written instead.
    static func spacing(_ total: Int, _ count: Int) -> Int { max(1, total / count + (total % count == 0 ? 0 : 1)) }

    static func checkCompatible(_ c: GPTConfig, _ o: TrainingOptions, _ d: TokenDataset) throws {
        guard c.vocabSize == d.vocabSize else {
            throw ModelError.badInput("--vocab-size \(c.vocabSize) does not match the token files' vocab_size \(d.vocabSize) (\(d.directory.path))")
        }
        guard d.trainCount > c.context + 1, d.valCount > c.context + 1 else {
            throw ModelError.badInput("\(d.directory.path): train (\(d.trainCount)) and val (\(d.valCount)) need more than context+1 = \(c.context + 1) tokens")
        }
    }

    /// Refuses a run whose parameters, optimizer state and activations at (batch, context) exceed the memory this
    /// process may allocate, before anything is allocated for it.
    static func checkMemory(_ c: GPTConfig, _ o: TrainingOptions) throws {
        let limit = SystemMemory.limitBytes
        guard let bytes = c.trainingBytes(batch: o.batch), bytes <= limit else {
            let need = c.trainingBytes(batch: o.batch).map(SystemMemory.format) ?? "more than can be addressed"
            throw ModelError.invalidConfig("\(c) at --batch \(o.batch) needs \(need) for parameters, optimizer state and activations; this process may allocate \(SystemMemory.format(limit))")
        }
    }

    /// Mean validation losses over `evalBatches` batches of fixed, evenly spaced windows of the val split.
    public func validate() throws -> ValidationRecord {
        let r = try Trainer.validationLoss(model: model, data: dataset, batches: state.options.evalBatches,
                                           batchSize: state.options.batch)
        return ValidationRecord(step: state.step, loss: r.objective, crossEntropy: r.crossEntropy)
    }

    /// Training's periodic validation: mean objective and cross-entropy of `model` over `batches` × `batchSize`
    /// evenly spaced windows of the val split, through the one windowed-loss routine (`GPT.windowLoss`; comparing
    /// checkpoints uses the whole split, `GPT.splitLoss`).
    public static func validationLoss(model: GPT, data: TokenDataset, batches: Int,
                                      batchSize B: Int) throws -> (objective: Double, crossEntropy: Double) {
        let starts = data.evenlySpacedStarts(.val, count: batches * B, length: model.config.context)
        let r = try model.windowLoss(data: data, split: .val, starts: starts, batch: B)
        return (r.objective, r.crossEntropy)
    }

    /// Trains until the planned total (or `stopAfter` steps in total, or `Trainer.stopRequested`), validating,
    /// logging and checkpointing as configured. Throws `ModelError.nonFiniteLoss` (parameters untouched by the
    /// bad step, last good checkpoint kept) if a loss or gradient norm is not finite.
    @discardableResult
    public func run(stopAfter: Int? = nil, progress: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        let root = rank == 0
        // Rank 0 alone locks the run folder and writes the log (the other ranks hold no file open there).
        if root && lock == nil { lock = try Trainer.lockRun(runDirectory) }
        defer { lock?.release(); lock = nil }
        let log = try LogWriter(root ? runDirectory.appendingPathComponent("log.jsonl") : nil)
        defer { log.closeFile() }
        func report(_ e: TrainingEvent) { if root { progress(e) } }
        if state.threads != Threads.count {
            report(.note("checkpoint was written with \(state.threads) threads, running with \(Threads.count): results stay valid but are not bit-identical to an uninterrupted run"))
        }
        var batch = MicroBatches(model: model, options: state.options, ranks: worldSize)
        var clock = RunClock(startStep: state.step, tokensPerStep: batch.tokensPerStep)
        var interrupted = false
        while state.step < state.schedule.totalSteps {
            if let s = stopAfter, state.step >= s { interrupted = true; break }
            if Trainer.stopRequested && worldSize == 1 { interrupted = true; break }
            let t0 = Benchmark.now()
            let lr = state.schedule.lr(at: state.step)
            let (loss, stopEveryRank) = try accumulateGradients(&batch, clock: &clock)
            let norm = try applyStep(loss: loss, lr: lr, tokens: clock.tokensPerStep, log: log)
            clock.lastLoss = loss
            clock.windowSteps += 1
            let now = Benchmark.now()
            if !totalPlanned, state.options.timeBudgetMinutes != nil {
                try planTimeBudget(stepSeconds: now - t0, now: now, clock: &clock, log: log, report: report)
            }
            let done = state.step >= state.schedule.totalSteps
            if state.step % state.options.logEvery == 0 || done || state.step == clock.startStep + 1 {
                logStep(loss: loss, lr: lr, norm: norm, now: now, clock: &clock, log: log, report: report)
            }
            if stopEveryRank { interrupted = !done }
            try validateAndCheckpoint(done: done, log: log, report: report)
            if interrupted { break }
        }
        return try finish(interrupted: interrupted, clock: clock, report: report)
    }

    /// RUNDIR/log.jsonl opened for appending on rank 0 (nil URL: the other ranks, which write nothing); one JSON
    /// line per `TrainingLogLine` (`JSONCoding`).
    struct LogWriter {
        let handle: FileHandle?
        let encoder = JSONCoding.encoder(pretty: false)

        init(_ url: URL?) throws {
            guard let url else { handle = nil; return }
            // Appended to, never followed: a planted symlink must not redirect the log outside the run folder.
            let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let reason = errno == ELOOP ? "is a symbolic link; refusing to write the training log through it"
                    : "cannot open the training log for writing (\(String(cString: strerror(errno))))"
                throw ModelError.io(path: url.path, reason: reason)
            }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw ModelError.io(path: url.path, reason: "is not a regular file")
            }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        }

        func write(_ line: TrainingLogLine) {
            guard let handle, let data = try? encoder.encode(line) else { return }
            handle.write(data + Data([0x0A]))
        }

        func closeFile() { try? handle?.close() }
    }

    /// What one call of `run` carries from step to step: its start, the throughput window of the progress line,
    /// the probe steps of a time budget, the last loss and the time spent in collectives.
    struct RunClock {
        let start = Benchmark.now()
        let startStep: Int
        /// Tokens per optimizer step over all ranks: B·T·gradAccum·ranks.
        let tokensPerStep: Int
        var windowStart: Double
        var windowSteps = 0
        var probeTimes: [Double] = []
        var lastLoss = Double.nan
        var allreduceSeconds = 0.0, waitSeconds = 0.0

        init(startStep: Int, tokensPerStep: Int) {
            self.startStep = startStep
            self.tokensPerStep = tokensPerStep
            windowStart = start
        }
    }

    /// A rank's micro-batch buffers: the (B, T) inputs and targets, and the running sum of the micro-batch
    /// gradients when a rank computes more than one per step.
    struct MicroBatches {
        var inputs: [Int32], targets: [Int32]
        let gradientSum: Matrix<Float>?
        /// Micro-batches per step over all ranks.
        let perStep: Int
        let tokensPerStep: Int

        init(model: GPT, options o: TrainingOptions, ranks: Int) {
            let n = o.batch * model.config.context
            inputs = [Int32](repeating: 0, count: n)
            targets = inputs
            gradientSum = o.gradAccum > 1 ? Matrix(rows: model.gradients.rows, cols: model.gradients.cols) : nil
            perStep = ranks * o.gradAccum
            tokensPerStep = n * perStep
        }
    }

    /// This rank's gradient of the step (its `gradAccum` micro-batches from the shared sampler stream, each scaled
    /// by 1/(ranks·gradAccum)), summed over ranks. Returns the mean loss over every rank's micro-batches and whether
    /// any rank asked to stop (the same answer on every rank).
    func accumulateGradients(_ mb: inout MicroBatches, clock: inout RunClock) throws -> (loss: Double, stop: Bool) {
        let o = state.options, T = model.config.context, B = o.batch
        // The step's windows, micro-batch by micro-batch, from the shared stream; this rank's slice.
        let allStarts = (0..<(mb.perStep * B)).map { _ in sampler.int(below: dataset.trainCount - T - 1) }
        var loss = 0.0
        for j in 0..<o.gradAccum {
            let first = (rank * o.gradAccum + j) * B
            let starts = Array(allStarts[first..<(first + B)])
            model.zeroGradients()
            mb.inputs.withUnsafeMutableBufferPointer { x in
                mb.targets.withUnsafeMutableBufferPointer { y in
                    dataset.fillBatch(.train, starts: starts, length: T, inputs: x.baseAddress!, targets: y.baseAddress!)
                }
            }
            loss += try mb.inputs.withUnsafeBufferPointer { x in
                try mb.targets.withUnsafeBufferPointer { y in
                    try model.forwardBackward(inputs: x, targets: y, batch: B, length: T,
                                              lossScale: 1 / Float(mb.perStep))
                }
            } / Double(mb.perStep)
            if let sum = mb.gradientSum {   // sum += this micro-batch's gradient (computed from zero)
                if j == 0 { sum.pointer.update(from: model.gradients.pointer, count: model.layout.count) }
                else { try BLAS.axpy(alpha: 1, model.gradients, sum) }
            }
        }
        if let sum = mb.gradientSum { model.gradients.pointer.update(from: sum.pointer, count: model.layout.count) }
        var stopEveryRank = false
        if let ranks, worldSize > 1 {
            // The small allreduce first: it returns when the slowest rank has finished its micro-batches, so
            // its time is the waiting and the gradient allreduce's time is the transfer.
            let r0 = Benchmark.now()
            var shared = [loss, Trainer.stopRequested ? 1 : 0]
            try ranks.sum(&shared)
            loss = shared[0]
            stopEveryRank = shared[1] > 0   // the same decision on every rank
            let r1 = Benchmark.now()
            try ranks.sum(model.gradients.pointer, count: model.layout.count)
            clock.waitSeconds += r1 - r0
            clock.allreduceSeconds += Benchmark.now() - r1
        }
        return (loss, stopEveryRank)
    }

    /// Clips the summed gradient to `clip`, takes the AdamW step at `lr` and counts the step and its `tokens`;
    /// returns the gradient norm before clipping. A non-finite loss or norm is logged and thrown before the parameters are touched.
    func applyStep(loss: Double, lr: Double, tokens: Int, log: LogWriter) throws -> Double {
        let o = state.options
        let norm = globalNorm(model.gradients.pointer, count: model.layout.count)
        guard loss.isFinite, norm.isFinite else {
            log.write(TrainingLogLine(step: state.step, event: "non-finite", loss: loss, gradNorm: norm))
            throw ModelError.nonFiniteLoss(step: state.step, loss: loss.isFinite ? norm : loss,
                                           lastCheckpoint: lastCheckpoint?.path)
        }
        if o.clip > 0 && norm > o.clip {
            BLAS.scal(Float(o.clip / norm), model.gradients)
        }
        optimizer.step(parameters: model.parameters, gradients: model.gradients, lr: Float(lr),
                       weightDecay: Float(o.weightDecay))
        state.step += 1
        state.tokensSeen += tokens
        return norm
    }

    /// Time budget: after the probe steps, fixes the step count (rank 0's plan on every rank) so the cosine ends
    /// with the budget.
    func planTimeBudget(stepSeconds: Double, now: Double, clock: inout RunClock, log: LogWriter,
                        report: (TrainingEvent) -> Void) throws {
        let o = state.options
        guard let minutes = o.timeBudgetMinutes else { return }
        if state.step > 1 { clock.probeTimes.append(stepSeconds) }
        let probe = max(5, min(o.warmup, 30))
        guard state.step >= probe else { return }
        let perStep = clock.probeTimes.isEmpty ? stepSeconds : clock.probeTimes.reduce(0, +) / Double(clock.probeTimes.count)
        let overhead = 1 + Double(o.evalBatches) / (3 * Double(o.evalEvery * o.gradAccum))
        let remaining = minutes * 60 - (now - clock.start)
        var planned = [rank == 0 ? Double(max(0, Int(remaining / (perStep * overhead)))) : 0]
        if let ranks, worldSize > 1 { try ranks.sum(&planned) }   // rank 0's plan on every rank
        state.schedule.totalSteps = state.step + Int(planned[0])
        if let n = o.checkpointCount { state.options.checkpointEvery = Trainer.spacing(state.schedule.totalSteps, n) }
        totalPlanned = true
        report(.planned(totalSteps: state.schedule.totalSteps, secondsPerStep: perStep))
        log.write(TrainingLogLine(event: "planned", totalSteps: state.schedule.totalSteps, sPerStep: perStep))
    }

    /// The progress event and log line of a step: loss, learning rate, gradient norm, throughput since the last
    /// line, elapsed time and ETA.
    func logStep(loss: Double, lr: Double, norm: Double, now: Double, clock: inout RunClock, log: LogWriter,
                 report: (TrainingEvent) -> Void) {
        let elapsed = now - clock.start
        let rate = Double(clock.windowSteps * clock.tokensPerStep) / max(now - clock.windowStart, 1e-9)
        let perStep = elapsed / Double(state.step - clock.startStep)
        let eta = totalPlanned ? Double(state.schedule.totalSteps - state.step) * perStep : .nan
        let r = StepReport(step: state.step, totalSteps: state.schedule.totalSteps, loss: loss, lr: lr,
                           gradNorm: norm, tokensPerSecond: rate, elapsedSeconds: elapsed, etaSeconds: eta)
        report(.step(r))
        log.write(TrainingLogLine(step: r.step, tokens: state.tokensSeen, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm,
                                  tokensPerS: r.tokensPerSecond, elapsedS: r.elapsedSeconds))
        clock.windowStart = now; clock.windowSteps = 0
    }

    /// Rank 0's periodic validation (and at the end) and periodic checkpoints (not at the end: `finish` writes
    /// the final one).
    func validateAndCheckpoint(done: Bool, log: LogWriter, report: (TrainingEvent) -> Void) throws {
        guard rank == 0 else { return }
        let o = state.options
        if state.step % o.evalEvery == 0 || done {
            let v = try validate()
            state.validation.append(v)
            report(.validation(v))
            log.write(TrainingLogLine(step: v.step, tokens: state.tokensSeen, valLoss: v.loss, valCe: v.crossEntropy,
                                      valPpl: v.perplexity))
        }
        if (state.step % state.options.checkpointEvery == 0 || o.checkpointAt?.contains(state.step) == true) && !done {
            report(.checkpoint(try saveCheckpoint(final: false)))
        }
    }

    /// The last checkpoint (final unless interrupted) when this call trained a step or none exists yet, and the
    /// summary of the call.
    func finish(interrupted: Bool, clock: RunClock, report: (TrainingEvent) -> Void) throws -> TrainingSummary {
        var ckpt = lastCheckpoint
        if rank == 0 && (state.step > clock.startStep || lastCheckpoint == nil) {
            let url = try saveCheckpoint(final: !interrupted)
            report(.checkpoint(url))
            ckpt = url
        }
        let seconds = Benchmark.now() - clock.start
        let trained = state.step - clock.startStep
        return TrainingSummary(steps: state.step, totalSteps: state.schedule.totalSteps, lastLoss: clock.lastLoss,
                               validation: state.validation.last, tokensSeen: state.tokensSeen, seconds: seconds,
                               tokensPerSecond: Double(trained * clock.tokensPerStep) / max(seconds, 1e-9),
                               checkpoint: ckpt, interrupted: interrupted, allreduceSeconds: clock.allreduceSeconds,
                               waitSeconds: clock.waitSeconds)
    }

    /// Writes RUNDIR/ckpt-STEP.safetensors (and final.safetensors when `final`), updates RUNDIR/latest, and
    /// removes the previous periodic checkpoint unless `keepCheckpoints`.
    func saveCheckpoint(final: Bool) throws -> URL {
        state.samplerState = sampler.stateWords.map { String($0, radix: 16) }
        state.adamSteps = optimizer.stepsTaken
        state.threads = Threads.count
        state.ranks = ranks.map(\.size)
        let url = runDirectory.appendingPathComponent("ckpt-\(state.step).safetensors")
        try Checkpoint.save(to: url, model: model, step: state.step, optimizer: optimizer, state: state,
                            tokenizer: dataset.tokenizerDirectory.path, tokensHash: dataset.hash,
                            dataDirectory: dataset.directory.path, validation: state.validation)
        let pointer = runDirectory.appendingPathComponent("latest")
        do { try AtomicFile.write(Data((url.lastPathComponent + "\n").utf8), to: pointer) } catch {
            throw ModelError.io(path: pointer.path, reason: "cannot write: \(ioErrorText(error))")
        }
        if let prev = lastCheckpoint, prev.standardizedFileURL.path != url.standardizedFileURL.path,
           !state.options.keepCheckpoints,
           prev.deletingLastPathComponent().standardizedFileURL.path == runDirectory.standardizedFileURL.path {
            try? FileManager.default.removeItem(at: prev)
        }
        lastCheckpoint = url
        if final {
            let f = runDirectory.appendingPathComponent("final.safetensors")
            try? FileManager.default.removeItem(at: f)
            do { try FileManager.default.linkItem(at: url, to: f) } catch {
                do { try FileManager.default.copyItem(at: url, to: f) } catch {
                    throw ModelError.io(path: f.path, reason: "cannot write: \(ioErrorText(error))")
                }
            }
        }
        return url
    }
}

/// One line of RUNDIR/log.jsonl (written with `JSONCoding`: snake_case keys, absent fields left out, a non-finite
/// number as the string "nan"/"inf"). `TrainingLog` reads these lines back.
struct TrainingLogLine: Encodable {
    var step: Int? = nil
    var event: String? = nil
    var tokens: Int? = nil
    var loss: Double? = nil
    var lr: Double? = nil
    var gradNorm: Double? = nil
    var tokensPerS: Double? = nil
    var elapsedS: Double? = nil
    var totalSteps: Int? = nil
    var sPerStep: Double? = nil
    var valLoss: Double? = nil
    var valCe: Double? = nil
    var valPpl: Double? = nil
}
