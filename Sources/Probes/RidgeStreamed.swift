import Foundation
import Linalg
import Support

/// The wide ridge fit (n ≤ d) streamed from a features file: the full-vocabulary probe on p_f ∈ ℝ^50,257 without
/// ever holding X. Passes over the file, each `streamBlockColumns` columns of every row at a time:
/// 1. column means μ and standard deviations σ (summed over the rows in order, as `CentredFeatures.statistics`,
///    so they are the in-memory fit's bit for bit) and the finiteness check;
/// 2. the Gram: each block centred and scaled exactly as `CentredFeatures.centred` does, then K += X_bX_bᵀ with
///    `ssyrk` into a Float32 Gram (`dsyrk` into Float64 for `<f8` files, or for the Float64 fallback) — the
///    in-memory fit's numerics, accumulated in column blocks instead of over all d at once;
/// 3. after THE gram-mode scorer (`gramScorer`: same decomposition, exact LOO and λ search as the in-memory
///    fit), W = X_cᵀc block by block (`transposedProduct` on each block), mapped to raw features (`rawScale`);
/// 4. the training decision values X·W + b, rows streamed, for the training accuracy.
/// Resident: the n × n Gram and its factors, one n × block window, and d × K′ coefficients.
extension RidgeClassifier {
    /// Columns per streamed block: n × 2,048 Float32 is 57 MB at n = 6,920, and each `ssyrk` call is still long
    /// enough (k = 2,048) to run near the sgemm rate.
    public static let streamBlockColumns = 2048

    /// Fits the ridge classifier of `fit(x:…)` in gram mode on the features in `url` (a 2-D `.npy`, n ≤ d),
    /// streaming them (see above): the same λ, LOO scores and coefficients (to the rounding of the blocked Gram)
    /// as loading the file and calling `fit(x:…)` — Float32 features for `<f2`/`<f4` files, Float64 for `<f8`.
    public static func fit(streaming url: URL, labels: [Int], classes: Int, alphas: [Double] = defaultAlphas,
                           select: RidgeSelection = .squaredError, standardize: Bool = false,
                           decomposition: RidgeDecomposition = .auto, extension: GridExtension? = .ridge,
                           blockColumns: Int = streamBlockColumns) throws -> RidgeModel {
        let reader = try NPY.WindowReader(url)
        let n = reader.rows, d = reader.cols
        guard n > 0 else { throw ProbeError.empty("\(url.path): no training rows") }
        guard d > 0 else { throw ProbeError.empty("\(url.path): features have no columns") }
        guard n <= d else {
            throw ProbeError.invalidArgument("\(url.path): \(n) rows × \(d) columns — the streamed fit is the dual (Gram) route for n ≤ d; load narrower features in memory")
        }
        guard blockColumns >= 1 else { throw ProbeError.invalidArgument("the streamed block must have at least one column (got \(blockColumns))") }
        try validateLabels(labels, rows: n, classes: classes)
        try checkAlphas(alphas)
        let kk = classes == 2 ? 1 : classes, block = min(blockColumns, d)
        try SystemMemory.require([[n, n, 4], [n, n, 8], [n, n, 8], [n, n, 8], [n, block, 8], [d, kk, 16]],
                                 for: "the streamed ridge fit of \(url.path) (n = \(n), d = \(d))")
        let float32 = reader.header.descr != "<f8"
        let clock = PhaseClock()
        let (mean, scale) = try streamedStatistics(reader, standardize: standardize, block: block)
        let targets = RidgeTargets(labels: labels, classes: classes)
        let decomposition = resolve(decomposition, size: n)
        clock.lap("centre")
        let columns = StreamedColumns(reader: reader, mean: mean, scale: scale, block: block)
        let scorer = try gramScorer(float32: float32, targets: targets, labels: labels, select: select,
                                    decomposition: decomposition, clock: clock) { precise in
            try precise ? columns.gram(as: Double.self) : centredKernel(columns.gram(as: Float.self)).kc
        }
        let (path, c) = try searchGrid(alphas, extension: `extension`, targets: targets, labels: labels,
                                       select: select, scoreGrid: scorer.scoreGrid)
        let (w, b) = rawScale(try columns.transposedProduct(c, float32: float32), mean: mean, scale: scale, targets: targets)
        let predicted = classesFromScores(try streamedScores(reader, coefficients: w, intercepts: b))
        let trainAcc = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(n)
        clock.lap("coefficients")
        return RidgeModel(classes: classes, path: path, coefficients: w, intercepts: b, featureMean: mean,
                          featureScale: scale, mode: "gram", decomposition: decomposition, trainAccuracy: trainAcc,
                          timings: clock.timings)
    }

