import ArgumentParser
import Foundation
import Linalg
import Support

/// `lmprobe doctor`: which OpenBLAS kernels this CPU can run, whether each computes every BLAS/LAPACK routine lmprobe
/// calls correctly here (`KernelSelfTest`, 1 and 2 threads), their sgemm speed, and the fastest correct one with the
/// exact setting to use. Each kernel runs in its own child process (this binary, re-executed with the hidden
/// `--self-test-child` and `OPENBLAS_CORETYPE` set in the child's environment only); this process's own
/// environment is never changed.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the OpenBLAS kernels this CPU runs, self-test each, and name the fastest correct one.",
        discussion: """
        Every kernel the CPU can run (per /proc/cpuinfo flags) is tested in its own process: each BLAS/LAPACK routine \
        lmprobe calls, in the transposes and shapes it uses, against references computed by naive loops in Double, \
        on 1 and 2 threads; then sgemm GFLOP/s (n = 1024; n = 256 with --quick). Prints the environment's kernel \
        and the best verified one with the line to use (export OPENBLAS_CORETYPE=…). Exits 1 when the \
        environment's kernel fails the self-test. See docs/blas-kernels.md.
        """
    )

    enum KernelSet: String, ExpressibleByArgument, CaseIterable {
        case all, current
    }

    @Option(help: "Kernels to test: all (every kernel this CPU can run, plus the environment's) or current (the environment's only).")
    var kernels: KernelSet = .all
    @Flag(help: "Small shapes and a short sgemm timing at n = 256 (seconds, for tests and a first look).")
    var quick = false
    @Flag(help: "Print the report as one JSON object.") var json = false
    @Flag(help: .hidden) var selfTestChild = false

    var sgemmN: Int { quick ? 256 : 1024 }

    func run() throws {
        if selfTestChild { try printJSON(childRun()); return }
        let report = diagnose()
        if json { try printJSON(report) } else { print(report.table) }
        if report.kernels.first?.selfTestPassed != true { throw ExitCode(1) }
    }

    /// In the child: the self-test and the sgemm timings under the kernel OpenBLAS picked from the environment.
    func childRun() -> ChildResult {
        let test = KernelSelfTest(size: quick ? .quick : .full, threadCounts: [1, 2]).run()
        var speeds: [ThreadSpeed] = []
        for t in Set([1, min(2, Threads.available)]).sorted() {
            speeds.append(ThreadSpeed(threads: t, gflops: Benchmark.sgemmGFLOPS(n: sgemmN, threads: t,
                                                                                minSeconds: quick ? 0.05 : 0.3)))
        }
        return ChildResult(coreInEffect: OpenBLASKernels.coreInEffect, checks: test.checks.count, passed: test.passed,
                           worstRatio: test.worstRatio, firstFailure: test.firstFailure, sgemm: speeds)
    }

    func diagnose() -> DoctorReport {
        let cpuinfo = OpenBLASKernels.readCPUInfo() ?? ""
        let flags = OpenBLASKernels.cpuFlags(cpuinfo: cpuinfo)
        let environment = ProcessInfo.processInfo.environment
        var rows = [runChild(label: "environment", coretype: nil)]
        if kernels == .all {
            for k in OpenBLASKernels.catalog {
                let missing = k.missingFlags(flags)
                if !missing.isEmpty && !flags.isEmpty {
                    rows.append(KernelRow(kernel: k.name, runsOnCPU: false, missingFlags: missing))
                } else {
                    rows.append(runChild(label: k.name, coretype: k.name))
                }
            }
        }
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
            .flatMap { Double($0.split(separator: " ").first ?? "") }
        return DoctorReport(cpuModel: OpenBLASKernels.cpuModel(cpuinfo: cpuinfo), cores: Threads.available,
                            openblasConfig: OpenBLASKernels.configuration,
                            environmentCoretype: environment["OPENBLAS_CORETYPE"],
                            environmentL2Size: environment["OPENBLAS_L2_SIZE"], loadAverage: load,
                            sgemmN: sgemmN, size: quick ? "quick" : "full", kernels: rows)
    }

    /// Runs this binary's self-test child with `OPENBLAS_CORETYPE=coretype` added to its environment (nil: the
    /// environment as it is) and turns its JSON, exit status or silence into a row.
    func runChild(label: String, coretype: String?) -> KernelRow {
        var row = KernelRow(kernel: label, runsOnCPU: true, missingFlags: [])
        let process = Process()
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["doctor", "--self-test-child"] + (quick ? ["--quick"] : [])
        if let coretype {
            process.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_CORETYPE": coretype]) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            row.error = "could not start \(exe): \(error)"
            return row
        }
        final class Drained: @unchecked Sendable { var data = Data() }
        let errData = Drained(), drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData.data = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let timeout = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + (quick ? 300 : 1800), execute: timeout)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        timeout.cancel()
        let stderrText = String(decoding: errData.data, as: UTF8.self)
        if process.terminationReason == .uncaughtSignal {
            row.error = "crashed (signal \(process.terminationStatus)\(process.terminationStatus == SIGILL ? ": illegal instruction" : ""))"
        } else if process.terminationStatus != 0 {
            row.error = "exited \(process.terminationStatus): " + (stderrText.split(separator: "\n").last.map(String.init) ?? "")
        } else if let child = try? JSONCoding.decoder().decode(ChildResult.self, from: data) {
            row.coreInEffect = child.coreInEffect
            row.selfTestPassed = child.passed
            row.checks = child.checks
            row.worstRatio = child.worstRatio.isFinite ? child.worstRatio : nil
            row.firstFailure = child.firstFailure
            row.sgemm = child.sgemm
            if let coretype, child.coreInEffect.lowercased() != coretype.lowercased() {
                row.error = "this OpenBLAS ran \(child.coreInEffect) instead"
            }
        } else {
            row.error = "unreadable self-test output"
        }
        return row
    }
}

