import Analysis
import Foundation
import XCTest
import Linalg
import Model
@testable import Synthetic
import Support

/// f* = (ΦᵀΦ)⁻¹Φᵀp*, its probe ceiling, and the context-free Quad and CE references (issue 28).
final class QuadOptimumTests: XCTestCase {
    func hmm(states: Int = 4, words: Int = 30, seed: UInt64 = 5) throws -> HiddenMarkovModel {
        try HiddenMarkovModel.generate(HMMConfig(states: states, words: words, emissionConcentration: 0.5,
                                                 transitionConcentration: 0.5, classes: 0, classSize: 0, seed: seed))
    }

    /// p* of `count` sampled contexts of `length` words (every position): (count·length) × V.
    func pStar(_ h: HiddenMarkovModel, count: Int = 12, length: Int = 10, seed: UInt64 = 9) throws -> Matrix<Double> {
        let (words, _) = h.sampleSequences(count: count, length: length, seed: seed)
        let b = try words.withUnsafeBufferPointer { try h.beliefs(words: $0.baseAddress!, count: count, length: length) }
        return try h.nextWordDistributions(beliefs: b)
    }

    func randomPhi(rows: Int, cols: Int, seed: UInt64) -> Matrix<Float> {
        var rng = SeededRandom(seed: seed)
        return Matrix<Float>(rows: rows, cols: cols) { _, _ in Float(rng.normal()) }
    }

    /// ½‖P_Φ x‖² with P_Φ = Φ(ΦᵀΦ)⁻¹Φᵀ formed explicitly (V′ × V′), x = p − q padded with zeros to V′.
    func projectedHalfSquare(_ phi: Matrix<Double>, _ p: [Double], _ q: [Double]) throws -> Double {
        let g = try BLAS.matmul(phi, phi, transA: true)
        let gInvPhiT = try LAPACK.posv(g, phi.transposed())                 // d × V′
        let proj = try BLAS.matmul(phi, gInvPhiT)                            // V′ × V′
        let x = (0..<phi.rows).map { w in w < p.count ? p[w] - q[w] : 0 }
        var s = 0.0
        for i in 0..<phi.rows {
            var y = 0.0
            for j in 0..<phi.rows { y += proj[i, j] * x[j] }
            s += y * y
        }
        return 0.5 * s
    }

    func row(_ m: Matrix<Double>, _ i: Int) -> [Double] { (0..<m.cols).map { m[i, $0] } }

    func testFStarOfFullRankPhiRecoversPhiTransposePStar() throws {
        let h = try hmm(), p = try pStar(h)
        let q = try QuadOptimum(phi: randomPhi(rows: 31, cols: 8, seed: 1), words: 30)
        let fStar = try q.fStar(p)
        let gf = try BLAS.matmul(fStar, q.gram)                              // (G f*)ᵀ per row
        let phiTP = try BLAS.matmul(p, q.phi)                                // (Φᵀp*)ᵀ per row
        for i in 0..<p.rows { for j in 0..<8 { XCTAssertEqual(gf[i, j], phiTP[i, j], accuracy: 1e-10) } }
        XCTAssertGreaterThan(q.conditionNumber, 1)
    }

    /// On a `--direction phi` task (v = Φλ) the direction scored through f*, λᵀ(ΦᵀΦ)f*, equals vᵀp*.
    func testPhiDirectionScoredThroughFStarEqualsScoreThroughPStar() throws {
        let h = try hmm()
        let model = try GPT(config: GPTConfig(layers: 1, dim: 8, heads: 2, context: 16, vocabSize: 31), seed: 3)
        let t = try SyntheticTask.make(hmm: h, hmmDirectory: "-", name: "phi", kind: .natural, direction: .phi,
                                       length: 6, train: 50, test: 50, seed: 4, phi: model.phi, phiFrom: "ckpt")
        let v = try XCTUnwrap(t.direction)
        let q = try QuadOptimum(phi: model.phi, words: 30)
        let lambda = try LAPACK.gelsd(q.phi, try Matrix(rows: 30, cols: 1, values: v)).solution   // v = Φλ
        let p = try pStar(h)
        let fStar = try q.fStar(p)
        let gLambda = try BLAS.matmul(q.gram, lambda)                       // Gλ (d × 1)
        for i in 0..<p.rows {
            let throughP = (0..<30).reduce(0.0) { $0 + v[$1] * p[i, $1] }
            let throughF = (0..<8).reduce(0.0) { $0 + gLambda[$1, 0] * fStar[i, $1] }
            XCTAssertEqual(throughF, throughP, accuracy: 1e-10)
        }
    }

