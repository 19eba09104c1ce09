import CBLAS
import Support

/// Shape-checked BLAS on `Matrix`, plus pointer-level entry points for the model kernels.
public enum BLAS {
    /// C ← α·op(A)·op(B) + β·C. `op(X)` is `Xᵀ` when the matching flag is set. β = 1 accumulates into C.
    /// Throws `LinalgError.shapeMismatch` naming the shapes when op(A) is m×k, op(B) is k'×n with k ≠ k', or C is
    /// not m×n.
    public static func gemm<T: BLASScalar>(transA: Bool = false, transB: Bool = false, alpha: T = 1,
                                           _ a: Matrix<T>, _ b: Matrix<T>, beta: T = 0, into c: Matrix<T>) throws {
        let m = transA ? a.cols : a.rows, k = transA ? a.rows : a.cols
        let kb = transB ? b.cols : b.rows, n = transB ? b.rows : b.cols
        let opA = (transA ? "Aᵀ" : "A") + shapeString(m, k), opB = (transB ? "Bᵀ" : "B") + shapeString(kb, n)
        guard k == kb else { throw LinalgError.shapeMismatch(operation: "gemm", lhs: opA, rhs: opB) }
        guard c.rows == m, c.cols == n else {
            throw LinalgError.shapeMismatch(operation: "gemm output", lhs: "C" + c.shapeDescription,
                                            rhs: "op(A)op(B)" + shapeString(m, n))
        }
        if m == 0 || n == 0 { return }
        if k == 0 {  // BLAS leaves C·β semantics to us when the inner dimension is empty.
            if beta == 0 { c.fill(0) } else if beta != 1 { for i in 0..<m { T.scal(n, beta, c.pointer + i * c.stride, 1) } }
            return
        }
        T.gemm(transA, transB, m, n, k, alpha, a.pointer, max(a.stride, 1), b.pointer, max(b.stride, 1), beta,
               c.pointer, max(c.stride, 1))
    }

