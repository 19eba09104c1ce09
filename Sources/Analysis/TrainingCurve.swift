import Foundation
import Model

/// Training curves of one or more pretraining runs on one chart: training loss (solid line) and validation loss
/// (dashed, with markers) against tokens seen, one colour per run.
public enum TrainingCurve {
    /// One run: a display name and its log.
    public struct Run: Sendable {
        public var name: String
        public var log: TrainingLog
        public init(name: String, log: TrainingLog) { self.name = name; self.log = log }
    }

    public static func svg(_ runs: [Run], title: String = "Training curves") throws -> String {
        guard !runs.isEmpty else { throw AnalysisError.emptyInput("training curve: no runs") }
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        var styles: [SVGChart.LineStyle] = []
        for (i, r) in runs.enumerated() {
            guard !r.log.train.isEmpty || !r.log.validation.isEmpty else {
                throw AnalysisError.emptyInput("training curve: run \(r.name) logged no losses yet")
            }
            let prefix = runs.count == 1 ? "" : r.name + " · "
            series.append((prefix + "train loss", r.log.train.map { (Double($0.tokens), $0.value) }))
            styles.append(.init(colour: i, markers: false))
            series.append((prefix + "validation loss", r.log.validation.map { (Double($0.tokens), $0.value) }))
            styles.append(.init(colour: i, dashed: true, markers: true))
        }
        return SVGChart.lines(title: title, xLabel: "tokens seen", yLabel: "loss", series: series, percent: false,
                              styles: styles)
    }

    /// Markdown summary: per run, steps and tokens logged, last training loss, best and last validation loss.
    public static func markdown(_ runs: [Run]) -> String {
        var out = "| run | steps | tokens | last train loss | best val loss (step) | last val loss | last val CE |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|\n"
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "—" }
        for r in runs {
            let last = r.log.train.last, lastVal = r.log.validation.last
            let best = r.log.validation.min { $0.value < $1.value }
            let steps = max(last?.step ?? 0, lastVal?.step ?? 0), tokens = max(last?.tokens ?? 0, lastVal?.tokens ?? 0)
            out += "| \(r.name) | \(steps) | \(tokens) | \(f(last?.value)) | "
            out += "\(best.map { "\(f($0.value)) (\($0.step))" } ?? "—") | \(f(lastVal?.value)) | "
            out += "\(f(r.log.validationCrossEntropy.last?.value)) |\n"
        }
        return out
    }
}
