import Foundation
import XCTest
import Features
import Linalg
import Model
import Probes
@testable import Synthetic
import Text
import Support
import Report

final class SyntheticTests: XCTestCase {
    func tinyHMM(states: Int = 3, words: Int = 5, seed: UInt64 = 3, transition: Double = 1, emission: Double = 1,
                 classes: Int = 0, classSize: Int = 0) throws -> HiddenMarkovModel {
        try HiddenMarkovModel.generate(HMMConfig(states: states, words: words, emissionConcentration: emission,
                                                 transitionConcentration: transition, classes: classes, classSize: classSize,
                                                 classMass: classes > 0 ? 0.4 : 0, favouringFraction: classes > 0 ? 0.25 : 0,
                                                 seed: seed))
    }

    /// p*(·|s) and P(s) from the forward algorithm against enumeration of all K^7 hidden paths (K = 3, V = 5, |s| = 6).
    func testForwardMatchesBruteForceOverHiddenPaths() throws {
        let hmm = try tinyHMM()
        let K = 3, V = 5, L = 6
        let (w, _) = hmm.sampleSequences(count: 1, length: L, seed: 11)
        // Joint P(w_0..w_5, w_6 = x) by summing over every path z_0..z_6.
        var joint = [Double](repeating: 0, count: V)
        var path = [Int](repeating: 0, count: L + 1)
        for code in 0..<Int(pow(Double(K), Double(L + 1))) {
            var c = code
            for t in 0...L { path[t] = c % K; c /= K }
            var p = hmm.initial[path[0]]
            for t in 0..<L { p *= hmm.emission[path[t], Int(w[t])] * hmm.transition[path[t], path[t + 1]] }
            for x in 0..<V { joint[x] += p * hmm.emission[path[L], x] }
        }
        let pS = joint.reduce(0, +)
        let pStar = try hmm.nextWordDistributions(contexts: w, count: 1, length: L)
        for x in 0..<V { XCTAssertEqual(pStar[0, x], joint[x] / pS, accuracy: 1e-12) }
        var ll = [Double](repeating: 0, count: L)
        _ = try w.withUnsafeBufferPointer { wp in
            try ll.withUnsafeMutableBufferPointer { try hmm.beliefs(words: wp.baseAddress!, count: 1, length: L, logLoss: $0.baseAddress!) }
        }
        XCTAssertEqual(ll.reduce(0, +), -log(pS), accuracy: 1e-10)
    }

    /// P(prompt | z_0 = k) (used for γ) against enumeration of the hidden paths.
    func testPromptProbabilityByStateMatchesBruteForce() throws {
        let hmm = try tinyHMM()
        let prompt: [Int32] = [2, 0, 4]
        let byState = try hmm.sequenceProbabilityByState(prompt)
        for k in 0..<3 {
            var total = 0.0
            for z1 in 0..<3 { for z2 in 0..<3 {
                total += hmm.emission[k, 2] * hmm.transition[k, z1] * hmm.emission[z1, 0] * hmm.transition[z1, z2] * hmm.emission[z2, 4]
            } }
            XCTAssertEqual(byState[k], total, accuracy: 1e-14)
        }
    }

    func testStationaryDistributionIsFixedPoint() throws {
        let hmm = try tinyHMM(states: 6, words: 7, transition: 0.2)
        for j in 0..<6 {
            var v = 0.0
            for i in 0..<6 { v += hmm.initial[i] * hmm.transition[i, j] }
            XCTAssertEqual(v, hmm.initial[j], accuracy: 1e-12)
        }
    }

    /// Divergence.kl and entropy against the textbook sums with an explicit softmax.
    func testKLAndEntropyAgainstDirectSums() {
        var rng = SeededRandom(seed: 9)
        let V = 13, Vp = 14
        var p = (0..<V).map { _ in rng.uniform() }
        p[3] = 0                                       // a zero-probability word contributes nothing
        let s = p.reduce(0, +); p = p.map { $0 / s }
        let z: [Float] = (0..<Vp).map { _ in Float(rng.normal() * 3) }
        let zmax = Double(z.max()!)
        let denom = z.reduce(0.0) { $0 + exp(Double($1) - zmax) }
        let q = z.map { exp(Double($0) - zmax) / denom }
        var direct = 0.0, h = 0.0
        for j in 0..<V where p[j] > 0 { direct += p[j] * log(p[j] / q[j]); h -= p[j] * log(p[j]) }
        XCTAssertEqual(Divergence.kl(pStar: p, count: V, logits: z, logitCount: Vp), direct, accuracy: 1e-9)
        XCTAssertEqual(Divergence.entropy(p, count: V), h, accuracy: 1e-12)
        XCTAssertGreaterThan(direct, 0.1)
    }

