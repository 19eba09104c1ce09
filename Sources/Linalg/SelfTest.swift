import Foundation
import Support

/// One comparison of a BLAS/LAPACK result against its reference. `ratio` is the largest |got − want| / tolerance
/// over the compared entries: the check passes when it is finite and ≤ 1.
public struct SelfTestCheck: Codable, Sendable, Equatable {
    public let routine: String
    public let threads: Int
    public let ratio: Double
    public var passed: Bool { ratio.isFinite && ratio <= 1 }

    public var summary: String {
        let r = ratio.isFinite ? "\(ratio.formatted3) × its tolerance" : "non-finite or outside its output"
        return "\(routine) on \(threads) thread\(threads == 1 ? "" : "s"): error \(r)"
    }
}

public struct SelfTestReport: Codable, Sendable {
    public let checks: [SelfTestCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }
    /// The first failing check, described in one line (nil when every check passed).
    public var firstFailure: String? { checks.first { !$0.passed }?.summary }
    /// The largest error of any check as a fraction of its tolerance (how close the kernel came to failing).
    public var worstRatio: Double { checks.map(\.ratio).max() ?? 0 }
}

/// A self-test of every BLAS/LAPACK routine lmprobe calls, in the transposes and shapes it calls them with, against
/// references that do not use the kernel under test:
///
/// * BLAS (sgemm/dgemm in all four transposes with padded leading dimensions, the strided-batched sgemm of
///   attention, gemv, syrk, axpy, scal, dot, each in both precisions): naive loops in Double. Entry (i, j) of a
///   length-k product must agree to 2·(k + 2)·ε·(|α|·Σ|a||b| + |β|·|c|), twice the classical rounding bound
///   (ε the precision's machine epsilon; the factor 2 also covers the Double reference's own rounding); axpy and
///   scal are the k = 1 case, 6·ε·(|α·x| + |y|). Entries of
///   C's padding must come back untouched.
/// * LAPACK (posv, syevd, sytrd + orgtr, the band reduction with its blocked orgqr, gelsd, gesdd): residuals computed
///   by naive loops in Double — ‖A·X − B‖, ‖A·V − V·Λ‖, ‖QᵀTQ − A‖, ‖Aᵀ(A·X − B)‖, ‖A − UΣVᵀ‖ and the orthogonality
///   ‖QᵀQ − I‖ — each entry within 10·n·ε times the matching norm product (backward stability with room to spare).
///
/// Every check runs at each thread count asked for (inputs big enough for OpenBLAS to split them in `.full`).
/// A broken kernel gives errors of order one; a correct one stays far below its tolerance.
public struct KernelSelfTest {
    public enum Size: String, Codable, Sendable, CaseIterable {
        /// Small shapes: seconds in a debug build (tests, `doctor --quick`).
        case quick
        /// Products above OpenBLAS's threading threshold (m·n·k > 64³), odd sizes that exercise the kernels' edge code,
        /// LAPACK at n ≈ 100–200 (several blocks of the blocked algorithms).
        case full
    }

    public var size: Size
    public var threadCounts: [Int]
    /// Test hook: when it returns true for a routine's name, that routine's computed result is corrupted before the
    /// comparison (to show a wrong result is detected). Never set outside tests.
    public var corrupt: (String) -> Bool = { _ in false }

    public init(size: Size = .full, threadCounts: [Int] = [1, 2]) {
        self.size = size
        self.threadCounts = threadCounts
    }

    /// Runs every check at every thread count (capped at the cores available; repeats dropped), then restores the
    /// thread count in effect before.
    public func run() -> SelfTestReport {
        let previous = Threads.count
        defer { Threads.set(previous) }
        var checks: [SelfTestCheck] = []
        var seen = Set<Int>()
        for t in threadCounts {
            let inEffect = Threads.set(t)
            if !seen.insert(inEffect).inserted { continue }
            var runner = SelfTestRunner(size: size, threads: inEffect, corrupt: corrupt)
            runner.blas(Float.self)
            runner.blas(Double.self)
            runner.stridedBatched()
            runner.lapack(Float.self)
            runner.lapack(Double.self)
            runner.bandReduce()
            checks += runner.checks
        }
        return SelfTestReport(checks: checks)
    }
}

