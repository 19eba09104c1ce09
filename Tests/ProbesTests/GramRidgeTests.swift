import Foundation
import Linalg
@testable import Probes
import XCTest
import Support

/// The ridge classifier's Gram entry point (`RidgeClassifier.fit(gram:…)`) against literal refits and against the
/// feature entry point.
final class GramRidgeTests: XCTestCase {
    func columnMeans(_ m: Matrix<Double>) -> [Double] {
        (0..<m.cols).map { j in (0..<m.rows).reduce(0.0) { $0 + m[$1, j] } / Double(m.rows) }
    }

    func subtractRowVector(_ m: Matrix<Double>, _ v: [Double]) {
        for i in 0..<m.rows { for j in 0..<m.cols { m[i, j] -= v[j] } }
    }

    func gatherRows(_ m: Matrix<Double>, _ rows: [Int]) -> Matrix<Double> { LogisticRegression.gatherRows(m, rows) }

    /// Reference: the primal ridge with an unpenalised intercept, solved densely (centre, posv on d × d).
    func primalRidge(_ x: Matrix<Double>, _ y: Matrix<Double>, alpha: Double) throws -> (Matrix<Double>, [Double], [Double]) {
        let xm = columnMeans(x), ym = columnMeans(y)
        let xc = x.copy(), yc = y.copy()
        subtractRowVector(xc, xm); subtractRowVector(yc, ym)
        let g = try BLAS.matmul(xc, xc, transA: true)
        for i in 0..<g.rows { g[i, i] += alpha }
        let w = try LAPACK.posv(g, try BLAS.matmul(xc, yc, transA: true))
        return (w, xm, ym)
    }

    func primalPredict(_ x: Matrix<Double>, _ model: (Matrix<Double>, [Double], [Double])) throws -> Matrix<Double> {
        let (w, xm, ym) = model
        let xc = x.copy(); subtractRowVector(xc, xm)
        let p = try BLAS.matmul(xc, w)
        for i in 0..<p.rows { for t in 0..<p.cols { p[i, t] += ym[t] } }
        return p
    }

    func targets(_ labels: [Int], _ classes: [Int]) -> Matrix<Double> {
        let t = classes.count == 2 ? 1 : classes.count
        return Matrix<Double>(rows: labels.count, cols: t) { i, c in
            t == 1 ? (labels[i] == classes[1] ? 1 : -1) : (labels[i] == classes[c] ? 1 : -1)
        }
    }

    func checkAgainstDirectSolve(n: Int, d: Int, classes: Int, seed: UInt64) throws {
        for decomposition in [RidgeDecomposition.eigen, .tridiagonal, .band] {
            try checkAgainstDirectSolve(n: n, d: d, classes: classes, seed: seed, decomposition: decomposition)
        }
    }

