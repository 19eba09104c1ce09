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
    @OptionGroup(title: "The full-vocabulary probe (ridge on a float16 n × d file, n ≤ d)") var wide: WideOptions

    func validate() throws {
        guard n >= 2, d >= 1 else { throw ValidationError("--n must be ≥ 2 and --d ≥ 1") }
        guard classes >= 2, classes <= n else { throw ValidationError("--classes must be in 2...n (got \(classes))") }
        try alphas?.checkPositive("--alphas")
        if wide.wideLabels != nil && wide.wideFixture == nil {
            throw ValidationError("--wide-labels names where --wide-fixture's labels go: give --wide-fixture too")
        }
        if wide.wideFixture != nil {
            guard method == .ridge else { throw ValidationError("--wide-fixture times the ridge probe only (not --method \(method.rawValue))") }
            guard n <= d else { throw ValidationError("--wide-fixture is the dual route: --n (\(n)) must be ≤ --d (\(d))") }
        }
    }

    func run() throws {
        global.apply()
        if let path = wide.wideFixture { return try runWide(URL(fileURLWithPath: path)) }
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

struct WideOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Time the ridge probe on a synthetic float16 --n × --d file at this path (written there unless it already holds one of that shape): streamed from the file and loaded in memory, with wall time and peak resident memory.", valueName: "file.npy"))
    var wideFixture: String?
    @Option(help: "With --wide-fixture: the path(s) to time; both runs streamed first, then in memory, in one process (the second peak is then the process's).")
    var widePath: WidePath = .both
    @Option(help: ArgumentHelp("With --wide-fixture: also write the fixture's labels here (int64 .npy), so that a peer (experiments/bench/peer_ridge.py --npy … --labels …) fits the same problem.", valueName: "labels.npy"))
    var wideLabels: String?
}

enum WidePath: String, ExpressibleByArgument, CaseIterable {
    case streamed, inMemory = "in-memory", both
}

extension BenchProbe {
    /// The wide mode: the fixture, then each path asked for, one JSON object (or line) per path.
    func runWide(_ url: URL) throws {
        let labels = try writeWideFixture(url)
        if let path = wide.wideLabels { try NPY.write(int64: labels.map { Int64($0) }, to: URL(fileURLWithPath: path)) }
        var settings = ProbeSettings()
        if let a = alphas?.values { settings.alphas = a }
        if fixedGrid { settings.alphaExtension = nil }
        settings.decomposition = decomposition
        var streamed: FittedProbe? = nil
        if wide.widePath != .inMemory {
            let (probe, figures) = try timeWide("streamed") { try ProbeRunner.fit(streaming: url, labels: labels, settings: settings) }
            streamed = probe
            try report(figures)
        }
        if wide.widePath != .streamed {
            let (probe, measured) = try timeWide("in-memory") {
                try ProbeRunner.fit(try NPY.readMatrix(url, as: Float.self), labels: labels, settings: settings)
            }
            var figures = measured
            if let s = streamed?.ridge, let m = probe.ridge {
                figures.sameAlphaAsStreamed = s.alpha == m.alpha
                var diff = 0.0, scale = 0.0
                for j in 0..<m.coefficients.rows {
                    for k in 0..<m.coefficients.cols {
                        diff = max(diff, abs(s.coefficients[j, k] - m.coefficients[j, k])); scale = max(scale, abs(m.coefficients[j, k]))
                    }
                }
                figures.coefficientRelativeDifference = diff / max(scale, .leastNormalMagnitude)
            }
            try report(figures)
        }
    }

    /// Writes the fixture unless `url` already holds a float16 --n × --d array, and returns the labels: 12 latent
    /// factors Z (which set the labels, with noise) mixed into every column, X = 2 + ZM + ½·noise, written a block
    /// of rows at a time. Unlike class means plus noise (separable at this width, so the LOO curve is flat and λ
    /// rounding's choice), the factors' eigenvalues stand above the noise bulk and λ is interior.
    func writeWideFixture(_ url: URL) throws -> [Int] {
        let k = 12
        try SystemMemory.require([[256, d, 4], [k, d, 4], [n, k, 4]], for: "the wide fixture's row blocks")
        var rng = SeededRandom(seed: seed)
        let mix = Matrix<Float>(rows: k, cols: d), z = Matrix<Float>(rows: n, cols: k)
        rng.fillNormal(mix.pointer, count: mix.count, std: 1)
        rng.fillNormal(z.pointer, count: z.count, std: 1)
        let rule = Matrix<Float>(rows: k, cols: classes)
        rng.fillNormal(rule.pointer, count: rule.count, std: 1)
        let votes = try BLAS.matmul(z, rule)
        let labels = (0..<n).map { i -> Int in
            let v = (0..<classes).map { Double(votes[i, $0]) + 1.5 * rng.normal() }
            return v.indices.max { v[$0] < v[$1] }!
        }
        if let h = try? NPY.readHeader(url), h.descr == "<f2", h.shape == [n, d] { return labels }
        let writer = try NPY.StreamWriter(url: url, descr: "<f2", shape: [n, d])
        let block = Matrix<Float>(rows: min(256, n), cols: d)
        var lo = 0
        while lo < n {
            let count = min(256, n - lo), x = block.rows(0..<count)
            rng.fillNormal(x.pointer, count: count * d, std: 0.5)
            for t in 0..<(count * d) { x.pointer[t] += 2 }
            try BLAS.gemm(z.rows(lo..<(lo + count)), mix, beta: 1, into: x)
            try writer.append(x)
            lo += count
        }
        try writer.finish()
        return labels
    }

    struct WideFigures: Encodable {
        let path: String
        let n, d, threads: Int
        let seconds, cpuSeconds: Double
        /// getrusage's ru_maxrss: the process's peak resident set so far, in bytes.
        let peakResidentBytes: Int
        let alpha, looAccuracy, trainAccuracy: Double
        var sameAlphaAsStreamed: Bool? = nil
        var coefficientRelativeDifference: Double? = nil
        let loadAverage: Double?
    }

    func timeWide(_ path: String, _ fit: () throws -> FittedProbe) throws -> (FittedProbe, WideFigures) {
        let start = Benchmark.now(), cpu = Benchmark.cpuSeconds()
        let probe = try fit()
        let seconds = Benchmark.now() - start, cpuSeconds = Benchmark.cpuSeconds() - cpu
        let m = probe.ridge!
        var load = [Double](repeating: 0, count: 1)
        let loadAverage = getloadavg(&load, 1) == 1 ? load[0] : nil
        return (probe, WideFigures(path: path, n: n, d: d, threads: Threads.count, seconds: seconds, cpuSeconds: cpuSeconds,
                                   peakResidentBytes: Benchmark.peakResidentBytes(), alpha: m.alpha,
                                   looAccuracy: m.leaveOneOutAccuracy, trainAccuracy: m.trainAccuracy,
                                   loadAverage: loadAverage))
    }

    func report(_ f: WideFigures) throws {
        if json { return try printJSON(f) }
        print(String(format: "ridge %@, n = %d, d = %d: %.2f s wall, %.2f s CPU, peak RSS %@, λ = %g, LOO acc %.4f, load %.2f",
                     f.path, f.n, f.d, f.seconds, f.cpuSeconds, SystemMemory.format(f.peakResidentBytes), f.alpha,
                     f.looAccuracy, f.loadAverage ?? .nan))
        if let same = f.sameAlphaAsStreamed, let diff = f.coefficientRelativeDifference {
            print(String(format: "  same λ as streamed: %@, coefficients differ by %.2g (relative to the largest)", same ? "yes" : "no", diff))
        }
    }
}
