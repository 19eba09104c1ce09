// The module overview (Probes's purpose, guarantees and notation) is Probes.docc/Probes.md.
import Foundation
import Linalg
import Support

/// The linear probes: ridge (closed form, exact LOO λ) and logistic (k-fold CV over C).
public enum ProbeMethod: String, Codable, CaseIterable, Sendable { case ridge, logistic }

/// Bad probe input or a failed solve. Each description is one line; the CLI prefixes the offending file name.
public enum ProbeError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case empty(String)
    case lengthMismatch(features: Int, labels: Int)
    case nonFinite(row: Int, column: Int)
    case singleClass(label: Int)
    case labelOutOfRange(index: Int, label: Int, classes: Int)
    case widthMismatch(expected: Int, got: Int)
    case invalidArgument(String)
    case numerical(String)

    public var description: String {
        switch self {
        case let .empty(what): return "empty data: \(what)"
        case let .lengthMismatch(f, l): return "\(f) feature rows but \(l) labels"
        case let .nonFinite(r, c): return "non-finite feature value (NaN or inf) at row \(r), column \(c)"
        case let .singleClass(label): return "all training labels are \(label): a probe needs at least two classes"
        case let .labelOutOfRange(i, l, k): return "label \(l) at index \(i) is outside 0..<\(k)"
        case let .widthMismatch(e, g): return "features have \(g) columns but the probe was trained on \(e)"
        case let .invalidArgument(m): return m
        case let .numerical(m): return m
        }
    }
}

/// `count` values 10^(lo … hi), evenly spaced in the exponent (numpy's `logspace(lo, hi, count)`).
public func logspace(_ lo: Double, _ hi: Double, _ count: Int) -> [Double] {
    if count <= 0 { return [] }
    if count == 1 { return [Foundation.pow(10, lo)] }
    let step = (hi - lo) / Double(count - 1)  // numpy.linspace: i·step + lo, the last point exactly hi
    return (0..<count).map { i in Foundation.pow(10, i == count - 1 ? hi : Double(i) * step + lo) }
}

/// Checks shapes, finiteness and labels; returns the number of distinct classes present.
@_specialize(where T == Float)
@_specialize(where T == Double)
func validateTraining<T: BLASScalar>(_ x: Matrix<T>, _ labels: [Int], classes: Int) throws {
    guard x.rows > 0 else { throw ProbeError.empty("no training rows") }
    guard x.cols > 0 else { throw ProbeError.empty("features have no columns") }
    try validateLabels(labels, rows: x.rows, classes: classes)
    try checkFinite(x)
}

