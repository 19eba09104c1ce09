import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

final class IntervalTests: XCTestCase {
    /// Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score): 81/263, 15/148, 0/20, 1/29.
    func testWilsonMatchesNewcombesTable() throws {
        for (k, n, lo, hi) in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
                               (1, 29, 0.0061, 0.1718)] {
            let ci = try Intervals.wilson(successes: k, trials: n)
            XCTAssertEqual(ci.lower, lo, accuracy: 5e-5, "\(k)/\(n)")
            XCTAssertEqual(ci.upper, hi, accuracy: 5e-5, "\(k)/\(n)")
        }
        XCTAssertEqual(try Intervals.normalQuantile(level: 0.95), 1.959963984540054, accuracy: 1e-10)
        XCTAssertEqual(try Intervals.wilson(successes: 20, trials: 20).upper, 1)
        XCTAssertThrowsError(try Intervals.wilson(successes: 3, trials: 0))
        XCTAssertThrowsError(try Intervals.wilson(successes: 4, trials: 3))
    }

    /// At n = 1,821 (SST-2 test) and 65 % accuracy the interval is about ±2.2 points (the figure).
    func testWilsonWidthAtSST2Size() throws {
        let ci = try Intervals.wilson(successes: 1184, trials: 1821)
        XCTAssertEqual(ci.halfWidth, 0.0219, accuracy: 0.0005)
    }

    /// scipy.stats.binomtest(1, 10).pvalue = 0.021484375 (= 22/1024); mid-p = 2·(11 − 5)/1024.
    func testMcNemarExactAndMidP() {
        let (p, mid) = Intervals.mcNemar(b: 1, c: 9)
        XCTAssertEqual(p, 22.0 / 1024, accuracy: 1e-15)
        XCTAssertEqual(mid, 12.0 / 1024, accuracy: 1e-15)
        XCTAssertEqual(Intervals.mcNemar(b: 9, c: 1).exact, p)
        XCTAssertEqual(Intervals.mcNemar(b: 0, c: 0).exact, 1)
        XCTAssertEqual(Intervals.mcNemar(b: 5, c: 5).exact, 1)
        // Large n: b = 400, c = 500 → normal approximation z = 100/√900 = 3.33, p ≈ 8.6e-4 (exact 9.6e-4).
        let big = Intervals.mcNemar(b: 400, c: 500)
        XCTAssertGreaterThan(big.exact, 5e-4)
        XCTAssertLessThan(big.exact, 1.2e-3)
    }

    /// The bootstrap interval of a Bernoulli mean agrees with the Wald interval at large n; constant data give a
    /// zero-width interval; the same seed gives the same interval.
    func testBootstrapMean() throws {
        let v = (0..<1000).map { Double($0 % 2) }
        let ci = try Intervals.bootstrapMean(v)
        let wald = 1.96 * (0.25 / 1000).squareRoot()   // 0.031
        XCTAssertEqual(ci.lower, 0.5 - wald, accuracy: 0.004)
        XCTAssertEqual(ci.upper, 0.5 + wald, accuracy: 0.004)
        XCTAssertEqual(try Intervals.bootstrapMean(v), ci)
        let flat = try Intervals.bootstrapMean([0.7, 0.7, 0.7])
        XCTAssertEqual(flat.lower, 0.7, accuracy: 1e-15)
        XCTAssertEqual(flat.upper, 0.7, accuracy: 1e-15)
        XCTAssertThrowsError(try Intervals.bootstrapMean([]))
        XCTAssertThrowsError(try Intervals.bootstrapMean([1, .nan]))
    }

    func testPairedComparison() throws {
        // A right on 60 examples B gets wrong, B right on 20 A gets wrong, 920 agreements: a 4-point difference.
        var a = [Bool](repeating: true, count: 1000), b = a
        for i in 0..<60 { b[i] = false }
        for i in 60..<80 { a[i] = false }
        for i in 80..<200 { a[i] = false; b[i] = false }
        let p = try PairedComparison(correctA: a, correctB: b)
        XCTAssertEqual(p.onlyA, 60)
        XCTAssertEqual(p.onlyB, 20)
        XCTAssertEqual(p.difference, 0.04, accuracy: 1e-15)
        XCTAssertLessThan(p.mcNemarExactP, 1e-5)   // binomtest(20, 80): 7.8e-6
        XCTAssertTrue(p.significant())
        // Standard error of the paired difference: √((b + c)/n² − d²/n) = √(80e-6 − 1.6e-6) = 0.0089.
        XCTAssertEqual(p.differenceInterval.lower, 0.04 - 1.96 * 0.0089, accuracy: 0.003)
        XCTAssertEqual(p.differenceInterval.upper, 0.04 + 1.96 * 0.0089, accuracy: 0.003)
        let same = try PairedComparison(correctA: a, correctB: a)
        XCTAssertEqual(same.mcNemarMidP, 1)
        XCTAssertEqual(same.bootstrapP, 1)
        XCTAssertFalse(same.significant())
        // 6 vs 4 discordant: not significant.
        var c = a
        for i in 200..<206 { c[i] = false }
        for i in 80..<84 { c[i] = true }
        XCTAssertFalse(try PairedComparison(correctA: a, correctB: c).significant())
        XCTAssertThrowsError(try PairedComparison(correctA: [true], correctB: []))
    }

    func testMetricsCarryIntervals() throws {
        let m = try ClassificationMetrics(predicted: [0, 1, 1, 0], truth: [0, 1, 0, 0], classes: 2)
        let w = try Intervals.wilson(successes: 3, trials: 4)
        XCTAssertEqual(m.accuracyInterval, w)
        XCTAssertEqual(m.correct, [true, true, false, true])
        XCTAssertNil(m.logLossInterval)
        let p = try Matrix<Double>([[0.5, 0.5], [0.25, 0.75]])
        let l = try ClassificationMetrics(predicted: [0, 1], truth: [0, 1], classes: 2, probabilities: p)
        // Two per-example losses, log 2 and −log 0.75: every resampled mean lies between them.
        XCTAssertGreaterThanOrEqual(l.logLossInterval!.lower, -log(0.75) - 1e-15)
        XCTAssertLessThanOrEqual(l.logLossInterval!.upper, log(2) + 1e-15)
    }
}

