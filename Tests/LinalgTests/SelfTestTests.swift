import XCTest
@testable import Linalg
import Support

/// The kernel self-test behind `lmprobe doctor`, run in this process on the kernel the environment selects (the
/// tests never set OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE).
final class SelfTestTests: XCTestCase {
    /// Every routine family lmprobe calls, as the self-test names them.
    static let families = ["sgemm NN", "sgemm NT", "sgemm TN", "sgemm TT", "dgemm NN", "dgemm NT", "dgemm TN",
                           "dgemm TT", "sgemm strided-batched NT", "sgemm strided-batched NN", "sgemv N", "sgemv T",
                           "dgemv N", "dgemv T", "ssyrk N", "ssyrk T", "dsyrk N", "dsyrk T", "saxpy", "daxpy", "sscal",
                           "dscal", "sdot", "ddot", "sposv", "dposv", "ssyevd", "dsyevd", "ssytrd+orgtr",
                           "dsytrd+orgtr", "dsytrd_sy2sb+orgqr", "sgelsd", "dgelsd", "sgesdd", "dgesdd"]

    func testSelfTestPassesOnTheEnvironmentsKernelWithOneAndTwoThreads() {
        let threadsBefore = Threads.count
        let report = KernelSelfTest(size: .quick, threadCounts: [1, 2]).run()
        XCTAssertTrue(report.passed, report.firstFailure ?? "")
        XCTAssertNil(report.firstFailure)
        for family in Self.families {
            XCTAssertTrue(report.checks.contains { $0.routine.hasPrefix(family + " ") }, "no check of \(family)")
        }
        let threads = Set(report.checks.map(\.threads))
        XCTAssertEqual(threads, Set([1, min(2, Threads.available)]))
        XCTAssertEqual(Threads.count, threadsBefore, "the self-test must restore the thread count")
    }

    func testAWrongResultOfAnyRoutineIsDetectedAndNamed() {
        for family in ["sgemm TN", "dgemv T", "ssyrk N", "ddot", "sgemm strided-batched NN", "dposv", "ssyevd",
                       "dsytrd_sy2sb+orgqr", "dgelsd", "sgesdd"] {
            var test = KernelSelfTest(size: .quick, threadCounts: [1])
            test.corrupt = { $0.hasPrefix(family + " ") }
            let report = test.run()
            XCTAssertFalse(report.passed, family)
            let failing = report.checks.filter { !$0.passed }
            XCTAssertFalse(failing.isEmpty, family)
            XCTAssertTrue(failing.allSatisfy { $0.routine.hasPrefix(family + " ") }, "\(family): \(failing)")
            XCTAssertTrue(report.firstFailure?.hasPrefix(family + " ") == true, report.firstFailure ?? "nil")
        }
    }

    func testACorrectResultPassesWellInsideItsTolerance() {
        // Margin: a correct kernel's worst error is far below the stated tolerance, so a pass is not luck.
        let report = KernelSelfTest(size: .quick, threadCounts: [1]).run()
        let worst = report.checks.map(\.ratio).max() ?? .infinity
        XCTAssertLessThan(worst, 0.5, report.checks.max { $0.ratio < $1.ratio }?.summary ?? "")
    }

    func testCPUFlagsDecideWhichKernelsCanRun() throws {
        let cpuinfo = """
        processor\t: 0
        model name\t: AMD EPYC
        flags\t\t: fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx avx2
        processor\t: 1
        flags\t\t: fpu avx512f
        """
        let flags = OpenBLASKernels.cpuFlags(cpuinfo: cpuinfo)
        XCTAssertEqual(OpenBLASKernels.cpuModel(cpuinfo: cpuinfo), "AMD EPYC")
        XCTAssertTrue(flags.contains("avx2"))
        XCTAssertFalse(flags.contains("avx512f"), "only the first processor's flags are read")
        XCTAssertEqual(try XCTUnwrap(OpenBLASKernels.kernel(named: "haswell")).missingFlags(flags), [])
        XCTAssertEqual(try XCTUnwrap(OpenBLASKernels.kernel(named: "SkylakeX")).missingFlags(flags),
                       ["avx512f", "avx512cd", "avx512vl", "avx512bw", "avx512dq"])
        XCTAssertEqual(try XCTUnwrap(OpenBLASKernels.kernel(named: "Bulldozer")).missingFlags(flags), ["fma4"])
        XCTAssertNil(OpenBLASKernels.kernel(named: "generic"))
    }
}
