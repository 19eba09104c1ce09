import Foundation
import Support

/// NumPy `.npy` files (format version 1.0, little-endian, C order): the interchange format between lmprobe stages
/// and with numpy users. Supported dtypes: `<f2 <f4 <f8 <i4 <i8 <u2 <u4 |u1`.
public enum NPY {
    public struct Header: Equatable {
        public var descr: String
        public var shape: [Int]
        public var fortranOrder: Bool = false
        /// Number of elements (for shapes whose size `byteCount` has checked; wraps instead of trapping otherwise).
        public var count: Int { shape.reduce(1, &*) }
        /// Bytes of data the shape needs, or nil when that does not fit an Int (computed with overflow checks).
        public var byteCount: Int? {
            var n = itemSize
            for d in shape {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                if o { return nil }
                n = p
            }
            return n
        }
        public var itemSize: Int { Int(descr.dropFirst(2)) ?? 0 }
        public init(descr: String, shape: [Int]) { self.descr = descr; self.shape = shape }
    }

    /// File errors of `.npy` reading and writing (the project-wide `FileError`).
    public typealias FileError = Support.FileError

    static let supported: Set<String> = ["<f2", "<f4", "<f8", "<i4", "<i8", "<u2", "<u4", "|u1"]

    /// The header bytes (magic, version 1.0, length, dict padded so the data starts on a 64-byte boundary).
    public static func encodeHeader(_ h: Header) -> Data {
        let shapeText = h.shape.count == 1 ? "(\(h.shape[0]),)" : "(" + h.shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(h.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        let pad = (64 - unpadded % 64) % 64
        dict += String(repeating: " ", count: pad) + "\n"
        var data = Data([0x93]) + "NUMPY".data(using: .ascii)! + Data([1, 0])
        let len = UInt16(dict.utf8.count)
        data.append(UInt8(len & 0xff)); data.append(UInt8(len >> 8))
        data.append(dict.data(using: .ascii)!)
        return data
    }

    /// Parses the header of `data`; returns it with the offset of the first data byte.
    public static func decodeHeader(_ data: Data, path: String,
                                    dataBytesAvailable: ((Int) -> Int)? = nil) throws -> (Header, Int) {
        func fail(_ m: String) -> FileError { FileError(path: path, message: m) }
        guard data.count >= 10, data[data.startIndex] == 0x93,
              String(data: data[data.startIndex + 1..<data.startIndex + 6], encoding: .ascii) == "NUMPY" else {
            throw fail("not a .npy file (bad magic)")
        }
        let major = data[data.startIndex + 6]
        let headerLen: Int, start: Int
        switch major {
        case 1:
            headerLen = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8; start = 10
        case 2, 3:
            guard data.count >= 12 else { throw fail("truncated header") }
            headerLen = (0..<4).reduce(0) { $0 | Int(data[data.startIndex + 8 + $1]) << (8 * $1) }; start = 12
        default: throw fail("unsupported .npy version \(major)")
        }
        guard data.count >= start + headerLen,
              let text = String(data: data[data.startIndex + start..<data.startIndex + start + headerLen], encoding: .utf8)
        else { throw fail("truncated header") }
        guard let descr = match(text, #"'descr'\s*:\s*'([^']*)'"#) else { throw fail("header has no descr") }
        guard supported.contains(descr) else { throw fail("unsupported dtype \(descr)") }
        if let fo = match(text, #"'fortran_order'\s*:\s*(True|False)"#), fo == "True" {
            throw fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)")
        }
        guard let shapeText = match(text, #"'shape'\s*:\s*\(([^)]*)\)"#) else { throw fail("header has no shape") }
        let dims = try shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { s -> Int in
                guard let v = Int(s), v >= 0 else { throw fail("bad shape entry '\(s)'") }
                return v
            }
        guard dims.count <= 32 else { throw fail("shape has \(dims.count) dimensions (at most 32)") }
        var h = Header(descr: descr, shape: dims)
        h.fortranOrder = false
        let offset = start + headerLen
        // The size the shape implies, computed with overflow checks, against the bytes actually present: nothing is
        // allocated or read for a shape the file does not hold (release builds are -Ounchecked).
        let available = dataBytesAvailable?(offset) ?? (data.count - offset)
        guard let expected = h.byteCount else {
            throw fail("header shape \(dims) \(descr) needs more bytes than can be addressed; file has \(available)")
        }
        guard available >= expected else {
            throw fail("truncated data: header says \(dims) \(descr) = \(expected) bytes, file has \(available)")
        }
        return (h, offset)
    }

    /// Runs a file operation, turning a Foundation error into a one-line FileError naming `url`.
    @discardableResult
    static func io<R>(_ url: URL, _ what: String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as FileError { throw e } catch {
            throw FileError(path: url.path, message: "\(what) (\(ioErrorText(error)))")
        }
    }

    static func match(_ text: String, _ pattern: String) -> String? {
        guard let re = try? NSRegularExpression(pattern: pattern),
              let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let r = Range(m.range(at: 1), in: text) else { return nil }
        return String(text[r])
    }

    // MARK: Writing

    /// Writes a matrix (2-D, or 1-D when `asVector`) atomically: temporary file, then rename.
    public static func write<T: BLASScalar>(_ m: Matrix<T>, to url: URL, asVector: Bool = false) throws {
        let w = try StreamWriter(url: url, descr: T.numpyDescr, shape: asVector ? [m.count] : [m.rows, m.cols])
        try w.append(m)
        try w.finish()
    }

    /// Writes Int64 values (labels) as a 1-D `<i8` array.
    public static func write(int64 values: [Int64], to url: URL) throws {
        let w = try StreamWriter(url: url, descr: "<i8", shape: [values.count])
        try values.withUnsafeBytes { try w.appendBytes($0) }
        try w.finish()
    }

    /// Writes an array of `Int32` values with the given shape (`<i4`).
    public static func write(int32 values: [Int32], shape: [Int], to url: URL) throws {
        let w = try StreamWriter(url: url, descr: "<i4", shape: shape)
        try values.withUnsafeBytes { try w.appendBytes($0) }
        try w.finish()
    }

    /// Streams rows into a `.npy` file whose shape is known up front, through the one atomic writer
    /// (`AtomicFile`): `finish()` checks that exactly the promised number of bytes arrived, then puts the file in
    /// place, so an interrupted run never leaves a file that looks complete.
    public final class StreamWriter {
        public let url: URL
        public let header: Header
        let file: AtomicFile
        var written = 0

        public init(url: URL, descr: String, shape: [Int]) throws {
            guard supported.contains(descr) else { throw FileError(path: url.path, message: "unsupported dtype \(descr)") }
            self.url = url
            self.header = Header(descr: descr, shape: shape)
            file = try AtomicFile(url)
            try file.write(encodeHeader(header))
        }

        public func appendBytes(_ bytes: UnsafeRawBufferPointer) throws {
            try file.write(bytes)
            written += bytes.count
        }

        /// Appends the rows of `m`, converting to this file's dtype (`<f2`, `<f4` or `<f8`).
        public func append<T: BLASScalar>(_ m: Matrix<T>) throws {
            let rowElems = m.cols
            switch header.descr {
            case T.numpyDescr:
                for i in 0..<m.rows {
                    try appendBytes(UnsafeRawBufferPointer(start: m.pointer + i * m.stride,
                                                           count: rowElems * MemoryLayout<T>.stride))
                }
            case "<f4":
                var row = [Float](repeating: 0, count: rowElems)
                for i in 0..<m.rows {
                    for j in 0..<rowElems { row[j] = Float(m.pointer[i * m.stride + j]) }
                    try row.withUnsafeBytes { try appendBytes($0) }
                }
            case "<f8":
                var row = [Double](repeating: 0, count: rowElems)
                for i in 0..<m.rows {
                    for j in 0..<rowElems { row[j] = Double(m.pointer[i * m.stride + j]) }
                    try row.withUnsafeBytes { try appendBytes($0) }
                }
            case "<f2":
                var row = [Float16](repeating: 0, count: rowElems)
                for i in 0..<m.rows {
                    for j in 0..<rowElems { row[j] = Float16(Float(m.pointer[i * m.stride + j])) }
                    try row.withUnsafeBytes { try appendBytes($0) }
                }
            default:
                throw FileError(path: url.path, message: "cannot append floating-point rows to a \(header.descr) file")
            }
        }

        /// Flushes, verifies the byte count, closes and renames into place.
        public func finish() throws {
            let expected = header.count * header.itemSize
            guard written == expected else {
                cancel()
                throw FileError(path: url.path, message: "wrote \(written) bytes, shape \(header.shape) needs \(expected)")
            }
            try file.commit()
        }

        /// Abandons the file (removes the partial data).
        public func cancel() { file.discard() }
    }

    // MARK: Reading

    /// Reads the header of a file without its data (checking the file is long enough for it).
    public static func readHeader(_ url: URL) throws -> Header {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw FileError(path: url.path, message: "cannot open file")
        }
        defer { try? h.close() }
        let head = try NPY.io(url, "cannot read") { try h.read(upToCount: 65_536) ?? Data() }
        // The size of the file opened (a symlink's target, not the link: `attributesOfItem` does not follow links).
        let size = try NPY.io(url, "cannot read") { Int(clamping: try h.seekToEnd()) }
        return try decodeHeader(head, path: url.path, dataBytesAvailable: { off in size - off }).0
    }

    /// Reads a 1-D or 2-D floating-point array as a matrix of `T` (1-D arrays become n × 1 unless `asRow`).
    public static func readMatrix<T: BLASScalar>(_ url: URL, as _: T.Type = T.self) throws -> Matrix<T> {
        let data = try readData(url)
        let (h, off) = try decodeHeader(data, path: url.path)
        let rows: Int, cols: Int
        switch h.shape.count {
        case 1: rows = h.shape[0]; cols = 1
        case 2: rows = h.shape[0]; cols = h.shape[1]
        default: throw FileError(path: url.path, message: "expected a 1-D or 2-D array, got shape \(h.shape)")
        }
        let m = Matrix<T>(rows: rows, cols: cols)
        let n = rows * cols, dst = m.pointer
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let src = raw.baseAddress! + off
            switch h.descr {
            case "<f4": for i in 0..<n { dst[i] = T(src.loadUnaligned(fromByteOffset: i * 4, as: Float.self)) }
            case "<f8": for i in 0..<n { dst[i] = T(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
            case "<f2": for i in 0..<n { dst[i] = T(Float(src.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))) }
            case "<i4": for i in 0..<n { dst[i] = T(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
            case "<i8": for i in 0..<n { dst[i] = T(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            default: throw FileError(path: url.path, message: "cannot read dtype \(h.descr) as floating point")
            }
        }
        return m
    }

    /// Streams a 2-D floating-point array (`<f2 <f4 <f8`) through a memory map, `rowsPerBlock` rows at a time
    /// converted to Float64: the file is never copied whole, so arrays larger than RAM can be read (the kernel
    /// pages the mapping in and out). `body` gets each block (rows × cols) and the index of its first row, in
    /// order. Returns the header.
    @discardableResult
    public static func forEachRowBlock(_ url: URL, rowsPerBlock: Int = 4096,
                                       _ body: (_ block: Matrix<Double>, _ firstRow: Int) throws -> Void) throws -> Header {
        let data = try readData(url)
        let (h, off) = try decodeHeader(data, path: url.path)
        guard h.shape.count == 2 else {
            throw FileError(path: url.path, message: "expected a 2-D array (n × d), got shape \(h.shape)")
        }
        guard ["<f2", "<f4", "<f8"].contains(h.descr) else {
            throw FileError(path: url.path, message: "expected floating-point features, got dtype \(h.descr)")
        }
        let rows = h.shape[0], cols = h.shape[1], size = h.itemSize, step = max(1, rowsPerBlock)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var first = 0
            while first < rows {
                let count = min(step, rows - first)
                let block = Matrix<Double>(rows: count, cols: cols)
                let src = raw.baseAddress! + off + first * cols * size, dst = block.pointer, total = count * cols
                switch h.descr {
                case "<f4": for i in 0..<total { dst[i] = Double(src.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)) }
                case "<f8": for i in 0..<total { dst[i] = src.loadUnaligned(fromByteOffset: i &* 8, as: Double.self) }
                default: for i in 0..<total { dst[i] = Double(Float(src.loadUnaligned(fromByteOffset: i &* 2, as: Float16.self))) }
                }
                try body(block, first)
                first += count
            }
        }
        return h
    }

    /// Reads a 1-D integer array (labels): `<i8`, `<i4`, `<u2`, `<u4`, `|u1`, or floats holding whole numbers.
    public static func readIntegers(_ url: URL) throws -> [Int] {
        let data = try readData(url)
        let (h, off) = try decodeHeader(data, path: url.path)
        guard h.shape.count == 1 || (h.shape.count == 2 && h.shape[1] == 1) else {
            throw FileError(path: url.path, message: "expected a 1-D label array, got shape \(h.shape)")
        }
        let n = h.count
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int] in
            let src = raw.baseAddress! + off
            switch h.descr {
            case "<i8": return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            case "<i4": return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            case "<u4": return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            case "<u2": return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            case "|u1": return (0..<n).map { Int(src.load(fromByteOffset: $0, as: UInt8.self)) }
            case "<f4", "<f8":
                return try (0..<n).map { i in
                    let v = h.descr == "<f4" ? Double(src.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
                        : src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
                    guard v.isFinite, v == v.rounded() else {
                        throw FileError(path: url.path, message: "label at index \(i) is not a whole number (\(v))")
                    }
                    // Whole floats beyond ±2⁵³ are not exact integers (and beyond Int's range would trap).
                    guard abs(v) <= 9_007_199_254_740_992 else {
                        throw FileError(path: url.path, message: "label at index \(i) is out of range (\(v))")
                    }
                    return Int(v)
                }
            default: throw FileError(path: url.path, message: "cannot read dtype \(h.descr) as labels")
            }
        }
    }

    static func readData(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FileError(path: url.path, message: "no such file")
        }
        do { return try readFileData(url, mapped: true) } catch {
            throw FileError(path: url.path, message: "cannot read (\(ioErrorText(error)))")
        }
    }
}

extension NPY {
    /// Writes rows of a 2-D `.npy` file in any order (e.g. features computed in length-sorted order but stored in
    /// dataset order). The file is created at full size through the one atomic writer (`AtomicFile`); `finish()`
    /// checks every row was written once and puts it in place, so an interrupted run never leaves a file that
    /// looks complete.
    public final class RowWriter {
        public let url: URL
        public let header: Header
        let file: AtomicFile
        let dataOffset: Int
        let rowBytes: Int
        var written: [Bool]
        var scratch: [UInt8]

