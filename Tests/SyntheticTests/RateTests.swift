import Foundation
import XCTest
import Probes
@testable import Synthetic
import Support

/// `synth rate`: per-seed slopes of the gap against ε, their t interval and verdict, the vacuity ε, and refusals.
final class SyntheticRateTests: XCTestCase {
    static let tau = 0.6, B = 1.0, tauFit = 0.05

    func spec(seed: UInt64 = 2, hmmSeed: UInt64 = 0) -> SyntheticTaskSpec {
        SyntheticTaskSpec(name: "sign", kind: .natural, label: .sign, direction: .classes, length: 4, prompt: [],
                          lag: nil, seed: seed, trainCount: 10, testCount: 10, kappa: 1, bias: 0, B: Self.B, tau: Self.tau,
                          tauStandardError: 0.01, tauExpected: nil, majority: 0.5, hmm: "h",
                          hmmConfig: HMMConfig(states: 2, words: 4, classes: 0, classSize: 0, seed: hmmSeed))
    }

    /// One checkpoint whose probe gap is a·ε^p (against τ by fitting) and direction gap c·ε^q (against τ).
    /// Quad checkpoints carry ε_quad = 10·ε and the probe on f has the probe gap.
    func point(_ objective: String, run: String, step: Int, eps: Double, probeGap: Double, directionGap: Double) -> SyntheticCheckpointPoint {
        let probes = ["p_f", "f"].map {
            SyntheticProbe(feature: $0, method: "logistic", accuracy: 0.7, accuracyLower: 0.6, accuracyUpper: 0.8,
                           loss: Self.tauFit + probeGap, regularisation: 1)
        }
        let tp = SyntheticTaskPoint(task: "sign", epsilonTask: eps, epsilonTaskStandardError: 0.001, tau: Self.tau, B: Self.B,
                                    bound: Self.tau + Self.B * (2 * eps).squareRoot(), directionLoss: Self.tau + directionGap,
                                    gamma: nil, boundTheorem: nil, probes: probes)
        return SyntheticCheckpointPoint(run: run, objective: objective, model: "m", step: step, checkpoint: "c",
                                        epsilon: EpsilonEstimate(epsilon: eps, epsilonStandardError: 0.001,
                                                                 epsilonQuad: objective == "quad" ? 10 * eps : nil,
                                                                 epsilonQuadStandardError: nil, floor: 4, windows: 2, positions: 8),
                                        tasks: [tp])
    }

    /// A seed's report: CE with probe gap a·ε^½ and direction gap a·ε, at ε = 10^−1 … 10^−3.5.
    func report(a: Double, runs: [String] = ["ce"], taskSeed: UInt64 = 2, hmmSeed: UInt64 = 0) -> SyntheticReport {
        let s = spec(seed: taskSeed, hmmSeed: hmmSeed)
        let pStar = SyntheticProbe(feature: "p*", method: "logistic", accuracy: 0.99, accuracyLower: 0.98, accuracyUpper: 1,
                                   loss: Self.tauFit, regularisation: 1)
        var pts: [SyntheticCheckpointPoint] = []
        for run in runs {
            for (i, e) in [-1.0, -1.5, -2, -2.5, -3, -3.5].enumerated() {
                let eps = pow(10, e)
                pts.append(point(String(run.prefix { $0 != "-" }), run: run, step: 10 * (i + 1), eps: eps, probeGap: a * eps.squareRoot(), directionGap: a * eps))
            }
        }
        return SyntheticReport(settings: [:], hmm: .init(directory: "h", config: s.hmmConfig, entropyRate: 1, entropyRateStandardError: 0.1),
                               tasks: [.init(spec: s, directory: "d", pStar: [pStar])], checkpoints: pts)
    }

    func input(_ name: String, _ r: SyntheticReport) -> (input: SyntheticRateReport.Input, report: SyntheticReport) {
        (.init(name: name, report: "\(name)/report.json"), r)
    }

