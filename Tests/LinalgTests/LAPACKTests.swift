import XCTest
@testable import Linalg
import Support

final class LAPACKTests: XCTestCase {
    var rng = SeededRandom(seed: 7)
    func random(_ r: Int, _ c: Int) -> Matrix<Double> { Matrix(rows: r, cols: c) { _, _ in self.rng.normal() } }

    func spd(_ n: Int) throws -> Matrix<Double> {
        let a = random(n + 3, n)
        let g = try BLAS.matmul(a, a, transA: true)
        for i in 0..<n { g[i, i] += 0.5 }
        return g
    }

    func residual(_ a: Matrix<Double>, _ x: Matrix<Double>, _ b: Matrix<Double>) throws -> Double {
        let ax = try BLAS.matmul(a, x)
        try BLAS.axpy(alpha: -1, b, ax)
        return ax.frobeniusNorm / max(b.frobeniusNorm, 1)
    }

    func testPosvSolves() throws {
        for n in [1, 2, 9, 40] {
            let a = try spd(n), b = random(n, 3)
            let x = try LAPACK.posv(a, b)
            XCTAssertLessThan(try residual(a, x, b), 1e-10, "n=\(n)")
            let af = a.converted(to: Float.self), bf = b.converted(to: Float.self)
            let xf = try LAPACK.posv(af, bf)
            XCTAssertLessThan(try residual(a, xf.converted(), b), 1e-3, "float n=\(n)")
        }
    }

    func testPosvRejectsIndefiniteMatrixWithTypedError() throws {
        let a = try Matrix<Double>([[4, 1, 0], [1, 3, 0], [0, 0, -1]])
        XCTAssertThrowsError(try LAPACK.posv(a, random(3, 1))) { e in
            XCTAssertEqual(e as? LinalgError, .notPositiveDefinite(leadingMinor: 3))
            XCTAssertEqual("\(e)", "matrix is not positive definite (leading minor 3)")
        }
        XCTAssertThrowsError(try LAPACK.posv(random(3, 2), random(3, 1)))
        XCTAssertThrowsError(try LAPACK.posv(try spd(3), random(4, 1))) { e in
            XCTAssertTrue("\(e)".contains("(3×3)") && "\(e)".contains("(4×1)"), "\(e)")
        }
    }

    func testSyevdResidualAndOrthogonality() throws {
        for n in [1, 5, 33] {
            let a = try spd(n)
            let (w, v) = try LAPACK.syevd(a)
            XCTAssertEqual(w, w.sorted())
            let av = try BLAS.matmul(a, v)
            let vl = v.copy()
            for i in 0..<n { for j in 0..<n { vl[i, j] *= w[j] } }
            try BLAS.axpy(alpha: -1, vl, av)
            XCTAssertLessThan(av.frobeniusNorm / a.frobeniusNorm, 1e-12, "‖AV − VΛ‖ n=\(n)")
            let vtv = try BLAS.matmul(v, v, transA: true)
            try BLAS.axpy(alpha: -1, Matrix<Double>.identity(n), vtv)
            XCTAssertLessThan(vtv.frobeniusNorm, 1e-12, "‖VᵀV − I‖ n=\(n)")
        }
        XCTAssertThrowsError(try LAPACK.syevd(random(2, 3)))
    }

    func testGelsdLeastSquares() throws {
        // Overdetermined: residual orthogonal to the column space; exactly solvable system recovered.
        let a = random(30, 6), xTrue = random(6, 2)
        let b = try BLAS.matmul(a, xTrue)
        let (x, rank, s) = try LAPACK.gelsd(a, b)
        XCTAssertEqual(rank, 6)
        XCTAssertEqual(s.count, 6)
        XCTAssertLessThan(try x.maxAbsDifference(xTrue), 1e-10)
        XCTAssertLessThan(try residual(a, x, b), 1e-12)
        // Noisy: normal equations Aᵀ(AX − B) = 0.
        let bn = random(30, 2)
        let (xn, _, _) = try LAPACK.gelsd(a, bn)
        let r = try BLAS.matmul(a, xn)
        try BLAS.axpy(alpha: -1, bn, r)
        XCTAssertLessThan(try BLAS.matmul(a, r, transA: true).frobeniusNorm, 1e-10)
        // Underdetermined and rank-deficient: minimum-norm solution still satisfies AX = B.
        let wide = random(4, 9)
        let bw = random(4, 1)
        XCTAssertLessThan(try residual(wide, try LAPACK.gelsd(wide, bw).solution, bw), 1e-10)
        let deficient = try BLAS.matmul(random(8, 2), random(2, 5))
        XCTAssertEqual(try LAPACK.gelsd(deficient, random(8, 1)).rank, 2)
        XCTAssertThrowsError(try LAPACK.gelsd(a, random(29, 1)))
    }

