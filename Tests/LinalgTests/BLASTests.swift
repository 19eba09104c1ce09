import XCTest
@testable import Linalg
import Support

/// Naive Double-precision references for every BLAS wrapper.
final class BLASTests: XCTestCase {
    var rng = SeededRandom(seed: 42)

    func random<T: BLASScalar>(_ r: Int, _ c: Int, _: T.Type = T.self) -> Matrix<T> {
        Matrix<T>(rows: r, cols: c) { _, _ in T(self.rng.normal()) }
    }

    func reference<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>, _ ta: Bool, _ tb: Bool, _ alpha: Double,
                                  _ beta: Double, _ c0: Matrix<T>) -> [[Double]] {
        let m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols, n = tb ? b.rows : b.cols
        var out = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let x = ta ? a[p, i] : a[i, p], y = tb ? b[j, p] : b[p, j]
                    s += Double(x) * Double(y)
                }
                out[i][j] = alpha * s + beta * Double(c0[i, j])
            }
        }
        return out
    }

    func assertClose<T: BLASScalar>(_ c: Matrix<T>, _ ref: [[Double]], tol: Double, _ msg: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        for i in 0..<c.rows {
            for j in 0..<c.cols {
                let scale = max(1, abs(ref[i][j]))
                if abs(Double(c[i, j]) - ref[i][j]) > tol * scale {
                    XCTFail("\(msg): (\(i),\(j)) got \(c[i, j]) want \(ref[i][j])", file: file, line: line)
                    return
                }
            }
        }
    }

    func testGemmAllTransposesShapesAndAccumulation() throws {
        let shapes = [(1, 1, 1), (1, 7, 5), (7, 1, 5), (5, 7, 1), (13, 17, 19), (33, 1, 64), (1, 64, 33), (31, 29, 2)]
        for (m, n, k) in shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                        let a: Matrix<Float> = ta ? random(k, m) : random(m, k)
                        let b: Matrix<Float> = tb ? random(n, k) : random(k, n)
                        let c: Matrix<Float> = random(m, n)
                        let ref = reference(a, b, ta, tb, alpha, beta, c)
                        try BLAS.gemm(transA: ta, transB: tb, alpha: Float(alpha), a, b, beta: Float(beta), into: c)
                        assertClose(c, ref, tol: 1e-4, "sgemm m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) β=\(beta)")

                        let ad: Matrix<Double> = a.converted(), bd: Matrix<Double> = b.converted()
                        let cd: Matrix<Double> = random(m, n)
                        let refd = reference(ad, bd, ta, tb, alpha, beta, cd)
                        try BLAS.gemm(transA: ta, transB: tb, alpha: alpha, ad, bd, beta: beta, into: cd)
                        assertClose(cd, refd, tol: 1e-12, "dgemm m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb)")
                    }
                }
            }
        }
    }

    func testGemmOnViews() throws {
        // Column and row views have stride > cols; gemm must honour the leading dimension.
        let big: Matrix<Float> = random(10, 12)
        let a = big.rows(2..<7).columns(3..<9)   // 5×6 view, stride 12
        let b: Matrix<Float> = random(6, 4)
        let out = Matrix<Float>(rows: 10, cols: 8)
        let c = out.rows(1..<6).columns(2..<6)   // 5×4 view, stride 8
        let ref = reference(a.copy(), b, false, false, 1, 0, c.copy())
        try BLAS.gemm(a, b, into: c)
        assertClose(c, ref, tol: 1e-4, "gemm on views")
        XCTAssertEqual(out[0, 0], 0)   // nothing outside the view was touched
        XCTAssertEqual(out[1, 1], 0)
        XCTAssertEqual(out[6, 3], 0)
    }

    func testStridedBatchedGemmMatchesLoopOfGemms() throws {
        let batch = 6, m = 9, n = 7, k = 5
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a: Matrix<Float> = random(batch, m * k), b: Matrix<Float> = random(batch, k * n)
            let c: Matrix<Float> = random(batch, m * n), expected = c.copy()
            for i in 0..<batch {
                let ai = try a.row(i).reshaped(rows: ta ? k : m, cols: ta ? m : k)
                let bi = try b.row(i).reshaped(rows: tb ? n : k, cols: tb ? k : n)
                try BLAS.gemm(transA: ta, transB: tb, alpha: 0.7, ai, bi, beta: 1, into: try expected.row(i).reshaped(rows: m, cols: n))
            }
            for threads in [1, 2] {
                let got = c.copy()
                Threads.set(threads)
                BLAS.gemmStridedBatched(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7,
                                        a: a.pointer, lda: ta ? m : k, strideA: m * k,
                                        b: b.pointer, ldb: tb ? k : n, strideB: k * n,
                                        beta: 1, c: got.pointer, ldc: n, strideC: m * n, batch: batch)
                XCTAssertLessThan(try got.maxAbsDifference(expected), 1e-5, "ta=\(ta) tb=\(tb) threads=\(threads)")
            }
            Threads.set(0)
        }
    }

    func testGemvSyrkAxpyScalDot() throws {
        for (m, n) in [(1, 1), (1, 9), (9, 1), (17, 23)] {
            let a: Matrix<Double> = random(m, n)
            for trans in [false, true] {
                let x: Matrix<Double> = random(trans ? m : n, 1)
                let y: Matrix<Double> = random(1, trans ? n : m)
                var ref = [Double]()
                for i in 0..<(trans ? n : m) {
                    var s = 0.0
                    for p in 0..<(trans ? m : n) { s += (trans ? a[p, i] : a[i, p]) * x[p, 0] }
                    ref.append(1.5 * s + 1 * y[0, i])
                }
                try BLAS.gemv(trans: trans, alpha: 1.5, a, x, beta: 1, into: y)
                for i in 0..<ref.count { XCTAssertEqual(y[0, i], ref[i], accuracy: 1e-12) }
            }
            for trans in [false, true] {
                let k = trans ? m : n, size = trans ? n : m
                let c = Matrix<Double>(rows: size, cols: size)
                try BLAS.syrk(trans: trans, a, into: c)
                for i in 0..<size {
                    for j in 0..<size {
                        var s = 0.0
                        for p in 0..<k { s += trans ? a[p, i] * a[p, j] : a[i, p] * a[j, p] }
                        XCTAssertEqual(c[i, j], s, accuracy: 1e-12, "syrk trans=\(trans) (\(i),\(j))")
                    }
                }
            }
        }
        let x: Matrix<Float> = random(3, 5), y: Matrix<Float> = random(3, 5), y0 = y.copy()
        try BLAS.axpy(alpha: 2, x, y)
        var d = 0.0
        for i in 0..<3 {
            for j in 0..<5 {
                XCTAssertEqual(Double(y[i, j]), Double(y0[i, j]) + 2 * Double(x[i, j]), accuracy: 1e-5)
                d += Double(x[i, j]) * Double(y[i, j])
            }
        }
        XCTAssertEqual(Double(try BLAS.dot(x, y)), d, accuracy: 1e-4)
        let x0 = x.copy()
        BLAS.scal(-3, x)
        for i in 0..<3 { for j in 0..<5 { XCTAssertEqual(x[i, j], -3 * x0[i, j]) } }
        // Strided views go through the row loop.
        let v = y.columns(1..<4)
        let w = x.columns(0..<3)
        XCTAssertEqual(Double(try BLAS.dot(v, w)),
                       (0..<3).reduce(0.0) { s, i in s + (0..<3).reduce(0.0) { $0 + Double(v[i, $1]) * Double(w[i, $1]) } },
                       accuracy: 1e-4)
    }

    func testShapeMismatchesThrowAndNameShapes() {
        let a = Matrix<Float>(rows: 3, cols: 4), b = Matrix<Float>(rows: 5, cols: 6), c = Matrix<Float>(rows: 3, cols: 6)
        XCTAssertThrowsError(try BLAS.gemm(a, b, into: c)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("(3×4)") && s.contains("(5×6)"), s)
        }
        let b2 = Matrix<Float>(rows: 4, cols: 6), c2 = Matrix<Float>(rows: 2, cols: 6)
        XCTAssertThrowsError(try BLAS.gemm(a, b2, into: c2)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("(2×6)") && s.contains("(3×6)"), s)
        }
        XCTAssertThrowsError(try BLAS.gemv(a, Matrix<Float>(rows: 3, cols: 1), into: Matrix<Float>(rows: 3, cols: 1)))
        XCTAssertThrowsError(try BLAS.syrk(a, into: Matrix<Float>(rows: 4, cols: 4)))
        XCTAssertThrowsError(try BLAS.axpy(alpha: 1, a, b))
        XCTAssertThrowsError(try BLAS.dot(a, b)) { e in XCTAssertTrue("\(e)".contains("(5×6)")) }
        XCTAssertThrowsError(try Matrix<Float>(rows: 2, cols: 2, values: [1, 2, 3])) { e in
            XCTAssertTrue("\(e)".contains("(2×2)"), "\(e)")
        }
        XCTAssertThrowsError(try a.reshaped(rows: 5, cols: 2))
    }

    func testViewsShareStorage() {
        let m = Matrix<Float>(rows: 4, cols: 3)
        m.row(2)[0, 1] = 7
        XCTAssertEqual(m[2, 1], 7)
        m.columns(1..<3).rows(1..<3)[1, 1] = 5
        XCTAssertEqual(m[2, 2], 5)
        let copy = m.copy()
        copy[0, 0] = 9
        XCTAssertEqual(m[0, 0], 0)
        XCTAssertEqual(m.transposed()[1, 2], 7)
        XCTAssertEqual(Int(bitPattern: UInt(bitPattern: m.pointer)) % 64, 0, "storage is 64-byte aligned")
    }
}
