import ArgumentParser
import Foundation
import Linalg
import Probes
import Support

/// `lmprobe bench probe`: seconds for a ridge probe (exact LOO over a λ grid) — or a logistic CV probe — on random data.
/// Its peer is `experiments/bench/peer_ridge.py` (scikit-learn's RidgeClassifierCV on the same shape and alphas).
struct BenchProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Seconds to fit a ridge probe with exact LOO over a λ grid (or a logistic CV probe) on random data."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Examples.") var n: Int = 6920
    @Option(help: "Feature dimension.") var d: Int = 2048
    @Option(help: "Classes.") var classes: Int = 2
    @Option(help: "Probe.") var method: ProbeMethod = .ridge
    @Option(help: "Ridge decomposition.") var decomposition: RidgeDecomposition = .auto
    @Option(help: "Ridge λ grid, comma-separated (default: the probe's, logspace(-3, 6, 19)).") var alphas: PositiveGrid?
    @Flag(help: "Ridge: search exactly the given grid (no extension at an edge), as scikit-learn does.") var fixedGrid = false
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Print {\"n\", \"d\", \"seconds\", …} as JSON.") var json = false

    func validate() throws {
        guard n >= 2, d >= 1 else { throw ValidationError("--n must be ≥ 2 and --d ≥ 1") }
        guard classes >= 2, classes <= n else { throw ValidationError("--classes must be in 2...n (got \(classes))") }
        try alphas?.checkPositive("--alphas")
    }

    func run() throws {
        global.apply()
        // Float32 features as `extract` writes them: class means plus unit Gaussian noise.
        var rng = SeededRandom(seed: seed)
        let labels = (0..<n).map { $0 % classes }
        let means = Matrix<Float>(rows: classes, cols: d)
        rng.fillNormal(means.pointer, count: means.count, std: 0.1)
        let x = Matrix<Float>(rows: n, cols: d)
        rng.fillNormal(x.pointer, count: x.count, std: 1)
        for i in 0..<n { Float.axpy(d, 1, means.pointer + labels[i] * d, 1, x.pointer + i * d, 1) }

        let start = Benchmark.now(), cpuStart = Benchmark.cpuSeconds()
        var summary = Summary(n: n, d: d, classes: classes, method: method.rawValue, threads: Threads.count)
        if method == .ridge {
            let m = try RidgeClassifier.fit(x: x, labels: labels, classes: classes,
                                            alphas: alphas?.values ?? RidgeClassifier.defaultAlphas,
                                            decomposition: decomposition, extension: fixedGrid ? nil : .ridge)
            summary.decomposition = m.decomposition.rawValue
            summary.alphasSearched = m.gridSearch?.searched ?? m.alphas
            summary.phasesCPU = Dictionary(m.timings.map { ($0.phase, $0.cpuSeconds) }, uniquingKeysWith: +)
            summary.alpha = m.alpha; summary.mode = m.mode; summary.trainAccuracy = m.trainAccuracy
            summary.phases = Dictionary(m.timings.map { ($0.phase, $0.seconds) }, uniquingKeysWith: +)
        } else {
            let m = try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, tolerance: 1e-6)
            summary.C = m.C; summary.trainAccuracy = m.trainAccuracy
        }
        summary.seconds = Benchmark.now() - start
        summary.cpuSeconds = Benchmark.cpuSeconds() - cpuStart
        if json {
            try printJSON(summary)
        } else {
            print(String(format: "%@ probe, n = %d, d = %d, %d classes: %.3f s", method.rawValue, n, d, classes,
                         summary.seconds))
        }
    }

    struct Summary: Encodable {
        let n, d, classes: Int
        let method: String
        let threads: Int
        var decomposition: String? = nil
        var alpha: Double? = nil
        var mode: String? = nil
        var C: Double? = nil
        var trainAccuracy: Double? = nil
        var alphasSearched: [Double]? = nil
        var phases: [String: Double]? = nil
        /// Process CPU seconds per phase and in all (every thread): the figures a loaded machine does not inflate.
        var phasesCPU: [String: Double]? = nil
        var seconds = 0.0
        var cpuSeconds = 0.0
        enum CodingKeys: String, CodingKey {
            case n, d, classes, method, threads, decomposition, alpha, mode, C = "c", trainAccuracy
            case alphasSearched, phases, phasesCPU = "phasesCpu", seconds, cpuSeconds
        }
    }
}