    /// The corpus goes through the project's token files, and its word frequencies match the stationary word law πᵀE.
    /// Tolerance: 5 standard errors of a frequency, √(p(1−p)/n), inflated by √10 for the chain's autocorrelation
    /// (K = 4 with Dirichlet(1) rows mixes within a few steps; 10 is a generous integrated-autocorrelation time).
    func testCorpusFrequenciesMatchStationaryDistribution() throws {
        let hmm = try tinyHMM(states: 4, words: 6, seed: 21)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-corpus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let n = 200_000
        try SyntheticCorpus.write(hmm, to: dir, trainTokens: n, valTokens: 1000, seed: 5, hmmDirectory: "hmm")
        let file = try TokenFile(directory: dir, split: .train)
        XCTAssertEqual(file.count, n)
        XCTAssertEqual(file.header.vocabSize, 7)
        XCTAssertEqual(file.header.eotToken, 6)
        var counts = [Int](repeating: 0, count: 7)
        for i in 0..<n { counts[Int(file[i])] += 1 }
        XCTAssertEqual(counts[6], 0, "the end-of-text id never occurs")
        for w in 0..<6 {
            var expected = 0.0
            for k in 0..<4 { expected += hmm.initial[k] * hmm.emission[k, w] }
            let tol = 5 * (10 * expected * (1 - expected) / Double(n)).squareRoot()
            XCTAssertEqual(Double(counts[w]) / Double(n), expected, accuracy: tol, "word \(w)")
        }
        // The train and validation chains are independent samples (different seeds), not copies.
        let val = try TokenFile(directory: dir, split: .val)
        XCTAssertNotEqual(val.tokens(0..<100), file.tokens(0..<100))
    }

    func testSaveLoadRoundTrip() throws {
        let hmm = try tinyHMM(states: 5, words: 40, classes: 2, classSize: 4)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-hmm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try hmm.save(to: dir)
        let back = try HiddenMarkovModel.load(from: dir)
        XCTAssertEqual(back.config, hmm.config)
        XCTAssertEqual(back.wordClasses, hmm.wordClasses)
        XCTAssertEqual(try back.emission.maxAbsDifference(hmm.emission), 0)
        XCTAssertEqual(try back.transition.maxAbsDifference(hmm.transition), 0)
        // A truncated parameter file is refused with its name.
        let e = dir.appendingPathComponent("emission.npy")
        let data = try Data(contentsOf: e)
        try data.prefix(data.count - 8).write(to: e)
        XCTAssertThrowsError(try HiddenMarkovModel.load(from: dir)) { XCTAssertTrue("\($0)".contains("emission.npy"), "\($0)") }
    }

