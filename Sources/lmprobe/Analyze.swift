import Analysis
import ArgumentParser
import Experiments
import Features
import Foundation
import Linalg
import Model
import Report

/// `lmprobe analyze`: the checks of the paper's theory, each writing OUT/<check>.json and OUT/<check>.md.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the paper's theory: linearity of f ↦ Φp_f, a quadratic log-partition, transfer vs LM loss.",
        discussion: "Each check writes OUT/<check>.json (every number and the settings) and OUT/<check>.md, and prints the Markdown.",
        subcommands: [AnalyzeLinearity.self, AnalyzeLogPartition.self, AnalyzeTransfer.self, AnalyzePlugIn.self, AnalyzeCurve.self])
}

/// A check's JSON document: the settings it ran with and its result.
struct CheckDocument<Result: Encodable>: Encodable {
    let check: String
    let tool = "lmprobe"
    let version = LMProbe.version
    let settings: [String: String]
    let result: Result
    var hyperplane: HyperplaneCheck? = nil
}

/// Shared by the feature-folder checks: the checkpoint, the features and the output folder.
struct FeatureCheckOptions: ParsableArguments {
    @Option(help: "Checkpoint (.safetensors), run folder (its final / latest checkpoint) or Hugging Face GPT-2 folder: gives Φ.") var checkpoint: String
    @Option(help: "Feature folder from `lmprobe extract` (f.npy, optionally phip.npy; or train/ and test/ subfolders, pooled): your own context set.")
    var features: String?
    @Option(help: "A documented context set instead of --features: sst-prompt (SST-2 sentences + \" This movie is\"), sst-noprompt, corpus-prefixes (random prefixes of the pretraining validation tokens). Extracted into OUT/contexts-*.")
    var contexts: ContextPreset?
    @Option(help: "SST folder for the sst-* context sets.") var sstDir: String?
    @Option(help: "Token folder for corpus-prefixes (default: the one the checkpoint records).") var data: String?
    @Option(help: "corpus-prefixes: number of prefixes.") var contextCount = 8000
    @Option(help: "Fraction of contexts held out for scoring.") var heldOut: Double = 0.2
    @Option(help: "Seed of the fit / held-out split (and of the corpus prefixes).") var seed: UInt64 = 0
    @Option(help: "Output folder (default: the feature folder; required with --contexts).") var out: String?

    var outURL: URL { URL(fileURLWithPath: out ?? features ?? ".") }

    func validate() throws {
        guard heldOut > 0, heldOut < 1 else { throw ValidationError("--held-out must be in (0, 1) (got \(heldOut))") }
        guard (features == nil) != (contexts == nil) else { throw ValidationError("give exactly one of --features and --contexts") }
        if contexts != nil && out == nil { throw ValidationError("--contexts needs --out (the contexts' features go there)") }
        guard contextCount >= 1 else { throw ValidationError("--context-count must be at least 1 (got \(contextCount))") }
    }

    /// The context set's one-line description (a preset's, or the feature folder given).
    var contextDescription: String {
        if let c = contexts {
            switch c {
            case .sstPrompt: return "preset sst-prompt: SST-2 train + test sentences each followed by “ This movie is”"
            case .sstNoPrompt: return "preset sst-noprompt: SST-2 train + test sentences, no prompt"
            case .corpusPrefixes: return "preset corpus-prefixes: \(contextCount) random prefixes of the pretraining validation tokens (seed \(seed))"
            }
        }
        return "the feature folder \(features ?? "")"
    }

    /// The folders holding the features: DIR itself, or DIR/train and DIR/test when DIR has no f.npy; with
    /// --contexts, the preset's extraction (made, or reused when it matches) under OUT.
    func folders() throws -> [URL] {
        if let preset = contexts {
            let model = try ModelLoader().load(checkpoint)
            let set = try ContextFeatures.preset(preset, model: model, sstDirectory: sstDir, tokens: data,
                                                 count: contextCount, seed: seed)
            let (dir, reused) = try ContextFeatures.folder(model: model, set: set, cacheDirectory: outURL)
            eprint("contexts \(preset.rawValue): \(set.texts.count) contexts, features \(reused ? "reused" : "extracted") in \(dir.path)")
            return [dir.appendingPathComponent("all")]
        }
        let features = self.features ?? ""
        let dir = URL(fileURLWithPath: features)
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("f.npy").path) { return [dir] }
        let subs = ["train", "test", "all"].map { dir.appendingPathComponent($0) }
            .filter { fm.fileExists(atPath: $0.appendingPathComponent("f.npy").path) }
        guard !subs.isEmpty else { throw CLIError("--features \(features): no f.npy here nor in train/ or test/") }
        return subs
    }

    /// Rows of `name`.npy from every folder, stacked; nil when some folder lacks the file.
    func stacked(_ name: String, in dirs: [URL]) throws -> Matrix<Float>? { try FeatureFolder.stacked(name, in: dirs) }

    /// The feature folders, their checkpoint (with its SHA-256), f(s) stacked over the folders and the checkpoint's Φ
    /// (a V × d view), after checking that f and Φ have the same width d.
    func loadContexts() throws -> (dirs: [URL], checkpoint: Checkpoint, sha: String, f: Matrix<Float>, phi: Matrix<Float>) {
        let dirs = try folders()
        let (ckpt, sha) = try loadCheckpoint(featureDirs: dirs)
        guard let f = try stacked("f", in: dirs) else { throw CLIError("--features: f.npy missing") }
        let phi = ckpt.model.phi
        guard f.cols == phi.cols else {
            throw CLIError("\(dirs[0].path)/f.npy has \(f.cols) columns but the checkpoint's d is \(phi.cols)")
        }
        return (dirs, ckpt, sha, f, phi)
    }

    /// Loads the checkpoint, warning when the features were extracted from another one.
    func loadCheckpoint(featureDirs: [URL]) throws -> (Checkpoint, String) {
        let (ckpt, url, sha) = try ModelLoader.checkpoint(checkpoint)
        if let m = try? FeatureFolder.manifest(featureDirs[0]), m.provenance.checkpointSHA256 != sha {
            eprint("warning: \(featureDirs[0].path) was extracted from \(m.provenance.checkpoint) (sha \(m.provenance.checkpointSHA256.prefix(12))), not \(url.path) (sha \(sha.prefix(12)))")
        }
        return (ckpt, sha)
    }

    func write<R: Encodable>(_ doc: CheckDocument<R>, markdown: String) throws {
        let dir = outURL
        try ReportWriter.writeJSON(doc, to: dir.appendingPathComponent(doc.check + ".json"))
        try ReportWriter.writeText(markdown, to: dir.appendingPathComponent(doc.check + ".md"))
        print(markdown, terminator: "")
        eprint("wrote \(dir.appendingPathComponent(doc.check).path).{json,md}")
    }
}

