import Analysis
import ArgumentParser
import Foundation
import Support
import Model
import Text
import Report

/// `lmprobe analyze plug-in`: the Quad loss reachable on a frozen Φ (f = G⁻¹Φᵀp_CE(s)), and a Quad model's own
/// loss on the same validation windows.
struct AnalyzePlugIn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plug-in",
        abstract: "Quad loss of the plug-in f = G⁻¹Φᵀp_CE(s) from a reference CE model, on the whole validation split.",
        discussion: "Writes OUT/plug-in.json and OUT/plug-in.md, with the Quad loss of the best constant f for Φ (−½ûᵀP_Φû, û the next-word frequencies of the scored positions) beside the plug-in value. With --quad, also scores that Quad model on the same windows, says whether it is within 10 % of the plug-in value, and how much of the way from the best constant to the plug-in value it got.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Reference CE checkpoint or run folder: supplies p_CE(s) and the frozen Φ.") var checkpoint: String
    @Option(help: "A Quad checkpoint or run folder (trained on the reference's frozen Φ) to score on the same windows.")
    var quad: String?
    @Option(help: "Token folder (default: the one recorded in the reference checkpoint).") var data: String?
    @Option(help: "Windows per forward batch.") var batch = 8
    @Option(help: "Score at most this many validation windows (evenly spaced; default: all).") var maxWindows: Int?
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        if let m = maxWindows, m < 1 { throw ValidationError("--max-windows must be at least 1 (got \(m))") }
    }

    struct Document: Encodable {
        let check = "plug-in"
        let tool = "lmprobe"
        let version = LMProbe.version
        let settings: [String: String]
        let plugIn: PlugInQuadLoss
        let quad: SplitLoss?
    }

    func run() throws {
        global.apply()
        let (ref, url, _) = try ModelLoader.checkpoint(checkpoint)
        guard let dir = data ?? ref.metadata["data"] else {
            throw CLIError("\(url.path): records no token folder; give --data")
        }
        let tokens = try TokenDataset(directory: URL(fileURLWithPath: dir))
        let plug = try PlugInQuadLoss.compute(reference: ref.model, data: tokens, batch: batch, maxWindows: maxWindows)
        var quadLoss: SplitLoss? = nil
        var settings = ["checkpoint": reportPath(url.path), "data": dir, "batch": "\(batch)",
                        "max_windows": maxWindows.map(String.init) ?? "all"]
        if let q = quad {
            let (qm, qurl, _) = try ModelLoader.checkpoint(q)
            try PlugInQuadLoss.checkComparable(reference: ref.model, quad: qm.model, quadPath: "--quad " + qurl.path)
            quadLoss = try qm.model.splitLoss(data: tokens, batch: batch, maxWindows: maxWindows)
            settings["quad"] = reportPath(qurl.path)
        }
        let markdown = plug.markdown(quad: quadLoss)
        let outURL = URL(fileURLWithPath: out)
        try ReportWriter.writeJSON(Document(settings: settings, plugIn: plug, quad: quadLoss),
                                   to: outURL.appendingPathComponent("plug-in.json"))
        try ReportWriter.writeText(markdown, to: outURL.appendingPathComponent("plug-in.md"))
        print(markdown, terminator: "")
    }
}
