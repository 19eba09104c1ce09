import Foundation

/// Owned, 64-byte-aligned buffer. Freed when the last `Matrix` (or view) referring to it goes away.
public final class AlignedStorage<T> {
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "AlignedStorage: negative count \(count)")
        let bytes = max(1, count) * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: T.self, capacity: max(1, count))
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// A row-major matrix of `Float` or `Double` over aligned storage, or a view into another matrix.
///
/// Element (i, j) lives at `pointer[i * stride + j]`; `stride ≥ cols` is the leading dimension, so row ranges and
/// column ranges are views without copies. Reference semantics: copies of a `Matrix` value share the buffer.
public struct Matrix<T: BLASScalar>: CustomStringConvertible {
    public let rows: Int
    public let cols: Int
    /// Leading dimension (distance in elements between consecutive rows).
    public let stride: Int
    public let storage: AlignedStorage<T>
    public let offset: Int

    /// A zero-filled `rows × cols` matrix.
    public init(rows: Int, cols: Int) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(shapeString(rows, cols))")
        self.rows = rows
        self.cols = cols
        self.stride = max(cols, 1)
        self.storage = AlignedStorage(count: rows * cols)
        self.offset = 0
    }

    /// A matrix filled from a row-major array; throws if `values.count != rows * cols`.
    public init(rows: Int, cols: Int, values: [T]) throws {
        guard rows >= 0, cols >= 0, values.count == rows * cols else {
            throw LinalgError.shapeMismatch(operation: "Matrix(rows:cols:values:)", lhs: shapeString(rows, cols),
                                            rhs: "(\(values.count) values)")
        }
        self.init(rows: rows, cols: cols)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: values.count) }
        }
    }

    /// A matrix from nested rows; throws if the rows are ragged.
    public init(_ nested: [[T]]) throws {
        let r = nested.count
        let c = nested.first?.count ?? 0
        for (i, row) in nested.enumerated() where row.count != c {
            throw LinalgError.shapeMismatch(operation: "Matrix(nested:) row \(i)", lhs: "(\(c) columns)",
                                            rhs: "(\(row.count) columns)")
        }
        try self.init(rows: r, cols: c, values: nested.flatMap { $0 })
    }

    /// A matrix whose element (i, j) is `body(i, j)`.
    public init(rows: Int, cols: Int, _ body: (Int, Int) -> T) {
        self.init(rows: rows, cols: cols)
        let p = storage.pointer
        for i in 0..<rows { for j in 0..<cols { p[i &* cols &+ j] = body(i, j) } }
    }

    /// The identity matrix of order n.
    public static func identity(_ n: Int) -> Matrix {
        let m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.pointer[i &* m.stride &+ i] = 1 }
        return m
    }

    init(view storage: AlignedStorage<T>, offset: Int, rows: Int, cols: Int, stride: Int) {
        self.storage = storage
        self.offset = offset
        self.rows = rows
        self.cols = cols
        self.stride = stride
    }

    /// Pointer to element (0, 0).
    @inlinable public var pointer: UnsafeMutablePointer<T> { storage.pointer + offset }
    @inlinable public var count: Int { rows * cols }
    /// True when rows follow each other with no gap, so the matrix is one flat buffer of `count` elements.
    @inlinable public var isContiguous: Bool { stride == cols || rows <= 1 }
    public var shape: (rows: Int, cols: Int) { (rows, cols) }
    public var shapeDescription: String { shapeString(rows, cols) }

    @inlinable public subscript(i: Int, j: Int) -> T {
        get {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix index (\(i), \(j)) out of \(shapeString(rows, cols))")
            return pointer[i &* stride &+ j]
        }
        nonmutating set {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix index (\(i), \(j)) out of \(shapeString(rows, cols))")
            pointer[i &* stride &+ j] = newValue
        }
    }

    // MARK: Views (no copies)

    /// Row `i` as a 1 × cols view.
    public func row(_ i: Int) -> Matrix {
        precondition(i >= 0 && i < rows, "row \(i) out of \(shapeDescription)")
        return Matrix(view: storage, offset: offset + i * stride, rows: 1, cols: cols, stride: stride)
    }

    /// Rows `range` as a view.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of \(shapeDescription)")
        return Matrix(view: storage, offset: offset + range.lowerBound * stride, rows: range.count, cols: cols,
                      stride: stride)
    }

    /// Columns `range` as a strided view.
    public func columns(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= cols, "columns \(range) out of \(shapeDescription)")
        return Matrix(view: storage, offset: offset + range.lowerBound, rows: rows, cols: range.count, stride: stride)
    }

    /// The same contiguous buffer seen with another shape (no copy); throws if the element counts differ.
    public func reshaped(rows r: Int, cols c: Int) throws -> Matrix {
        guard r * c == count else {
            throw LinalgError.shapeMismatch(operation: "reshaped", lhs: shapeDescription, rhs: shapeString(r, c))
        }
        guard isContiguous else { return try copy().reshaped(rows: r, cols: c) }
        return Matrix(view: storage, offset: offset, rows: r, cols: c, stride: max(c, 1))
    }

    // MARK: Copies

    /// An independent, contiguous copy.
    public func copy() -> Matrix {
        let m = Matrix(rows: rows, cols: cols)
        let dst = m.pointer, src = pointer
        if isContiguous {
            dst.update(from: src, count: count)
        } else {
            for i in 0..<rows { (dst + i &* cols).update(from: src + i &* stride, count: cols) }
        }
        return m
    }

    /// Aᵀ as a new contiguous matrix.
    public func transposed() -> Matrix {
        let m = Matrix(rows: cols, cols: rows)
        let dst = m.pointer, src = pointer
        for i in 0..<rows { for j in 0..<cols { dst[j &* rows &+ i] = src[i &* stride &+ j] } }
        return m
    }

    /// Row-major elements as an array.
    public func toArray() -> [T] {
        var out = [T](); out.reserveCapacity(count)
        for i in 0..<rows { for j in 0..<cols { out.append(pointer[i &* stride &+ j]) } }
        return out
    }


    /// Copies `other` into this matrix (shapes must agree).
    public func assign(_ other: Matrix) throws {
        guard other.rows == rows, other.cols == cols else {
            throw LinalgError.shapeMismatch(operation: "assign", lhs: shapeDescription, rhs: other.shapeDescription)
        }
        for i in 0..<rows { (pointer + i &* stride).update(from: other.pointer + i &* other.stride, count: cols) }
    }

    public func fill(_ value: T) {
        for i in 0..<rows { (pointer + i &* stride).update(repeating: value, count: cols) }
    }

    /// Element-wise conversion to another precision.
    public func converted<U: BLASScalar>(to _: U.Type = U.self) -> Matrix<U> {
        let m = Matrix<U>(rows: rows, cols: cols)
        let dst = m.pointer, src = pointer
        for i in 0..<rows { for j in 0..<cols { dst[i &* cols &+ j] = U(src[i &* stride &+ j]) } }
        return m
    }

    /// True when every element is finite.
    public var allFinite: Bool {
        let p = pointer
        for i in 0..<rows { for j in 0..<cols where !p[i &* stride &+ j].isFinite { return false } }
        return true
    }

    /// Largest |a_ij − b_ij|; throws on shape mismatch.
    public func maxAbsDifference(_ other: Matrix) throws -> T {
        guard other.rows == rows, other.cols == cols else {
            throw LinalgError.shapeMismatch(operation: "maxAbsDifference", lhs: shapeDescription,
                                            rhs: other.shapeDescription)
        }
        var m: T = 0
        for i in 0..<rows { for j in 0..<cols { m = Swift.max(m, Swift.abs(self[i, j] - other[i, j])) } }
        return m
    }

    /// Frobenius norm.
    public var frobeniusNorm: T {
        var s: T = 0
        for i in 0..<rows { s += T.dot(cols, pointer + i * stride, 1, pointer + i * stride, 1) }
        return s.squareRoot()
    }

    public var description: String {
        let shown = (0..<Swift.min(rows, 6)).map { i in
            (0..<Swift.min(cols, 8)).map { j in "\(self[i, j])" }.joined(separator: " ")
        }.joined(separator: "\n  ")
        return "Matrix<\(T.self)>\(shapeDescription)\n  \(shown)"
    }
}