        /// `descr`: `<f4`, `<f2` or `<f8`; `shape`: [rows, cols].
        public init(url: URL, descr: String, rows: Int, cols: Int) throws {
            guard ["<f4", "<f2", "<f8"].contains(descr) else {
                throw FileError(path: url.path, message: "RowWriter supports <f2, <f4, <f8, not \(descr)")
            }
            self.url = url
            header = Header(descr: descr, shape: [rows, cols])
            let head = encodeHeader(header)
            guard rows >= 0, cols >= 0, let bytes = header.byteCount, case (let end, false) = head.count.addingReportingOverflow(bytes) else {
                throw FileError(path: url.path, message: "shape [\(rows), \(cols)] is too large")
            }
            dataOffset = head.count
            rowBytes = cols * header.itemSize
            file = try AtomicFile(url)
            try file.write(head)
            try file.resize(to: end)
            written = [Bool](repeating: false, count: rows)
            scratch = [UInt8](repeating: 0, count: rowBytes)
        }

        /// Writes `values` (cols floats) as row `index`.
        public func write(row index: Int, _ values: UnsafePointer<Float>) throws {
            guard index >= 0, index < written.count else {
                throw FileError(path: url.path, message: "row \(index) out of 0..<\(written.count)")
            }
            let cols = header.shape[1]
            scratch.withUnsafeMutableBytes { raw in
                switch header.descr {
                case "<f4": raw.baseAddress!.copyMemory(from: values, byteCount: rowBytes)
                case "<f2":
                    let p = raw.baseAddress!.assumingMemoryBound(to: Float16.self)
                    for j in 0..<cols { p[j] = Float16(values[j]) }
                default:
                    let p = raw.baseAddress!.assumingMemoryBound(to: Double.self)
                    for j in 0..<cols { p[j] = Double(values[j]) }
                }
            }
            try scratch.withUnsafeBytes { try file.write($0, at: dataOffset + index * rowBytes) }
            written[index] = true
        }

        public func finish() throws {
            if let missing = written.firstIndex(of: false) {
                cancel()
                throw FileError(path: url.path, message: "row \(missing) was never written")
            }
            try file.commit()
        }

        public func cancel() { file.discard() }
    }
}