/// The label half of `validateTraining` (for features streamed from a file, whose finiteness is checked as read).
func validateLabels(_ labels: [Int], rows: Int, classes: Int) throws {
    guard labels.count == rows else { throw ProbeError.lengthMismatch(features: rows, labels: labels.count) }
    guard classes >= 2 else { throw ProbeError.invalidArgument("a probe needs classes ≥ 2 (got \(classes))") }
    for (i, l) in labels.enumerated() where l < 0 || l >= classes {
        throw ProbeError.labelOutOfRange(index: i, label: l, classes: classes)
    }
    if labels.allSatisfy({ $0 == labels[0] }) { throw ProbeError.singleClass(label: labels[0]) }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func checkFinite<T: BLASScalar>(_ x: Matrix<T>) throws {
    let p = x.pointer, ld = x.stride
    for i in 0..<x.rows {
        let row = p + i &* ld
        for j in 0..<x.cols where !row[j].isFinite { throw ProbeError.nonFinite(row: i, column: j) }
    }
}

/// Column means μ (and population standard deviations σ, 0 → 1, when `standardize`) of X, and the centred
/// (and scaled) copy X_c in Float64: the one pass that turns Float32 features into Double — or, with `float32`
/// and Float32 features, X_c rounded to Float32 in `xc32` (for the ridge's Float32 Gram; `xc` is then 0 × d).
struct CentredFeatures {
    let xc: Matrix<Double>
    let xc32: Matrix<Float>?
    let mean: [Double]
    let scale: [Double]?

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    init<T: BLASScalar>(_ x: Matrix<T>, standardize: Bool, float32: Bool = false) {
        let (mean, scale) = Self.statistics(x, standardize: standardize)
        if float32, let x32 = x as? Matrix<Float> {
            xc32 = Self.centred(x32, mean: mean, scale: scale, as: Float.self)
            xc = Matrix<Double>(rows: 0, cols: x.cols)
        } else {
            xc32 = nil
            xc = Self.centred(x, mean: mean, scale: scale, as: Double.self)
        }
        self.mean = mean
        self.scale = scale
    }

    /// μ, and σ (from the centred values in Float64) when `standardize`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func statistics<T: BLASScalar>(_ x: Matrix<T>, standardize: Bool) -> (mean: [Double], scale: [Double]?) {
        let n = x.rows, d = x.cols, ld = x.stride, src = x.pointer
        var mean = [Double](repeating: 0, count: d)
        mean.withUnsafeMutableBufferPointer { m in
            let mp = m.baseAddress!
            for i in 0..<n {
                let row = src + i &* ld
                for j in 0..<d { mp[j] += Double(row[j]) }
            }
            let inv = 1 / Double(n)
            for j in 0..<d { mp[j] *= inv }
        }
        guard standardize else { return (mean, nil) }
        var s = [Double](repeating: 0, count: d)
        s.withUnsafeMutableBufferPointer { sb in
            mean.withUnsafeBufferPointer { m in
                let sp = sb.baseAddress!, mp = m.baseAddress!
                for i in 0..<n {
                    let row = src + i &* ld
                    for j in 0..<d { let c = Double(row[j]) - mp[j]; sp[j] += c * c }
                }
                for j in 0..<d {
                    let sd = (sp[j] / Double(n)).squareRoot()
                    sp[j] = sd > 0 && sd.isFinite ? sd : 1
                }
            }
        }
        return (mean, s)
    }

    /// (X − 1μᵀ) [/ σ] computed in Float64, stored as S (parallel over rows).
    @_specialize(where T == Float, S == Double)
    @_specialize(where T == Double, S == Double)
    @_specialize(where T == Float, S == Float)
    static func centred<T: BLASScalar, S: BLASScalar>(_ x: Matrix<T>, mean: [Double], scale: [Double]?,
                                                     as: S.Type) -> Matrix<S> {
        let n = x.rows, d = x.cols, ld = x.stride, src = x.pointer
        let xc = Matrix<S>(rows: n, cols: d)
        let dst = xc.pointer
        mean.withUnsafeBufferPointer { m in
            let mp = m.baseAddress!
            (scale ?? []).withUnsafeBufferPointer { sb in
                let sp = scale == nil ? nil : sb.baseAddress
                parallelChunks(n, minChunk: 64) { range in
                    for i in range {
                        let row = src + i &* ld, out = dst + i &* d
                        if let sp {
                            for j in 0..<d { out[j] = S((Double(row[j]) - mp[j]) / sp[j]) }
                        } else {
                            for j in 0..<d { out[j] = S(Double(row[j]) - mp[j]) }
                        }
                    }
                }
            }
        }
        return xc
    }
}

/// Decision scores X·W + 1bᵀ (n × K′) for a linear model whose W is d × K′, with X in any precision.
@_specialize(where T == Float)
@_specialize(where T == Double)
func linearScores<T: BLASScalar>(_ x: Matrix<T>, coefficients w: Matrix<Double>, intercepts b: [Double]) throws
    -> Matrix<Double> {
    guard x.cols == w.rows else { throw ProbeError.widthMismatch(expected: w.rows, got: x.cols) }
    try checkFinite(x)
    let xd = doubleMatrix(x)
    let s = Matrix<Double>(rows: x.rows, cols: w.cols)
    for i in 0..<x.rows { for k in 0..<w.cols { s.pointer[i &* w.cols &+ k] = b[k] } }
    if x.rows > 0 { try BLAS.gemm(xd, w, beta: 1, into: s) }
    return s
}

/// Class indices from decision scores: argmax over columns (first on ties), or score > 0 for one column.
func classesFromScores(_ s: Matrix<Double>) -> [Int] {
    let k = s.cols
    return (0..<s.rows).map { i in
        let row = s.pointer + i &* s.stride
        if k == 1 { return row[0] > 0 ? 1 : 0 }
        var best = 0
        for j in 1..<k where row[j] > row[best] { best = j }
        return best
    }
}

/// X in Float64 (shared, not copied, when it already is).
@_specialize(where T == Float)
@_specialize(where T == Double)
func doubleMatrix<T: BLASScalar>(_ x: Matrix<T>) -> Matrix<Double> {
    if let d = x as? Matrix<Double> { return d }
    let m = Matrix<Double>(rows: x.rows, cols: x.cols)
    let src = x.pointer, dst = m.pointer, ld = x.stride, c = x.cols
    parallelChunks(x.rows, minChunk: 64) { range in
        for i in range {
            let row = src + i &* ld, out = dst + i &* c
            for j in 0..<c { out[j] = Double(row[j]) }
        }
    }
    return m
}