    /// A model whose logits are log p* has ε = 0 (to 1e-6), its p_f is p*, so the task's direction scores exactly τ
    /// on it and a probe fitted on it matches the probe on p*. A perturbed model stays under τ + B√(2ε) (Pinsker,
    /// example by example), and a model far from p* has a large ε.
    func testPerfectModelHasZeroEpsilonAndReachesTau() throws {
        let hmm = try tinyHMM(states: 8, words: 60, seed: 4, transition: 0.5, emission: 0.3, classes: 2, classSize: 6)
        let t = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "nat", kind: .natural, length: 12, train: 600,
                                       test: 600, seed: 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-task-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticTask.write(t, to: dir)
        let task = try LoadedSyntheticTask(directory: dir, hmm: hmm)
        let n = task.pStarTest.rows, V = hmm.words
        let logits = Matrix<Float>(rows: n, cols: V + 1) { i, j in j < V ? Float(log(task.pStarTest[i, j])) : -80 }
        let kl = SyntheticMeasure.klRows(pStar: task.pStarTest, logits: logits)
        XCTAssertLessThan(kl.max()!, 1e-6)
        let pf = Matrix<Float>(rows: n, cols: V + 1) { i, j in j < V ? Float(task.pStarTest[i, j]) : 0 }
        let s = try SyntheticTask.scores(pf, direction: task.direction!)
        let loss = SyntheticTask.directionLoss(scores: s, labels: task.test.labels, kappa: task.spec.kappa!, bias: task.spec.bias!)
        XCTAssertEqual(loss.mean, task.spec.tau, accuracy: 1e-5)
        let opts = SyntheticMeasureOptions()
        let onPStar = try SyntheticMeasure.pStarProbes(task, options: opts)
        let pfTrain = pStarAsFloat(task.pStarTrain)
        let onPf = try SyntheticMeasure.probes(feature: "p_f", train: pfTrain, trainLabels: task.train.labels,
                                               test: pStarAsFloat(task.pStarTest), testLabels: task.test.labels, options: opts)
        XCTAssertEqual(onPf[0].loss, onPStar[0].loss, accuracy: 1e-3)
        // The probe on p* is well above chance on a natural task.
        XCTAssertGreaterThan(onPStar[0].accuracy, task.spec.majority + 0.1)

        // Perturbed model: ℓ(p_f, κv) ≤ τ + κ·√(2ε) on these very examples.
        var rng = SeededRandom(seed: 8)
        for scale in [0.05, 0.3, 1.0] {
            let noisy = Matrix<Float>(rows: n, cols: V + 1) { i, j in logits[i, j] + Float(rng.normal() * scale) }
            let (eps, _) = meanAndStandardError(SyntheticMeasure.klRows(pStar: task.pStarTest, logits: noisy))
            XCTAssertGreaterThan(eps, 1e-4)
            let q = noisy.copy()
            softmaxRows(q.pointer, rows: n, cols: V + 1, stride: q.stride)
            let l = SyntheticTask.directionLoss(scores: try SyntheticTask.scores(q, direction: task.direction!),
                                                labels: task.test.labels, kappa: task.spec.kappa!, bias: task.spec.bias!)
            XCTAssertLessThanOrEqual(l.mean, task.spec.tau + task.spec.B! * (2 * eps).squareRoot() + 1e-9, "scale \(scale)")
        }
    }

    func pStarAsFloat(_ m: Matrix<Double>) -> Matrix<Float> {
        Matrix<Float>(rows: m.rows, cols: m.cols + 1) { i, j in j < m.cols ? Float(m[i, j]) : 0 }
    }