extension Double {
    var formatted3: String {
        if self == 0 { return "0" }
        let e = Int(log10(abs(self)).rounded(.down))
        let m = self / pow(10, Double(e))
        return "\((m * 100).rounded() / 100)e\(e)"
    }
}

/// The checks at one thread count.
struct SelfTestRunner {
    let size: KernelSelfTest.Size
    let threads: Int
    let corrupt: (String) -> Bool
    var checks: [SelfTestCheck] = []
    var rng = SeededRandom(seed: 20_210_503)

    init(size: KernelSelfTest.Size, threads: Int, corrupt: @escaping (String) -> Bool) {
        self.size = size
        self.threads = threads
        self.corrupt = corrupt
    }

    var full: Bool { size == .full }

    /// THE comparison: every check ends here. `tolerance[i] == 0` demands equality.
    mutating func compare(_ routine: String, got: [Double], want: [Double], tolerance: [Double]) {
        var got = got
        if corrupt(routine), !got.isEmpty { got[0] = want[0] + 1 + 1e3 * tolerance[0] }
        var worst = 0.0
        for i in 0..<min(got.count, want.count) {
            let d = abs(got[i] - want[i])
            let r = d == 0 ? 0 : (tolerance[i] > 0 ? d / tolerance[i] : .infinity)
            if !(r <= worst) { worst = r.isNaN ? .infinity : r }   // NaN anywhere fails
            if !got[i].isFinite { worst = .infinity }
        }
        if got.count != want.count { worst = .infinity }
        checks.append(SelfTestCheck(routine: routine, threads: threads, ratio: worst))
    }

    /// Compares a residual (reference 0) against one tolerance for every entry.
    mutating func residual(_ routine: String, _ r: [Double], tolerance: Double) {
        compare(routine, got: r, want: [Double](repeating: 0, count: r.count),
                tolerance: [Double](repeating: tolerance, count: r.count))
    }

    mutating func random<T: BLASScalar>(_ count: Int, _: T.Type = T.self) -> [T] {
        (0..<count).map { _ in T(rng.normal()) }
    }

    static func prefix<T: BLASScalar>(_: T.Type) -> String { T.self == Float.self ? "s" : "d" }
    static func eps<T: BLASScalar>(_: T.Type) -> Double { Double(T.ulpOfOne) }
}

// MARK: BLAS level 1–3