    func testGesddReconstruction() throws {
        for (m, n) in [(1, 1), (7, 3), (3, 7), (20, 20)] {
            let a = random(m, n)
            let (u, s, vt) = try LAPACK.gesdd(a)
            XCTAssertEqual(s, s.sorted(by: >))
            let us = u.copy()
            for i in 0..<m { for j in 0..<s.count { us[i, j] *= s[j] } }
            let rec = try BLAS.matmul(us, vt)
            XCTAssertLessThan(try rec.maxAbsDifference(a), 1e-12, "\(m)×\(n)")
            let f = try LAPACK.gesdd(a.converted(to: Float.self))
            XCTAssertEqual(Double(f.singularValues[0]), s[0], accuracy: 1e-4 * s[0])
        }
    }

    func testErrorMessagesAreOneLine() {
        let errors: [LinalgError] = [.svdNoConvergence(info: 2), .eigenNoConvergence(info: 1),
                                     .illegalArgument(routine: "posv", argument: 4),
                                     .shapeMismatch(operation: "gemm", lhs: "(1×2)", rhs: "(3×4)")]
        for e in errors { XCTAssertFalse(e.description.contains("\n")); XCTAssertFalse(e.description.isEmpty) }
        XCTAssertEqual(LinalgError.svdNoConvergence(info: 2).description, "SVD did not converge (2 superdiagonals)")
    }
}

final class TridiagonalizeTests: XCTestCase {
    /// qᵀ·T·q reproduces A and q is orthogonal, in both precisions (naive Double loops as the reference).
    func testReconstructsSymmetricMatrix() throws {
        var rng = SeededRandom(seed: 11)
        for n in [1, 2, 7, 40] {
            let b = Matrix<Double>(rows: n, cols: n) { _, _ in rng.normal() }
            let a = Matrix<Double>(rows: n, cols: n) { i, j in (0..<n).map { b[i, $0] * b[j, $0] }.reduce(0, +) }
            let upperOnly = a.copy()
            for i in 0..<n { for j in 0..<i { upperOnly[i, j] = .nan } }   // the lower triangle must not be read
            let (d, e, q) = try LAPACK.tridiagonalize(upperOnly)
            XCTAssertEqual(d.count, n); XCTAssertEqual(e.count, n - 1)
            func t(_ i: Int, _ j: Int) -> Double { i == j ? d[i] : (abs(i - j) == 1 ? e[min(i, j)] : 0) }
            for i in 0..<n {
                for j in 0..<n {
                    var s = 0.0, o = 0.0
                    for k in 0..<n {
                        o += q[k, i] * q[k, j]
                        for l in max(0, k - 1)..<min(n, k + 2) { s += q[k, i] * t(k, l) * q[l, j] }
                    }
                    XCTAssertEqual(s, a[i, j], accuracy: 1e-10 * Double(n), "A[\(i),\(j)] n=\(n)")
                    XCTAssertEqual(o, i == j ? 1 : 0, accuracy: 1e-12 * Double(n))
                }
            }
            let (df, _, _) = try LAPACK.tridiagonalize(a.converted(to: Float.self))
            XCTAssertEqual(Double(df.reduce(0, +)), d.reduce(0, +), accuracy: 1e-3 * max(1, abs(d.reduce(0, +))))
        }
    }
}

final class BandReduceTests: XCTestCase {
    /// qᵀ·B·q reproduces A, q is orthogonal and B has the requested half-bandwidth (naive Double loops).
    func testReconstructsSymmetricMatrix() throws {
        var rng = SeededRandom(seed: 12)
        for (n, kd) in [(1, 3), (5, 4), (9, 8), (40, 3), (67, 8)] {
            let b = Matrix<Double>(rows: n, cols: n) { _, _ in rng.normal() }
            let a = Matrix<Double>(rows: n, cols: n) { i, j in (0..<n).map { b[i, $0] * b[j, $0] }.reduce(0, +) }
            let upperOnly = a.copy()
            for i in 0..<n { for j in 0..<i { upperOnly[i, j] = .nan } }
            let (band, q) = try LAPACK.bandReduce(upperOnly, bandwidth: kd)
            let w = min(kd, max(n - 1, 1))
            XCTAssertEqual(band.cols, w + 1)
            func bb(_ i: Int, _ j: Int) -> Double {
                abs(i - j) > w ? 0 : (i >= j ? band[i, w - (i - j)] : band[j, w - (j - i)])
            }
            for i in 0..<n {
                for j in 0..<n {
                    var s = 0.0, o = 0.0
                    for k in 0..<n {
                        o += q[k, i] * q[k, j]
                        for l in max(0, k - w)..<min(n, k + w + 1) { s += q[k, i] * bb(k, l) * q[l, j] }
                    }
                    XCTAssertEqual(s, a[i, j], accuracy: 1e-10 * Double(n), "A[\(i),\(j)] n=\(n) kd=\(kd)")
                    XCTAssertEqual(o, i == j ? 1 : 0, accuracy: 1e-12 * Double(n))
                }
            }
        }
    }
}
