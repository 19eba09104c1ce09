import Analysis
import ArgumentParser
import Experiments
import Foundation
import Linalg
import Model
import Synthetic
import Text
import Support
import Report

extension SyntheticTaskSpec.Kind: ExpressibleByArgument {}
extension SyntheticTaskSpec.Label: ExpressibleByArgument {}
extension SyntheticTaskSpec.Direction: ExpressibleByArgument {}
extension SyntheticDegradation: ExpressibleByArgument {}

/// `lmprobe synth`: a hidden Markov language whose next-word distribution p* is known exactly.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A synthetic HMM language with known p*: generate it, draw tasks, measure ε against the paper's bound.",
        discussion: """
        synth generate → OUT/hmm (parameters, .npy) and OUT/tokens (token files `pretrain --data` reads);
        synth task     → a labelled token-id dataset (train.ids, test.ids, task.json) that `extract` reads;
        synth measure  → exact ε, τ, the bound τ + B√(2ε) and probes for every checkpoint of pretraining runs;
        synth degrade  → the same for p* degraded to chosen ε (mixed toward the unigram, or log-space noise), no training.
        synth rate     → the gap to τ against ε over seeds (one measure report per seed): slopes, bound, charts.
        """,
        subcommands: [SynthGenerate.self, SynthTask.self, SynthMeasure.self, SynthDegrade.self, SynthRate.self])
}

struct SynthGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Draw an HMM (Dirichlet rows, optional word classes) and sample its corpus into token files.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output folder: OUT/hmm and OUT/tokens are created (must not exist yet).") var out: String
    @Option(parsing: .unconditional, help: "Hidden states K (1...4096).") var states = 64
    @Option(parsing: .unconditional, help: "Vocabulary size V, a count (2...65535; the token files have V + 1 ids; id V is an end-of-text token that never occurs). Not the word list that extract/compare take as --words.")
    var words = 1024
    @Option(parsing: .unconditional, help: "Dirichlet concentration of the emission rows (> 0).") var emissionConcentration = 0.05
    @Option(parsing: .unconditional, help: "Dirichlet concentration of the transition rows (> 0).") var transitionConcentration = 0.1
    @Option(parsing: .unconditional, help: "Word classes (0 or more; 2 gives 'negative' and 'positive' words).") var classes = 2
    @Option(parsing: .unconditional, help: "Words per class.") var classSize = 20
    @Option(parsing: .unconditional, help: "Emission mass a favouring state puts uniformly on its class (0...1).") var classMass = 0.3
    @Option(parsing: .unconditional, help: "Fraction of the states favouring each class.") var favouringFraction = 0.25
    @Option(parsing: .unconditional, help: "Seed (HMM and corpus).") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Training tokens (1...2^31, streamed to disk).") var trainTokens = 20_000_000
    @Option(parsing: .unconditional, help: "Validation tokens (1...2^31).") var valTokens = 200_000

    var config: HMMConfig {
        HMMConfig(states: states, words: words, emissionConcentration: emissionConcentration,
                  transitionConcentration: transitionConcentration, classes: classes, classSize: classSize,
                  classMass: classMass, favouringFraction: favouringFraction, seed: seed)
    }

    func validate() throws {
        do { try config.validate() } catch { throw ValidationError("\(error)") }
        for (flag, n) in [("--train-tokens", trainTokens), ("--val-tokens", valTokens)] where n < 1 || n > SyntheticCorpus.maxSplitTokens {
            throw ValidationError("\(flag) must be a positive count of at most 2^31 (got \(n))")
        }
    }

    func run() throws {
        global.apply()
        let root = URL(fileURLWithPath: out)
        let t0 = Benchmark.now()
        let (_, h) = try SyntheticCorpus.generate(config, out: root, trainTokens: trainTokens, valTokens: valTokens)
        print("HMM K=\(states) V=\(words) → \(root.appendingPathComponent("hmm").path)")
        print("corpus: \(trainTokens) train / \(valTokens) val tokens (vocab \(words + 1)) → \(root.appendingPathComponent("tokens").path)")
        print(String(format: "entropy rate %.4f ± %.4f nats/word (200 sequences × 1000 words after 200 burn-in); %.1f s",
                     h.rate, h.standardError, Benchmark.now() - t0))
    }
}

