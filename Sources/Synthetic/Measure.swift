import Analysis
import Features
import Foundation
import Linalg
import Model
import Probes
import Text
import Support

/// What `lmprobe synth measure` computes for one checkpoint on the held-out pretraining distribution.
public struct EpsilonEstimate: Codable, Equatable, Sendable {
    /// ε = E_s KL(p*(·|s) ‖ p_f(s)) over every position of `windows` fresh stationary windows of the model's context
    /// length (the pretraining distribution of contexts), with the standard error over windows.
    public var epsilon: Double
    public var epsilonStandardError: Double
    /// ε_quad = E_s ½‖Φ(f − f*)‖², f* = (ΦᵀΦ)⁻¹Φᵀp* (the Quad objective's exact excess), for Quad models
    /// (`QuadOptimum`).
    public var epsilonQuad: Double?
    public var epsilonQuadStandardError: Double?
    /// ℓ_xent(p*) on the same contexts (E H(p*)); the model's cross-entropy is floor + ε.
    public var floor: Double
    public var windows: Int
    public var positions: Int
    /// Quad models: ε_quad^cf = ε_quad(c) = ½E‖P_Φ(p* − p̄)‖², the excess of the best context-free f for this Φ,
    /// c = (ΦᵀΦ)⁻¹Φᵀp̄ (p̄ = E p* over the same contexts, P_Φ = Φ(ΦᵀΦ)⁻¹Φᵀ). ε_quad / ε_quad^cf is the share of
    /// the context-dependent part of Quad's reachable loss still missing: 1 means f has learned nothing a constant
    /// would not give. See `QuadOptimum.ContextFree`.
    public var epsilonQuadContextFree: Double? = nil
    /// The context-free CE level on the same contexts: E KL(p* ‖ p̄) = H(p̄) − floor, the ε of the best constant
    /// prediction p̄ (a model with ε above it has learned nothing from the context).
    public var contextFreeKL: Double? = nil
    /// The Φ-free context-free Quad value ½E‖p* − u‖², u = πᵀE the HMM's unigram distribution: an upper bound on
    /// every Φ's ε_quad^cf (P_Φ is a projection, and p̄ minimises E‖p* − q‖² over constants q), the same for every
    /// checkpoint of one context length.
    public var unigramSquare: Double? = nil

    enum CodingKeys: String, CodingKey {
        case epsilon, floor, windows, positions
        case epsilonStandardError, epsilonQuad
        case epsilonQuadStandardError, epsilonQuadContextFree
        case contextFreeKL, unigramSquare
    }
}

/// One probe on one feature family of a task's test split.
public struct SyntheticProbe: Codable, Equatable, Sendable {
    /// "p_f", "Φp_f", "f", "f*" (the Quad optimum for the checkpoint's Φ, `SyntheticMeasure.fStarProbes`) or "p*".
    public var feature: String
    /// "logistic" (loss = mean test log-loss, nats) or "ridge" (loss = mean squared error on ±1 targets).
    public var method: String
    public var accuracy: Double
    /// 95 % Wilson interval of the test accuracy.
    public var accuracyLower: Double
    public var accuracyUpper: Double
    public var loss: Double
    /// C (logistic) or α (ridge) chosen by cross-validation / exact leave-one-out.
    public var regularisation: Double

    enum CodingKeys: String, CodingKey {
        case feature, method, accuracy, loss, regularisation
        case accuracyLower, accuracyUpper
    }
}

/// One checkpoint on one task.
public struct SyntheticTaskPoint: Codable, Equatable, Sendable {
    public var task: String
    /// ε on the task's own test contexts (context + prompt), with its standard error: the ε the bound uses (γ = 1
    /// because it is measured on the task's distribution itself).
    public var epsilonTask: Double
    public var epsilonTaskStandardError: Double
    /// Natural tasks: τ, B, the bound τ + B√(2ε_task), and ℓ(p_f, κv): the loss of the task's own direction on p_f
    /// (no fitting) — by Pinsker it can never exceed the bound on the same examples.
    public var tau: Double?
    public var B: Double?
    public var bound: Double?
    public var directionLoss: Double?
    /// The theorem read literally: γ = min over task contexts of p_pretrain(s)/p_task(s) ≥ min_k P(prompt | z = k)/T
    /// (pretraining contexts are window prefixes of a uniformly random length 1…T; γ = 1/T without a prompt), and
    /// τ + B√(2ε/γ) with ε over the pretraining distribution (the checkpoint's held-out ε).
    public var gamma: Double?
    public var boundTheorem: Double?
    public var probes: [SyntheticProbe]

