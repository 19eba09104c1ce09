import CLAPACKE
/// Shape-checked LAPACK drivers. Inputs are never modified (each routine works on a copy); results are new matrices.
public enum LAPACK {
    static func check(_ info: Int, _ routine: String) throws {
        if info < 0 { throw LinalgError.illegalArgument(routine: routine, argument: -info) }
    }

    /// Solves A·X = B for symmetric positive-definite A by Cholesky (`?posv`).
    /// Throws `.notPositiveDefinite(leadingMinor:)` when the factorisation fails.
    public static func posv<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
        guard a.rows == a.cols else {
            throw LinalgError.shapeMismatch(operation: "posv (A must be square)", lhs: "A" + a.shapeDescription,
                                            rhs: shapeString(a.rows, a.rows))
        }
        guard b.rows == a.rows else {
            throw LinalgError.shapeMismatch(operation: "posv", lhs: "A" + a.shapeDescription, rhs: "B" + b.shapeDescription)
        }
        let n = a.rows, x = b.copy()
        if n == 0 || b.cols == 0 { return x }
        let f = a.copy()
        let info = T.posv(n, b.cols, f.pointer, n, x.pointer, max(b.cols, 1))
        try check(info, "posv")
        if info > 0 { throw LinalgError.notPositiveDefinite(leadingMinor: info) }
        return x
    }

    /// Symmetric eigendecomposition A = V·diag(λ)·Vᵀ (`?syevd`, divide and conquer; reads the upper triangle).
    /// Eigenvalues ascend; column i of `vectors` is the unit eigenvector of `values[i]`.
    public static func syevd<T: BLASScalar>(_ a: Matrix<T>) throws -> (values: [T], vectors: Matrix<T>) {
        guard a.rows == a.cols else {
            throw LinalgError.shapeMismatch(operation: "syevd (A must be square)", lhs: "A" + a.shapeDescription,
                                            rhs: shapeString(a.rows, a.rows))
        }
        let n = a.rows, v = a.copy()
        var w = [T](repeating: 0, count: n)
        if n == 0 { return (w, v) }
        let info = w.withUnsafeMutableBufferPointer { T.syevd(n, v.pointer, n, $0.baseAddress!) }
        try check(info, "syevd")
        if info > 0 { throw LinalgError.eigenNoConvergence(info: info) }
        return (w, v)
    }

    /// Householder tridiagonalisation of a symmetric matrix (`?sytrd` + `?orgtr`, the first stage of `syevd`
    /// without the tridiagonal eigensolver and back-transformation): A = Qᵀ·T·Q, where T has `diagonal` (n) and
    /// `offDiagonal` (n − 1, T[k−1, k] = T[k, k−1] = offDiagonal[k−1]) and the returned `q` is orthogonal (row-major).
    /// Reads the upper triangle of A (row-major), so only it needs to be filled.
    public static func tridiagonalize<T: BLASScalar>(_ a: Matrix<T>) throws
        -> (diagonal: [T], offDiagonal: [T], q: Matrix<T>) {
        guard a.rows == a.cols else {
            throw LinalgError.shapeMismatch(operation: "tridiagonalize (A must be square)", lhs: "A" + a.shapeDescription,
                                            rhs: shapeString(a.rows, a.rows))
        }
        let n = a.rows, q = a.copy()   // row-major upper triangle = column-major lower triangle
        var d = [T](repeating: 0, count: n), e = [T](repeating: 0, count: max(n - 1, 1))
        var tau = [T](repeating: 0, count: max(n - 1, 1))
        if n == 0 { return ([], [], q) }
        let info = d.withUnsafeMutableBufferPointer { dp in
            e.withUnsafeMutableBufferPointer { ep in
                tau.withUnsafeMutableBufferPointer { tp in
                    T.sytrdOrgtr(n, q.pointer, n, dp.baseAddress!, ep.baseAddress!, tp.baseAddress!)
                }
            }
        }
        try check(info, "sytrd/orgtr")
        // q's buffer holds the column-major Q' with A = Q'·T·Q'ᵀ; read row-major it is Q'ᵀ, i.e. A = qᵀ·T·q.
        return (d, Array(e.prefix(n - 1)), q)
    }

    /// Orthogonal reduction of a symmetric matrix to band form (`dsytrd_sy2sb` + `dorgqr`, BLAS-3 throughout, unlike
    /// `sytrd`'s memory-bound half): A = qᵀ·B·q with B symmetric of half-bandwidth `bandwidth` and q orthogonal
    /// (row-major). `band` is m × (bandwidth+1), row i holding B[i, i−bandwidth … i] (entries before column 0 are 0).
    /// Reads the upper triangle of A (row-major).
    public static func bandReduce(_ a: Matrix<Double>, bandwidth: Int) throws -> (band: Matrix<Double>, q: Matrix<Double>) {
        guard a.rows == a.cols else {
            throw LinalgError.shapeMismatch(operation: "bandReduce (A must be square)", lhs: "A" + a.shapeDescription,
                                            rhs: shapeString(a.rows, a.rows))
        }
        guard bandwidth >= 1 else { throw LinalgError.invalidArgument("bandReduce: bandwidth must be ≥ 1") }
        let n = a.rows, kd = min(bandwidth, max(n - 1, 1))
        let band = Matrix<Double>(rows: n, cols: kd + 1)
        let q = Matrix<Double>(rows: n, cols: n)
        if n == 0 { return (band, q) }
        let w = a.copy()   // row-major upper = column-major lower: element (i, j), i ≥ j, at w[i + j·n]
        if kd >= n - 1 {   // already banded: B = A, q = I
            for i in 0..<n { for j in max(0, i - kd)...i { band[i, kd - (i - j)] = w.pointer[i + j * n] } }
            for i in 0..<n { q[i, i] = 1 }
            return (band, q)
        }
        let ldab = kd + 1
        var ab = [Double](repeating: 0, count: ldab * n), tau = [Double](repeating: 0, count: n)
        var n32 = Int32(n), kd32 = Int32(kd), lda32 = Int32(n), ldab32 = Int32(ldab), info: Int32 = 0
        var lwork: Int32 = -1, query = 0.0
        var uplo = CChar(UInt8(ascii: "L"))
        ab.withUnsafeMutableBufferPointer { abp in
            tau.withUnsafeMutableBufferPointer { tp in
                dsytrd_sy2sb_(&uplo, &n32, &kd32, w.pointer, &lda32, abp.baseAddress!, &ldab32, tp.baseAddress!,
                              &query, &lwork, &info, 1)
            }
        }
        try check(Int(info), "sytrd_sy2sb (workspace query)")
        lwork = Int32(max(1, Int(query)))
        var work = [Double](repeating: 0, count: Int(lwork))
        ab.withUnsafeMutableBufferPointer { abp in
            tau.withUnsafeMutableBufferPointer { tp in
                work.withUnsafeMutableBufferPointer { wp in
                    dsytrd_sy2sb_(&uplo, &n32, &kd32, w.pointer, &lda32, abp.baseAddress!, &ldab32, tp.baseAddress!,
                                  wp.baseAddress!, &lwork, &info, 1)
                }
            }
        }
        try check(Int(info), "sytrd_sy2sb")
        // AB (column-major, lower): B(i, j) = ab[(i − j) + j·ldab] for j ≤ i ≤ j + kd.
        for j in 0..<n { for i in j..<min(n, j + kd + 1) { band[i, kd - (i - j)] = ab[(i - j) + j * ldab] } }
        // Q = diag(I_kd, Q̃), Q̃ from the QR-style reflectors stored in A(kd:n, 0:n−kd) (column-major), via dorgqr.
        let m = n - kd, qp = q.pointer   // q's buffer is filled column-major: read row-major it is Qᵀ
        for i in 0..<kd { qp[i + i * n] = 1 }
        for c in 0..<m { for r in c..<m { qp[(kd + r) + (kd + c) * n] = w.pointer[(kd + r) + c * n] } }  // reflectors only
        try tau.withUnsafeBufferPointer { tp in try formQ(qp + kd + kd * n, m: m, lda: n, tau: tp.baseAddress!) }
        return (band, q)
    }

    /// Q = H₀H₁⋯H_{m−1} formed in place over the reflectors that `geqrf` (or `sytrd_sy2sb`) leaves below the
    /// diagonal of the m × m column-major block at `a` (leading dimension lda): LAPACK's blocked `orgqr` with
    /// panels of `block` columns instead of ilaenv's 32, so that the trailing updates (`larfb`: GEMMs of inner
    /// dimension `block`) run near the dgemm rate — 2.63 → 2.16 CPU-s at m = 4000 on one thread
    /// (experiments/bench/orgqr_block.c). Same reflectors and the same algorithm in another blocking: Q agrees
    /// with `dorgqr`'s to ~3·10⁻¹⁶. Panels are processed last to first; each is `larft` + `larfb` on the columns
    /// to its right, then `orgqr` on its own columns, whose rows above the panel are zero.
    static func formQ(_ a: UnsafeMutablePointer<Double>, m: Int, lda: Int, tau: UnsafePointer<Double>,
                      block nb: Int = 128) throws {
        guard m > 0 else { return }
        let t = UnsafeMutablePointer<Double>.allocate(capacity: nb * nb)
        let work = UnsafeMutablePointer<Double>.allocate(capacity: max(1, m * nb))
        defer { t.deallocate(); work.deallocate() }
        let colMajor = LAPACK_COL_MAJOR
        let forward = CChar(UInt8(ascii: "F")), columns = CChar(UInt8(ascii: "C"))
        let left = CChar(UInt8(ascii: "L")), noTrans = CChar(UInt8(ascii: "N"))
        var i = (m - 1) / nb * nb
        while i >= 0 {
            let ib = min(nb, m - i), v = a + (i &+ i &* lda), rows = Int32(m - i)
            if i + ib < m {
                try check(Int(LAPACKE_dlarft_work(colMajor, forward, columns, rows, Int32(ib), v, Int32(lda), tau + i, t,
                                                  Int32(nb))), "larft")
                let cols = m - i - ib
                try check(Int(LAPACKE_dlarfb_work(colMajor, left, noTrans, forward, columns, rows, Int32(cols), Int32(ib),
                                                  v, Int32(lda), t, Int32(nb), a + (i &+ (i &+ ib) &* lda), Int32(lda),
                                                  work, Int32(cols))), "larfb")
            }
            try check(Int(LAPACKE_dorgqr(colMajor, rows, Int32(ib), Int32(ib), v, Int32(lda), tau + i)), "orgqr")
            if i > 0 { for j in i..<(i + ib) { (a + j &* lda).update(repeating: 0, count: i) } }
            i -= nb
        }
    }

    /// Minimum-norm least squares min ‖A·X − B‖ by SVD (`?gelsd`). Singular values below `rcond·σ_max` count as
    /// zero (`rcond < 0`: machine precision). Returns X (n × nrhs), the effective rank and the singular values.
    public static func gelsd<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>, rcond: T = -1) throws
        -> (solution: Matrix<T>, rank: Int, singularValues: [T]) {
        guard b.rows == a.rows else {
            throw LinalgError.shapeMismatch(operation: "gelsd", lhs: "A" + a.shapeDescription, rhs: "B" + b.shapeDescription)
        }
        let m = a.rows, n = a.cols, nrhs = b.cols
        if m == 0 || n == 0 || nrhs == 0 { return (Matrix(rows: n, cols: nrhs), 0, []) }
        let f = a.copy()
        let work = Matrix<T>(rows: max(m, n), cols: nrhs)   // gelsd overwrites B (max(m,n) rows) with X
        try work.rows(0..<m).assign(b)
        var s = [T](repeating: 0, count: min(m, n))
        var rank: Int32 = 0
        let info = s.withUnsafeMutableBufferPointer {
            T.gelsd(m, n, nrhs, f.pointer, n, work.pointer, nrhs, $0.baseAddress!, rcond, &rank)
        }
        try check(info, "gelsd")
        if info > 0 { throw LinalgError.svdNoConvergence(info: info) }
        return (work.rows(0..<n).copy(), Int(rank), s)
    }

    /// Thin SVD A = U·diag(σ)·Vᵀ (`?gesdd`): U is m×r, Vᵀ is r×n with r = min(m, n); σ descends.
    public static func gesdd<T: BLASScalar>(_ a: Matrix<T>) throws -> (u: Matrix<T>, singularValues: [T], vt: Matrix<T>) {
        let m = a.rows, n = a.cols, r = min(m, n)
        let u = Matrix<T>(rows: m, cols: r), vt = Matrix<T>(rows: r, cols: n)
        var s = [T](repeating: 0, count: r)
        if r == 0 { return (u, s, vt) }
        let f = a.copy()
        let info = s.withUnsafeMutableBufferPointer {
            T.gesdd(m, n, f.pointer, n, $0.baseAddress!, u.pointer, r, vt.pointer, n)
        }
        try check(info, "gesdd")
        if info > 0 { throw LinalgError.svdNoConvergence(info: info) }
        return (u, s, vt)
    }
}