    func testPowerLawSlopesAreRecoveredPerSeedAndJudgedByTheInterval() throws {
        // Exact power laws with seed-dependent factors: every seed's slope is ½ (probe) and 1 (direction), so the
        // t interval is a point; perturb one seed's last probe gap so the interval has width and still holds ½ only.
        var r3 = report(a: 0.9)
        r3.checkpoints[5].tasks[0].probes[0].loss = Self.tauFit + 0.9 * pow(10, -3.5 / 2) * 1.05
        let rate = try SyntheticRate.aggregate([input("s0", report(a: 0.5)), input("s1", report(a: 2)), input("s2", r3)])
        let probe = try XCTUnwrap(rate.series.first { $0.quantity == "probe" })
        let direction = try XCTUnwrap(rate.series.first { $0.quantity == "direction" })
        XCTAssertEqual(probe.seeds[0].slope!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(probe.seeds[1].slope!, 0.5, accuracy: 1e-12)
        XCTAssertLessThan(probe.seeds[2].slope!, 0.5)
        XCTAssertEqual(probe.verdict, "√ε")
        for s in direction.seeds { XCTAssertEqual(s.slope!, 1, accuracy: 1e-12) }
        XCTAssertEqual(direction.verdict, "ε")
        XCTAssertEqual(direction.seeds.map(\.fittedPoints), [6, 6, 6])
        let i = try XCTUnwrap(probe.slopeInterval)
        XCTAssertTrue(i.contains(0.5) && !i.contains(1), "\(i)")
    }

    func testVacuityThresholdIsWhereTheBoundReachesLn2() throws {
        let v = try XCTUnwrap(SyntheticRate.vacuityEpsilon(tau: 0.6, B: 2))
        XCTAssertEqual(v, pow((log(2.0) - 0.6) / 2, 2) / 2, accuracy: 1e-15)
        XCTAssertEqual(0.6 + 2 * (2 * v).squareRoot(), log(2.0), accuracy: 1e-12, "τ + B√(2ε) = ln 2 at the threshold")
        XCTAssertNil(SyntheticRate.vacuityEpsilon(tau: 0.7, B: 1), "τ ≥ ln 2: the bound is never under ln 2")
        let rate = try SyntheticRate.aggregate([input("s0", report(a: 1))])
        XCTAssertEqual(rate.series[0].vacuityEpsilon!, pow(log(2.0) - Self.tau, 2) / 2, accuracy: 1e-15)
        XCTAssertEqual(rate.series[0].verdict, SyntheticRate.verdict(nil), "one seed: no interval, no verdict")
        XCTAssertTrue(rate.markdown().contains("checkpoints there: 3 of 6"), "ε = 10^−2.5, 10^−3, 10^−3.5 are under 4.3e-3")
    }

    func testReportsOfDifferentHMMsOrTasksAreRefused() throws {
        XCTAssertThrowsError(try SyntheticRate.aggregate([input("s0", report(a: 1)), input("s1", report(a: 1, hmmSeed: 5))])) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("s1/report.json") && m.contains("another HMM"), m)
        }
        XCTAssertThrowsError(try SyntheticRate.aggregate([input("s0", report(a: 1)), input("s1", report(a: 1, taskSeed: 9))])) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("s1/report.json") && m.contains("other tasks"), m)
        }
        XCTAssertThrowsError(try SyntheticRate.aggregate([input("s0", report(a: 1, runs: ["ce-d32", "ce-d64"]))])) {
            XCTAssertTrue("\($0)".contains("2 ce runs"), "\($0)")
        }
    }

    func testChartHasLogAxesBoundReferenceSlopesAndVacuityMark() throws {
        let rate = try SyntheticRate.aggregate([input("s0", report(a: 1)), input("s1", report(a: 2))])
        let svg = try XCTUnwrap(rate.svg(task: "sign", objective: "ce"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2 * 2 * 6, "2 seeds × 2 gaps × 6 checkpoints")
        for text in ["B√(2ε)", "slope ½", "slope 1", "bound &lt; ln 2", ">0.001<", ">0.01<"] {
            XCTAssertTrue(svg.contains(text), text)
        }
    }

    func testQuadGapIsTheProbeOnFAgainstEpsilonQuad() throws {
        let rate = try SyntheticRate.aggregate([input("s0", report(a: 1, runs: ["ce", "quad"])), input("s1", report(a: 3, runs: ["ce", "quad"]))])
        let quad = rate.series.filter { $0.objective == "quad" }
        XCTAssertEqual(quad.map(\.quantity), ["probe on f"])
        XCTAssertEqual(quad[0].epsilon, "ε_quad")
        XCTAssertEqual(quad[0].seeds[0].points[0].epsilon, 10 * 0.1, accuracy: 1e-12)
        XCTAssertEqual(quad[0].seeds[1].slope!, 0.5, accuracy: 1e-12, "a·ε^½ = a·(ε_quad/10)^½")
        let svg = try XCTUnwrap(rate.svg(task: "sign", objective: "quad"))
        XCTAssertFalse(svg.contains("B√(2ε)"), "the bound is about ε_task, not drawn against ε_quad")
    }

    func testMeasureFolderThatIsNotAReportIsRefusedNamingIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("{\"tool\": 1}".utf8).write(to: dir.appendingPathComponent("report.json"))
        XCTAssertThrowsError(try SyntheticRate.load([("s0", dir)])) {
            XCTAssertTrue("\($0)".contains("report.json: not a `synth measure` report"), "\($0)")
        }
    }
}
