import Analysis
import ArgumentParser
import Experiments
import Foundation
import Linalg
import Model
import Synthetic
import Text

extension SyntheticTaskSpec.Kind: ExpressibleByArgument {}
extension SyntheticTaskSpec.Label: ExpressibleByArgument {}
extension SyntheticTaskSpec.Direction: ExpressibleByArgument {}

/// `lmprobe synth`: a hidden Markov language whose next-word distribution p* is known exactly.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A synthetic HMM language with known p*: generate it, draw tasks, measure ε against the paper's bound.",
        discussion: """
        synth generate → OUT/hmm (parameters, .npy) and OUT/tokens (token files `pretrain --data` reads);
        synth task     → a labelled token-id dataset (train.ids, test.ids, task.json) that `extract` reads;
        synth measure  → exact ε, τ, the bound τ + B√(2ε) and probes for every checkpoint of pretraining runs.
        """,
        subcommands: [SynthGenerate.self, SynthTask.self, SynthMeasure.self])
}

struct SynthGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Draw an HMM (Dirichlet rows, optional word classes) and sample its corpus into token files.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output folder: OUT/hmm and OUT/tokens are created (must not exist yet).") var out: String
    @Option(help: "Hidden states K.") var states = 64
    @Option(help: "Vocabulary V (the token files have V + 1 ids; id V is an end-of-text token that never occurs).")
    var words = 1024
    @Option(help: "Dirichlet concentration of the emission rows.") var emissionConcentration = 0.05
    @Option(help: "Dirichlet concentration of the transition rows.") var transitionConcentration = 0.1
    @Option(help: "Word classes (0 or more; 2 gives 'negative' and 'positive' words).") var classes = 2
    @Option(help: "Words per class.") var classSize = 20
    @Option(help: "Emission mass a favouring state puts uniformly on its class.") var classMass = 0.3
    @Option(help: "Fraction of the states favouring each class.") var favouringFraction = 0.25
    @Option(help: "Seed (HMM and corpus).") var seed: UInt64 = 0
    @Option(help: "Training tokens.") var trainTokens = 20_000_000
    @Option(help: "Validation tokens.") var valTokens = 200_000

    func run() throws {
        global.apply()
        let root = URL(fileURLWithPath: out)
        let hmmDir = root.appendingPathComponent("hmm"), tokDir = root.appendingPathComponent("tokens")
        for d in [hmmDir, tokDir] where FileManager.default.fileExists(atPath: d.path) {
            throw CLIError("--out \(out): \(d.lastPathComponent)/ already exists; choose another folder")
        }
        let config = HMMConfig(states: states, words: words, emissionConcentration: emissionConcentration,
                               transitionConcentration: transitionConcentration, classes: classes, classSize: classSize,
                               classMass: classMass, favouringFraction: favouringFraction, seed: seed)
        let t0 = Benchmark.now()
        let hmm = try HiddenMarkovModel.generate(config)
        try hmm.save(to: hmmDir)
        try SyntheticCorpus.write(hmm, to: tokDir, trainTokens: trainTokens, valTokens: valTokens, seed: seed,
                                  hmmDirectory: "../hmm")
        let h = try hmm.entropyRate(sequences: 200, length: 1000, burnIn: 200, seed: seed ^ 0xE7)
        print("HMM K=\(states) V=\(words) → \(hmmDir.path)")
        print("corpus: \(trainTokens) train / \(valTokens) val tokens (vocab \(words + 1)) → \(tokDir.path)")
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
    @Option(help: "Task name (default: the output folder's name).") var name: String?
    @Option(help: "natural (y from vᵀp*) or control (parity of an earlier hidden state).") var kind: SyntheticTaskSpec.Kind = .natural
    @Option(help: "Natural labels: bernoulli (y ~ σ(κ(vᵀp* − b))) or sign (y = 1[vᵀp* > b]).") var label: SyntheticTaskSpec.Label = .bernoulli
    @Option(help: "Natural direction v: classes (positive − negative class words), random (±1 per word) or phi (Φλ of --phi-from).")
    var direction: SyntheticTaskSpec.Direction = .classes
    @Option(help: "Checkpoint (or run folder) whose Φ gives --direction phi.") var phiFrom: String?
    @Option(help: "Words per context.") var length = 48
    @Option(help: "Prompt: word ids appended to every context, space-separated (e.g. \"5 17\").") var prompt: String?
    @Option(help: "Control task: the hidden state this many words before the last one.") var lag = 30
    @Option(help: "κ = B (0: 3 / std of vᵀp*).") var kappa = 0.0
    @Option(help: "Training contexts.") var train = 2000
    @Option(help: "Test contexts.") var test = 2000
    @Option(help: "Seed.") var seed: UInt64 = 1

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
                                       name: name ?? outURL.lastPathComponent, kind: kind, label: label,
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
    @Option(help: "Held-out windows for ε (each adds the model's context length of contexts).") var windows = 320
    @Option(help: "Measure at most this many checkpoints per run, spread over it.") var maxCheckpoints: Int?
    @Option(help: "Logistic-regression CV folds.") var folds = 3
    @Option(help: "L-BFGS iteration cap per logistic fit.") var maxIterations = 300
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        global.apply()
        var options = SyntheticMeasureOptions()
        options.windows = windows; options.folds = folds; options.maxIterations = maxIterations
        let runs: [(name: String, url: URL)] = lm.map { s in
            if let eq = s.firstIndex(of: "="), eq != s.startIndex {
                return (String(s[..<eq]), URL(fileURLWithPath: String(s[s.index(after: eq)...])))
            }
            return (URL(fileURLWithPath: s).lastPathComponent, URL(fileURLWithPath: s))
        }
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
