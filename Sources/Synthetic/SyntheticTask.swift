import Foundation
import Linalg
import Text
import Support

/// A labelled task over the synthetic language, written as a token-id dataset (`train.ids`, `test.ids`, read by
/// `lmprobe extract`) with `task.json` (this struct) and `direction.npy` (v, natural tasks).
///
/// Natural tasks (the paper's sentiment analogue): with a direction v ∈ ℝ^V, ‖v‖∞ = 1, the score is
/// vᵀp*(·|s) (s = context + prompt), b its median over the task's contexts, and
///   bernoulli: y ~ Bernoulli(σ(κ(vᵀp* − b)))   — the Bayes-optimal predictor is the probe κv on p*;
///   sign:      y = 1[vᵀp* > b].
/// The task is (τ, B)-natural with B = κ and τ = ℓ_T(p*, κv) = E log(1 + exp(−ỹ·κ(vᵀp* − b))), ỹ = ±1 (logistic
/// loss, natural log); for bernoulli labels E over y gives τ = E H₂(σ(κ(vᵀp* − b))) (`tauExpected`).
/// The control task labels each context by the parity of its hidden state `lag` positions before its last word,
/// something p*(·|s) reflects only through the chain's memory, so a probe on p* should stay at chance.
public struct SyntheticTaskSpec: Codable, Sendable {
    public static let format = "lmprobe-synth-task-1"

    public enum Kind: String, Codable, CaseIterable, Sendable { case natural, control }
    public enum Label: String, Codable, CaseIterable, Sendable { case bernoulli, sign }
    /// classes: v = 1[positive class] − 1[negative class] (needs an HMM with two word classes);
    /// random: v_w = ±1 at random for every word;
    /// phi: a random Φ-direction v = Φλ (λ ~ N(0, I_d), Φ the V × d output embeddings of a checkpoint, rows of
    /// words 0..<V), scaled to ‖v‖∞ = 1 — a Φ-natural task, solvable linearly from Φp_f.
    public enum Direction: String, Codable, CaseIterable, Sendable { case classes, random, phi }

    public var format = SyntheticTaskSpec.format
    public var name: String
    public var kind: Kind
    public var label: Label?
    public var direction: Direction?
    /// Context length in words (the prompt is extra).
    public var length: Int
    public var prompt: [Int]
    public var lag: Int?
    public var seed: UInt64
    public var trainCount: Int
    public var testCount: Int
    /// κ, b and B = κ‖v‖∞ (natural tasks).
    public var kappa: Double?
    public var bias: Double?
    public var B: Double?
    /// τ = ℓ_T(p*, κv) on the test split with its drawn labels, its standard error, and (bernoulli) its expectation
    /// over labels; for the control task the entropy of the test labels' class frequency (the loss of no features).
    public var tau: Double
    public var tauStandardError: Double
    public var tauExpected: Double?
    /// Fraction of the majority class on the test split (chance accuracy).
    public var majority: Double
    /// Folder and configuration (seed included, so it identifies the language) of the HMM this task was drawn from.
    public var hmm: String
    public var hmmConfig: HMMConfig
    /// The checkpoint whose Φ made a `phi` direction.
    public var phiFrom: String? = nil

    enum CodingKeys: String, CodingKey {
        case format, name, kind, label, direction, length, prompt, lag, seed, kappa, bias, B = "b", tau, majority, hmm
        case trainCount, testCount, tauStandardError
        case tauExpected, hmmConfig, phiFrom
    }
}

public enum SyntheticTask {
    /// The logistic loss log(1 + e^{−ỹz}) of score z for class label y ∈ {0, 1} (ỹ = 2y − 1), stably.
    @inline(__always) public static func logisticLoss(_ z: Double, label y: Int) -> Double {
        let m = y == 1 ? -z : z
        return m > 0 ? m + Foundation.log1p(Foundation.exp(-m)) : Foundation.log1p(Foundation.exp(m))
    }

    /// Binary entropy in nats.
    public static func binaryEntropy(_ p: Double) -> Double {
        p <= 0 || p >= 1 ? 0 : -(p * Foundation.log(p) + (1 - p) * Foundation.log(1 - p))
    }

