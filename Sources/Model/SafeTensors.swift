import Foundation

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
/// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
/// padded with spaces to a multiple of 8, then the raw little-endian tensor bytes (offsets relative to the
/// data section, contiguous, covering it exactly). lmprobe writes only F32 and adds a checksum of the data
/// section to the metadata ("lmprobe.checksum"), verified on reading.
public enum SafeTensors {
    public static let checksumKey = "lmprobe.checksum"

    public struct TensorInfo: Sendable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// Byte range inside the data section.
        public let byteRange: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    /// A read (memory-mapped) safetensors file.
    public struct File {
        public let url: URL
        public let tensors: [String: TensorInfo]
        public let metadata: [String: String]
        let data: Data
        let dataStart: Int

        /// Copies tensor `name` (F32) into `out`, checking its shape.
        public func copy(_ name: String, shape: [Int], into out: UnsafeMutablePointer<Float>) throws {
            guard let t = tensors[name] else {
                throw ModelError.badCheckpoint(path: url.path, reason: "tensor \"\(name)\" is missing")
            }
            guard t.shape == shape else {
                throw ModelError.badCheckpoint(path: url.path, reason:
                    "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
            }
            data.withUnsafeBytes { raw in
                let src = raw.baseAddress! + dataStart + t.byteRange.lowerBound
                for i in 0..<t.count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            }
        }
    }

    /// Writes `tensors` (in order) and `metadata` atomically: a temporary file in the same directory, fsync,
    /// then rename over `url`. The checksum of the data section is added to the metadata.
    public static func write(to url: URL, tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)],
                             metadata: [String: String]) throws {
        var header: [String: Any] = [:]
        var offset = 0
        var sum = Checksum()
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.data.count, "safetensors: \(t.name) shape/data mismatch")
            let bytes = t.data.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
            sum.add(UnsafeRawBufferPointer(t.data))
        }
        var meta = metadata
        meta[checksumKey] = sum.hex
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var prefix = Data(count: 8)
        prefix.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self) }

        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ModelError.io(path: tmp.path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok { close(fd); unlink(tmp.path) }
        }
        func put(_ p: UnsafeRawPointer, _ n: Int) throws {
            var done = 0
            while done < n {
                let w = Foundation.write(fd, p + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw ModelError.io(path: tmp.path, reason: "write failed: \(String(cString: strerror(errno)))")
                }
                done += w
            }
        }
        try prefix.withUnsafeBytes { try put($0.baseAddress!, 8) }
        try json.withUnsafeBytes { try put($0.baseAddress!, json.count) }
        #if _endian(little)
        for t in tensors where t.data.count > 0 { try put(UnsafeRawPointer(t.data.baseAddress!), t.data.count * 4) }
        #else
        #error("lmprobe writes little-endian safetensors on little-endian hosts only")
        #endif
        guard fsync(fd) == 0 else { throw ModelError.io(path: tmp.path, reason: "fsync failed") }
        close(fd)
        ok = true
        guard rename(tmp.path, url.path) == 0 else {
            unlink(tmp.path)
            throw ModelError.io(path: url.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Reads and validates a safetensors file: header bounds, F32 dtypes, shapes matching byte ranges,
    /// contiguous coverage of the data section (a truncated file is refused), and the lmprobe checksum if present.
    public static func read(_ url: URL) throws -> File {
        let path = url.path
        func bad(_ reason: String) -> ModelError { .badCheckpoint(path: path, reason: reason) }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ModelError.io(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        guard data.count >= 8 else { throw bad("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let n64 = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let n = Int(clamping: n64)
        guard n > 0, n <= data.count - 8 else {
            throw bad("header length \(n64) exceeds the file size \(data.count) (truncated or not safetensors)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var meta: [String: String] = [:]
        if let m = obj["__metadata__"] {
            guard let mm = m as? [String: String] else { throw bad("__metadata__ must map strings to strings") }
            meta = mm
        }
        var infos: [String: TensorInfo] = [:]
        for (name, value) in obj where name != "__metadata__" {
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = d["shape"] as? [Int], let offs = d["data_offsets"] as? [Int], offs.count == 2 else {
                throw bad("tensor \"\(name)\" has a malformed header entry")
            }
            guard dtype == "F32" else { throw bad("tensor \"\(name)\" has dtype \(dtype), lmprobe reads F32 only") }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[1] >= offs[0],
                  offs[1] - offs[0] == shape.reduce(1, *) * 4 else {
                throw bad("tensor \"\(name)\": shape \(shape) does not match byte range \(offs)")
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: offs[0]..<offs[1])
        }
        let dataStart = 8 + n, dataLength = data.count - dataStart
        var end = 0
        for t in infos.values.sorted(by: { $0.byteRange.lowerBound < $1.byteRange.lowerBound }) {
            guard t.byteRange.lowerBound == end else { throw bad("tensor \"\(t.name)\" does not follow the previous one contiguously") }
            end = t.byteRange.upperBound
        }
        guard end == dataLength else {
            throw bad(end > dataLength
                      ? "file is truncated: header promises \(end) bytes of tensor data, found \(dataLength)"
                      : "\(dataLength - end) trailing bytes after the tensor data")
        }
        if let expected = meta[checksumKey] {
            var sum = Checksum()
            data.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[dataStart...])) }
            guard sum.hex == expected else {
                throw bad("checksum mismatch (stored \(expected), computed \(sum.hex)): the file is corrupted")
            }
        }
        return File(url: url, tensors: infos, metadata: meta, data: data, dataStart: dataStart)
    }
}
