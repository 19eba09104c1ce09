import Foundation
import XCTest
@testable import Text

final class TokenIDTests: XCTestCase {
    func testParseAndCanonicalText() {
        XCTAssertEqual(TokenIDText.parse("17 3  905"), [17, 3, 905])
        XCTAssertNil(TokenIDText.parse(""))
        XCTAssertNil(TokenIDText.parse("1 -2"))
        XCTAssertNil(TokenIDText.parse("1 x"))
        XCTAssertNil(TokenIDText.parse("99999999999"))
        XCTAssertEqual(TokenIDText.text([5, 0, 12]), "5 0 12")
        XCTAssertEqual(TokenIDText().singleTokenID("42"), 42)
        XCTAssertNil(TokenIDText().singleTokenID("4 2"))
    }

    func testReadWriteRoundTripAndErrorsNameTheLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ids-\(UUID().uuidString).ids")
        defer { try? FileManager.default.removeItem(at: url) }
        let ds = LabelledDataset(texts: ["1 2 3", "4 5"], labels: [1, 0], classNames: ["0", "1"], source: "t")
        try LabelledDataset.writeTokenIDs(ds, to: url)
        let back = try LabelledDataset.readTokenIDs(url)
        XCTAssertEqual(back.texts, ds.texts)
        XCTAssertEqual(back.labels, ds.labels)
        try Data("1\t3 4\n0\t5 six\n".utf8).write(to: url)
        XCTAssertThrowsError(try LabelledDataset.readTokenIDs(url)) { XCTAssertTrue("\($0)".contains(":2:"), "\($0)") }
    }
}