    enum CodingKeys: String, CodingKey {
        case task, tau, B = "b", bound, probes, gamma
        case epsilonTask, epsilonTaskStandardError
        case directionLoss, boundTheorem
    }

    public func probe(_ feature: String, _ method: String) -> SyntheticProbe? {
        probes.first { $0.feature == feature && $0.method == method }
    }
}

public struct SyntheticCheckpointPoint: Codable, Equatable, Sendable {
    public var run: String
    public var objective: String
    public var model: String
    public var step: Int
    public var checkpoint: String
    public var epsilon: EpsilonEstimate
    public var tasks: [SyntheticTaskPoint]
}

/// A task as `measure` uses it: its files plus p* of both splits.
public struct LoadedSyntheticTask {
    public let directory: URL
    public let spec: SyntheticTaskSpec
    public let train: LabelledDataset
    public let test: LabelledDataset
    public let direction: [Double]?
    /// p*(·|context + prompt), n × V.
    public let pStarTrain: Matrix<Double>
    public let pStarTest: Matrix<Double>
    /// min_k P(prompt | z = k) (1 without a prompt): the prompt's share of γ.
    public let promptProbabilityMin: Double

    /// Bytes p* of both splits takes with its working copies: the n × V tables (train and test) plus what probes on
    /// them copy (standardised features, twice), the context words and one chunk of forward beliefs.
    static func bytes(hmm: HiddenMarkovModel, train: Int, test: Int, length: Int, promptLength: Int) -> [[Int]] {
        let n = SystemMemory.checkedSum(ofProducts: [[train], [test]]) ?? Int.max
        let chunk = min(n, hmm.sequencesPerBeliefChunk(positions: length + promptLength))
        return [[n, hmm.words, 8, 3], [n, length, 4], [chunk, length + promptLength, hmm.states, 8], [n, hmm.states, 8]]
    }

    public init(directory: URL, hmm: HiddenMarkovModel) throws {
        let t = try SyntheticTask.load(directory)
        guard t.spec.hmmConfig == hmm.config else {
            throw SyntheticError.file(path: directory.path, message: "drawn from another HMM (\(t.spec.hmm), seed \(t.spec.hmmConfig.seed), K = \(t.spec.hmmConfig.states), V = \(t.spec.hmmConfig.words)) than the one given (seed \(hmm.config.seed), K = \(hmm.states), V = \(hmm.words))")
        }
        guard t.direction == nil || t.direction!.count == hmm.words else {
            throw SyntheticError.file(path: directory.path, message: "direction has \(t.direction!.count) words, the HMM \(hmm.words)")
        }
        self.directory = directory
        spec = t.spec; train = t.train; test = t.test; direction = t.direction
        try SystemMemory.require(Self.bytes(hmm: hmm, train: t.train.count, test: t.test.count, length: t.spec.length,
                                            promptLength: t.spec.prompt.count),
                                 for: "task \(directory.path) (p* of \(t.train.count) + \(t.test.count) contexts over V = \(hmm.words) words)")
        func pStar(_ d: LabelledDataset) throws -> Matrix<Double> {
            var words: [Int32] = []
            words.reserveCapacity(d.count * t.spec.length)
            for (i, text) in d.texts.enumerated() {
                let ids = TokenIDText.parse(text) ?? []
                guard ids.count == t.spec.length else {
                    throw SyntheticError.file(path: directory.path, message: "example \(i + 1) has \(ids.count) words, task.json says \(t.spec.length)")
                }
                words += ids.map { Int32(truncatingIfNeeded: $0) }
            }
            return try hmm.nextWordDistributions(contexts: words, count: d.count, length: t.spec.length,
                                                 prompt: t.spec.prompt.map { Int32($0) })
        }
        pStarTrain = try pStar(train)
        pStarTest = try pStar(test)
        promptProbabilityMin = t.spec.prompt.isEmpty ? 1
            : try hmm.sequenceProbabilityByState(t.spec.prompt.map { Int32($0) }).min() ?? 0
    }
}

