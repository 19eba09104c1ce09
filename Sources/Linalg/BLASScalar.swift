import CBLAS
import CLAPACKE

/// The two precisions lmprobe computes in, each bound to its BLAS/LAPACK routines (s… for Float, d… for Double).
/// All matrices are row-major; the raw routines take the row-major leading dimensions.
public protocol BLASScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static var numpyDescr: String { get }
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                     _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int, _ beta: Self,
                     _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    static func gemv(_ trans: Bool, _ m: Int, _ n: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int,
                     _ x: UnsafePointer<Self>, _ incx: Int, _ beta: Self, _ y: UnsafeMutablePointer<Self>, _ incy: Int)
    /// C ← α·op(A)·op(A)ᵀ + β·C on the upper triangle (trans: op(A) = Aᵀ).
    static func syrk(_ trans: Bool, _ n: Int, _ k: Int, _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    static func axpy(_ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ incx: Int,
                     _ y: UnsafeMutablePointer<Self>, _ incy: Int)
    static func scal(_ n: Int, _ alpha: Self, _ x: UnsafeMutablePointer<Self>, _ incx: Int)
    static func dot(_ n: Int, _ x: UnsafePointer<Self>, _ incx: Int, _ y: UnsafePointer<Self>, _ incy: Int) -> Self
    // LAPACK (row-major LAPACKE); each returns LAPACK's info.
    static func posv(_ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
                     _ b: UnsafeMutablePointer<Self>, _ ldb: Int) -> Int
    static func syevd(_ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int, _ w: UnsafeMutablePointer<Self>) -> Int
    /// Column-major `?sytrd` (lower triangle) then `?orgtr`: on return `a` holds Q (column-major) with A = Q·T·Qᵀ,
    /// `d`/`e` the diagonal and sub-diagonal of T. Returns the first non-zero info.
    static func sytrdOrgtr(_ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int, _ d: UnsafeMutablePointer<Self>,
                           _ e: UnsafeMutablePointer<Self>, _ tau: UnsafeMutablePointer<Self>) -> Int
    static func gelsd(_ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
                      _ b: UnsafeMutablePointer<Self>, _ ldb: Int, _ s: UnsafeMutablePointer<Self>, _ rcond: Self,
                      _ rank: UnsafeMutablePointer<Int32>) -> Int
    static func gesdd(_ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int, _ s: UnsafeMutablePointer<Self>,
                      _ u: UnsafeMutablePointer<Self>, _ ldu: Int, _ vt: UnsafeMutablePointer<Self>, _ ldvt: Int) -> Int
}

@inline(__always) func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }
@inline(__always) func i32(_ x: Int) -> Int32 { Int32(truncatingIfNeeded: x) }

extension Float: BLASScalar {
    public static var numpyDescr: String { "<f4" }
    @inlinable @inline(__always)
    public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func gemv(_ trans: Bool, _ m: Int, _ n: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                            _ x: UnsafePointer<Float>, _ incx: Int, _ beta: Float, _ y: UnsafeMutablePointer<Float>,
                            _ incy: Int) {
        cblas_sgemv(CblasRowMajor, cblasTrans(trans), i32(m), i32(n), alpha, a, i32(lda), x, i32(incx), beta, y,
                    i32(incy))
    }
    public static func syrk(_ trans: Bool, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, cblasTrans(trans), i32(n), i32(k), alpha, a, i32(lda), beta, c, i32(ldc))
    }
    public static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ incx: Int,
                            _ y: UnsafeMutablePointer<Float>, _ incy: Int) {
        cblas_saxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    public static func scal(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>, _ incx: Int) {
        cblas_sscal(i32(n), alpha, x, i32(incx))
    }
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ incx: Int, _ y: UnsafePointer<Float>,
                           _ incy: Int) -> Float {
        cblas_sdot(i32(n), x, i32(incx), y, i32(incy))
    }
    public static func posv(_ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
                            _ b: UnsafeMutablePointer<Float>, _ ldb: Int) -> Int {
        Int(LAPACKE_sposv(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "U")), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb)))
    }
    public static func sytrdOrgtr(_ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
                                  _ d: UnsafeMutablePointer<Float>, _ e: UnsafeMutablePointer<Float>,
                                  _ tau: UnsafeMutablePointer<Float>) -> Int {
        let lower = Int8(UInt8(ascii: "L"))
        let info = Int(LAPACKE_ssytrd(LAPACK_COL_MAJOR, lower, i32(n), a, i32(lda), d, e, tau))
        if info != 0 { return info }
        return Int(LAPACKE_sorgtr(LAPACK_COL_MAJOR, lower, i32(n), a, i32(lda), tau))
    }
    public static func syevd(_ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
                             _ w: UnsafeMutablePointer<Float>) -> Int {
        Int(LAPACKE_ssyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), i32(n), a, i32(lda), w))
    }
    public static func gelsd(_ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
                             _ b: UnsafeMutablePointer<Float>, _ ldb: Int, _ s: UnsafeMutablePointer<Float>,
                             _ rcond: Float, _ rank: UnsafeMutablePointer<Int32>) -> Int {
        Int(LAPACKE_sgelsd(LAPACK_ROW_MAJOR, i32(m), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb), s, rcond, rank))
    }
    public static func gesdd(_ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
                             _ s: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ ldu: Int,
                             _ vt: UnsafeMutablePointer<Float>, _ ldvt: Int) -> Int {
        Int(LAPACKE_sgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), i32(m), i32(n), a, i32(lda), s, u, i32(ldu), vt,
                           i32(ldvt)))
    }
}

