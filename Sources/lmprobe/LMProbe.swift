import ArgumentParser
import Features
import Foundation
import Support

/// The lmprobe command line: one subcommand per pipeline stage, parsing and printing only.
@main
struct LMProbe: ParsableCommand {
    static let version = lmprobeVersion

    static let configuration = CommandConfiguration(
        commandName: "lmprobe",
        abstract: "Why language models help downstream tasks: pretrain GPTs on CPU, extract features, probe them.",
        discussion: """
        Pipeline: tokenize → pretrain → extract → probe → compare (and analyze).
        Reproduces Saunshi, Malladi & Arora (ICLR 2021) at CPU scale.
        """,
        version: version,
        subcommands: [Tokenize.self, Pretrain.self, Extract.self, Probe.self, Compare.self, Analyze.self, Synth.self,
                      Export.self, Bench.self, Doctor.self]
    )
}

/// Options every numeric subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for OpenBLAS and lmprobe's own loops (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1 (got \(t))") }
    }

    /// Applies the thread setting; call first in `run()`.
    func apply() {
        let n = Threads.set(threads ?? 0)
        if let t = threads, t > n { eprint("note: --threads \(t) capped at the \(n) cores available") }
    }
}

/// A CLI failure whose description is one line (swift-argument-parser prints it after "Error: ").
struct CLIError: Error, LocalizedError, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
    var errorDescription: String? { description }
}
