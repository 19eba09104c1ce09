import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Analysis
import Linalg
import Probes
import Support
import Report

/// Parses `text` as XML; returns the parser error, or nil when well-formed. Also counts elements by name.
final class XMLCheck: NSObject, XMLParserDelegate {
    var counts = [String: Int]()
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) { counts[name, default: 0] += 1 }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    static func parse(_ svg: String) -> (ok: Bool, check: XMLCheck, error: String) {
        let p = XMLParser(data: Data(svg.utf8)), d = XMLCheck()
        p.delegate = d
        let ok = p.parse()
        return (ok, d, p.parserError.map { "\($0)" } ?? "")
    }
}

final class ReportTests: XCTestCase {
    func results() -> [ProbeResult] {
        [ProbeResult(task: "SST-2", prompt: " This movie is", model: "ce", feature: "f(s)", accuracy: 0.6944),
         ProbeResult(task: "SST-2", prompt: " This movie is", model: "ce", feature: "Φp_f(s)", accuracy: 0.6861),
         ProbeResult(task: "SST-2", prompt: nil, model: "ce", feature: "f(s)", accuracy: 0.675),
         ProbeResult(task: "SST-2", prompt: nil, model: "ce", feature: "BoW <tf-idf> & \"ridge\"", accuracy: 0.822),
         ProbeResult(task: "SST-5", prompt: nil, model: "ce", feature: "f(s)", accuracy: 0.346)]
    }

    func testMarkdownTableBoldsBestPerColumnAndFormatsPercent() throws {
        let t = try ComparisonTable(results: results())
        XCTAssertEqual(t.columns.count, 3)
        XCTAssertEqual(t.features, ["f(s)", "Φp_f(s)", "BoW <tf-idf> & \"ridge\""])
        let md = t.markdown()
        let lines = md.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "| features | SST-2 · “This movie is” · ce | SST-2 · no prompt · ce | SST-5 · no prompt · ce |")
        XCTAssertEqual(lines[1], "|---|---:|---:|---:|")
        XCTAssertEqual(lines[2], "| f(s) | **69.4** | 67.5 | **34.6** |")
        XCTAssertEqual(lines[3], "| Φp_f(s) | 68.6 | — | — |")
        XCTAssertEqual(lines[4], "| BoW <tf-idf> & \"ridge\" | — | **82.2** | — |")
        XCTAssertThrowsError(try ComparisonTable(results: results() + [results()[0]]))
    }

    func testBarChartIsWellFormedEscapedXML() throws {
        let svg = try ComparisonTable(results: results()).svg(title: "Probe <accuracy> & more")
        let (ok, check, error) = XMLCheck.parse(svg)
        XCTAssertTrue(ok, error)
        XCTAssertEqual(check.counts["rect"], 1 + 5 + 3)   // background + one per measured bar + legend swatches
        XCTAssertTrue(check.text.contains("Probe <accuracy> & more"))
        XCTAssertTrue(check.text.contains("82.2"))
        XCTAssertThrowsError(try SVGChart.groupedBars(title: "x", groups: ["a"], series: ["s"], values: [[1, 2]],
                                                      yLabel: "y"))
        XCTAssertEqual(SVGChart.escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;")
        XCTAssertEqual(SVGChart.ticks(0, 1, count: 5), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 }, accuracy: 1e-12)
    }

    func testLineChartIsWellFormed() {
        let svg = SVGChart.lines(title: "acc vs loss", xLabel: "CE", yLabel: "accuracy",
                                 series: [(name: "f & g", points: [(5.5, 0.65), (5.1, 0.69), (5.3, 0.67)]),
                                          (name: "single", points: [(5.2, 0.6)])])
        let (ok, check, error) = XMLCheck.parse(svg)
        XCTAssertTrue(ok, error)
        XCTAssertEqual(check.counts["polyline"], 1)
        XCTAssertEqual(check.counts["circle"], 4)
    }

    func testReportJSONRoundTripsWithNaN() throws {
        let lin = try LinearityCheck.run(f: randomMatrix(30, 2, scale: 1, seed: 1),
                                         conditionalMean: Matrix(rows: 30, cols: 2) { i, j in j == 0 ? 1 : Float(i) })
        XCTAssertTrue(lin.heldOutR2PerDimension[0].isNaN)       // constant dimension
        let report = AnalysisReport(settings: ["seed": "0"], results: results(), linearity: lin)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-report-\(UUID())/report.json")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try ReportWriter.writeJSON(report, to: url)
        let back = try JSONCoding.decoder().decode(AnalysisReport.self, from: Data(contentsOf: url))
        XCTAssertEqual(back.results, report.results)
        XCTAssertTrue(back.linearity!.heldOutR2PerDimension[0].isNaN)
        XCTAssertEqual(back.linearity!.heldOutR2, lin.heldOutR2)
        let md = try report.markdown()
        XCTAssertTrue(md.contains("## Probe accuracy") && md.contains("### Linearity"))
    }
}