/// `lmprobe analyze linearity`: check 1a, Φp_f ≈ A f + b.
struct AnalyzeLinearity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linearity",
        abstract: "Fit Φp_f(s) ≈ A f(s) + b by least squares and report held-out R² (overall and per dimension).",
        discussion: "Uses phip.npy when present, else computes Φp_f from f.npy and the checkpoint's Φ (in blocks of rows).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: FeatureCheckOptions

    func run() throws {
        global.apply()
            let (dirs, ckpt, sha, f, phi) = try options.loadContexts()
            let phip = try options.stacked("phip", in: dirs)
            var check: LinearityCheck
            if let phip {
                check = try LinearityCheck.run(f: f, conditionalMean: phip, heldOutFraction: options.heldOut,
                                               seed: options.seed, vocabularySize: phi.rows)
                try check.addBaselines(f: f, phi: phi.copy(), heldOutFraction: options.heldOut)
            } else {
                check = try LinearityCheck.run(f: f, phi: phi.copy(), heldOutFraction: options.heldOut, seed: options.seed)
            }
            check.contextSet = options.contextDescription
            let plane = try HyperplaneCheck(f: f, model: ckpt.model)
            var doc = CheckDocument(check: "linearity", settings: [
                "checkpoint": ckpt.url.path, "checkpoint_sha256": sha, "features": options.features ?? "", "contexts": options.contextDescription,
                "held_out": "\(options.heldOut)", "seed": "\(options.seed)",
                "conditional_mean": phip == nil ? "computed from f.npy and Φ" : "phip.npy"], result: check)
            doc.hyperplane = plane
            try options.write(doc, markdown: check.markdown() + "\n" + plane.markdown())
    }
}

/// The quadratic model of `analyze log-partition` (`LogPartitionCheck.Method` without its parameters).
enum LogPartitionMethod: String, CaseIterable, ExpressibleByArgument { case pca, kernel }

/// `lmprobe analyze log-partition`: check 1b, log Z(θ) ≈ ½θᵀAθ + bᵀθ + c.
struct AnalyzeLogPartition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-partition",
        abstract: "Fit log Z(f(s)) with a quadratic (top-k PCA monomials or a degree-2 kernel) and a linear model; report held-out error.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: FeatureCheckOptions
    @Option(help: "Quadratic model: pca (monomials of the top-k principal components) or kernel ((1 + θᵀθ')² kernel ridge).")
    var method: LogPartitionMethod = .pca
    @Option(help: "pca: number of principal components in the quadratic part.") var k = 32
    @Option(help: "kernel: ridge λ relative to trace(K)/n.") var relativeRidge = 1e-6

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1 (got \(k))") }
        guard relativeRidge > 0, relativeRidge.isFinite else { throw ValidationError("--relative-ridge must be positive") }
    }

    func run() throws {
        global.apply()
            let (_, ckpt, sha, f, phiView) = try options.loadContexts()
            let phi = phiView.copy()
            let m: LogPartitionCheck.Method = method == .pca ? .principalComponents(k: k)
                                                               : .polynomialKernel(relativeRidge: relativeRidge)
            var check = try LogPartitionCheck.run(f: f, phi: phi, method: m, heldOutFraction: options.heldOut,
                                                  seed: options.seed)
            check.contextSet = options.contextDescription
            let doc = CheckDocument(check: "log-partition", settings: [
                "checkpoint": ckpt.url.path, "checkpoint_sha256": sha, "features": options.features ?? "", "contexts": options.contextDescription,
                "held_out": "\(options.heldOut)", "seed": "\(options.seed)", "method": method.rawValue, "k": "\(k)",
                "relative_ridge": "\(relativeRidge)"], result: check)
            try options.write(doc, markdown: check.markdown())
    }
}

extension ContextPreset: ExpressibleByArgument {}