    /// vᵀp for every row of P (n × V′, V′ ≥ v.count; extra columns weigh 0).
    public static func scores<T: BLASScalar>(_ p: Matrix<T>, direction v: [Double]) throws -> [Double] {
        guard p.cols >= v.count else { throw SyntheticError.badArgument("distributions have \(p.cols) words, the direction \(v.count)") }
        let pv = p.converted(to: Double.self).columns(0..<v.count)
        let out = Matrix<Double>(rows: p.rows, cols: 1)
        try BLAS.gemm(pv, try Matrix(rows: v.count, cols: 1, values: v), into: out)
        return out.toArray()
    }

    /// Mean logistic loss of the fixed probe κ(vᵀp − b) on `scores` (= vᵀp) against labels, with its standard error.
    public static func directionLoss(scores: [Double], labels: [Int], kappa: Double, bias: Double) -> (mean: Double, standardError: Double) {
        meanAndStandardError(zip(scores, labels).map { logisticLoss(kappa * ($0 - bias), label: $1) })
    }

    /// The direction v for `direction` (‖v‖∞ = 1).
    public static func makeDirection(_ d: SyntheticTaskSpec.Direction, hmm: HiddenMarkovModel, seed: UInt64,
                                     phi: Matrix<Float>? = nil) throws -> [Double] {
        var v = [Double](repeating: 0, count: hmm.words)
        switch d {
        case .classes:
            guard hmm.wordClasses.count == 2 else {
                throw SyntheticError.badArgument("--direction classes needs an HMM with 2 word classes (this one has \(hmm.wordClasses.count)); use --direction random")
            }
            for w in hmm.wordClasses[0] { v[w] = -1 }
            for w in hmm.wordClasses[1] { v[w] = 1 }
        case .random:
            var rng = SeededRandom(seed: seed ^ 0xD1EC_7104)
            for w in 0..<hmm.words { v[w] = rng.uniform() < 0.5 ? -1 : 1 }
        case .phi:
            guard let phi else { throw SyntheticError.badArgument("--direction phi needs --phi-from CHECKPOINT") }
            guard phi.rows >= hmm.words else {
                throw SyntheticError.badArgument("Φ has \(phi.rows) rows, fewer than the HMM's \(hmm.words) words")
            }
            var rng = SeededRandom(seed: seed ^ 0xF1D1_4EC7)
            let lambda = Matrix<Double>(rows: phi.cols, cols: 1) { _, _ in rng.normal() }
            let out = Matrix<Double>(rows: hmm.words, cols: 1)
            try BLAS.gemm(phi.rows(0..<hmm.words).converted(to: Double.self), lambda, into: out)   // v = Φλ
            let m = (0..<hmm.words).map { abs(out[$0, 0]) }.max() ?? 0
            guard m > 0 else { throw SyntheticError.badArgument("Φλ is zero: Φ carries no direction") }
            for w in 0..<hmm.words { v[w] = out[w, 0] / m }
        }
        return v
    }

    /// Bytes `make` holds for n contexts: words and states (n·T Int32 each) and their texts, one chunk of forward
    /// beliefs, the last beliefs (n × K), p* (n × V) and its copies for the scores (two more n × V), the sampling table
    /// of E (K × V).
    static func makeBytes(hmm: HiddenMarkovModel, contexts n: Int, length T: Int, promptLength: Int) -> [[Int]] {
        let Tp = T + promptLength
        let chunk = min(n, hmm.sequencesPerBeliefChunk(positions: Tp))
        return [[n, T, 8], [n, T, 8], [n, 64], [chunk, Tp, hmm.states, 8], [n, hmm.states, 8], [n, hmm.words, 24],
                [hmm.states, hmm.words, 8]]
    }

