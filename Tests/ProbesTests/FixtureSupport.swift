import Foundation
import Linalg
import XCTest

/// A committed sklearn fixture: <name>_X.npy, <name>_y.npy and <name>.json (see Fixtures/make_fixtures.py).
struct Fixture {
    let name: String
    let x: Matrix<Double>
    let labels: [Int]
    let info: [String: Any]

    init(_ name: String) throws {
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw NSError(domain: "fixtures", code: 1, userInfo: [NSLocalizedDescriptionKey: "Fixtures folder missing"])
        }
        self.name = name
        x = try NPY.readMatrix(dir.appendingPathComponent("\(name)_X.npy"), as: Double.self)
        labels = try NPY.readIntegers(dir.appendingPathComponent("\(name)_y.npy"))
        let data = try Data(contentsOf: dir.appendingPathComponent("\(name).json"))
        info = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    var classes: Int { info["classes"] as? Int ?? 0 }
    func double(_ key: String) -> Double { (info[key] as? NSNumber)?.doubleValue ?? .nan }
    func doubles(_ key: String) -> [Double] { (info[key] as? [NSNumber])?.map(\.doubleValue) ?? [] }
    func nested(_ key: String) -> [[Double]] { (info[key] as? [[NSNumber]])?.map { $0.map(\.doubleValue) } ?? [] }
}

/// max |a − b| / max|b| over matching entries (relative to the reference's scale).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    let scale = b.map { abs($0) }.max() ?? 0
    let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    return scale > 0 ? diff / scale : diff
}

/// Coefficients W (d × K′) as sklearn's coef_ layout (K′ rows of d).
func coefRows(_ w: Matrix<Double>) -> [[Double]] { (0..<w.cols).map { k in (0..<w.rows).map { w[$0, k] } } }

/// Solves A x = b for small dense A by Gaussian elimination with partial pivoting (an independent reference).
func naiveSolve(_ a: [[Double]], _ b: [Double]) -> [Double] {
    var m = a, r = b
    let n = r.count
    for c in 0..<n {
        let p = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
        m.swapAt(c, p); r.swapAt(c, p)
        for i in (c + 1)..<n {
            let f = m[i][c] / m[c][c]
            for j in c..<n { m[i][j] -= f * m[c][j] }
            r[i] -= f * r[c]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for i in stride(from: n - 1, through: 0, by: -1) {
        var s = r[i]
        for j in (i + 1)..<n { s -= m[i][j] * x[j] }
        x[i] = s / m[i][i]
    }
    return x
}