    /// The control (parity of the hidden state 30 words back) is invisible in p*: a probe on p* stays within three
    /// binomial standard errors √(m(1−m)/n) of the majority rate m, on a chain that forgets in a few steps.
    func testControlTaskPStarProbeStaysAtChance() throws {
        let hmm = try tinyHMM(states: 4, words: 30, seed: 6, transition: 1, emission: 0.5)
        let t = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "ctl", kind: .control, length: 40, lag: 30,
                                       train: 1000, test: 1000, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-ctl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticTask.write(t, to: dir)
        let task = try LoadedSyntheticTask(directory: dir, hmm: hmm)
        let probes = try SyntheticMeasure.pStarProbes(task, options: SyntheticMeasureOptions())
        let m = task.spec.majority, n = Double(task.spec.testCount)
        let sigma = (m * (1 - m) / n).squareRoot()
        for p in probes { XCTAssertLessThanOrEqual(p.accuracy, m + 3 * sigma, "\(p.method) on p*") }
        // …while the label itself is learnable from the words around that position (the state is visible there):
        // the same contexts with lag 0 (the current state) are far above chance on p*.
        let t0 = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "ctl0", kind: .control, length: 40, lag: 0,
                                        train: 1000, test: 1000, seed: 3)
        let dir0 = dir.appendingPathExtension("lag0")
        defer { try? FileManager.default.removeItem(at: dir0) }
        try SyntheticTask.write(t0, to: dir0)
        let task0 = try LoadedSyntheticTask(directory: dir0, hmm: hmm)
        let p0 = try SyntheticMeasure.pStarProbes(task0, options: SyntheticMeasureOptions())
        XCTAssertGreaterThan(p0[0].accuracy, task0.spec.majority + 3 * sigma)
    }

    /// The whole measurement on a tiny GPT: ε finite and positive, features extracted through the token-id path,
    /// the direction's loss under the bound, τ and probes reported.
    func testMeasureOnTinyGPT() throws {
        let hmm = try tinyHMM(states: 6, words: 31, seed: 12, transition: 0.5, emission: 0.3, classes: 2, classSize: 4)
        let t = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "nat", kind: .natural, length: 10, prompt: [3],
                                       train: 120, test: 80, seed: 2)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-measure-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try SyntheticTask.write(t, to: root.appendingPathComponent("task"))
        let task = try LoadedSyntheticTask(directory: root.appendingPathComponent("task"), hmm: hmm)
        for objective in [Objective.ce, .quad] {
            let model = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 16, vocabSize: 32, objective: objective), seed: 1)
            let eps = try SyntheticMeasure.epsilon(model: model, hmm: hmm, windows: 6, seed: 1)
            XCTAssertEqual(eps.positions, 96)
            XCTAssertGreaterThan(eps.epsilon, 0.01)
            XCTAssertLessThan(eps.floor, log(31.0))
            XCTAssertEqual(eps.epsilonQuad != nil, objective == .quad)
            if let q = eps.epsilonQuad { XCTAssertGreaterThan(q, 0) }
            var opts = SyntheticMeasureOptions()
            opts.folds = 2
            let p = try SyntheticMeasure.taskPoint(model: model, checkpointURL: root, checkpointSHA256: "x", task: task,
                                                   featureDirectory: root.appendingPathComponent("feat-\(objective)"), options: opts)
            XCTAssertGreaterThan(p.epsilonTask, 0)
            XCTAssertLessThanOrEqual(p.directionLoss!, p.bound! + 1e-9)
            XCTAssertNil(p.gamma, "no pretraining ε given")
            XCTAssertEqual(Set(p.probes.map(\.feature)), ["p_f", "Φp_f", "f", "f*"], "f* (the Quad optimum for this Φ) is probed like the others")
            for pr in p.probes { XCTAssertLessThanOrEqual(pr.accuracyLower, pr.accuracy); XCTAssertGreaterThanOrEqual(pr.accuracyUpper, pr.accuracy) }
        }
    }

    func testMaxCheckpointsBelowOneIsRefused() throws {
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("synth-none-\(UUID().uuidString)")
        for m in [0, -1] {
            XCTAssertThrowsError(try SyntheticStudy.measure(hmmDirectory: nowhere, taskDirectories: [nowhere],
                                                            runs: [(name: "lm", url: nowhere)], out: nowhere,
                                                            options: SyntheticMeasureOptions(), maxCheckpoints: m)) {
                XCTAssertTrue("\($0)".contains("--max-checkpoints must be at least 1 (got \(m))"), "\($0)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: nowhere.path))
    }

    func testBadInputsAreRefusedWithOneLine() throws {
        XCTAssertThrowsError(try HiddenMarkovModel.generate(HMMConfig(states: 0))) { XCTAssertTrue("\($0)".contains("--states")) }
        XCTAssertThrowsError(try HiddenMarkovModel.generate(HMMConfig(states: 4, words: 10, classes: 2, classSize: 6))) {
            XCTAssertTrue("\($0)".contains("do not fit"))
        }
        let hmm = try tinyHMM()
        XCTAssertThrowsError(try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "x", kind: .control, length: 10, lag: 10,
                                                    train: 10, test: 10, seed: 1)) { XCTAssertTrue("\($0)".contains("--lag")) }
        XCTAssertThrowsError(try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "x", kind: .natural, length: 10,
                                                    train: 10, test: 10, seed: 1)) { XCTAssertTrue("\($0)".contains("word classes")) }
        XCTAssertThrowsError(try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "x", kind: .natural, direction: .random,
                                                    length: 4, prompt: [7], train: 10, test: 10, seed: 1)) {
            XCTAssertTrue("\($0)".contains("prompt word 7"))
        }
    }
}