    /// μ and (with `standardize`) σ of every column, summed row by row as `CentredFeatures.statistics` does (the
    /// same values bit for bit: Float32 windows for `<f2`/`<f4` files, Float64 for `<f8`); the first non-finite
    /// value is an error naming its row and column.
    static func streamedStatistics(_ reader: NPY.WindowReader, standardize: Bool, block: Int) throws
        -> (mean: [Double], scale: [Double]?) {
        reader.header.descr == "<f8"
            ? try streamedStatistics(reader, standardize: standardize, block: block, as: Double.self)
            : try streamedStatistics(reader, standardize: standardize, block: block, as: Float.self)
    }

    static func streamedStatistics<T: BLASScalar>(_ reader: NPY.WindowReader, standardize: Bool, block: Int,
                                                  as _: T.Type) throws -> (mean: [Double], scale: [Double]?) {
        let n = reader.rows, d = reader.cols
        var mean = [Double](repeating: 0, count: d)
        var scale: [Double]? = standardize ? [Double](repeating: 0, count: d) : nil
        let window = Matrix<T>(rows: n, cols: block)
        var lo = 0
        while lo < d {
            let width = min(block, d - lo)
            let x = window.columns(0..<width)
            try reader.read(rows: 0..<n, cols: lo..<(lo + width), into: x)
            do { try checkFinite(x) } catch ProbeError.nonFinite(let i, let j) {
                throw ProbeError.invalidArgument("\(reader.url.path): \(ProbeError.nonFinite(row: i, column: lo + j))")
            }
            let (m, s) = CentredFeatures.statistics(x, standardize: standardize)
            for j in 0..<width { mean[lo + j] = m[j] }
            if let s { for j in 0..<width { scale![lo + j] = s[j] } }
            lo += width
        }
        return (mean, scale)
    }

    /// Decision values X·W + 1bᵀ of the rows of `reader`, streamed a block of rows at a time (as `linearScores`).
    static func streamedScores(_ reader: NPY.WindowReader, coefficients w: Matrix<Double>, intercepts b: [Double],
                               rowsPerBlock: Int = 256) throws -> Matrix<Double> {
        let m = reader.rows, d = reader.cols, kk = w.cols
        guard d == w.rows else { throw ProbeError.widthMismatch(expected: w.rows, got: d) }
        try SystemMemory.require([[min(rowsPerBlock, m), d, 8], [m, kk, 8]], for: "scoring \(reader.url.path)")
        let s = Matrix<Double>(rows: m, cols: kk) { _, k in b[k] }
        let window = Matrix<Double>(rows: min(rowsPerBlock, m), cols: d)
        var lo = 0
        while lo < m {
            let count = min(rowsPerBlock, m - lo)
            let x = window.rows(0..<count)
            try reader.read(rows: lo..<(lo + count), cols: 0..<d, into: x)
            do { try checkFinite(x) } catch ProbeError.nonFinite(let i, let j) {
                throw ProbeError.invalidArgument("\(reader.url.path): \(ProbeError.nonFinite(row: lo + i, column: j))")
            }
            try BLAS.gemm(x, w, beta: 1, into: s.rows(lo..<(lo + count)))
            lo += count
        }
        return s
    }
}

extension RidgeModel {
    /// Decision values X·W + 1bᵀ of the features in `url` (a 2-D `.npy`), read a block of rows at a time: the
    /// test rows of a full-vocabulary probe are scored without loading them whole.
    public func decisionFunction(streaming url: URL) throws -> Matrix<Double> {
        try RidgeClassifier.streamedScores(try NPY.WindowReader(url), coefficients: coefficients, intercepts: intercepts)
    }
}