    func testSingularPhiIsRefusedInOneLine() throws {
        let phi = randomPhi(rows: 31, cols: 8, seed: 2)
        for i in 0..<31 { phi[i, 7] = phi[i, 3] }                          // two equal columns: rank 7
        XCTAssertThrowsError(try QuadOptimum(phi: phi, words: 30)) {
            XCTAssertTrue("\($0)".contains("singular to working precision"), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
        XCTAssertThrowsError(try QuadOptimum(phi: randomPhi(rows: 6, cols: 8, seed: 2), words: 6), "d > V′: rank ≤ V′ < d")
    }

    /// ε_quad^cf from the accumulator (fed in two chunks) = ε_quad of the constant c by the ε_quad code
    /// (`excess`) = ½E‖P_Φ(p* − p̄)‖² with P_Φ formed explicitly; and c is the best constant.
    func testContextFreeQuadExcessIsTheExcessOfTheBestConstant() throws {
        let h = try hmm(), p = try pStar(h)
        let q = try QuadOptimum(phi: randomPhi(rows: 31, cols: 8, seed: 4), words: 30)
        let fStar = try q.fStar(p)
        var cf = QuadOptimum.ContextFree(q)
        try cf.add(fStar.rows(0..<50))
        try cf.add(fStar.rows(50..<p.rows))
        let c = cf.constant
        let constant = Matrix<Double>(rows: p.rows, cols: 8) { _, j in c[j] }
        let viaExcess = try q.excess(f: constant, fStar: fStar).reduce(0, +) / Double(p.rows)
        XCTAssertEqual(cf.excess, viaExcess, accuracy: 1e-10)
        let pBar = (0..<30).map { w in (0..<p.rows).reduce(0.0) { $0 + p[$1, w] } / Double(p.rows) }
        let phiAll = randomPhi(rows: 31, cols: 8, seed: 4).converted(to: Double.self)
        var brute = 0.0
        for i in 0..<p.rows { brute += try projectedHalfSquare(phiAll, row(p, i), pBar) }
        XCTAssertEqual(cf.excess, brute / Double(p.rows), accuracy: 1e-10)
        XCTAssertGreaterThan(cf.excess, 1e-6)
        // Any other constant is worse.
        var rng = SeededRandom(seed: 6)
        for _ in 0..<5 {
            let other = Matrix<Double>(rows: p.rows, cols: 8) { _, j in c[j] + 0.01 * rng.normal() }
            XCTAssertGreaterThan(try q.excess(f: other, fStar: fStar).reduce(0, +) / Double(p.rows), cf.excess)
        }
    }

    /// d = V′ (an invertible Φ): P_Φ = I, so ε_quad^cf = ½E‖p* − p̄‖².
    func testContextFreeQuadExcessWithInvertiblePhiIsHalfTheSpreadOfPStar() throws {
        let h = try hmm(states: 3, words: 5, seed: 7), p = try pStar(h)
        let q = try QuadOptimum(phi: randomPhi(rows: 6, cols: 6, seed: 8), words: 5)
        var cf = QuadOptimum.ContextFree(q)
        try cf.add(try q.fStar(p))
        let pBar = (0..<5).map { w in (0..<p.rows).reduce(0.0) { $0 + p[$1, w] } / Double(p.rows) }
        let spread = (0..<p.rows).reduce(0.0) { acc, i in acc + 0.5 * (0..<5).reduce(0.0) { $0 + pow(p[i, $1] - pBar[$1], 2) } }
        XCTAssertEqual(cf.excess, spread / Double(p.rows), accuracy: 1e-10)
    }

    /// By hand: Φ = (1, 0, 0)ᵀ keeps word 0 only; p* rows (1, 0, 0) and (0, 1, 0) give f* = 1, 0, c = ½ and
    /// ε_quad^cf = ½·E(f* − ½)² = 1/8.
    func testContextFreeQuadExcessOfAHandExample() throws {
        let q = try QuadOptimum(phi: try Matrix(rows: 3, cols: 1, values: [1, 0, 0]), words: 3)
        let p = try Matrix<Double>(rows: 2, cols: 3, values: [1, 0, 0, 0, 1, 0])
        let fStar = try q.fStar(p)
        XCTAssertEqual(fStar[0, 0], 1, accuracy: 1e-15); XCTAssertEqual(fStar[1, 0], 0, accuracy: 1e-15)
        var cf = QuadOptimum.ContextFree(q)
        try cf.add(fStar)
        XCTAssertEqual(cf.constant, [0.5])
        XCTAssertEqual(cf.excess, 0.125, accuracy: 1e-15)
    }

    /// `synth measure`'s ε estimate carries the context-free references of its own windows: E KL(p* ‖ p̄),
    /// ½E‖p* − u‖² and (Quad) ε_quad^cf, each recomputed here by brute force on the same windows.
    func testEpsilonCarriesTheContextFreeReferencesOfItsWindows() throws {
        let h = try hmm(states: 6, words: 31, seed: 12)
        let model = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 16, vocabSize: 32, objective: .quad), seed: 1)
        let eps = try SyntheticMeasure.epsilon(model: model, hmm: h, windows: 6, seed: 1)
        // The same windows: one chunk (6 ≤ 4096/16) drawn with seed 1.
        let p = try pStar(h, count: 6, length: 16, seed: 1), n = Double(p.rows), V = 31
        let pBar = (0..<V).map { w in (0..<p.rows).reduce(0.0) { $0 + p[$1, w] } / n }
        let u = SyntheticDegrade.unigram(h)
        var kl = 0.0, sq = 0.0, proj = 0.0
        let phiAll = model.phi.converted(to: Double.self)
        for i in 0..<p.rows {
            for w in 0..<V where p[i, w] > 0 { kl += p[i, w] * log(p[i, w] / pBar[w]) }
            for w in 0..<V { sq += 0.5 * pow(p[i, w] - u[w], 2) }
            proj += try projectedHalfSquare(phiAll, row(p, i), pBar)
        }
        XCTAssertEqual(try XCTUnwrap(eps.contextFreeKL), kl / n, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(eps.unigramSquare), sq / n, accuracy: 1e-12)
        let cf = try XCTUnwrap(eps.epsilonQuadContextFree)
        XCTAssertEqual(cf, proj / n, accuracy: 1e-10)
        XCTAssertLessThanOrEqual(cf, sq / n, "P_Φ is a projection and p̄ the best constant")
        let ce = try GPT(config: GPTConfig(layers: 1, dim: 16, heads: 2, context: 16, vocabSize: 32), seed: 1)
        let e2 = try SyntheticMeasure.epsilon(model: ce, hmm: h, windows: 6, seed: 1)
        XCTAssertNil(e2.epsilonQuadContextFree)
        XCTAssertEqual(try XCTUnwrap(e2.contextFreeKL), kl / n, accuracy: 1e-10)
    }
}

