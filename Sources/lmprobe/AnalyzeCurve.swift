import Analysis
import ArgumentParser
import Foundation
import Model
import Report

/// `lmprobe analyze curve`: training and validation loss of one or more runs against tokens seen, on one chart.
struct AnalyzeCurve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curve",
        abstract: "Plot training and validation loss of pretraining runs (RUNDIR/log.jsonl) against tokens seen.",
        discussion: "One colour per run: training loss solid, validation loss dashed with markers. Prints a summary table.")

    @Argument(help: "Run directories (each with log.jsonl).") var runs: [String]
    @Option(help: "The SVG file to write.") var out: String
    @Option(help: "Chart title.") var title = "Training curves"

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run directory") }
        guard out.hasSuffix(".svg") else { throw ValidationError("--out must name an .svg file (got '\(out)')") }
    }

    func run() throws {
        let names = Self.names(runs)
        let loaded = try zip(runs, names).map { path, name in
            TrainingCurve.Run(name: name, log: try TrainingLog.read(runDirectory: URL(fileURLWithPath: path)))
        }
        try ReportWriter.writeText(try TrainingCurve.svg(loaded, title: title), to: URL(fileURLWithPath: out))
        print(TrainingCurve.markdown(loaded), terminator: "")
        eprint("wrote \(out)")
    }

    /// Each run's folder name, or its whole path when two runs share a folder name.
    static func names(_ paths: [String]) -> [String] {
        let base = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }
        return Set(base).count == base.count ? base : paths
    }
}