/// The centred (and scaled) columns of a features file, one block of columns of every row at a time, with the
/// products the streamed ridge fit needs of them.
struct StreamedColumns {
    let reader: NPY.WindowReader
    let mean: [Double]
    let scale: [Double]?
    let block: Int

    /// Calls `body` with each block of X_c (n × width, as `CentredFeatures.centred` computes it in precision S)
    /// and the first column of the block.
    func forEachBlock<S: BLASScalar>(as _: S.Type, _ body: (Matrix<S>, Int) throws -> Void) throws {
        let n = reader.rows, d = reader.cols
        let raw = Matrix<Float>(rows: n, cols: block)
        let centred = Matrix<S>(rows: n, cols: block)
        var lo = 0
        while lo < d {
            let width = min(block, d - lo)
            let xr = raw.columns(0..<width), xc = centred.columns(0..<width)
            if reader.header.descr == "<f8", let xd = xc as? Matrix<Double> {
                try reader.read(rows: 0..<n, cols: lo..<(lo + width), into: xd)
                centre(xd, into: xc, from: lo)
            } else {
                try reader.read(rows: 0..<n, cols: lo..<(lo + width), into: xr)
                centre(xr, into: xc, from: lo)
            }
            try body(xc, lo)
            lo += width
        }
    }

    /// out = (x − μ) / σ for the columns from `lo`, computed in Float64 and stored as S.
    func centre<T: BLASScalar, S: BLASScalar>(_ x: Matrix<T>, into out: Matrix<S>, from lo: Int) {
        let width = x.cols, src = x.pointer, lds = x.stride, dst = out.pointer, ldo = out.stride
        mean.withUnsafeBufferPointer { mb in
            (scale ?? []).withUnsafeBufferPointer { sb in
                let mp = mb.baseAddress! + lo, sp = scale == nil ? nil : sb.baseAddress! + lo
                parallelChunks(x.rows, minChunk: 64) { range in
                    for i in range {
                        let row = src + i &* lds, o = dst + i &* ldo
                        if let sp {
                            for j in 0..<width { o[j] = S((Double(row[j]) - mp[j]) / sp[j]) }
                        } else {
                            for j in 0..<width { o[j] = S(Double(row[j]) - mp[j]) }
                        }
                    }
                }
            }
        }
    }

    /// X_cX_cᵀ (n × n) in precision S, accumulated block by block with `syrk` (upper triangle, mirrored once).
    func gram<S: BLASScalar>(as _: S.Type) throws -> Matrix<S> {
        let n = reader.rows
        let g = Matrix<S>(rows: n, cols: n)
        var first = true
        try forEachBlock(as: S.self) { xc, _ in
            S.syrk(false, n, xc.cols, 1, xc.pointer, xc.stride, first ? 0 : 1, g.pointer, g.stride)
            first = false
        }
        let p = g.pointer, ld = g.stride
        for i in 0..<n { for j in 0..<i { p[i &* ld &+ j] = p[j &* ld &+ i] } }
        return g
    }

    /// X_cᵀc (d × K′) in Float64, block by block: Float32 blocks through `transposedProduct` (as the in-memory fit
    /// with Float32 features), Float64 blocks through dgemm.
    func transposedProduct(_ c: Matrix<Double>, float32: Bool) throws -> Matrix<Double> {
        let d = reader.cols, kk = c.cols
        let w = Matrix<Double>(rows: d, cols: kk)
        func store(_ part: Matrix<Double>, _ lo: Int) {
            for j in 0..<part.rows { for k in 0..<kk { w.pointer[(lo &+ j) &* kk &+ k] = part.pointer[j &* part.stride &+ k] } }
        }
        if float32 {
            try forEachBlock(as: Float.self) { xc, lo in store(RidgeClassifier.transposedProduct(xc, c), lo) }
        } else {
            try forEachBlock(as: Double.self) { xc, lo in store(try BLAS.matmul(xc, c, transA: true), lo) }
        }
        return w
    }
}