extension SelfTestRunner {
    mutating func blas<T: BLASScalar>(_: T.Type) {
        let shapes = full ? [(131, 97, 77), (67, 45, 93), (1, 300, 257), (300, 1, 200), (129, 130, 1)]
                          : [(37, 29, 41), (1, 20, 33)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                gemm(T.self, transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.75, beta: 0.5)
            }
        }
        gemm(T.self, transA: false, transB: true, m: 33, n: 35, k: 16, alpha: 1, beta: 0)
        let (gm, gn) = full ? (300, 211) : (40, 27)
        for trans in [false, true] { gemv(T.self, trans: trans, m: gm, n: gn, incx: trans ? 1 : 2) }
        let (sn, sk) = full ? (128, 160) : (30, 41)
        for trans in [false, true] { syrk(T.self, trans: trans, n: sn, k: sk, beta: 0); syrk(T.self, trans: trans, n: sn, k: sk, beta: 0.5) }
        level1(T.self, n: full ? 100_003 : 1_001)
    }

    /// C(m×n) ← α·op(A)·op(B) + β·C with every leading dimension padded by 3 (the padding must survive).
    mutating func gemm<T: BLASScalar>(_: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T,
                                      beta: T) {
        let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
        let lda = ac + 3, ldb = bc + 3, ldc = n + 3
        let a: [T] = random(ar * lda), b: [T] = random(br * ldb), c0: [T] = random(m * ldc)
        var c = c0
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            T.gemm(transA, transB, m, n, k, alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb, beta, cp.baseAddress!, ldc)
        } } }
        let opA = { (i: Int, l: Int) in Double(transA ? a[l * lda + i] : a[i * lda + l]) }
        let opB = { (l: Int, j: Int) in Double(transB ? b[j * ldb + l] : b[l * ldb + j]) }
        var got: [Double] = [], want: [Double] = [], tol: [Double] = []
        let e = Self.eps(T.self), al = Double(alpha), be = Double(beta)
        for i in 0..<m {
            for j in 0..<ldc {
                got.append(Double(c[i * ldc + j]))
                if j >= n { want.append(Double(c0[i * ldc + j])); tol.append(0); continue }
                var s = 0.0, sa = 0.0
                for l in 0..<k { let p = opA(i, l) * opB(l, j); s += p; sa += abs(p) }
                want.append(al * s + be * Double(c0[i * ldc + j]))
                tol.append(2 * Double(k + 2) * e * (abs(al) * sa + abs(be) * abs(Double(c0[i * ldc + j]))) + 1e-300)
            }
        }
        let t = (transA ? "T" : "N") + (transB ? "T" : "N")
        compare("\(Self.prefix(T.self))gemm \(t) m\(m) n\(n) k\(k)", got: got, want: want, tolerance: tol)
    }

    mutating func gemv<T: BLASScalar>(_: T.Type, trans: Bool, m: Int, n: Int, incx: Int) {
        let lda = n + 2, (xn, yn) = trans ? (m, n) : (n, m), alpha: T = 0.7, beta: T = 0.3
        let a: [T] = random(m * lda), x: [T] = random(xn * incx), y0: [T] = random(yn)
        var y = y0
        a.withUnsafeBufferPointer { ap in x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            T.gemv(trans, m, n, alpha, ap.baseAddress!, lda, xp.baseAddress!, incx, beta, yp.baseAddress!, 1)
        } } }
        var want: [Double] = [], tol: [Double] = []
        let e = Self.eps(T.self)
        for i in 0..<yn {
            var s = 0.0, sa = 0.0
            for l in 0..<xn {
                let p = Double(trans ? a[l * lda + i] : a[i * lda + l]) * Double(x[l * incx]); s += p; sa += abs(p)
            }
            want.append(0.7 * s + 0.3 * Double(y0[i]))
            tol.append(2 * Double(xn + 2) * e * (0.7 * sa + 0.3 * abs(Double(y0[i]))) + 1e-300)
        }
        compare("\(Self.prefix(T.self))gemv \(trans ? "T" : "N") m\(m) n\(n) incx\(incx)", got: y.map { Double($0) },
                want: want, tolerance: tol)
    }

    /// The upper triangle of C ← op(A)·op(A)ᵀ + β·C (what `BLAS.syrk` reads back); the lower triangle is untouched.
    mutating func syrk<T: BLASScalar>(_: T.Type, trans: Bool, n: Int, k: Int, beta: T) {
        let (ar, ac) = trans ? (k, n) : (n, k), lda = ac + 1
        let a: [T] = random(ar * lda), c0: [T] = random(n * n)
        var c = c0
        a.withUnsafeBufferPointer { ap in c.withUnsafeMutableBufferPointer { cp in
            T.syrk(trans, n, k, 1, ap.baseAddress!, lda, beta, cp.baseAddress!, n)
        } }
        let op = { (i: Int, l: Int) in Double(trans ? a[l * lda + i] : a[i * lda + l]) }
        var want: [Double] = [], tol: [Double] = []
        let e = Self.eps(T.self), be = Double(beta)
        for i in 0..<n {
            for j in 0..<n {
                if j < i { want.append(Double(c0[i * n + j])); tol.append(0); continue }
                var s = 0.0, sa = 0.0
                for l in 0..<k { let p = op(i, l) * op(j, l); s += p; sa += abs(p) }
                want.append(s + be * Double(c0[i * n + j]))
                tol.append(2 * Double(k + 2) * e * (sa + abs(be) * abs(Double(c0[i * n + j]))) + 1e-300)
            }
        }
        compare("\(Self.prefix(T.self))syrk \(trans ? "T" : "N") n\(n) k\(k) beta\(beta == 0 ? "0" : "≠0")",
                got: c.map { Double($0) }, want: want, tolerance: tol)
    }

    mutating func level1<T: BLASScalar>(_: T.Type, n: Int) {
        let x: [T] = random(n), y0: [T] = random(n), alpha: T = -1.25, e = Self.eps(T.self), p = Self.prefix(T.self)
        var y = y0
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            T.axpy(n, alpha, xp.baseAddress!, 1, yp.baseAddress!, 1)
        } }
        compare("\(p)axpy n\(n)", got: y.map { Double($0) }, want: (0..<n).map { -1.25 * Double(x[$0]) + Double(y0[$0]) },
                tolerance: (0..<n).map { 6 * e * (1.25 * abs(Double(x[$0])) + abs(Double(y0[$0]))) + 1e-300 })
        var z = x
        z.withUnsafeMutableBufferPointer { T.scal(n, alpha, $0.baseAddress!, 1) }
        compare("\(p)scal n\(n)", got: z.map { Double($0) }, want: x.map { -1.25 * Double($0) },
                tolerance: x.map { 6 * e * 1.25 * abs(Double($0)) + 1e-300 })
        let d = x.withUnsafeBufferPointer { xp in y0.withUnsafeBufferPointer { yp in
            T.dot(n, xp.baseAddress!, 1, yp.baseAddress!, 1)
        } }
        var s = 0.0, sa = 0.0
        for i in 0..<n { let q = Double(x[i]) * Double(y0[i]); s += q; sa += abs(q) }
        compare("\(p)dot n\(n)", got: [Double(d)], want: [s], tolerance: [2 * Double(n + 2) * e * sa + 1e-300])
    }

    /// `BLAS.gemmStridedBatched` as attention calls it: QKᵀ per head (NT, α = 1/√d) and A·V (NN), with enough
    /// heads to take the one-BLAS-thread-per-batch path when several threads are in effect.
    mutating func stridedBatched() {
        let (t, d, batch) = full ? (65, 32, 8) : (17, 8, 4)
        for (transB, m, n, k, alpha) in [(true, t, t, d, Float(1 / Double(d).squareRoot())), (false, t, d, t, Float(1))] {
            let lda = k, ldb = transB ? k : n, ldc = n
            let sa = m * lda, sb = (transB ? n : k) * ldb, sc = m * ldc
            let a: [Float] = random(sa * batch), b: [Float] = random(sb * batch)
            var c = [Float](repeating: 0, count: sc * batch)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemmStridedBatched(transA: false, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                        a: ap.baseAddress!, lda: lda, strideA: sa, b: bp.baseAddress!, ldb: ldb,
                                        strideB: sb, beta: 0, c: cp.baseAddress!, ldc: ldc, strideC: sc, batch: batch)
            } } }
            var want: [Double] = [], tol: [Double] = []
            for h in 0..<batch {
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0, sabs = 0.0
                        for l in 0..<k {
                            let bv = transB ? b[h * sb + j * ldb + l] : b[h * sb + l * ldb + j]
                            let p = Double(a[h * sa + i * lda + l]) * Double(bv); s += p; sabs += abs(p)
                        }
                        want.append(Double(alpha) * s)
                        tol.append(2 * Double(k + 2) * Self.eps(Float.self) * Double(alpha) * sabs + 1e-300)
                    }
                }
            }
            compare("sgemm strided-batched \(transB ? "NT" : "NN") m\(m) n\(n) k\(k) batch\(batch)",
                    got: c.map { Double($0) }, want: want, tolerance: tol)
        }
    }
}

