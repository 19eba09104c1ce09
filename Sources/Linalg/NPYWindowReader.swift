import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

extension NPY {
    /// A 2-D floating-point `.npy` file (`<f2 <f4 <f8`) read one window (a range of rows × a range of columns) at a
    /// time with `pread`, converted to the precision asked for: nothing is mapped or copied whole, so a pass over
    /// a file larger than memory keeps only its window resident (the full-vocabulary ridge probe streams its
    /// column blocks this way). Safe to read from several threads at once.
    public final class WindowReader {
        public let url: URL
        public let header: Header
        public let rows: Int
        public let cols: Int
        let fd: Int32
        let dataOffset: Int

        public init(_ url: URL) throws {
            self.url = url
            let fd = open(url.path, O_RDONLY)
            guard fd >= 0 else { throw FileError(path: url.path, message: "cannot open for reading (\(String(cString: strerror(errno))))") }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw FileError(path: url.path, message: "not a regular file (a folder, device or FIFO cannot hold features)")
            }
            let size = Int(st.st_size)
            var head = [UInt8](repeating: 0, count: min(size, 65_536))
            let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            guard got == head.count else { close(fd); throw FileError(path: url.path, message: "cannot read the header") }
            let decoded: (Header, Int)
            do { decoded = try decodeHeader(Data(head), path: url.path, dataBytesAvailable: { size - $0 }) } catch {
                close(fd); throw error
            }
            let h = decoded.0
            guard h.shape.count == 2, ["<f2", "<f4", "<f8"].contains(h.descr) else {
                close(fd)
                throw FileError(path: url.path, message: "expected a 2-D floating-point array (n × d), got \(h.descr) of shape \(h.shape)")
            }
            self.fd = fd
            header = h
            dataOffset = decoded.1
            rows = h.shape[0]
            cols = h.shape[1]
        }

        deinit { close(fd) }

        /// Every float16 bit pattern as Float (exact): one load per value instead of a software conversion.
        static let halfToFloat: [Float] = (0..<65_536).map { Float(Float16(bitPattern: UInt16($0))) }

        /// Reads rows `r` × columns `c` into `out` (r.count × c.count, any stride), converted to `T`; rows are
        /// read in parallel. Throws on a range outside the array or a short read.
        @_specialize(where T == Float)
        @_specialize(where T == Double)
        public func read<T: BLASScalar>(rows r: Range<Int>, cols c: Range<Int>, into out: Matrix<T>) throws {
            guard r.lowerBound >= 0, r.upperBound <= rows, c.lowerBound >= 0, c.upperBound <= cols,
                  out.rows == r.count, out.cols == c.count else {
                throw FileError(path: url.path, message: "window rows \(r) × columns \(c) into \(out.rows) × \(out.cols) is outside the \(rows) × \(cols) array")
            }
            let size = header.itemSize, descr = header.descr, width = c.count, rowBytes = cols &* size
            let dst = out.pointer, ld = out.stride, base = dataOffset &+ c.lowerBound &* size
            let slots = max(Threads.count, 1) + 1
            let failed = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
            failed.initialize(repeating: false, count: slots)
            defer { failed.deallocate() }
            Self.halfToFloat.withUnsafeBufferPointer { hb in
                let half = hb.baseAddress!
                _ = parallelWorkers(r.count, minChunk: 16) { worker, range in
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(width &* size, 1), alignment: 64)
                    defer { buffer.deallocate() }
                    for i in range {
                        let offset = base &+ (r.lowerBound &+ i) &* rowBytes
                        guard Self.readFully(fd, buffer, width &* size, offset) else { failed[min(worker, slots - 1)] = true; return }
                        let row = dst + i &* ld
                        switch descr {
                        case "<f2": for j in 0..<width { row[j] = T(half[Int(buffer.loadUnaligned(fromByteOffset: j &* 2, as: UInt16.self))]) }
                        case "<f4": for j in 0..<width { row[j] = T(buffer.loadUnaligned(fromByteOffset: j &* 4, as: Float.self)) }
                        default: for j in 0..<width { row[j] = T(buffer.loadUnaligned(fromByteOffset: j &* 8, as: Double.self)) }
                        }
                    }
                }
            }
            if (0..<slots).contains(where: { failed[$0] }) {
                throw FileError(path: url.path, message: "short read (was the file truncated while being read?)")
            }
        }

        static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int) -> Bool {
            var done = 0
            while done < count {
                let got = pread(fd, buffer + done, count - done, off_t(offset + done))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return false }
                done += got
            }
            return true
        }
    }
}
