import XCTest
@testable import Probes

final class IntervalTests: XCTestCase {
    /// Wilson 95 % intervals against the closed form evaluated independently in Python (z = 1.959963984540054):
    /// 8/10 → (0.4902, 0.9433), 0/20 → (0, 0.1611), 50/100 → (0.4038, 0.5962).
    func testWilsonInterval() {
        let a = wilsonInterval(successes: 8, trials: 10)
        XCTAssertEqual(a.lower, 0.4902, accuracy: 1e-4); XCTAssertEqual(a.upper, 0.9433, accuracy: 1e-4)
        let b = wilsonInterval(successes: 0, trials: 20)
        XCTAssertEqual(b.lower, 0, accuracy: 1e-12); XCTAssertEqual(b.upper, 0.1611, accuracy: 1e-4)
        let c = wilsonInterval(successes: 50, trials: 100)
        XCTAssertEqual(c.lower, 0.4038, accuracy: 1e-4); XCTAssertEqual(c.upper, 0.5962, accuracy: 1e-4)
    }
}
