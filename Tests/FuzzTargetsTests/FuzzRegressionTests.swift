import Foundation
import XCTest
@testable import FuzzTargets

/// Every input committed under Cases/<target>/ — the crashes `make fuzz` found, the seed inputs and issue 16's
/// reproductions — goes through its fuzz target again; a regression crashes this test process (and fails
/// `make test`). Inputs named `seed-*` must be accepted and `refused-*` refused with a one-line error.
final class FuzzRegressionTests: XCTestCase {
    func testCommittedInputsRunWithoutCrashing() throws {
        let cases = try XCTUnwrap(Bundle.module.url(forResource: "Cases", withExtension: nil))
        var ran = 0
        for target in FuzzTarget.allCases {
            let dir = cases.appendingPathComponent(target.rawValue)
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            for name in names where !name.hasPrefix(".") {
                let data = try Data(contentsOf: dir.appendingPathComponent(name))
                let refusal = data.withUnsafeBytes { target.run($0) }
                if name.hasPrefix("seed-") { XCTAssertNil(refusal, "\(target)/\(name) should be accepted") }
                if name.hasPrefix("refused-") {
                    XCTAssertNotNil(refusal, "\(target)/\(name) should be refused")
                    XCTAssertFalse(refusal?.contains("\n") ?? false, "one line: \(refusal ?? "")")
                }
                ran += 1
            }
        }
        FuzzTarget.cleanUp()
        XCTAssertGreaterThan(ran, 0, "no committed fuzz cases found under \(cases.path)")
    }
}