final class GridExtensionTests: XCTestCase {
    /// A grid that stops two half-decades into the full grid grows until it reaches the λ the full grid chooses, at
    /// the same LOO score.
    func testRidgeGridGrowsToTheInteriorOptimum() throws {
        var rng = SeededRandom(seed: 11)
        let n = 60, d = 30
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i in x[i, 0] + 0.8 * rng.normal() > 0 ? 1 : 0 }
        let full = logspace(-3, 6, 19)
        let reference = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: full, extension: nil)
        XCTAssertGreaterThan(reference.chosenIndex, 2)
        XCTAssertLessThan(reference.chosenIndex, 18)
        XCTAssertNil(reference.gridSearch?.edge)
        let m = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: Array(full[0..<2]))
        XCTAssertEqual(m.alpha, reference.alpha, accuracy: 1e-9 * reference.alpha)
        XCTAssertEqual(m.looScore, reference.looScore, accuracy: 1e-12)
        XCTAssertGreaterThan(m.gridSearch!.extensions, 0)
        XCTAssertNil(m.gridSearch!.edge)
        XCTAssertTrue(m.gridSearch!.note.contains("grid extended"))
        // Without extension the same short grid clips at its upper end, and says so.
        let clipped = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: Array(full[0..<2]), extension: nil)
        XCTAssertEqual(clipped.gridSearch?.edge, .upper)
        XCTAssertTrue(clipped.gridSearch!.note.contains("upper end"))
    }

    /// Every route of `fit(x:)` (gram mode n ≤ d; cov mode with each decomposition) extends the grid on its one
    /// decomposition: the extended fit is the fit of the searched grid given directly (same λ, LOO curve and
    /// coefficients), and its timings show one eigen phase and one LOO pass per round.
    func testRidgeGridExtensionReusesTheDecomposition() throws {
        var rng = SeededRandom(seed: 5)
        for (n, d, decomposition) in [(40, 90, RidgeDecomposition.auto), (40, 90, .eigen), (150, 70, .tridiagonal),
                                      (150, 70, .band), (150, 70, .eigen)] {
            let x = Matrix<Float>(rows: n, cols: d) { _, _ in Float(rng.normal()) }
            let labels = (0..<n).map { i in Double(x[i, 0] + x[i, 1]) + 0.7 * rng.normal() > 0 ? 1 : 0 }
            let what = "n \(n) d \(d) \(decomposition)"
            let m = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: [1e-3, 3e-3],
                                            standardize: true, decomposition: decomposition)
            let search = try XCTUnwrap(m.gridSearch, what)
            XCTAssertGreaterThan(search.extensions, 0, what)
            XCTAssertEqual(m.timings.filter { $0.phase == "eigen" }.count, 1, what)
            XCTAssertEqual(m.timings.filter { $0.phase == "loo" }.count, search.extensions + 1, what)
            let direct = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: search.searched,
                                                 standardize: true, decomposition: decomposition, extension: nil)
            XCTAssertEqual(m.alpha, direct.alpha, what)
            XCTAssertEqual(m.alphas, direct.alphas, what)
            for (a, b) in zip(m.looMeanSquaredError, direct.looMeanSquaredError) {
                XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b)), what)
            }
            XCTAssertEqual(m.looAccuracy, direct.looAccuracy, what)
            for j in 0..<d {
                XCTAssertEqual(m.coefficients[j, 0], direct.coefficients[j, 0],
                               accuracy: 1e-9 * max(1e-6, abs(direct.coefficients[j, 0])), what)
            }
            XCTAssertEqual(m.intercepts[0], direct.intercepts[0], accuracy: 1e-9 * max(1, abs(direct.intercepts[0])), what)
        }
    }

    /// Labels independent of the features: the LOO error falls as λ → ∞, so the grid grows to its limit and the
    /// report says λ is still at the upper end.
    func testRidgeGridStopsAtTheLimitAndSaysSo() throws {
        var rng = SeededRandom(seed: 3)
        let x = Matrix<Double>(rows: 40, cols: 5) { _, _ in rng.normal() }
        let labels = (0..<40).map { _ in rng.int(below: 2) }
        let limit = GridExtension(lowerLimit: 1e-3, upperLimit: 1e4)
        let m = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: [0.1, 1, 10], extension: limit)
        XCTAssertEqual(m.alpha, 1e4, accuracy: 1e-6)
        XCTAssertEqual(m.gridSearch?.edge, .upper)
        XCTAssertEqual(m.gridSearch?.searched.max() ?? 0, 1e4, accuracy: 1e-6)
        XCTAssertTrue(m.gridSearch!.note.contains("limit reached"))
    }

    func testLogisticGridGrows() throws {
        var rng = SeededRandom(seed: 5)
        let n = 80, d = 4
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i in x[i, 0] + 0.5 * rng.normal() > 0 ? 1 : 0 }
        let full = logspace(-6, 4, 11)
        let reference = try LogisticRegression.fitCV(x: x, labels: labels, classes: 2, Cs: full, extension: nil)
        let best = full.firstIndex(of: reference.C)!
        let cv = reference.cvAccuracy
        // The longest strictly rising run of CV accuracy that ends at the best C: a grid stopping inside it clips.
        var start = best
        while start > 0 && cv[start - 1] < cv[start] { start -= 1 }
        XCTAssertLessThanOrEqual(start, best - 2, "the fixture should rise over at least three grid values")
        let m = try LogisticRegression.fitCV(x: x, labels: labels, classes: 2, Cs: Array(full[start...(start + 1)]))
        // The extension's values are the full grid's, so CV picks the same first best C.
        XCTAssertEqual(m.C, reference.C, accuracy: 1e-9 * reference.C)
        XCTAssertGreaterThan(m.gridSearch!.extensions, 0)
        XCTAssertNil(m.gridSearch!.edge)
    }

    /// One-vs-rest on three separable clusters: each class's binary problem is solved, the argmax recovers the
    /// clusters, probabilities sum to one, and each class records its own C.
    func testOneVsRest() throws {
        var rng = SeededRandom(seed: 9)
        let centres: [[Double]] = [[4, 0], [0, 4], [-4, -4]]
        let n = 90
        let labels = (0..<n).map { $0 % 3 }
        let x = Matrix<Double>(rows: n, cols: 2) { i, j in centres[labels[i]][j] + rng.normal() }
        let m = try LogisticRegression.fitCV(x: x, labels: labels, classes: 3, Cs: logspace(-3, 3, 7),
                                             multiclass: .oneVsRest)
        XCTAssertEqual(m.multiclass, .oneVsRest)
        XCTAssertEqual(m.perClassC.count, 3)
        XCTAssertEqual(m.trainAccuracy, 1)
        let p = try m.predictProbabilities(x)
        for i in 0..<n { XCTAssertEqual((0..<3).map { p[i, $0] }.reduce(0, +), 1, accuracy: 1e-12) }
        // Class k's column equals the binary fit of k against the rest at that class's C.
        let binary = try LogisticRegression.fit(x: x, labels: labels.map { $0 == 1 ? 1 : 0 }, classes: 2, C: m.perClassC[1],
                                                tolerance: 1e-8)
        XCTAssertEqual(m.coefficients[0, 1], binary.coefficients[0, 0], accuracy: 1e-3 * abs(binary.coefficients[0, 0]))
    }

    func testPaperProtocolGrids() {
        XCTAssertEqual(ProbeProtocol.paper.logisticCs(trainingExamples: 6920).count, 10)
        XCTAssertEqual(ProbeProtocol.paper.logisticCs(trainingExamples: 6920).first!, 1e-6, accuracy: 1e-20)
        XCTAssertEqual(ProbeProtocol.paper.logisticCs(trainingExamples: 6920).last!, 1e3, accuracy: 1e-9)
        XCTAssertEqual(ProbeProtocol.paper.logisticCs(trainingExamples: 20000), logspace(-3, 2, 6))
        XCTAssertFalse(ProbeProtocol.paper.standardize)
        XCTAssertTrue(ProbeProtocol.lmprobe.standardize)
        XCTAssertEqual(ProbeProtocol.paper.multiclass(classes: 5, multinomialFeature: false), .oneVsRest)
        XCTAssertEqual(ProbeProtocol.paper.multiclass(classes: 5, multinomialFeature: true), .multinomial)
        XCTAssertEqual(ProbeProtocol.lmprobe.multiclass(classes: 5, multinomialFeature: false), .multinomial)
    }
}