    func checkAgainstDirectSolve(n: Int, d: Int, classes: Int, seed: UInt64, decomposition: RidgeDecomposition) throws {
        var rng = SeededRandom(seed: seed)
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i in i < classes ? i : rng.int(below: classes) }
        let xt = Matrix<Double>(rows: 7, cols: d) { _, _ in rng.normal() }
        let alphas = [0.03, 0.5, 4.0, 30.0]
        let model = try RidgeClassifier.fit(gram: try BLAS.matmul(x, x, transB: true), labels: labels, classes: classes,
                                            alphas: alphas, decomposition: decomposition, extension: nil)
        let y = targets(labels, Array(0..<classes))
        // Leave-one-out by literally refitting without row i.
        for (a, alpha) in alphas.enumerated() {
            var sse = 0.0
            for i in 0..<n {
                let keep = (0..<n).filter { $0 != i }
                let fit = try primalRidge(gatherRows(x, keep), gatherRows(y, keep), alpha: alpha)
                let p = try primalPredict(gatherRows(x, [i]), fit)
                for t in 0..<y.cols { sse += (y[i, t] - p[0, t]) * (y[i, t] - p[0, t]) }
            }
            XCTAssertEqual(model.looMeanSquaredError[a], sse / Double(n * y.cols), accuracy: 1e-9,
                           "n \(n) d \(d) alpha \(alpha) \(decomposition)")
        }
        let bestIndex = model.looMeanSquaredError.indices.min { model.looMeanSquaredError[$0] < model.looMeanSquaredError[$1] }!
        XCTAssertEqual(model.alpha, alphas[bestIndex])
        let reference = try primalPredict(xt, try primalRidge(x, y, alpha: model.alpha))
        let decision = try model.decisionFunction(crossKernel: try BLAS.matmul(xt, x, transB: true))
        XCTAssertLessThan(try decision.maxAbsDifference(reference), 1e-9)
        // The feature entry point in gram mode: the same λ, LOO curve and decisions.
        if n <= d {
            let direct = try RidgeClassifier.fit(x: x, labels: labels, classes: classes, alphas: alphas,
                                                 decomposition: decomposition, extension: nil)
            XCTAssertEqual(direct.alpha, model.alpha)
            for (a, b) in zip(direct.looMeanSquaredError, model.looMeanSquaredError) { XCTAssertEqual(a, b, accuracy: 1e-10) }
            XCTAssertLessThan(try direct.decisionFunction(xt).maxAbsDifference(decision), 1e-9)
        }
    }

    func testLeaveOneOutAndDecisionMatchDirectSolveWhenNBelowD() throws {
        try checkAgainstDirectSolve(n: 18, d: 30, classes: 3, seed: 1)
        try checkAgainstDirectSolve(n: 16, d: 25, classes: 2, seed: 2)
    }

    func testLeaveOneOutAndDecisionMatchDirectSolveWhenNAboveD() throws {
        try checkAgainstDirectSolve(n: 30, d: 5, classes: 3, seed: 3)
        try checkAgainstDirectSolve(n: 24, d: 4, classes: 2, seed: 4)
    }

    /// A λ chosen at the top of a too-small grid grows the grid on the Gram entry point exactly as on the feature
    /// entry point (gram mode, n < d): same searched grid, same λ, same LOO scores and predictions.
    func testGramGridExtendsLikeTheFeatureFit() throws {
        var rng = SeededRandom(seed: 11)
        let n = 40, d = 60
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i in i < 2 ? i : rng.int(below: 2) }   // pure noise: a large λ wins
        let grid = [1e-3, 2e-3]
        let dual = try RidgeClassifier.fit(gram: try BLAS.matmul(x, x, transB: true), labels: labels, classes: 2, alphas: grid)
        let primal = try RidgeClassifier.fit(x: x, labels: labels, classes: 2, alphas: grid)
        let search = try XCTUnwrap(dual.gridSearch)
        XCTAssertGreaterThan(search.extensions, 0)
        XCTAssertGreaterThan(dual.alpha, 2e-3)
        XCTAssertEqual(search.searched, dual.alphas)
        XCTAssertEqual(dual.alphas, primal.alphas)
        XCTAssertEqual(dual.alpha, primal.alpha)
        for (a, b) in zip(dual.looMeanSquaredError, primal.looMeanSquaredError) { XCTAssertEqual(a, b, accuracy: 1e-8 * max(1, abs(b))) }
        XCTAssertFalse(search.note.isEmpty)
        // Without extension: exactly the given grid.
        let fixed = try RidgeClassifier.fit(gram: try BLAS.matmul(x, x, transB: true), labels: labels, classes: 2,
                                            alphas: grid, extension: nil)
        XCTAssertEqual(fixed.alphas, grid)
        XCTAssertEqual(fixed.alpha, 2e-3)
    }

    func testBadInputThrows() throws {
        let k = Matrix<Double>.identity(3)
        XCTAssertThrowsError(try RidgeClassifier.fit(gram: k, labels: [0, 0, 0], classes: 2))
        XCTAssertThrowsError(try RidgeClassifier.fit(gram: k, labels: [0, 1], classes: 2))
        XCTAssertThrowsError(try RidgeClassifier.fit(gram: k, labels: [0, 1, 0], classes: 2, alphas: [-1]))
        XCTAssertThrowsError(try RidgeClassifier.fit(gram: Matrix<Double>(rows: 3, cols: 2), labels: [0, 1, 0], classes: 2))
        let model = try RidgeClassifier.fit(gram: k, labels: [0, 1, 0], classes: 2)
        XCTAssertThrowsError(try model.decisionFunction(crossKernel: Matrix<Double>(rows: 2, cols: 4)))
    }
}