public struct SyntheticMeasureOptions: Sendable {
    /// Held-out stationary windows for ε (each contributes context-length positions).
    public var windows = 320
    public var seed: UInt64 = 0xE951_1011
    /// Logistic C grid and folds (chosen by stratified CV log-loss: the measured quantity is the loss), features
    /// standardised.
    public var logisticCs = logspace(-2, 2, 5)
    public var folds = 3
    /// L-BFGS iteration cap per logistic fit (p_f and p* have V dimensions; an uncapped CV there costs minutes).
    public var maxIterations = 300
    public init() {}
}

public enum SyntheticMeasure {
    /// ε (and ε_quad for Quad models) on `windows` fresh stationary windows of the model's context length.
    public static func epsilon(model: GPT, hmm: HiddenMarkovModel, windows: Int, seed: UInt64) throws -> EpsilonEstimate {
        let T = model.config.context, Vp = model.config.vocabSize, V = hmm.words, d = model.config.dim
        guard Vp >= V else { throw SyntheticError.badArgument("the model's vocabulary (\(Vp)) is smaller than the HMM's \(V) words") }
        guard windows >= 2, windows <= 1 << 24 else { throw SyntheticError.badArgument("--windows must be in 2...\(1 << 24)") }
        let chunk = max(1, min(windows, 4096 / T))
        try SystemMemory.require([[chunk, T, V, 16], [chunk, T, Vp, 4], [chunk, T, hmm.states, 8], [chunk, T, d, 44]],
                                 for: "ε over \(chunk) windows × \(T) positions at a time (p* and the model's logits over V = \(V) words)")
        let phi = model.phi                                              // Φ: V′ × d
        let quad = model.config.objective == .quad ? try QuadOptimum(phi: phi, words: V) : nil
        var contextFree = quad.map { QuadOptimum.ContextFree($0) }
        let u = SyntheticDegrade.unigram(hmm)
        var pSum = [Double](repeating: 0, count: V), uSquare = 0.0
        var klWindow: [Double] = [], quadWindow: [Double] = [], hWindow: [Double] = []
        var done = 0, chunkIndex: UInt64 = 0
        while done < windows {
            let B = min(chunk, windows - done)
            let (words, _) = hmm.sampleSequences(count: B, length: T, seed: seed &+ chunkIndex &* 0x9E37_79B9)
            chunkIndex += 1
            let beliefs = try words.withUnsafeBufferPointer { try hmm.beliefs(words: $0.baseAddress!, count: B, length: T) }
            let pStar = try hmm.nextWordDistributions(beliefs: beliefs)  // (B·T) × V
            let f = try model.contextEmbeddings(tokens: words, batch: B, length: T)   // (B·T) × d
            let logits = Matrix<Float>(rows: B * T, cols: Vp)
            try BLAS.gemm(transB: true, f, phi, into: logits)           // z = FΦᵀ   ((B·T) × V′)
            var kl = [Double](repeating: 0, count: B * T), h = [Double](repeating: 0, count: B * T)
            kl.withUnsafeMutableBufferPointer { klp in
                h.withUnsafeMutableBufferPointer { hp in
                    parallelChunks(B * T, minChunk: 16) { rows in
                        for r in rows {
                            let ps = pStar.pointer + r &* V
                            klp[r] = Divergence.kl(pStar: ps, count: V, logits: logits.pointer + r &* Vp, logitCount: Vp)
                            hp[r] = Divergence.entropy(ps, count: V)
                        }
                    }
                }
            }
            for r in 0..<(B * T) {
                for w in 0..<V {
                    let p = pStar[r, w]
                    pSum[w] += p; uSquare += 0.5 * (p - u[w]) * (p - u[w])
                }
            }
            var qx: [Double] = []
            if let q = quad {
                let fStar = try q.fStar(pStar)                           // F* = P*ΦG⁻¹   ((B·T) × d)
                qx = try q.excess(f: f.converted(to: Double.self), fStar: fStar)
                try contextFree!.add(fStar)
            }
            for b in 0..<B {
                let range = (b * T)..<((b + 1) * T)
                klWindow.append(kl[range].reduce(0, +) / Double(T))
                hWindow.append(h[range].reduce(0, +) / Double(T))
                if quad != nil { quadWindow.append(qx[range].reduce(0, +) / Double(T)) }
            }
            done += B
        }
        let (e, se) = meanAndStandardError(klWindow)
        let q = quad != nil ? meanAndStandardError(quadWindow) : nil
        let floor = meanAndStandardError(hWindow).mean, n = Double(windows * T)
        let pBar = pSum.map { $0 / n }
        var estimate = EpsilonEstimate(epsilon: e, epsilonStandardError: se, epsilonQuad: q?.mean,
                                       epsilonQuadStandardError: q?.standardError, floor: floor, windows: windows,
                                       positions: windows * T)
        estimate.epsilonQuadContextFree = contextFree?.excess
        estimate.contextFreeKL = max(0, Divergence.entropy(pBar, count: V) - floor)
        estimate.unigramSquare = uSquare / n
        return estimate
    }