struct SynthTask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Draw a labelled task over the HMM language as a token-id dataset (train.ids, test.ids, task.json).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "HMM folder (OUT/hmm of `synth generate`).") var hmm: String
    @Option(help: "Output folder.") var out: String
    @Option(parsing: .unconditional, help: "Task name (default: the output folder's name; one plain path component).") var name: String?
    @Option(help: "natural (y from vᵀp*) or control (parity of an earlier hidden state).") var kind: SyntheticTaskSpec.Kind = .natural
    @Option(help: "Natural labels: bernoulli (y ~ σ(κ(vᵀp* − b))) or sign (y = 1[vᵀp* > b]).") var label: SyntheticTaskSpec.Label = .bernoulli
    @Option(help: "Natural direction v: classes (positive − negative class words), random (±1 per word) or phi (Φλ of --phi-from).")
    var direction: SyntheticTaskSpec.Direction = .classes
    @Option(help: "Checkpoint (or run folder) whose Φ gives --direction phi.") var phiFrom: String?
    @Option(parsing: .unconditional, help: "Words per context (≥ 1).") var length = 48
    @Option(parsing: .unconditional, help: "Prompt: word ids appended to every context, space-separated (e.g. \"5 17\").") var prompt: String?
    @Option(parsing: .unconditional, help: "Control task: the hidden state this many words before the last one (0..<length).") var lag = 30
    @Option(parsing: .unconditional, help: "κ = B (≥ 0; 0: 3 / std of vᵀp*).") var kappa = 0.0
    @Option(parsing: .unconditional, help: "Number of training contexts (≥ 2; a count, not the feature files probe takes as --train).") var train = 2000
    @Option(parsing: .unconditional, help: "Number of test contexts (≥ 1; a count, not the feature files probe takes as --test).") var test = 2000
    @Option(parsing: .unconditional, help: "Seed.") var seed: UInt64 = 1

    /// The task's name: --name, else the output folder's name; it names files of `synth measure`, so it must be
    /// one plain path component.
    var taskName: String { name ?? URL(fileURLWithPath: out).standardizedFileURL.lastPathComponent }

    func validate() throws {
        do { try PathName.check(taskName, role: name == nil ? "task name (from --out)" : "--name") } catch {
            throw ValidationError("\(error)")
        }
        guard length >= 1 else { throw ValidationError("--length must be at least 1 (got \(length))") }
        guard train >= 2, test >= 1 else { throw ValidationError("--train must be at least 2 and --test at least 1 (got \(train), \(test))") }
        guard lag >= 0 else { throw ValidationError("--lag must be 0 or positive (got \(lag))") }
        guard kappa >= 0, kappa.isFinite else { throw ValidationError("--kappa must be 0 (automatic) or positive (got \(kappa))") }
    }

    func run() throws {
        global.apply()
        var promptIDs: [Int] = []
        if let p = prompt {
            guard let ids = TokenIDText.parse(p) else { throw CLIError("--prompt '\(p)': expected space-separated word ids") }
            promptIDs = ids
        }
        let outURL = URL(fileURLWithPath: out)
        if FileManager.default.fileExists(atPath: outURL.appendingPathComponent("task.json").path) {
            throw CLIError("--out \(out) already holds a task; choose another folder")
        }
        let h = try HiddenMarkovModel.load(from: URL(fileURLWithPath: hmm))
        var phi: Matrix<Float>? = nil, phiPath: String? = nil
        if let p = phiFrom {
            let c = try ModelLoader.checkpoint(p)
            phi = c.checkpoint.model.phi; phiPath = c.url.path
        }
        let t = try SyntheticTask.make(hmm: h, hmmDirectory: URL(fileURLWithPath: hmm).standardizedFileURL.path,
                                       name: taskName, kind: kind, label: label,
                                       direction: direction, length: length, prompt: promptIDs, lag: lag, kappa: kappa,
                                       train: train, test: test, seed: seed, phi: phi, phiFrom: phiPath)
        try SyntheticTask.write(t, to: outURL)
        let s = t.spec
        var line = "\(s.name): \(s.kind.rawValue), \(s.trainCount) train / \(s.testCount) test contexts of \(s.length) words → \(outURL.path)"
        if s.kind == .natural {
            line += String(format: "\n  κ = B = %.2f, b = %.5f, τ = ℓ_T(p*, κv) = %.4f ± %.4f, majority %.1f%%", s.kappa ?? .nan,
                           s.bias ?? .nan, s.tau, s.tauStandardError, 100 * s.majority)
        } else {
            line += String(format: "\n  label entropy %.4f nats, majority %.1f%%", s.tau, 100 * s.majority)
        }
        print(line)
    }
}