func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

final class TransferCheckTests: XCTestCase {
    func testSqrtExcessAndCorrelations() throws {
        let cps = [
            TransferCheck.Checkpoint(label: "c", step: 3000, validationLoss: 5.20,
                                     probes: ["f": .init(accuracy: 0.694, loss: 0.58), "phip": .init(accuracy: 0.686)]),
            TransferCheck.Checkpoint(label: "a", step: 1000, validationLoss: 5.55,
                                     probes: ["f": .init(accuracy: 0.651, loss: 0.63), "phip": .init(accuracy: 0.64)]),
            TransferCheck.Checkpoint(label: "b", step: 2000, validationLoss: 5.30,
                                     probes: ["f": .init(accuracy: 0.676, loss: 0.61)], tokensSeen: 4_096_000),
        ]
        let t = try TransferCheck(checkpoints: cps)
        XCTAssertEqual(t.checkpoints.map { $0.label }, ["a", "b", "c"])
        // Three checkpoints: ℓ∞ + a·t^−b passes through all three, and ℓ* is its asymptote, below every loss.
        let fit = try XCTUnwrap(t.lossCurve)
        XCTAssertTrue(fit.usable)
        for (step, loss) in [(1000.0, 5.55), (2000, 5.30), (3000, 5.20)] { XCTAssertEqual(fit.loss(atStep: step), loss, accuracy: 1e-6) }
        let star = t.bestValidationLoss
        XCTAssertEqual(star, fit.asymptote)
        XCTAssertLessThan(star, 5.20)
        XCTAssertEqual(t.sqrtExcessLoss, [5.55, 5.30, 5.20].map { ($0 - star).squareRoot() }, accuracy: 1e-12)
        XCTAssertTrue(t.markdown().contains("ℓ∞ of ℓ(t) = ℓ∞ + a·t^−b fitted to the 3 checkpoints"))
        let f = t.correlations.first { $0.feature == "f" }!
        XCTAssertEqual(f.checkpoints, 3)
        XCTAssertEqual(f.spearmanAccuracyLoss, -1, accuracy: 1e-12)
        XCTAssertEqual(f.pearsonAccuracyLoss, -0.98894199, accuracy: 1e-7)      // numpy.corrcoef
        XCTAssertEqual(f.pearsonProbeLossLoss!, 0.93676591, accuracy: 1e-7)
        let p = t.correlations.first { $0.feature == "phip" }!
        XCTAssertEqual(p.checkpoints, 2)
        XCTAssertEqual(p.pearsonAccuracyLoss, -1, accuracy: 1e-12)   // two points: perfectly (anti)correlated
        XCTAssertNil(p.pearsonProbeLossLoss)
        XCTAssertTrue(t.markdown().contains("| b | 2000 | 4096000 | 5.3000 | \(String(format: "%.4f", (5.30 - star).squareRoot())) | 67.6 (0.610) | — |"),
                      t.markdown())
        // Two checkpoints: no fit, ℓ* is the smallest loss, and the report says so.
        let two = try TransferCheck(checkpoints: Array(cps[0..<2]))
        XCTAssertEqual(two.bestValidationLoss, 5.20)
        XCTAssertTrue(two.markdown().contains("fewer than 3 checkpoints"))
        // Decrements that shrink more slowly than any power law (0.25 then 0.16 over equal steps): degenerate, said.
        let slow = try TransferCheck(checkpoints: [cps[1], cps[2], .init(label: "c", step: 3000, validationLoss: 5.14, probes: [:])])
        XCTAssertEqual(slow.bestValidationLoss, 5.14)
        XCTAssertTrue(slow.markdown().contains("degenerate"))
        XCTAssertTrue(t.markdown().contains("| a | 1000 | — | 5.5500 |"), t.markdown())
        for sq in [false, true] { XCTAssertTrue(XMLCheck.parse(t.svg(sqrtExcess: sq)).ok) }
        // Against tokens seen only the checkpoint that recorded them is drawn.
        let tokens = t.svg(x: .tokensSeen, title: "tokens")
        XCTAssertTrue(XMLCheck.parse(tokens).ok)
        XCTAssertEqual(tokens.components(separatedBy: "<circle").count - 1, 1, tokens)

        // Several runs: checkpoints ordered by run then step, one series per run × family.
        let runs = try TransferCheck(checkpoints: [
            .init(label: "L4/ckpt-20", step: 20, validationLoss: 5.0, probes: ["f": .init(accuracy: 0.7)], tokensSeen: 20, run: "L4"),
            .init(label: "L2/ckpt-20", step: 20, validationLoss: 5.5, probes: ["f": .init(accuracy: 0.6)], tokensSeen: 20, run: "L2"),
            .init(label: "L2/ckpt-10", step: 10, validationLoss: 6.0, probes: ["f": .init(accuracy: 0.5)], tokensSeen: 10, run: "L2"),
        ])
        XCTAssertEqual(runs.checkpoints.map(\.label), ["L2/ckpt-10", "L2/ckpt-20", "L4/ckpt-20"])
        let scatter = runs.svg(x: .validationLoss, title: "sizes")
        XCTAssertTrue(scatter.contains(">L2 · f</text>") && scatter.contains(">L4 · f</text>"), scatter)
        XCTAssertEqual(scatter.components(separatedBy: "<polyline").count - 1, 1, "L4 has one point: no line")
        XCTAssertNil(runs.lossCurve)
        XCTAssertEqual(runs.bestValidationLoss, 5.0)
        XCTAssertTrue(runs.markdown().contains("checkpoints of 2 runs"), runs.markdown())
        XCTAssertThrowsError(try TransferCheck(checkpoints: []))
        XCTAssertThrowsError(try TransferCheck(checkpoints: [.init(label: "x", step: 1, validationLoss: 5,
                                                                   probes: ["f": .init(accuracy: 69)])]))
    }

