import Foundation
import XCTest
@testable import Experiments

/// A model imported from a Hugging Face folder has no training step: compare's report says so.
final class ImportedModelReportTests: XCTestCase {
    func testImportedModelReportsStepUnknownNotStepZero() throws {
        let models = [
            ModelOutcome(name: "GPT2", checkpoint: "gpt2/model.safetensors", sha256: "", config: "L=1 d=16 h=2 T=16 V=300 objective=quad",
                         step: nil, validationCrossEntropy: nil, validationLoss: nil),
            ModelOutcome(name: "own", checkpoint: "run/final.safetensors", sha256: "", config: "L=1 d=16 h=2 T=16 V=300 objective=ce",
                         step: 1200, validationCrossEntropy: 3.5, validationLoss: 3.5),
        ]
        let report = ComparisonReport(createdAt: "", settings: ComparisonSettings(), models: models, tasks: [], results: [], seconds: 0)
        let md = try report.markdown()
        XCTAssertTrue(md.contains("**GPT2** (L=1 d=16 h=2 T=16 V=300 objective=quad, step: unknown)"), md)
        XCTAssertTrue(md.contains("**own** (L=1 d=16 h=2 T=16 V=300 objective=ce, step 1200, val CE 3.500)"), md)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as! [String: Any]
        let first = (json["models"] as! [[String: Any]])[0]
        XCTAssertTrue(first["step"] == nil || first["step"] is NSNull, "\(first)")
    }
}