struct ThreadSpeed: Codable {
    let threads: Int
    let gflops: Double
}

/// What the self-test child prints (one JSON object on stdout).
struct ChildResult: Codable {
    let coreInEffect: String
    let checks: Int
    let passed: Bool
    /// The largest error / tolerance over all checks.
    let worstRatio: Double
    let firstFailure: String?
    let sgemm: [ThreadSpeed]
}

struct KernelRow: Codable {
    /// The `OPENBLAS_CORETYPE` tried, or "environment" for the setting this process was started with.
    let kernel: String
    let runsOnCPU: Bool
    let missingFlags: [String]
    var coreInEffect: String?
    var selfTestPassed: Bool?
    var checks: Int?
    /// The largest error / tolerance over all checks (< 1 for a pass).
    var worstRatio: Double?
    var firstFailure: String?
    var sgemm: [ThreadSpeed] = []
    var error: String?

    init(kernel: String, runsOnCPU: Bool, missingFlags: [String]) {
        self.kernel = kernel
        self.runsOnCPU = runsOnCPU
        self.missingFlags = missingFlags
    }

    /// Passed the self-test under the kernel it asked for.
    var verified: Bool { selfTestPassed == true && error == nil }
    /// sgemm GFLOP/s on the most threads measured.
    var topSpeed: Double? { sgemm.max { $0.threads < $1.threads }?.gflops }
}

struct DoctorReport: Encodable {
    let cpuModel: String?
    let cores: Int
    let openblasConfig: String
    let environmentCoretype: String?
    let environmentL2Size: String?
    let loadAverage: Double?
    let sgemmN: Int
    let size: String
    let kernels: [KernelRow]
    /// The fastest kernel (on the most threads) that passed the self-test: the first row (the environment's) when
    /// nothing forced is faster.
    var best: KernelRow? { kernels.filter(\.verified).max { ($0.topSpeed ?? 0) < ($1.topSpeed ?? 0) } }
    /// The line that selects `best` ("unset OPENBLAS_CORETYPE" style is never suggested: the name is explicit).
    var setting: String? {
        guard let b = best, let core = b.coreInEffect else { return nil }
        return "export OPENBLAS_CORETYPE=\(core)"
    }
    /// A 1-minute load average of 0.5 or more marks every speed as measured on a loaded machine.
    var loaded: Bool { (loadAverage ?? 0) >= 0.5 }