struct SynthMeasure: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Exact ε, τ, the bound τ + B√(2ε) and probes on p_f, Φp_f, f and p* for every checkpoint of runs.",
        discussion: """
        Writes OUT/report.json, OUT/report.md and OUT/TASK.svg (probe loss against √ε with the bound); per-checkpoint
        results are cached in OUT/points, so re-running after new checkpoints measures only those.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "HMM folder (OUT/hmm of `synth generate`).") var hmm: String
    @Option(help: "Task folder from `synth task` (repeatable).") var task: [String]
    @Option(help: "Pretraining run folder, optionally NAME=RUN (repeatable; every kept checkpoint is measured).") var lm: [String]
    @Option(help: "Output folder.") var out: String
    @Option(parsing: .unconditional, help: "Held-out windows for ε (2...2^24; each adds the model's context length of contexts).") var windows = 320
    @Option(parsing: .unconditional, help: "Measure at most this many checkpoints per run (≥ 1), spread over it.") var maxCheckpoints: Int?
    @OptionGroup var probe: SynthProbeOptions
    @Flag(help: "Print the report as JSON.") var json = false

    /// `--lm NAME=RUN` or `--lm RUN` (NAME: the run folder's name). NAME names folders and files inside --out.
    var runs: [(name: String, url: URL)] { namedPaths(lm) }

    func validate() throws {
        for r in runs {
            do { try PathName.check(r.name, role: "--lm NAME") } catch { throw ValidationError("\(error) (give --lm NAME=RUN)") }
        }
        if let dup = firstRepeated(runs.map(\.name)) {
            throw ValidationError("two --lm runs are named '\(dup)'; give each its own NAME=RUN")
        }
        guard windows >= 2, windows <= 1 << 24 else { throw ValidationError("--windows must be at least 2 and at most 2^24 (got \(windows))") }
        if let m = maxCheckpoints, m < 1 { throw ValidationError("--max-checkpoints must be at least 1 (got \(m))") }
    }

    func run() throws {
        global.apply()
        var options = SyntheticMeasureOptions()
        options.windows = windows; options.folds = probe.folds; options.maxIterations = probe.maxIterations
        let r = try SyntheticStudy.measure(hmmDirectory: URL(fileURLWithPath: hmm), taskDirectories: task.map { URL(fileURLWithPath: $0) },
                                           runs: runs, out: URL(fileURLWithPath: out), options: options,
                                           maxCheckpoints: maxCheckpoints, log: { eprint($0) })
        if json {
            print(String(decoding: try JSONCoding.encoder().encode(r), as: UTF8.self))
        } else {
            print(r.markdown())
        }
    }
}

struct SynthDegrade: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "degrade",
        abstract: "Score p* degraded to a grid of ε without training: ε, the gap to τ and the bound per point.",
        discussion: """
        mix: p_α = (1 − α)p* + α·u (u the HMM's unigram distribution); noise: p_σ ∝ p*·exp(σg), g ~ N(0, 1) per context
        and word. α or σ is found by bisection so that ε = E KL(p* ‖ p) on the task's test contexts hits each target.
        Writes OUT/report.json, OUT/report.md and OUT/TASK-degraded.svg (log–log gaps with B√(2ε)), all at once.
        """)

    struct Grid: ParsableArguments {
        @Option(parsing: .unconditional, help: "Smallest target ε (> 0).") var epsilonFrom = 1e-5
        @Option(parsing: .unconditional, help: "Largest target ε.") var epsilonTo = 1e-1
        @Option(parsing: .unconditional, help: "Targets per decade (≥ 1).") var perDecade = 2
        @Option(help: "Degradation: mix or noise (repeatable; default both).") var degradation: [SyntheticDegradation] = []
    }

    @OptionGroup var global: GlobalOptions
    @Option(help: "HMM folder (OUT/hmm of `synth generate`).") var hmm: String
    @Option(help: "Task folder from `synth task` (repeatable).") var task: [String]
    @Option(help: "Output folder (replaced as a whole if it holds an earlier report).") var out: String
    @OptionGroup(title: "Target ε grid") var grid: Grid
    @Option(parsing: .unconditional, help: "Seed of the noise draws.") var seed: UInt64 = 0xE951_1011
    @OptionGroup var probe: SynthProbeOptions

    func validate() throws {
        guard grid.epsilonFrom > 0, grid.epsilonFrom.isFinite, grid.epsilonTo.isFinite, grid.epsilonTo >= grid.epsilonFrom else {
            throw ValidationError("--epsilon-from must be positive and at most --epsilon-to (got \(grid.epsilonFrom), \(grid.epsilonTo))")
        }
        guard grid.perDecade >= 1, grid.perDecade <= 100 else { throw ValidationError("--per-decade must be in 1...100 (got \(grid.perDecade))") }
    }

    func run() throws {
        global.apply()
        var options = SyntheticMeasureOptions()
        options.folds = probe.folds; options.maxIterations = probe.maxIterations; options.seed = seed
        let modes = grid.degradation.isEmpty ? SyntheticDegradation.allCases : grid.degradation
        let targets = SyntheticDegrade.grid(from: grid.epsilonFrom, to: grid.epsilonTo, perDecade: grid.perDecade)
        let r = try SyntheticDegrade.study(hmmDirectory: URL(fileURLWithPath: hmm), taskDirectories: task.map { URL(fileURLWithPath: $0) },
                                           out: URL(fileURLWithPath: out), modes: modes, targets: targets, options: options,
                                           log: { eprint($0) })
        print(r.markdown())
    }
}

/// `NAME=PATH` or `PATH` values (NAME: the path's last component), as `synth measure --lm` and `synth rate --measure` take them.
func namedPaths(_ values: [String]) -> [(name: String, url: URL)] {
    values.map { s in
        if let eq = s.firstIndex(of: "="), eq != s.startIndex {
            return (String(s[..<eq]), URL(fileURLWithPath: String(s[s.index(after: eq)...])))
        }
        let url = URL(fileURLWithPath: s)
        return (url.standardizedFileURL.lastPathComponent, url)
    }
}

/// The first name given more than once, if any.
func firstRepeated(_ names: [String]) -> String? { names.first { n in names.filter { $0 == n }.count > 1 } }

/// The logistic probe settings `synth measure` and `synth degrade` share (their committed studies' values), checked
/// once here.
struct SynthProbeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Logistic-regression CV folds (≥ 2).") var folds = 3
    @Option(parsing: .unconditional, help: "L-BFGS iteration cap per logistic fit (≥ 1).") var maxIterations = 300

    func validate() throws {
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2 (got \(folds))") }
        guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1 (got \(maxIterations))") }
    }
}