extension Double: BLASScalar {
    public static var numpyDescr: String { "<f8" }
    @inlinable @inline(__always)
    public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                            _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                            _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func gemv(_ trans: Bool, _ m: Int, _ n: Int, _ alpha: Double, _ a: UnsafePointer<Double>,
                            _ lda: Int, _ x: UnsafePointer<Double>, _ incx: Int, _ beta: Double,
                            _ y: UnsafeMutablePointer<Double>, _ incy: Int) {
        cblas_dgemv(CblasRowMajor, cblasTrans(trans), i32(m), i32(n), alpha, a, i32(lda), x, i32(incx), beta, y,
                    i32(incy))
    }
    public static func syrk(_ trans: Bool, _ n: Int, _ k: Int, _ alpha: Double, _ a: UnsafePointer<Double>,
                            _ lda: Int, _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, cblasTrans(trans), i32(n), i32(k), alpha, a, i32(lda), beta, c, i32(ldc))
    }
    public static func axpy(_ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ incx: Int,
                            _ y: UnsafeMutablePointer<Double>, _ incy: Int) {
        cblas_daxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    public static func scal(_ n: Int, _ alpha: Double, _ x: UnsafeMutablePointer<Double>, _ incx: Int) {
        cblas_dscal(i32(n), alpha, x, i32(incx))
    }
    public static func dot(_ n: Int, _ x: UnsafePointer<Double>, _ incx: Int, _ y: UnsafePointer<Double>,
                           _ incy: Int) -> Double {
        cblas_ddot(i32(n), x, i32(incx), y, i32(incy))
    }
    public static func posv(_ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
                            _ b: UnsafeMutablePointer<Double>, _ ldb: Int) -> Int {
        Int(LAPACKE_dposv(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "U")), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb)))
    }
    public static func sytrdOrgtr(_ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
                                  _ d: UnsafeMutablePointer<Double>, _ e: UnsafeMutablePointer<Double>,
                                  _ tau: UnsafeMutablePointer<Double>) -> Int {
        let lower = Int8(UInt8(ascii: "L"))
        let info = Int(LAPACKE_dsytrd(LAPACK_COL_MAJOR, lower, i32(n), a, i32(lda), d, e, tau))
        if info != 0 { return info }
        return Int(LAPACKE_dorgtr(LAPACK_COL_MAJOR, lower, i32(n), a, i32(lda), tau))
    }
    public static func syevd(_ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
                             _ w: UnsafeMutablePointer<Double>) -> Int {
        Int(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), i32(n), a, i32(lda), w))
    }
    public static func gelsd(_ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
                             _ b: UnsafeMutablePointer<Double>, _ ldb: Int, _ s: UnsafeMutablePointer<Double>,
                             _ rcond: Double, _ rank: UnsafeMutablePointer<Int32>) -> Int {
        Int(LAPACKE_dgelsd(LAPACK_ROW_MAJOR, i32(m), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb), s, rcond, rank))
    }
    public static func gesdd(_ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
                             _ s: UnsafeMutablePointer<Double>, _ u: UnsafeMutablePointer<Double>, _ ldu: Int,
                             _ vt: UnsafeMutablePointer<Double>, _ ldvt: Int) -> Int {
        Int(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), i32(m), i32(n), a, i32(lda), s, u, i32(ldu), vt,
                           i32(ldvt)))
    }
}