final class SyntheticTaskFileTests: XCTestCase {
    /// A task is measured only against the HMM it was drawn from.
    func testTaskFromAnotherHMMIsRefused() throws {
        let a = try HiddenMarkovModel.generate(HMMConfig(states: 3, words: 8, classes: 0, classSize: 0, seed: 1))
        let b = try HiddenMarkovModel.generate(HMMConfig(states: 3, words: 8, classes: 0, classSize: 0, seed: 2))
        let t = try SyntheticTask.make(hmm: a, hmmDirectory: "a", name: "c", kind: .control, length: 5, lag: 2,
                                       train: 20, test: 10, seed: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-other-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticTask.write(t, to: dir)
        XCTAssertNoThrow(try LoadedSyntheticTask(directory: dir, hmm: a))
        XCTAssertThrowsError(try LoadedSyntheticTask(directory: dir, hmm: b)) { XCTAssertTrue("\($0)".contains("another HMM"), "\($0)") }
    }
}

final class PhiDirectionTests: XCTestCase {
    /// `--direction phi`: v lies in the column span of Φ (least-squares residual ≈ 0), ‖v‖∞ = 1, and the task records
    /// where Φ came from; without Φ it is refused.
    func testPhiDirectionIsInTheSpanOfPhi() throws {
        let hmm = try HiddenMarkovModel.generate(HMMConfig(states: 4, words: 30, classes: 0, classSize: 0, seed: 5))
        let model = try GPT(config: GPTConfig(layers: 1, dim: 8, heads: 2, context: 16, vocabSize: 31), seed: 3)
        let t = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "phi", kind: .natural, direction: .phi,
                                       length: 6, train: 50, test: 50, seed: 4, phi: model.phi, phiFrom: "ckpt")
        let v = t.direction!
        XCTAssertEqual(v.map(abs).max()!, 1, accuracy: 1e-12)
        XCTAssertEqual(t.spec.phiFrom, "ckpt")
        let phi = model.phi.rows(0..<30).converted(to: Double.self)
        let fit = try LAPACK.gelsd(phi, try Matrix(rows: 30, cols: 1, values: v)).solution
        let back = try BLAS.matmul(phi, fit)
        for w in 0..<30 { XCTAssertEqual(back[w, 0], v[w], accuracy: 1e-9) }
        XCTAssertThrowsError(try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "phi", kind: .natural, direction: .phi,
                                                    length: 6, train: 50, test: 50, seed: 4)) {
            XCTAssertTrue("\($0)".contains("--phi-from"), "\($0)")
        }
    }
}

final class SyntheticReportTests: XCTestCase {
    func point(_ objective: String, step: Int, eps: Double, quad: Double?, loss: Double) -> SyntheticCheckpointPoint {
        let probes = ["p_f", "Φp_f", "f"].map {
            SyntheticProbe(feature: $0, method: "logistic", accuracy: 0.7, accuracyLower: 0.6, accuracyUpper: 0.8, loss: loss,
                           regularisation: 1)
        }
        let tp = SyntheticTaskPoint(task: "nat", epsilonTask: eps, epsilonTaskStandardError: 0.01, tau: 0.3, B: 2,
                                    bound: 0.3 + 2 * (2 * eps).squareRoot(), directionLoss: loss + 0.05, gamma: 0.01,
                                    boundTheorem: 9, probes: probes)
        return SyntheticCheckpointPoint(run: objective, objective: objective, model: "m", step: step, checkpoint: "c",
                                        epsilon: EpsilonEstimate(epsilon: eps, epsilonStandardError: 0.01, epsilonQuad: quad,
                                                                 epsilonQuadStandardError: quad.map { _ in 0.01 },
                                                                 floor: 4, windows: 2, positions: 32),
                                        tasks: [tp])
    }