    /// KL(p*_i ‖ softmax(z_i)) for every row of `logits` (n × V′) against `pStar` (n × V).
    public static func klRows(pStar: Matrix<Double>, logits: Matrix<Float>) -> [Double] {
        var out = [Double](repeating: 0, count: pStar.rows)
        out.withUnsafeMutableBufferPointer { o in
            parallelChunks(pStar.rows, minChunk: 16) { rows in
                for r in rows {
                    o[r] = Divergence.kl(pStar: pStar.pointer + r &* pStar.stride, count: pStar.cols,
                                         logits: logits.pointer + r &* logits.stride, logitCount: logits.cols)
                }
            }
        }
        return out
    }

    /// Logistic (C by CV, log-loss) and ridge (α by exact LOO, squared error) probes of one feature family.
    public static func probes<T: BLASScalar>(feature: String, train: Matrix<T>, trainLabels: [Int], test: Matrix<T>,
                                             testLabels: [Int], options: SyntheticMeasureOptions) throws -> [SyntheticProbe] {
        // THE probe path (`ProbeRunner`) from its defaults (standardised), with this study's C grid, folds and
        // iteration cap, and C chosen by CV log-loss (the measured quantity is the loss).
        var settings = ProbeSettings()
        settings.method = .logistic
        settings.Cs = options.logisticCs
        settings.folds = options.folds
        settings.maxIterations = options.maxIterations
        settings.cvScoring = .logLoss
        var out: [SyntheticProbe] = []
        for method in [ProbeMethod.logistic, .ridge] {
            settings.method = method
            let probe = try ProbeRunner.fit(train, labels: trainLabels, classValues: [0, 1], settings: settings)
            let e = try probe.evaluate(test, labels: testLabels)
            let w = try Intervals.wilson(successes: e.metrics.correct.filter { $0 }.count, trials: testLabels.count)
            out.append(SyntheticProbe(feature: feature, method: method.rawValue, accuracy: e.metrics.accuracy,
                                      accuracyLower: w.lower, accuracyUpper: w.upper, loss: e.loss ?? .nan,
                                      regularisation: probe.regularisation))
        }
        return out
    }

    /// The ceiling: probes on p* itself (τ by fitting, "p*" rows).
    public static func pStarProbes(_ task: LoadedSyntheticTask, options: SyntheticMeasureOptions) throws -> [SyntheticProbe] {
        try probes(feature: "p*", train: task.pStarTrain, trainLabels: task.train.labels, test: task.pStarTest,
                   testLabels: task.test.labels, options: options)
    }

    /// The f* probe ceiling for one checkpoint: probes on f*(s) = (ΦᵀΦ)⁻¹Φᵀp*(s), the Quad optimum for the
    /// checkpoint's Φ, on the task's contexts ("f*" rows). On a `--direction phi` task drawn from this Φ
    /// (v = Φλ) the task's score is vᵀp* = λᵀ(ΦᵀΦ)f*, so a linear probe on f* can reach the p* ceiling; a fitted
    /// f* probe well below the p* probe there would contradict that (or show the fitting limits the ceiling).
    public static func fStarProbes(model: GPT, task: LoadedSyntheticTask, options: SyntheticMeasureOptions) throws -> [SyntheticProbe] {
        let optimum = try QuadOptimum(phi: model.phi, words: task.pStarTrain.cols)
        return try probes(feature: "f*", train: optimum.fStar(task.pStarTrain), trainLabels: task.train.labels,
                          test: optimum.fStar(task.pStarTest), testLabels: task.test.labels, options: options)
    }