    enum CodingKeys: String, CodingKey {
        case cpuModel, cores, openblasConfig, environmentCoretype, environmentL2Size, loadAverage, sgemmN, size, kernels,
             best, setting, loaded
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cpuModel, forKey: .cpuModel)
        try c.encode(cores, forKey: .cores)
        try c.encode(openblasConfig, forKey: .openblasConfig)
        try c.encode(environmentCoretype, forKey: .environmentCoretype)
        try c.encode(environmentL2Size, forKey: .environmentL2Size)
        try c.encode(loadAverage, forKey: .loadAverage)
        try c.encode(loaded, forKey: .loaded)
        try c.encode(sgemmN, forKey: .sgemmN)
        try c.encode(size, forKey: .size)
        try c.encode(kernels, forKey: .kernels)
        try c.encode(best?.coreInEffect, forKey: .best)
        try c.encode(setting, forKey: .setting)
    }

    var table: String {
        var lines = ["CPU: \(cpuModel ?? "unknown") (\(cores) cores)   \(openblasConfig)"]
        lines.append("environment: OPENBLAS_CORETYPE=\(environmentCoretype ?? "(unset: OpenBLAS autodetects)")"
                     + "  OPENBLAS_L2_SIZE=\(environmentL2Size ?? "(unset)")")
        let loadText = loadAverage.map { String(format: "%.2f", $0) } ?? "unknown"
        lines.append("load average (1 min): \(loadText)" + (loaded ? " — LOADED machine: GFLOP/s below are below idle" : ""))
        lines.append("")
        let threadCounts = Array(Set(kernels.flatMap { $0.sgemm.map(\.threads) })).sorted()
        var header = "kernel".padding(14) + "runs here".padding(11) + "self-test (checks, worst error/tol)".padding(38)
        header += threadCounts.map { "sgemm \(sgemmN) \($0)T".padding(16) }.joined()
        lines.append(header)
        for r in kernels {
            let name = r.kernel == "environment" ? "env→" + (r.coreInEffect ?? "?") : r.kernel
            var line = name.padding(14) + (r.runsOnCPU ? "yes" : "no").padding(11)
            if !r.runsOnCPU {
                line += "— needs " + r.missingFlags.joined(separator: ", ")
            } else if let passed = r.selfTestPassed {
                let worst = r.worstRatio.map { String(format: "%.3f", $0) } ?? "—"
                line += ((passed ? "pass" : "FAIL") + " (\(r.checks ?? 0), \(worst))").padding(38)
                for t in threadCounts {
                    line += (r.sgemm.first { $0.threads == t }.map { String(format: "%.1f GFLOP/s", $0.gflops) } ?? "—").padding(16)
                }
                if let e = r.error { line += "  (\(e))" }
                if let f = r.firstFailure { line += "  first failure: \(f)" }
            } else {
                line += "— \(r.error ?? "no result")"
            }
            lines.append(line)
        }
        lines.append("")
        if let env = kernels.first {
            let speed = env.topSpeed.map { String(format: "%.1f GFLOP/s", $0) } ?? "—"
            lines.append("forced (environment): \(env.coreInEffect ?? "?") — "
                         + (env.verified ? "self-test passed" : "SELF-TEST FAILED: \(env.firstFailure ?? env.error ?? "?")")
                         + ", sgemm \(speed)")
        }
        if let b = best, let setting {
            let speed = b.topSpeed.map { String(format: "%.1f GFLOP/s", $0) } ?? "—"
            lines.append("best verified: \(b.coreInEffect ?? "?") — sgemm \(speed)\(loaded ? " (loaded)" : "")")
            lines.append("  \(setting)")
        } else {
            lines.append("best verified: none — no kernel passed the self-test")
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