    /// The report's charts and tables carry every checkpoint: CE and Quad markers against √ε with the bound line,
    /// Quad markers against √ε_quad, and the slope table.
    func testChartsAndTables() throws {
        let spec = SyntheticTaskSpec(name: "nat", kind: .natural, label: .bernoulli, direction: .classes, length: 4, prompt: [],
                                     lag: nil, seed: 1, trainCount: 10, testCount: 10, kappa: 2, bias: 0, B: 2, tau: 0.3,
                                     tauStandardError: 0.01, tauExpected: 0.3, majority: 0.5, hmm: "h",
                                     hmmConfig: HMMConfig(states: 2, words: 4, classes: 0, classSize: 0))
        let pts = [point("ce", step: 10, eps: 0.4, quad: nil, loss: 0.6), point("ce", step: 100, eps: 0.1, quad: nil, loss: 0.5),
                   point("quad", step: 10, eps: 0.7, quad: 1.5, loss: 0.62), point("quad", step: 100, eps: 0.7, quad: 0.5, loss: 0.55)]
        let r = SyntheticReport(settings: [:], hmm: .init(directory: "h", config: spec.hmmConfig, entropyRate: 1,
                                                          entropyRateStandardError: 0.1),
                                tasks: [.init(spec: spec, directory: "d", pStar: [])], checkpoints: pts)
        let svg = try XCTUnwrap(r.svg(task: "nat"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4 * 2 + 2 + 2, "4 probe + 4 direction markers, bound and τ ends")
        XCTAssertTrue(svg.contains("bound τ + B√(2ε)"))
        let q = try XCTUnwrap(r.svgQuad(task: "nat"))
        XCTAssertEqual(q.components(separatedBy: "<circle").count - 1, 4, "2 Quad checkpoints × (f, Φp_f)")
        XCTAssertTrue(q.contains("x = 1.22"), "√1.5 for the first Quad checkpoint")
        let md = r.markdown()
        XCTAssertEqual(md.components(separatedBy: "\n| ce | ce |").count - 1, 2)
        XCTAssertEqual(md.components(separatedBy: "\n| quad | quad |").count - 1, 2)
        // ℓ(p_f, κv) − τ against ε_task for CE: (0.65 − 0.3, 0.55 − 0.3) at ε = (0.4, 0.1), in logs.
        let ce = try XCTUnwrap(r.slopes.first { $0.objective == "ce" && $0.quantity.hasPrefix("ℓ(p_f") })
        XCTAssertEqual(ce.slope, (log(0.35) - log(0.25)) / (log(0.4) - log(0.1)), accuracy: 1e-12)
    }
}

final class SyntheticHardeningTests: XCTestCase {
    func tinyHMM(states: Int = 3, words: Int = 4, seed: UInt64 = 7) throws -> HiddenMarkovModel {
        try HiddenMarkovModel.generate(HMMConfig(states: states, words: words, emissionConcentration: 1,
                                                 transitionConcentration: 1, classes: 0, classSize: 0, classMass: 0,
                                                 favouringFraction: 0, seed: seed))
    }