final class SyntheticReportContextFreeTests: XCTestCase {
    /// report.md puts ε_quad^cf and ε_quad/ε_quad^cf beside ε_quad, the f* probe beside the other families, and the
    /// context-free references once per context length.
    func testReportShowsContextFreeReferencesAndTheFStarCeiling() throws {
        let spec = SyntheticTaskSpec(name: "nat", kind: .natural, label: .bernoulli, direction: .classes, length: 4, prompt: [],
                                     lag: nil, seed: 1, trainCount: 10, testCount: 10, kappa: 2, bias: 0, B: 2, tau: 0.3,
                                     tauStandardError: 0.01, tauExpected: 0.3, majority: 0.5, hmm: "h",
                                     hmmConfig: HMMConfig(states: 2, words: 4, classes: 0, classSize: 0))
        func point(_ objective: String, quad: Double?, quadCF: Double?) -> SyntheticCheckpointPoint {
            let probes = [("f", 0.61), ("f*", 0.4321)].map {
                SyntheticProbe(feature: $0.0, method: "logistic", accuracy: 0.7, accuracyLower: 0.6, accuracyUpper: 0.8,
                               loss: $0.1, regularisation: 1)
            }
            var e = EpsilonEstimate(epsilon: 0.2, epsilonStandardError: 0.01, epsilonQuad: quad,
                                    epsilonQuadStandardError: quad.map { _ in 1e-6 }, floor: 4, windows: 2, positions: 32)
            e.epsilonQuadContextFree = quadCF; e.contextFreeKL = 0.2684; e.unigramSquare = 4.6e-4
            return SyntheticCheckpointPoint(run: objective, objective: objective, model: "m", step: 1, checkpoint: "c", epsilon: e,
                                            tasks: [SyntheticTaskPoint(task: "nat", epsilonTask: 0.2, epsilonTaskStandardError: 0.01,
                                                                       tau: nil, B: nil, bound: nil, directionLoss: nil, gamma: nil,
                                                                       boundTheorem: nil, probes: probes)])
        }
        let r = SyntheticReport(settings: [:], hmm: .init(directory: "h", config: spec.hmmConfig, entropyRate: 1,
                                                          entropyRateStandardError: 0.1),
                                tasks: [.init(spec: spec, directory: "d", pStar: [])],
                                checkpoints: [point("ce", quad: nil, quadCF: nil), point("quad", quad: 1.5e-4, quadCF: 4.5e-4)])
        let md = r.markdown()
        XCTAssertTrue(md.contains("| 0.00015 | 0.00045 | 0.333 |"), md)
        XCTAssertTrue(md.contains("| 0.4321 |"), "the f* probe's loss")
        XCTAssertEqual(md.components(separatedBy: "E KL(p* ‖ p̄) = 0.2684").count - 1, 1, "once for the one context length (16)")
        XCTAssertTrue(md.contains("½E‖p* − u‖² = 0.00046"))
    }
}