    /// Draws a task: `train + test` stationary contexts of `length` words from `seed`, labels as documented on
    /// `SyntheticTaskSpec`. κ = 0 picks κ = 3 / std(vᵀp*) (a task neither trivial nor hopeless).
    public static func make(hmm: HiddenMarkovModel, hmmDirectory: String, name: String, kind: SyntheticTaskSpec.Kind,
                            label: SyntheticTaskSpec.Label = .bernoulli, direction: SyntheticTaskSpec.Direction = .classes,
                            length: Int, prompt: [Int] = [], lag: Int = 30, kappa: Double = 0,
                            train: Int, test: Int, seed: UInt64, phi: Matrix<Float>? = nil, phiFrom: String? = nil)
        throws -> (spec: SyntheticTaskSpec, train: LabelledDataset, test: LabelledDataset, direction: [Double]?) {
        try PathName.check(name, role: "task name")
        guard length >= 1 else { throw SyntheticError.badArgument("--length must be ≥ 1") }
        guard train >= 2, test >= 1 else { throw SyntheticError.badArgument("--train must be ≥ 2 and --test ≥ 1") }
        let (n, o) = train.addingReportingOverflow(test)
        let (cells, o2) = n.multipliedReportingOverflow(by: length)
        guard !o, !o2, cells <= 1 << 28 else { throw SyntheticError.badArgument("(train + test) × length is too large") }
        try SystemMemory.require(makeBytes(hmm: hmm, contexts: n, length: length, promptLength: prompt.count),
                                 for: "a task of \(n) contexts × \(length) words over V = \(hmm.words) words (p*, an n × V table)")
        for w in prompt where w < 0 || w >= hmm.words { throw SyntheticError.badArgument("prompt word \(w) is outside the HMM's 0..<\(hmm.words)") }
        guard kappa >= 0, kappa.isFinite else { throw SyntheticError.badArgument("--kappa must be ≥ 0 (0: automatic)") }
        let (words, states) = hmm.sampleSequences(count: n, length: length, seed: seed)
        var labels = [Int](repeating: 0, count: n)
        var spec = SyntheticTaskSpec(name: name, kind: kind, label: nil, direction: nil, length: length, prompt: prompt,
                                     lag: nil, seed: seed, trainCount: train, testCount: test, kappa: nil, bias: nil,
                                     B: nil, tau: .nan, tauStandardError: .nan, tauExpected: nil, majority: .nan,
                                     hmm: hmmDirectory, hmmConfig: hmm.config)
        var v: [Double]? = nil
        var perExample: [Double] = []
        switch kind {
        case .natural:
            let dir = try makeDirection(direction, hmm: hmm, seed: seed, phi: phi)
            spec.phiFrom = direction == .phi ? phiFrom : nil
            v = dir
            let pStar = try hmm.nextWordDistributions(contexts: words, count: n, length: length, prompt: prompt.map { Int32($0) })
            let s = try scores(pStar, direction: dir)
            let b = s.sorted()[n / 2]
            let (_, se) = meanAndStandardError(s)
            let sd = se * Double(n).squareRoot()
            guard sd > 0 else { throw SyntheticError.badArgument("vᵀp* is constant over the contexts: the direction carries no signal") }
            let k = kappa > 0 ? kappa : 3 / sd
            var rng = SeededRandom(seed: seed ^ 0x1ABE_1000)
            var expected: [Double] = []
            for i in 0..<n {
                let z = k * (s[i] - b)
                switch label {
                case .bernoulli:
                    let p = 1 / (1 + Foundation.exp(-z))
                    labels[i] = rng.uniform() < p ? 1 : 0
                    expected.append(binaryEntropy(p))
                case .sign:
                    labels[i] = s[i] > b ? 1 : 0
                    expected.append(logisticLoss(z, label: labels[i]))
                }
                perExample.append(logisticLoss(z, label: labels[i]))
            }
            spec.label = label; spec.direction = direction; spec.kappa = k; spec.bias = b; spec.B = k
            spec.tauExpected = meanAndStandardError(Array(expected[train...])).mean
        case .control:
            guard lag >= 0, lag < length else { throw SyntheticError.badArgument("--lag must be in 0..<length (\(length))") }
            for i in 0..<n { labels[i] = Int(states[i * length + length - 1 - lag]) & 1 }
            spec.lag = lag
        }
        let testLabels = Array(labels[train...])
        let ones = Double(testLabels.reduce(0, +)) / Double(test)
        spec.majority = max(ones, 1 - ones)
        if kind == .natural {
            (spec.tau, spec.tauStandardError) = meanAndStandardError(Array(perExample[train...]))
        } else {
            spec.tau = binaryEntropy(ones); spec.tauStandardError = 0
        }
        func dataset(_ range: Range<Int>, _ note: String) -> LabelledDataset {
            LabelledDataset(texts: range.map { i in TokenIDText.text(words[(i * length)..<((i + 1) * length)].map { Int($0) }) },
                            labels: range.map { labels[$0] }, classNames: ["0", "1"], source: "synthetic task \(name) \(note)")
        }
        return (spec, dataset(0..<train, "train"), dataset(train..<n, "test"), v)
    }