    /// A hand-edited π that is not stationary under A would make every exact probability wrong: loading refuses it
    /// in one line naming the folder.
    func testNonStationaryInitialDistributionIsRefusedOnLoad() throws {
        let hmm = try tinyHMM()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-pi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try hmm.save(to: dir)
        XCTAssertNoThrow(try HiddenMarkovModel.load(from: dir))
        try NPY.write(try Matrix(rows: 3, cols: 1, values: [1.0 / 3, 1.0 / 3, 1.0 / 3]), to: dir.appendingPathComponent("initial.npy"), asVector: true)
        XCTAssertThrowsError(try HiddenMarkovModel.load(from: dir)) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("π is not the stationary distribution") && m.contains(dir.path), m)
            XCTAssertFalse(m.contains("\n"), m)
        }
    }

    /// Sampling a chain in pieces (as `synth generate` streams its splits) draws exactly the one-call chain, and the
    /// streamed token file holds exactly its ids.
    func testStreamedSplitEqualsTheOneCallChain() throws {
        let hmm = try tinyHMM(words: 9)
        let n = 1000
        var rng = SeededRandom(seed: 5)
        var whole = [Int32](repeating: 0, count: n)
        whole.withUnsafeMutableBufferPointer { hmm.sample(length: n, words: $0.baseAddress!, rng: &rng) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-stream-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng2 = SeededRandom(seed: 5)
        var state: Int? = nil
        try TokenFile.writeSplit(split: .train, directory: dir, count: n, wide: false, chunk: 37) { buffer, count in
            hmm.sample(length: count, words: buffer, continuing: &state, rng: &rng2)
        }
        var expected = Data()
        whole.withUnsafeBufferPointer { TokenFile.append($0, wide: false, to: &expected) }
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("train.bin")), expected)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("train.bin.partial").path))
    }

    /// The control task's Bayes posterior P(z_t | w_0 … w_{T−1}) from forward–backward equals the one from summing
    /// over all K^T hidden paths, and the Bayes accuracy and loss follow from it.
    func testControlBayesPosteriorMatchesPathEnumeration() throws {
        let hmm = try tinyHMM(states: 3, words: 4)
        let K = 3, T = 5, B = 6
        let (w, z) = hmm.sampleSequences(count: B, length: T, seed: 13)
        for t in [0, 2, T - 1] {
            let post = try w.withUnsafeBufferPointer { try hmm.statePosterior(words: $0.baseAddress!, count: B, length: T, position: t) }
            var bruteAccuracy = 0.0, bruteLoss = 0.0
            for b in 0..<B {
                var joint = [Double](repeating: 0, count: K)
                var path = [Int](repeating: 0, count: T)
                for code in 0..<Int(pow(Double(K), Double(T))) {
                    var c = code
                    for s in 0..<T { path[s] = c % K; c /= K }
                    var p = hmm.initial[path[0]]
                    for s in 0..<T {
                        p *= hmm.emission[path[s], Int(w[b * T + s])]
                        if s + 1 < T { p *= hmm.transition[path[s], path[s + 1]] }
                    }
                    joint[path[t]] += p
                }
                let total = joint.reduce(0, +)
                for k in 0..<K { XCTAssertEqual(post[b, k], joint[k] / total, accuracy: 1e-12, "sequence \(b), t \(t), k \(k)") }
                let p1 = joint[1] / total, label = Int(z[b * T + t]) & 1
                bruteAccuracy += (p1 > 0.5 ? 1 : 0) == label ? 1 : 0
                bruteLoss -= log(label == 1 ? p1 : 1 - p1)
            }
            let labels = (0..<B).map { Int(z[$0 * T + t]) & 1 }
            let bayes = try SyntheticMeasure.bayes(posterior: post, labels: labels)
            XCTAssertEqual(bayes.accuracy, bruteAccuracy / Double(B), accuracy: 1e-12)
            XCTAssertEqual(bayes.loss, bruteLoss / Double(B), accuracy: 1e-9)
            XCTAssertGreaterThanOrEqual(bayes.expectedAccuracy, 0.5)
        }
    }

    /// A control task written to disk and loaded carries its Bayes accuracy; a natural task has none.
    func testControlTaskCarriesItsBayesAccuracy() throws {
        let hmm = try tinyHMM(states: 4, words: 12)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-bayes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let c = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "ctl", kind: .control, length: 6, lag: 2,
                                       train: 20, test: 200, seed: 3)
        try SyntheticTask.write(c, to: root.appendingPathComponent("ctl"))
        let bayes = try XCTUnwrap(try SyntheticMeasure.controlBayes(LoadedSyntheticTask(directory: root.appendingPathComponent("ctl"), hmm: hmm), hmm: hmm))
        XCTAssertGreaterThan(bayes.accuracy, 0.5, "the posterior beats chance on a 4-state chain")
        XCTAssertLessThanOrEqual(bayes.accuracyLower, bayes.accuracy)
        let n = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "nat", kind: .natural, direction: .random, length: 6,
                                       train: 20, test: 20, seed: 3)
        try SyntheticTask.write(n, to: root.appendingPathComponent("nat"))
        XCTAssertNil(try SyntheticMeasure.controlBayes(LoadedSyntheticTask(directory: root.appendingPathComponent("nat"), hmm: hmm), hmm: hmm))
    }

    /// Mixing a one-hot p* = e_w toward the uniform u at α has ε = −log(1 − α + α/V); the calibration inverts it:
    /// α = (1 − e^{−ε}) / (1 − 1/V).
    func testMixedPStarHasItsClosedFormEpsilon() throws {
        let V = 5
        let p = Matrix<Double>(rows: 3, cols: V) { r, c in r == c ? 1 : 0 }
        let u = [Double](repeating: 1.0 / Double(V), count: V)
        for alpha in [1e-4, 0.01, 0.3, 1.0] {
            let kl = SyntheticDegrade.klRows(p, .mix, strength: alpha, unigram: u, noise: nil)
            for k in kl { XCTAssertEqual(k, -log(1 - alpha + alpha / Double(V)), accuracy: 1e-14) }
            let q = SyntheticDegrade.apply(p, .mix, strength: alpha, unigram: u, noise: nil)
            XCTAssertEqual(q[0, 0], 1 - alpha + alpha / Double(V), accuracy: 1e-15)
            XCTAssertEqual(q[0, 1], alpha / Double(V), accuracy: 1e-15)
        }
        for target in [1e-6, 1e-3, 0.5] {
            let alpha = try XCTUnwrap(SyntheticDegrade.calibrate(target: target, p, .mix, unigram: u, noise: nil))
            XCTAssertEqual(alpha, (1 - exp(-target)) / (1 - 1 / Double(V)), accuracy: 1e-12 * max(1, alpha / target))
        }
        XCTAssertNil(SyntheticDegrade.calibrate(target: 2, p, .mix, unigram: u, noise: nil), "above KL(p* ‖ u) = log 5")
    }

    /// Log-space noise at σ has ε = log Σ p e^{σg} − σ Σ p g; the table it builds has exactly that KL, and the
    /// calibration reaches a target ε.
    func testNoisedPStarHasItsClosedFormEpsilon() throws {
        let p = try Matrix(rows: 2, cols: 3, values: [0.5, 0.3, 0.2, 0.1, 0.0, 0.9])
        let g = try Matrix(rows: 2, cols: 3, values: [1.0, -0.5, 0.25, -2.0, 7.0, 0.5])
        let u = [1.0 / 3, 1.0 / 3, 1.0 / 3]
        for sigma in [0.01, 0.4, 2.0] {
            let kl = SyntheticDegrade.klRows(p, .noise, strength: sigma, unigram: u, noise: g)
            let q = SyntheticDegrade.apply(p, .noise, strength: sigma, unigram: u, noise: g)
            for r in 0..<2 {
                var z = 0.0, mean = 0.0, direct = 0.0
                for w in 0..<3 where p[r, w] > 0 { z += p[r, w] * exp(sigma * g[r, w]); mean += p[r, w] * g[r, w] }
                for w in 0..<3 where p[r, w] > 0 { direct += p[r, w] * log(p[r, w] / q[r, w]) }
                XCTAssertEqual(kl[r], log(z) - sigma * mean, accuracy: 1e-13)
                XCTAssertEqual(kl[r], direct, accuracy: 1e-13)
            }
            XCTAssertEqual(q[1, 1], 0, "a zero of p* stays zero")
        }
        let sigma = try XCTUnwrap(SyntheticDegrade.calibrate(target: 0.05, p, .noise, unigram: u, noise: g))
        let e = SyntheticDegrade.klRows(p, .noise, strength: sigma, unigram: u, noise: g)
        XCTAssertEqual((e[0] + e[1]) / 2, 0.05, accuracy: 1e-12)
    }

    /// Degraded p* on a natural task: each point has the ε asked for, the direction's gap stays within B√(2ε)
    /// (Pinsker), and mixing leaves a standardised probe where it was on p* (an affine map of every feature).
    func testDegradedPStarHitsItsTargetsWithinTheBound() throws {
        let hmm = try tinyHMM(states: 4, words: 12)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-degrade-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let t = try SyntheticTask.make(hmm: hmm, hmmDirectory: "-", name: "nat", kind: .natural, label: .sign, direction: .random,
                                       length: 6, train: 120, test: 120, seed: 3)
        try SyntheticTask.write(t, to: root)
        let task = try LoadedSyntheticTask(directory: root, hmm: hmm)
        var opts = SyntheticMeasureOptions()
        opts.folds = 2
        let tauFit = try SyntheticMeasure.pStarProbes(task, options: opts).first { $0.method == "logistic" }!.loss
        let targets = SyntheticDegrade.grid(from: 1e-4, to: 1e-2, perDecade: 1)
        XCTAssertEqual(targets.count, 3)
        let pts = try SyntheticDegrade.points(task: task, hmm: hmm, modes: [.mix, .noise], targets: targets, tauFit: tauFit,
                                              options: opts, seed: 1)
        XCTAssertEqual(pts.count, 6)
        for p in pts {
            XCTAssertEqual(p.epsilon, p.targetEpsilon, accuracy: 1e-9 * p.targetEpsilon)
            XCTAssertLessThanOrEqual(p.directionGap!, p.B! * (2 * p.epsilon).squareRoot() + 1e-12)
            XCTAssertEqual(p.bound!, t.spec.tau + p.B! * (2 * p.epsilon).squareRoot(), accuracy: 1e-12)
            if p.degradation == .mix { XCTAssertEqual(p.probeGap!, 0, accuracy: 1e-4, "standardised probe on (1 − α)p* + αu") }
        }
        let r = SyntheticReport(settings: [:], hmm: .init(directory: "h", config: hmm.config, entropyRate: 1, entropyRateStandardError: 0),
                                tasks: [.init(spec: t.spec, directory: "d", pStar: [])], checkpoints: [], degraded: pts)
        XCTAssertEqual(r.markdown().components(separatedBy: "\n| mix |").count - 1, 3)
        XCTAssertNotNil(r.svgDegraded(task: "nat"))
        XCTAssertEqual(Set(r.degradedSlopes!.map(\.objective)), ["degraded: mix", "degraded: noise"])
    }
}