    /// op(A)·op(B) as a new matrix.
    public static func matmul<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>, transA: Bool = false,
                                             transB: Bool = false) throws -> Matrix<T> {
        let c = Matrix<T>(rows: transA ? a.cols : a.rows, cols: transB ? b.rows : b.cols)
        try gemm(transA: transA, transB: transB, a, b, into: c)
        return c
    }

    /// y ← α·op(A)·x + β·y, with x and y given as 1×n or n×1 matrices (vectors).
    public static func gemv<T: BLASScalar>(trans: Bool = false, alpha: T = 1, _ a: Matrix<T>, _ x: Matrix<T>,
                                           beta: T = 0, into y: Matrix<T>) throws {
        let outLen = trans ? a.cols : a.rows, inLen = trans ? a.rows : a.cols
        guard x.count == inLen, x.rows == 1 || x.cols == 1 else {
            throw LinalgError.shapeMismatch(operation: "gemv", lhs: (trans ? "Aᵀ" : "A") + shapeString(outLen, inLen),
                                            rhs: "x" + x.shapeDescription)
        }
        guard y.count == outLen, y.rows == 1 || y.cols == 1 else {
            throw LinalgError.shapeMismatch(operation: "gemv output", lhs: "y" + y.shapeDescription,
                                            rhs: "op(A)x" + shapeString(outLen, 1))
        }
        if outLen == 0 { return }
        if inLen == 0 { for i in 0..<outLen { vectorPointer(y, i).pointee *= beta }; return }
        T.gemv(trans, a.rows, a.cols, alpha, a.pointer, max(a.stride, 1), x.pointer, vectorIncrement(x), beta,
               y.pointer, vectorIncrement(y))
    }

    /// C ← α·op(A)·op(A)ᵀ + β·C for symmetric C (trans: AᵀA). Both triangles of C are filled on return.
    public static func syrk<T: BLASScalar>(trans: Bool = false, alpha: T = 1, _ a: Matrix<T>, beta: T = 0,
                                           into c: Matrix<T>) throws {
        let n = trans ? a.cols : a.rows, k = trans ? a.rows : a.cols
        guard c.rows == n, c.cols == n else {
            throw LinalgError.shapeMismatch(operation: "syrk", lhs: "C" + c.shapeDescription,
                                            rhs: (trans ? "AᵀA" : "AAᵀ") + shapeString(n, n))
        }
        if n == 0 { return }
        if k == 0 { for i in 0..<n { T.scal(n, beta, c.pointer + i * c.stride, 1) } } else {
            T.syrk(trans, n, k, alpha, a.pointer, max(a.stride, 1), beta, c.pointer, max(c.stride, 1))
        }
        let p = c.pointer, ld = c.stride
        for i in 0..<n { for j in 0..<i { p[i &* ld &+ j] = p[j &* ld &+ i] } }
    }

    /// y ← α·x + y over matrices of the same shape.
    public static func axpy<T: BLASScalar>(alpha: T, _ x: Matrix<T>, _ y: Matrix<T>) throws {
        guard x.rows == y.rows, x.cols == y.cols else {
            throw LinalgError.shapeMismatch(operation: "axpy", lhs: "x" + x.shapeDescription, rhs: "y" + y.shapeDescription)
        }
        if x.isContiguous && y.isContiguous { T.axpy(x.count, alpha, x.pointer, 1, y.pointer, 1); return }
        for i in 0..<x.rows { T.axpy(x.cols, alpha, x.pointer + i * x.stride, 1, y.pointer + i * y.stride, 1) }
    }

    /// x ← α·x.
    public static func scal<T: BLASScalar>(_ alpha: T, _ x: Matrix<T>) {
        if x.isContiguous { T.scal(x.count, alpha, x.pointer, 1); return }
        for i in 0..<x.rows { T.scal(x.cols, alpha, x.pointer + i * x.stride, 1) }
    }

    /// Σ x_ij·y_ij over matrices of the same shape.
    public static func dot<T: BLASScalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws -> T {
        guard x.rows == y.rows, x.cols == y.cols else {
            throw LinalgError.shapeMismatch(operation: "dot", lhs: "x" + x.shapeDescription, rhs: "y" + y.shapeDescription)
        }
        if x.isContiguous && y.isContiguous { return T.dot(x.count, x.pointer, 1, y.pointer, 1) }
        var s: T = 0
        for i in 0..<x.rows { s += T.dot(x.cols, x.pointer + i * x.stride, 1, y.pointer + i * y.stride, 1) }
        return s
    }

    // MARK: Pointer level (model kernels)

    /// Strided-batched gemm: for b in 0..<batch, C_b ← α·op(A_b)·op(B_b) + β·C_b with A_b = a + b·strideA, etc.
    /// Used for attention (QKᵀ and AV per head). Batches run on lmprobe's own threads with one BLAS thread each
    /// when there are enough of them; otherwise each gemm uses OpenBLAS's threads.
    public static func gemmStridedBatched<T: BLASScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T,
        a: UnsafePointer<T>, lda: Int, strideA: Int,
        b: UnsafePointer<T>, ldb: Int, strideB: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int, strideC: Int, batch: Int
    ) {
        if batch <= 0 || m == 0 || n == 0 { return }
        let threads = Threads.count
        if threads > 1 && batch >= threads {
            Threads.withBLASThreads(1) {
                parallelFor(batch) { i in
                    T.gemm(transA, transB, m, n, k, alpha, a + i &* strideA, lda, b + i &* strideB, ldb, beta,
                           c + i &* strideC, ldc)
                }
            }
        } else {
            for i in 0..<batch {
                T.gemm(transA, transB, m, n, k, alpha, a + i &* strideA, lda, b + i &* strideB, ldb, beta,
                       c + i &* strideC, ldc)
            }
        }
    }

    /// Row-major sgemm on raw pointers: C(m×n) ← α·op(A)·op(B) + β·C. No checks beyond BLAS's own.
    @inlinable @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        Float.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @inline(__always) static func vectorIncrement<T>(_ v: Matrix<T>) -> Int { v.rows == 1 ? 1 : v.stride }
    @inline(__always) static func vectorPointer<T>(_ v: Matrix<T>, _ i: Int) -> UnsafeMutablePointer<T> {
        v.pointer + i * vectorIncrement(v)
    }
}