    /// ℓ = 5 + 3·t^−0.5 sampled without noise: the fit recovers the three parameters.
    func testLossCurveFitRecoversAKnownPowerLaw() throws {
        let steps = [100, 200, 400, 800, 1600, 3200]
        let fit = try LossCurveFit(steps: steps, losses: steps.map { 5 + 3 * pow(Double($0), -0.5) })
        XCTAssertEqual(fit.asymptote, 5, accuracy: 1e-6)
        XCTAssertEqual(fit.scale, 3, accuracy: 1e-4)
        XCTAssertEqual(fit.exponent, 0.5, accuracy: 1e-5)
        XCTAssertThrowsError(try LossCurveFit(steps: [1, 2], losses: [3, 2]))
        // A rising loss is not a usable curve (a ≤ 0).
        XCTAssertFalse(try LossCurveFit(steps: [100, 200, 400], losses: [5, 5.1, 5.3]).usable)
        XCTAssertFalse(try LossCurveFit(steps: [1000, 2000, 3000], losses: [5.55, 5.30, 5.14]).usable)
    }

    func testCorrelationReferences() {
        // Reference values from scipy.stats (pearsonr, spearmanr) on these lists.
        let x = [1.0, 2, 3, 4, 5], y = [2.0, 1, 4, 3, 5]
        XCTAssertEqual(Correlation.pearson(x, y), 0.8, accuracy: 1e-12)
        XCTAssertEqual(Correlation.spearman(x, y), 0.8, accuracy: 1e-12)
        XCTAssertEqual(Correlation.ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
        XCTAssertEqual(Correlation.spearman([1, 2, 2, 3], [1, 3, 2, 4]), 0.9486832980505138, accuracy: 1e-12)
        XCTAssertTrue(Correlation.pearson([1, 1, 1], [1, 2, 3]).isNaN)
    }
}

final class PairedReportTests: XCTestCase {
    func result(_ model: String, _ feature: String, correct: [Bool]) throws -> ProbeResult {
        let truth = [Int](repeating: 1, count: correct.count)
        let m = try ClassificationMetrics(predicted: correct.map { $0 ? 1 : 0 }, truth: truth, classes: 2)
        return ProbeResult(task: "t", prompt: nil, model: model, feature: feature, metrics: m, probe: "ridge")
    }

