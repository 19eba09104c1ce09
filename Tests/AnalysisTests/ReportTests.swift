import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Analysis
import Linalg
import Probes

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
        let back = try ReportWriter.decoder().decode(AnalysisReport.self, from: Data(contentsOf: url))
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
                                     probes: ["f": .init(accuracy: 0.676, loss: 0.61)]),
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
        XCTAssertTrue(t.markdown().contains("| b | 2000 | 5.3000 | \(String(format: "%.4f", (5.30 - star).squareRoot())) | 67.6 (0.610) | — |"),
                      t.markdown())
        // Two checkpoints: no fit, ℓ* is the smallest loss, and the report says so.
        let two = try TransferCheck(checkpoints: Array(cps[0..<2]))
        XCTAssertEqual(two.bestValidationLoss, 5.20)
        XCTAssertTrue(two.markdown().contains("fewer than 3 checkpoints"))
        // Decrements that shrink more slowly than any power law (0.25 then 0.16 over equal steps): degenerate, said.
        let slow = try TransferCheck(checkpoints: [cps[1], cps[2], .init(label: "c", step: 3000, validationLoss: 5.14, probes: [:])])
        XCTAssertEqual(slow.bestValidationLoss, 5.14)
        XCTAssertTrue(slow.markdown().contains("degenerate"))
        for sq in [false, true] { XCTAssertTrue(XMLCheck.parse(t.svg(sqrtExcess: sq)).ok) }
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

final class LeakageTests: XCTestCase {
    func testNormalizationUndoesPTBTokenisation() {
        XCTAssertEqual(LeakageNormalization.normalize("It is n't -LRB- sic -RRB- a `` great '' film , is it ?"),
                       LeakageNormalization.normalize("it isn't (sic) a \"great\" film, is it?"))
        XCTAssertEqual(LeakageNormalization.normalize("The  film 's   charm\n..."), "the film's charm...")
        XCTAssertEqual(LeakageNormalization.normalize("He said “wow” — it’s fine"),
                       LeakageNormalization.normalize("he said `` wow '' — it 's fine"))
        XCTAssertEqual(LeakageNormalization.normalize("ca n't 1\\/2"), "can't 1/2")
    }

    func testByteLevelNormalizationEqualsTheCharacterDefinition() {
        var rng = SeededRandom(seed: 11)
        let pieces = ["The", "MOVIE", "is", "n't", "N'T", "``", "''", "`", "'", "\\/", "\\*", "-LRB-", "-rrb-", "-LSB-",
                      "-RSB-", "-LCB-", "-RCB-", "(", ")", "$", "%", ",", ".", "?", "a-lrb-b", "x``y''z", "'s", "--",
                      "-", "\\", "\"", "A1", "[", "]", "{", "}", ";", ":", "!", "\u{0B}", "\u{0C}", "\r\n", "\t"]
        let spaces = [" ", "  ", "\n", "\t", "\r", "", " \u{0C} "]
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<(1 + rng.int(below: 25)) {
                text += pieces[rng.int(below: pieces.count)] + spaces[rng.int(below: spaces.count)]
            }
            XCTAssertEqual(LeakageNormalization.normalize(text), LeakageNormalization.normalizeCharacters(text), text.debugDescription)
        }
        // Non-ASCII text takes the Character path.
        let s = "Café “Noir” isn’t   ÉLAN"
        XCTAssertEqual(LeakageNormalization.normalize(s), LeakageNormalization.normalizeCharacters(s))
        XCTAssertEqual(LeakageNormalization.normalize(s), "café\"noir\"isn't élan")   // quotes glue both sides
    }

    func testParallelScanOfManyDocumentsEqualsOneByOne() throws {
        var rng = SeededRandom(seed: 3)
        let words = ["the", "movie", "is", "n't", "good", ",", ".", "bad", "-LRB-", "-RRB-", "'s", "fun", "a", "élan"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<64).map { _ in sentence(40) }
        let eval = (0..<60).map { _ in sentence(1 + rng.int(below: 6)) }
        let one = try LeakageIndex(sentences: eval, anchorBytes: 8), many = try LeakageIndex(sentences: eval, anchorBytes: 8)
        for d in docs { one.scan(document: d) }
        many.scan(documents: docs)
        XCTAssertEqual(one.report(), many.report())
        XCTAssertEqual(many.report().corpusDocuments, 64)
        XCTAssertGreaterThan(many.report().leaked, 0)
    }

    func testFindsExactlyTheSentencesContainedInTheCorpus() throws {
        let eval = ["A gorgeous , witty , seductive movie .",              // in doc 1, PTB form
                    "The film is n't much fun .",                          // in doc 2 mid-text
                    "An entirely different sentence that is long enough to be anchored .",   // absent
                    "Ugh .",                                              // short: in doc 2 as "ugh."
                    "A gorgeous, witty, seductive movie that is absent.", // shares an anchor prefix, absent
                    "",                                                   // empty: not checked
                    "It 's -LRB- not -RRB- bad ."]                        // at the very end of doc 3
        let index = try LeakageIndex(sentences: eval, anchorBytes: 16)
        index.scan(document: "Critics said: a gorgeous, witty, seductive movie. Then more.")
        index.scan(document: "Honestly the film isn't much fun. Ugh. Nope")
        index.scan(document: "short")
        index.scan(document: "Finally: it's (not) bad.")
        let r = index.report()
        XCTAssertEqual(r.leakedIndices, [0, 1, 3, 6])
        XCTAssertEqual(r.leaked, 4)
        XCTAssertEqual(r.notChecked, 1)
        XCTAssertEqual(r.corpusDocuments, 4)
        XCTAssertEqual(r.examples.first, eval[0])
        XCTAssertTrue(r.markdown().contains("4 of 7"))
    }

    func testAgreesWithNaiveSubstringSearchOnRandomText() throws {
        var rng = SeededRandom(seed: 7)
        let words = ["the", "movie", "is", "n't", "good", ",", ".", "bad", "-LRB-", "-RRB-", "'s", "fun", "a"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<30).map { _ in sentence(60) }
        var eval = (0..<40).map { _ in sentence(1 + rng.int(below: 6)) }
        eval.append(contentsOf: docs.prefix(5).map { d in d.split(separator: " ").dropFirst(10).prefix(12).joined(separator: " ") })
        let index = try LeakageIndex(sentences: eval, anchorBytes: 8)
        for d in docs { index.scan(document: d) }
        let normDocs = docs.map(LeakageNormalization.normalize)
        let expected = eval.indices.filter { i in
            let s = LeakageNormalization.normalize(eval[i])
            return !s.isEmpty && normDocs.contains { $0.utf8.count >= s.utf8.count && $0.contains(s) }
        }
        XCTAssertEqual(index.report().leakedIndices, expected)
        XCTAssertGreaterThan(expected.count, 5)
        XCTAssertLessThan(expected.count, eval.count)
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
}