    /// Extracts f, Φp_f, p_f of the task's splits with `model` into `featureDirectory/{train,test}` (the Features
    /// stage, token-id input), then measures ε_task, the direction's loss, the bound and every probe (f* included).
    public static func taskPoint(model: GPT, checkpointURL: URL, checkpointSHA256: String, task: LoadedSyntheticTask,
                                 featureDirectory: URL, options: SyntheticMeasureOptions,
                                 pretrainingEpsilon: Double? = nil) throws -> SyntheticTaskPoint {
        let spec = task.spec
        guard spec.length + spec.prompt.count <= model.config.context else {
            throw SyntheticError.badArgument("task \(spec.name): contexts of \(spec.length) words + \(spec.prompt.count) prompt words exceed the model's context \(model.config.context)")
        }
        let extractor = FeatureExtractor(model: model, tokenizer: TokenIDText())
        var eo = ExtractionOptions()
        if !spec.prompt.isEmpty { eo.prompt = try PromptTemplate("{text} " + TokenIDText.text(spec.prompt)) }
        var loaded: [String: [FeatureFamily: Matrix<Float>]] = [:]
        for (split, data) in [("train", task.train), ("test", task.test)] {
            let dir = featureDirectory.appendingPathComponent(split)
            let path = task.directory.appendingPathComponent("\(split).ids").path
            let prov = Provenance(checkpoint: checkpointURL.path, checkpointSHA256: checkpointSHA256, tokenizer: "token ids",
                                  dataset: path, datasetSHA256: try Digest.sha256(path: path), split: split)
            _ = try extractor.extract(texts: data.texts, labels: data.labels, classNames: data.classNames, to: dir,
                                      options: eo, provenance: prov)
            var fam: [FeatureFamily: Matrix<Float>] = [:]
            for f in [FeatureFamily.f, .phip, .p] { fam[f] = try LabelledFeatures.load(folder: dir, feature: f).features.matrix(as: Float.self) }
            loaded[split] = fam
        }
        let fTest = loaded["test"]![.f]!
        let logits = Matrix<Float>(rows: fTest.rows, cols: model.config.vocabSize)
        try BLAS.gemm(transB: true, fTest, model.phi, into: logits)      // z = FΦᵀ on the task's test contexts
        let (eps, epsSE) = meanAndStandardError(klRows(pStar: task.pStarTest, logits: logits))
        var point = SyntheticTaskPoint(task: spec.name, epsilonTask: eps, epsilonTaskStandardError: epsSE, tau: nil, B: nil,
                                       bound: nil, directionLoss: nil, gamma: nil, boundTheorem: nil, probes: [])
        if spec.kind == .natural, let v = task.direction, let k = spec.kappa, let b = spec.bias, let B = spec.B {
            let s = try SyntheticTask.scores(loaded["test"]![.p]!, direction: v)
            point.directionLoss = SyntheticTask.directionLoss(scores: s, labels: task.test.labels, kappa: k, bias: b).mean
            point.tau = spec.tau; point.B = B
            point.bound = spec.tau + B * (2 * max(eps, 0)).squareRoot()
            if let e = pretrainingEpsilon {
                let g = task.promptProbabilityMin / Double(model.config.context)
                point.gamma = g
                point.boundTheorem = g > 0 ? spec.tau + B * (2 * max(e, 0) / g).squareRoot() : .infinity
            }
        }
        for (name, fam) in [("p_f", FeatureFamily.p), ("Φp_f", .phip), ("f", .f)] {
            point.probes += try probes(feature: name, train: loaded["train"]![fam]!, trainLabels: task.train.labels,
                                       test: loaded["test"]![fam]!, testLabels: task.test.labels, options: options)
        }
        point.probes += try fStarProbes(model: model, task: task, options: options)
        return point
    }
}