    /// Writes `train.ids`, `test.ids`, `direction.npy` (natural) and `task.json` as the folder `directory`, built in a
    /// staging folder beside it and put in place whole (an interrupted write leaves no partial task behind; an
    /// earlier task there is replaced, a folder lmprobe did not write is refused).
    public static func write(_ task: (spec: SyntheticTaskSpec, train: LabelledDataset, test: LabelledDataset, direction: [Double]?),
                             to directory: URL) throws {
        let staging = try OutputFolder(replacing: directory, markers: ["task.json"])
        defer { staging.discard() }
        let dir = staging.url
        try LabelledDataset.writeTokenIDs(task.train, to: dir.appendingPathComponent("train.ids"))
        try LabelledDataset.writeTokenIDs(task.test, to: dir.appendingPathComponent("test.ids"))
        if let v = task.direction {
            try NPY.write(try Matrix(rows: v.count, cols: 1, values: v), to: dir.appendingPathComponent("direction.npy"), asVector: true)
        }
        let url = dir.appendingPathComponent("task.json")
        do { try AtomicFile.write(JSONCoding.encoder().encode(task.spec), to: url) } catch {
            throw SyntheticError.file(path: directory.appendingPathComponent("task.json").path, message: "cannot write (\(ioErrorText(error)))")
        }
        try staging.commit()
    }

    /// Reads a task folder: the spec, both splits and the direction.
    public static func load(_ directory: URL) throws -> (spec: SyntheticTaskSpec, train: LabelledDataset, test: LabelledDataset, direction: [Double]?) {
        let url = directory.appendingPathComponent("task.json")
        let data: Data
        do { data = try readFileData(url) } catch {
            throw SyntheticError.file(path: url.path, message: "cannot read (\(ioErrorText(error)); run `lmprobe synth task` first?)")
        }
        let dec = JSONCoding.decoder()
        let spec: SyntheticTaskSpec
        do { spec = try dec.decode(SyntheticTaskSpec.self, from: data) } catch {
            throw SyntheticError.file(path: url.path, message: "not a synthetic task (\(error))")
        }
        guard spec.format == SyntheticTaskSpec.format else { throw SyntheticError.file(path: url.path, message: "format \(spec.format), expected \(SyntheticTaskSpec.format)") }
        do { try PathName.check(spec.name, role: "task name") } catch { throw SyntheticError.file(path: url.path, message: "\(error)") }
        let tr = try LabelledDataset.readTokenIDs(directory.appendingPathComponent("train.ids"), classNames: ["0", "1"])
        let te = try LabelledDataset.readTokenIDs(directory.appendingPathComponent("test.ids"), classNames: ["0", "1"])
        guard tr.count == spec.trainCount, te.count == spec.testCount else {
            throw SyntheticError.file(path: directory.path, message: "train/test hold \(tr.count)/\(te.count) examples, task.json says \(spec.trainCount)/\(spec.testCount)")
        }
        var v: [Double]? = nil
        if spec.kind == .natural {
            let m: Matrix<Double> = try NPY.readMatrix(directory.appendingPathComponent("direction.npy"))
            v = m.toArray()
        }
        return (spec, tr, te, v)
    }
}