// MARK: LAPACK

/// Row-major products in Double by naive loops: the residuals' only arithmetic.
func naiveProduct(_ a: [Double], _ ar: Int, _ ac: Int, transA: Bool = false, _ b: [Double], _ bc: Int,
                  transB: Bool = false) -> [Double] {
    let m = transA ? ac : ar, k = transA ? ar : ac
    var c = [Double](repeating: 0, count: m * bc)
    for i in 0..<m {
        for j in 0..<bc {
            var s = 0.0
            for l in 0..<k {
                s += (transA ? a[l * ac + i] : a[i * ac + l]) * (transB ? b[j * k + l] : b[l * bc + j])
            }
            c[i * bc + j] = s
        }
    }
    return c
}

func frobenius(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

extension SelfTestRunner {
    mutating func lapack<T: BLASScalar>(_: T.Type) {
        let n = full ? 120 : 24
        posv(T.self, n: n, nrhs: 3)
        syevd(T.self, n: n)
        tridiagonalize(T.self, n: n)
        gelsd(T.self, m: full ? 200 : 30, n: full ? 90 : 14, nrhs: 2)
        gesdd(T.self, m: full ? 160 : 26, n: full ? 100 : 15)
        gesdd(T.self, m: full ? 90 : 12, n: full ? 160 : 20)
    }

    mutating func symmetric<T: BLASScalar>(_: T.Type, n: Int, shift: Double) -> [T] {
        let g: [T] = random(n * n)
        var s = [T](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { s[i * n + j] = T((Double(g[i * n + j]) + Double(g[j * n + i])) / 2 + (i == j ? shift : 0)) } }
        return s
    }

    /// ‖QᵀQ − I‖ (Q r×c row-major, orthonormal columns) within 10·r·ε.
    mutating func orthonormalColumns(_ routine: String, _ q: [Double], rows: Int, cols: Int, eps: Double) {
        var g = naiveProduct(q, rows, cols, transA: true, q, cols)
        for i in 0..<cols { g[i * cols + i] -= 1 }
        residual(routine, g, tolerance: 10 * Double(max(rows, cols)) * eps)
    }

    mutating func posv<T: BLASScalar>(_: T.Type, n: Int, nrhs: Int) {
        let a: [T] = symmetric(T.self, n: n, shift: 2 * Double(n).squareRoot() + 4), b: [T] = random(n * nrhs)
        let name = "\(Self.prefix(T.self))posv n\(n)"
        guard let x = try? LAPACK.posv(Matrix(rows: n, cols: n, values: a), Matrix(rows: n, cols: nrhs, values: b)) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let ad = a.map { Double($0) }, xd = x.toArray().map { Double($0) }, bd = b.map { Double($0) }
        let r = zip(naiveProduct(ad, n, n, xd, nrhs), bd).map { $0 - $1 }
        residual(name, r, tolerance: 10 * Double(n) * Self.eps(T.self) * (frobenius(ad) * frobenius(xd) + frobenius(bd)))
    }

    mutating func syevd<T: BLASScalar>(_: T.Type, n: Int) {
        let a: [T] = symmetric(T.self, n: n, shift: 0), name = "\(Self.prefix(T.self))syevd n\(n)"
        guard let result = try? LAPACK.syevd(Matrix(rows: n, cols: n, values: a)) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let (w, v) = result
        let ad = a.map { Double($0) }, vd = v.toArray().map { Double($0) }, e = Self.eps(T.self)
        var r = naiveProduct(ad, n, n, vd, n)
        for i in 0..<n { for j in 0..<n { r[i * n + j] -= vd[i * n + j] * Double(w[j]) } }
        residual(name + " A·V − V·Λ", r, tolerance: 10 * Double(n) * e * frobenius(ad))
        orthonormalColumns(name + " VᵀV − I", vd, rows: n, cols: n, eps: e)
        let order = zip(w, w.dropFirst()).map { Double($0.1 >= $0.0 ? 0 : 1) }
        residual(name + " ascending", order, tolerance: 0)
    }

    /// A = qᵀ·T·q for `LAPACK.tridiagonalize` (sytrd + orgtr).
    mutating func tridiagonalize<T: BLASScalar>(_: T.Type, n: Int) {
        let a: [T] = symmetric(T.self, n: n, shift: 0), name = "\(Self.prefix(T.self))sytrd+orgtr n\(n)"
        guard let result = try? LAPACK.tridiagonalize(Matrix(rows: n, cols: n, values: a)) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let (d, off, q) = result
        var t = [Double](repeating: 0, count: n * n)
        for i in 0..<n { t[i * n + i] = Double(d[i]) }
        for i in 1..<n { t[(i - 1) * n + i] = Double(off[i - 1]); t[i * n + i - 1] = Double(off[i - 1]) }
        let ad = a.map { Double($0) }, qd = q.toArray().map { Double($0) }, e = Self.eps(T.self)
        let r = zip(naiveProduct(naiveProduct(qd, n, n, transA: true, t, n), n, n, qd, n), ad).map { $0 - $1 }
        residual(name + " QᵀTQ − A", r, tolerance: 10 * Double(n) * e * frobenius(ad))
        orthonormalColumns(name + " QᵀQ − I", qd, rows: n, cols: n, eps: e)
    }

    /// The probes' Double band reduction (`dsytrd_sy2sb` + the blocked orgqr): A = qᵀ·B·q.
    mutating func bandReduce() {
        let n = full ? 160 : 40, kd = full ? 16 : 6, name = "dsytrd_sy2sb+orgqr n\(n) kd\(kd)"
        let a: [Double] = symmetric(Double.self, n: n, shift: 0)
        guard let result = try? LAPACK.bandReduce(Matrix(rows: n, cols: n, values: a), bandwidth: kd) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let (band, q) = result
        var b = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in max(0, i - kd)...i { b[i * n + j] = band[i, kd - (i - j)]; b[j * n + i] = band[i, kd - (i - j)] } }
        let qd = q.toArray(), e = Double.ulpOfOne
        let r = zip(naiveProduct(naiveProduct(qd, n, n, transA: true, b, n), n, n, qd, n), a).map { $0 - $1 }
        residual(name + " QᵀBQ − A", r, tolerance: 10 * Double(n) * e * frobenius(a))
        orthonormalColumns(name + " QᵀQ − I", qd, rows: n, cols: n, eps: e)
    }

    /// Overdetermined full-rank least squares: the normal equations Aᵀ(A·X − B) = 0 hold to rounding.
    mutating func gelsd<T: BLASScalar>(_: T.Type, m: Int, n: Int, nrhs: Int) {
        let a: [T] = random(m * n), b: [T] = random(m * nrhs), name = "\(Self.prefix(T.self))gelsd m\(m) n\(n)"
        guard let result = try? LAPACK.gelsd(Matrix(rows: m, cols: n, values: a),
                                                   Matrix(rows: m, cols: nrhs, values: b)) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let (x, rank, _) = result
        let ad = a.map { Double($0) }, xd = x.toArray().map { Double($0) }, bd = b.map { Double($0) }
        let r = zip(naiveProduct(ad, m, n, xd, nrhs), bd).map { $0 - $1 }
        let normal = naiveProduct(ad, m, n, transA: true, r, nrhs), na = frobenius(ad)
        residual(name + " Aᵀ(AX − B)", normal,
                 tolerance: 10 * Double(m) * Self.eps(T.self) * na * (na * frobenius(xd) + frobenius(bd)))
        compare(name + " rank", got: [Double(rank)], want: [Double(n)], tolerance: [0])
    }

    mutating func gesdd<T: BLASScalar>(_: T.Type, m: Int, n: Int) {
        let a: [T] = random(m * n), r = min(m, n), name = "\(Self.prefix(T.self))gesdd m\(m) n\(n)"
        guard let result = try? LAPACK.gesdd(Matrix(rows: m, cols: n, values: a)) else {
            residual(name, [.infinity], tolerance: 1); return
        }
        let (u, s, vt) = result
        let ad = a.map { Double($0) }, e = Self.eps(T.self)
        var us = u.toArray().map { Double($0) }
        for i in 0..<m { for j in 0..<r { us[i * r + j] *= Double(s[j]) } }
        let vd = vt.toArray().map { Double($0) }
        let res = zip(naiveProduct(us, m, r, vd, n), ad).map { $0 - $1 }
        residual(name + " A − UΣVᵀ", res, tolerance: 10 * Double(max(m, n)) * e * frobenius(ad))
        orthonormalColumns(name + " UᵀU − I", u.toArray().map { Double($0) }, rows: m, cols: r, eps: e)
        var vtt = [Double](repeating: 0, count: n * r)   // V = (Vᵀ)ᵀ, n × r
        for i in 0..<r { for j in 0..<n { vtt[j * r + i] = vd[i * n + j] } }
        orthonormalColumns(name + " VᵀV − I", vtt, rows: n, cols: r, eps: e)
        let order = zip(s, s.dropFirst()).map { Double($0.1 <= $0.0 ? 0 : 1) } + [Double(s.last! >= 0 ? 0 : 1)]
        residual(name + " σ descending ≥ 0", order, tolerance: 0)
    }
}
