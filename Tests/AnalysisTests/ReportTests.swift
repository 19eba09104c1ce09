import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Analysis
import Linalg

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
            TransferCheck.Checkpoint(label: "c", step: 3000, validationLoss: 5.14,
                                     probes: ["f": .init(accuracy: 0.694, loss: 0.58), "phip": .init(accuracy: 0.686)]),
            TransferCheck.Checkpoint(label: "a", step: 1000, validationLoss: 5.55,
                                     probes: ["f": .init(accuracy: 0.651, loss: 0.63), "phip": .init(accuracy: 0.64)]),
            TransferCheck.Checkpoint(label: "b", step: 2000, validationLoss: 5.30,
                                     probes: ["f": .init(accuracy: 0.676, loss: 0.61)]),
        ]
        let t = try TransferCheck(checkpoints: cps)
        XCTAssertEqual(t.checkpoints.map { $0.label }, ["a", "b", "c"])
        XCTAssertEqual(t.bestValidationLoss, 5.14)
        XCTAssertEqual(t.sqrtExcessLoss, [(0.41).squareRoot(), (0.16).squareRoot(), 0], accuracy: 1e-12)
        let f = t.correlations.first { $0.feature == "f" }!
        XCTAssertEqual(f.checkpoints, 3)
        XCTAssertEqual(f.spearmanAccuracyLoss, -1, accuracy: 1e-12)
        XCTAssertLessThan(f.pearsonAccuracyLoss, -0.99)
        XCTAssertEqual(f.pearsonProbeLossLoss!, 1, accuracy: 0.05)
        let p = t.correlations.first { $0.feature == "phip" }!
        XCTAssertEqual(p.checkpoints, 2)
        XCTAssertEqual(p.pearsonAccuracyLoss, -1, accuracy: 1e-12)   // two points: perfectly (anti)correlated
        XCTAssertNil(p.pearsonProbeLossLoss)
        XCTAssertTrue(t.markdown().contains("| b | 2000 | 5.3000 | 0.4000 | 67.6 (0.610) | — |"))
        for sq in [false, true] { XCTAssertTrue(XMLCheck.parse(t.svg(sqrtExcess: sq)).ok) }
        XCTAssertThrowsError(try TransferCheck(checkpoints: []))
        XCTAssertThrowsError(try TransferCheck(checkpoints: [.init(label: "x", step: 1, validationLoss: 5,
                                                                   probes: ["f": .init(accuracy: 69)])]))
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