final class ResampledScoreTests: XCTestCase {
    func testMeanAndSampleStandardDeviation() {
        let s = ResampledScore([0.60, 0.64, 0.62])
        XCTAssertEqual(s.mean, 0.62, accuracy: 1e-15)
        XCTAssertEqual(s.standardDeviation, 0.02, accuracy: 1e-15)
        XCTAssertEqual(ResampledScore([0.5]).standardDeviation, 0)
    }
}

final class StudentTIntervalTests: XCTestCase {
    /// Two-sided 95 % t quantiles (scipy.stats.t.ppf(0.975, ν)) and a t interval of a mean.
    func testStudentTQuantilesMatchTables() throws {
        for (nu, t) in [(1, 12.706204736174698), (2, 4.302652729749464), (4, 2.7764451051977934), (30, 2.0422724563012373)] {
            XCTAssertEqual(try Intervals.studentTQuantile(level: 0.95, degreesOfFreedom: nu), t, accuracy: 1e-8, "ν = \(nu)")
        }
        let i = try Intervals.tMean([1, 2, 3])
        XCTAssertEqual(i.lower, 2 - 4.302652729749464 / 3.0.squareRoot(), accuracy: 1e-8)
        XCTAssertEqual(i.upper, 2 + 4.302652729749464 / 3.0.squareRoot(), accuracy: 1e-8)
        XCTAssertThrowsError(try Intervals.tMean([1]))
    }
}
