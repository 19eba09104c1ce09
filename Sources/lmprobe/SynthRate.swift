import ArgumentParser
import Foundation
import Synthetic

/// `lmprobe synth rate`: the probe-loss gap to τ against ε over seeds, from one `synth measure` report per seed.
struct SynthRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate",
        abstract: "Aggregate `synth measure` reports (one per model seed) into the gap-to-τ against ε rate, with slopes over seeds.",
        discussion: """
        Every --measure report must come from the same HMM and task folders, with one run per objective. For each natural
        task and objective: each seed's log–log slope of the gap (fitted probe on p_f − τ by fitting; ℓ(p_f, κv) − τ)
        against ε_task, their mean and 95 % t interval, whether the gap follows √ε, ε or neither (the rule is in the
        report), and the ε below which the bound τ + B√(2ε) drops under ln 2. Writes OUT/report.json, OUT/report.md and
        OUT/TASK-OBJECTIVE.svg (log–log, with B√(2ε) and reference slopes ½ and 1).
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "A `synth measure` output folder (or its report.json), optionally NAME=DIR (repeatable; one per seed).")
    var measure: [String]
    @Option(help: "Output folder (report.json, report.md and the charts are replaced).") var out: String

    /// `--measure NAME=DIR` or `--measure DIR` (NAME: the folder's name).
    var inputs: [(name: String, url: URL)] { namedPaths(measure) }

    func validate() throws {
        guard !measure.isEmpty else { throw ValidationError("give at least one --measure report (one per seed)") }
        if let dup = firstRepeated(inputs.map(\.name)) {
            throw ValidationError("two --measure reports are named '\(dup)'; give each its own NAME=DIR")
        }
    }

    func run() throws {
        global.apply()
        let report = try SyntheticRate.aggregate(try SyntheticRate.load(inputs))
        try SyntheticRate.write(report, to: URL(fileURLWithPath: out))
        print(report.markdown())
    }
}