/// How a hyperparameter grid (ridge λ, logistic C) grows when the selected value is at one of its ends, so a
/// search cannot silently clip: `pointsPerStep` more values at the grid's own log spacing at that end are appended
/// (after the given ones, so ties still go to the earlier values) and the search is repeated on them, until the
/// choice is interior or the next value would pass the stated limit. An end value that only ties with its
/// neighbour (a plateau, e.g. every tiny C predicting the majority class) is not extended, and a one-value grid
/// never is; `GridSearch.edge` still reports any choice left at an end.
public struct GridExtension: Codable, Equatable, Sendable {
    public var lowerLimit: Double
    public var upperLimit: Double
    public var pointsPerStep: Int

    public init(lowerLimit: Double, upperLimit: Double, pointsPerStep: Int = 4) {
        self.lowerLimit = lowerLimit; self.upperLimit = upperLimit; self.pointsPerStep = pointsPerStep
    }

    /// Ridge λ: 10⁻⁸ … 10¹², 12 values per round (6 decades of a half-decade grid): every round repeats the
    /// decomposition, while each extra λ costs only a banded solve and one streaming pass.
    public static let ridge = GridExtension(lowerLimit: 1e-8, upperLimit: 1e12, pointsPerStep: 12)
    /// Logistic C: 10⁻¹⁰ … 10⁸.
    public static let logistic = GridExtension(lowerLimit: 1e-10, upperLimit: 1e8)

    /// The values to add when `chosen` is at an end of `grid` and its score (`scores[i]` for `grid[i]`, higher is
    /// better) beats its neighbour's (nil: interior, a plateau, a one-value grid, or the limit reached).
    public func next(_ grid: [Double], scores: [Double], chosen: Double) -> (edge: GridSearch.Edge, values: [Double])? {
        let sorted = Array(Set(grid)).sorted()
        guard sorted.count >= 2, pointsPerStep >= 1, scores.count == grid.count else { return nil }
        let edge: GridSearch.Edge
        if chosen == sorted[0] { edge = .lower } else if chosen == sorted[sorted.count - 1] { edge = .upper } else { return nil }
        let neighbour = edge == .lower ? sorted[1] : sorted[sorted.count - 2]
        guard let ci = grid.firstIndex(of: chosen), let ni = grid.firstIndex(of: neighbour), scores[ci] > scores[ni] else {
            return nil
        }
        let ratio = edge == .lower ? sorted[1] / sorted[0] : sorted[sorted.count - 1] / sorted[sorted.count - 2]
        let start = edge == .lower ? sorted[0] : sorted[sorted.count - 1]
        var out: [Double] = []
        var v = start
        for _ in 0..<pointsPerStep {
            v = edge == .lower ? v / ratio : v * ratio
            guard v >= lowerLimit * (1 - 1e-12), v <= upperLimit * (1 + 1e-12), v.isFinite, v > 0 else { break }
            out.append(v)
        }
        return out.isEmpty ? nil : (edge, out)
    }
}

/// What a grid search actually searched, for the report.
public struct GridSearch: Codable, Equatable, Sendable {
    public enum Edge: String, Codable, Sendable { case lower, upper }
    /// The grid as given.
    public let requested: [Double]
    /// The grid searched (requested + extensions, in search order).
    public let searched: [Double]
    public let chosen: Double
    /// Extension rounds that were run.
    public let extensions: Int
    /// Set when the chosen value is still at an end of the searched grid (the limit was reached, or no extension).
    public let edge: Edge?
    public let limit: GridExtension?

    public init(requested: [Double], searched: [Double], chosen: Double, extensions: Int, limit: GridExtension?) {
        self.requested = requested; self.searched = searched; self.chosen = chosen; self.extensions = extensions
        self.limit = limit
        let lo = searched.min() ?? chosen, hi = searched.max() ?? chosen
        edge = searched.count < 2 ? nil : (chosen == lo ? .lower : (chosen == hi ? .upper : nil))
    }

    /// One line for a report: "" when the choice was interior of the requested grid.
    public var note: String {
        var parts: [String] = []
        if extensions > 0 {
            parts.append(String(format: "grid extended %d× to [%g, %g]", extensions, searched.min() ?? 0, searched.max() ?? 0))
        }
        if let e = edge {
            parts.append(String(format: "chosen %g is at the %@ end of the searched grid", chosen, e.rawValue)
                         + (limit != nil && extensions > 0 ? " (extension limit reached)" : ""))
        }
        return parts.joined(separator: "; ")
    }
}

extension ProbeError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}
