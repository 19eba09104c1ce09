import Foundation
import XCTest

/// `lmprobe doctor` restricted to the environment's kernel, with the quick shapes: the child process runs the
/// self-test under the environment exactly as the test inherits it.
final class DoctorCLITests: XCTestCase {
    func testDoctorOnTheCurrentKernelReportsAPassAndTheSettingToUse() throws {
        let r = try runLMProbe(["doctor", "--kernels", "current", "--quick", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let kernels = try XCTUnwrap(report["kernels"] as? [[String: Any]])
        XCTAssertEqual(kernels.count, 1)
        let row = kernels[0]
        XCTAssertEqual(row["kernel"] as? String, "environment")
        XCTAssertEqual(row["self_test_passed"] as? Bool, true, "\(row)")
        XCTAssertGreaterThan(row["checks"] as? Int ?? 0, 100)
        let core = try XCTUnwrap(row["core_in_effect"] as? String)
        if let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !forced.isEmpty {
            XCTAssertEqual(report["environment_coretype"] as? String, forced)
        }
        XCTAssertEqual(report["setting"] as? String, "export OPENBLAS_CORETYPE=\(core)")
        XCTAssertEqual((row["sgemm"] as? [[String: Any]])?.isEmpty, false)
        XCTAssertEqual(report["sgemm_n"] as? Int, 256)
    }

    func testDoctorTableNamesTheForcedAndTheBestVerifiedKernel() throws {
        let r = try runLMProbe(["doctor", "--kernels", "current", "--quick"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("forced (environment): "), r.stdout)
        XCTAssertTrue(r.stdout.contains("best verified: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("export OPENBLAS_CORETYPE="), r.stdout)
        XCTAssertTrue(r.stdout.contains("pass ("), r.stdout)
    }

    func testDoctorRejectsAnUnknownKernelSet() throws {
        let r = try runLMProbe(["doctor", "--kernels", "fastest"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--kernels"), r.stderr)
    }
}