    /// 1000 examples: B is 4 points behind A (60 vs 20 discordant: significant), C is 0.2 points behind A (6 vs 4
    /// discordant: not); the table prints ± half-widths and marks C's cell ⁿˢ and not B's.
    func testTableMarksNonSignificantDifferences() throws {
        var a = [Bool](repeating: true, count: 1000)
        for i in 0..<200 { a[i] = false }
        var b = a, c = a
        for i in 200..<260 { b[i] = false }
        for i in 0..<20 { b[i] = true }
        for i in 200..<206 { c[i] = false }
        for i in 0..<4 { c[i] = true }
        let rs = [try result("A", "f · ridge", correct: a), try result("B", "f · ridge", correct: b),
                  try result("C", "f · ridge", correct: c)]
        let table = try ComparisonTable(results: rs)
        XCTAssertEqual(table.notSignificant, [[false, false, true]])
        let md = table.markdown()
        XCTAssertTrue(md.contains("**80.0** ±2.5 |"), md)       // Wilson half-width at 800/1000
        XCTAssertTrue(md.contains("**76.0** ±2.6 |"), md)
        XCTAssertTrue(md.contains("**79.8** ±2.5 ⁿˢ |"), md)
        let tests = try PairedTests.all(results: rs)
        XCTAssertEqual(tests.map(\.a), ["B · f · ridge", "C · f · ridge"])
        XCTAssertEqual(tests[0].comparison.onlyB, 60)
        XCTAssertTrue(tests[0].comparison.significant())
        XCTAssertTrue(PairedTests.markdown(tests).contains("| -4.0 |"), PairedTests.markdown(tests))
        // Family against the first family of the same probe method, within one model.
        let fam = try PairedTests.all(results: [try result("A", "f · ridge", correct: a), try result("A", "p · ridge", correct: c)])
        XCTAssertEqual(fam.map(\.b), ["A · f · ridge"])
    }

    /// The bag-of-words row (the same baseline in every model's column) is tested only against each model's most
    /// accurate feature: not against the first family, not model against model, and its cell is never marked ⁿˢ.
    func testBagOfWordsIsPairedWithEachModelsBestFeature() throws {
        var a = [Bool](repeating: true, count: 1000)
        for i in 0..<200 { a[i] = false }                       // 80.0 %
        var c = a, bow = a
        for i in 200..<206 { c[i] = false }                     // 79.4 %
        for i in 200..<260 { bow[i] = false }                   // 74.0 %: 60 examples only A gets right
        let bowName = ProbeResult.bagOfWordsFeature
        let rs = [try result("A", bowName, correct: bow), try result("A", "f · ridge", correct: c),
                  try result("A", "p · ridge", correct: a),
                  try result("B", bowName, correct: bow), try result("B", "f · ridge", correct: c)]
        let tests = try PairedTests.all(results: rs)
        XCTAssertEqual(tests.map { "\($0.a) | \($0.b)" },
                       ["A · p · ridge | A · f · ridge",                 // family vs the first family, BoW skipped
                        "B · f · ridge | A · f · ridge",                 // model vs the first model, BoW skipped
                        "A · p · ridge (best) | \(bowName)", "B · f · ridge (best) | \(bowName)"])
        XCTAssertEqual(tests[2].comparison.onlyA, 60)
        XCTAssertEqual(tests[2].comparison.onlyB, 0)
        XCTAssertTrue(tests[2].comparison.significant())
        XCTAssertEqual(tests[3].comparison.onlyA, 54)
        let table = try ComparisonTable(results: rs)
        XCTAssertEqual(table.features, [bowName, "f · ridge", "p · ridge"])
        XCTAssertEqual(table.notSignificant[0], [false, false])   // identical BoW columns are not a test
        XCTAssertEqual(table.notSignificant[1], [false, true])    // B's f equals A's f: not significant
    }
}
