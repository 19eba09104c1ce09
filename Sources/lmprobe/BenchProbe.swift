import ArgumentParser
import Foundation
import Linalg
import Probes

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
    @Option(help: "Probe: ridge or logistic.") var method: String = "ridge"
    @Option(help: "Ridge decomposition: auto (default), band, tridiagonal or eigen.") var decomposition: String = "auto"
    @Option(help: "Ridge λ grid, comma-separated (default: the probe's, logspace(-3, 6, 19)).") var alphas: String?
    @Flag(help: "Ridge: search exactly the given grid (no extension at an edge), as scikit-learn does.") var fixedGrid = false
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Print {\"n\", \"d\", \"seconds\", …} as JSON.") var json = false

    func validate() throws {
        guard n >= 2, d >= 1 else { throw ValidationError("--n must be ≥ 2 and --d ≥ 1") }
        guard classes >= 2, classes <= n else { throw ValidationError("--classes must be in 2...n (got \(classes))") }
        guard RidgeDecomposition(rawValue: decomposition) != nil else {
            throw ValidationError("--decomposition: unknown decomposition '\(decomposition)' (use auto, band, tridiagonal or eigen)")
        }
        guard method == "ridge" || method == "logistic" else {
            throw ValidationError("--method: unknown probe '\(method)' (use ridge or logistic)")
        }
    }

    func run() throws {
        global.apply()
        let alphaGrid = try alphas.map { try parseGrid($0, option: "--alphas") } ?? RidgeClassifier.defaultAlphas
        // Float32 features as `extract` writes them: class means plus unit Gaussian noise.
        var rng = SeededRandom(seed: seed)
        let labels = (0..<n).map { $0 % classes }
        let means = Matrix<Float>(rows: classes, cols: d)
        rng.fillNormal(means.pointer, count: means.count, std: 0.1)
        let x = Matrix<Float>(rows: n, cols: d)
        rng.fillNormal(x.pointer, count: x.count, std: 1)
        for i in 0..<n { BLAS.axpyRow(means.pointer + labels[i] * d, x.pointer + i * d, d) }

        let start = Benchmark.now(), cpuStart = Benchmark.processCPUTime()
        var out: [String: Any] = ["n": n, "d": d, "classes": classes, "method": method, "threads": Threads.count]
        if method == "ridge" {
            let m = try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphaGrid,
                                            decomposition: RidgeDecomposition(rawValue: decomposition) ?? .auto,
                                            extension: fixedGrid ? nil : .ridge)
            out["decomposition"] = m.decomposition.rawValue
            out["alphas_searched"] = m.gridSearch?.searched ?? m.alphas
            out["alpha"] = m.alpha; out["mode"] = m.mode; out["train_accuracy"] = m.trainAccuracy
            out["phases"] = Dictionary(m.timings.map { ($0.phase, $0.seconds) }, uniquingKeysWith: +)
            out["phases_cpu"] = Dictionary(m.timings.map { ($0.phase, $0.cpuSeconds) }, uniquingKeysWith: +)
        } else {
            let m = try LogisticRegression.fitCV(x: x, labels: labels, classes: classes, tolerance: 1e-6)
            out["C"] = m.C; out["train_accuracy"] = m.trainAccuracy
        }
        out["seconds"] = Benchmark.now() - start
        out["cpu_seconds"] = Benchmark.processCPUTime() - cpuStart
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@ probe, n = %d, d = %d, %d classes: %.3f s", method, n, d, classes,
                         out["seconds"] as? Double ?? 0))
        }
    }
}

extension BLAS {
    /// y[0..<count] += x[0..<count].
    static func axpyRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        Float.axpy(count, 1, x, 1, y, 1)
    }
}
