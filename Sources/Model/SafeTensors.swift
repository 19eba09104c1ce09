import Foundation
import Text
import Support

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
/// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
/// (lmprobe pads it with spaces to a multiple of 8), then the raw little-endian tensor bytes (offsets relative to
/// the data section, contiguous, covering it exactly).
///
/// Reading accepts F32, F16 and BF16 tensors (converted to Float on copy). Every size in the header is checked with
/// overflow-reporting arithmetic against the bytes actually present before anything is read or allocated, so a
/// hostile header yields one `ModelError.badCheckpoint` line, never a crash or an unjustified allocation.
///
/// Integrity: lmprobe stores a digest of every tensor's bytes, and one of the metadata, under `lmprobe.digests`
/// (a JSON object name → 16 hex digits; the metadata's under `__metadata__`). Per-tensor digests do not depend on
/// the order or offsets of tensors in the file, so a checkpoint re-saved by Python's `safetensors` with the same
/// tensors and metadata still loads; a damaged tensor is refused when it is read (`copy`). The digest is a 64-bit
/// FNV-style hash (`Checksum`): it detects damage, it is not a cryptographic signature. Files written before
/// per-tensor digests carry `lmprobe.checksum` (one digest of the whole data section), still verified on reading.
public enum SafeTensors {
    /// Legacy whole-data-section checksum (verified when present; no longer written).
    public static let checksumKey = "lmprobe.checksum"
    /// Per-tensor digests (JSON object name → hex; "__metadata__" → digest of the other metadata).
    public static let digestsKey = "lmprobe.digests"
    /// Headers larger than this are refused (the 124 M-parameter GPT-2 header is ~15 KB).
    public static let maxHeaderBytes = 64 << 20

    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"
        public var size: Int { self == .f32 ? 4 : 2 }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let byteRange: Range<Int>
        /// Element count (checked against the byte range when the header was parsed, so it cannot overflow).
        public let count: Int
    }

    /// A parsed safetensors file: its header, and the bytes behind it (an open file read with `pread` by `read`,
    /// or any `Data` given to `parse`). Nothing is memory-mapped: a file truncated by another process while it is
    /// read yields a one-line error, never SIGBUS.
    public struct File {
        public let url: URL
        public let tensors: [String: TensorInfo]
        public let metadata: [String: String]
        let source: Source
        let dataStart: Int
        /// Per-tensor digests from the metadata (empty for files lmprobe did not write).
        let digests: [String: String]
        /// `identity()`, computed once while reading.
        let identityHex: String

        var path: String { url.path }

        /// The tensor `name`, checking that it exists with exactly `shape` (nothing is read).
        public func info(_ name: String, shape: [Int]) throws -> TensorInfo {
            guard let t = tensors[name] else {
                throw ModelError.badCheckpoint(path: path, reason: "tensor \"\(name)\" is missing")
            }
            guard t.shape == shape else {
                throw ModelError.badCheckpoint(path: path, reason:
                    "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
            }
            return t
        }

        /// Copies tensor `name` into `out` as Float, checking its shape and (when the file has one) its digest.
        /// F32 tensors are read straight into `out`; F16/BF16 through one transient buffer of the tensor's bytes.
        public func copy(_ name: String, shape: [Int], into out: UnsafeMutablePointer<Float>) throws {
            let t = try info(name, shape: shape)
            #if _endian(little)
            if t.dtype == .f32 {
                let raw = UnsafeMutableRawPointer(out)
                try source.read(into: raw, offset: dataStart &+ t.byteRange.lowerBound, count: t.byteRange.count, path: path)
                try verify(t, UnsafeRawBufferPointer(start: raw, count: t.byteRange.count))
                return
            }
            #endif
            try withVerifiedBytes(t) { src in convert(src, t.dtype, count: t.count, into: out) }
        }

        /// Copies a 2-D tensor of shape (rows, cols) transposed into `out` (cols × rows, row-major): Hugging Face's
        /// Conv1D stores in × out where lmprobe stores out × in.
        public func copyTransposed(_ name: String, shape: [Int], into out: UnsafeMutablePointer<Float>) throws {
            let t = try info(name, shape: shape)
            guard shape.count == 2 else {
                throw ModelError.badCheckpoint(path: path, reason: "tensor \"\(name)\" is not 2-D")
            }
            let rows = shape[0], cols = shape[1]
            try withVerifiedBytes(t) { src in
                // Blocks of 32 rows: convert a block contiguously, then scatter its columns.
                let block = 32
                let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, block &* cols))
                defer { tmp.deallocate() }
                var r0 = 0
                while r0 < rows {
                    let nr = min(block, rows &- r0)
                    convert(src + r0 &* cols &* t.dtype.size, t.dtype, count: nr &* cols, into: tmp)
                    for c in 0..<cols {
                        let dst = out + (c &* rows &+ r0)
                        for i in 0..<nr { dst[i] = tmp[i &* cols &+ c] }
                    }
                    r0 &+= nr
                }
            }
        }

        /// True when every tensor carries a digest in `lmprobe.digests` (files lmprobe wrote).
        public var hasTensorDigests: Bool { !tensors.isEmpty && tensors.keys.allSatisfy { digests[$0] != nil } }

        /// The file's identity, a hex SHA-256 (computed while reading, without a second pass over the tensor bytes
        /// for lmprobe's files):
        /// - files with per-tensor digests (lmprobe's): the SHA-256 of the 8-byte length and the JSON header, which
        ///   holds every tensor's name, dtype, shape, byte range and digest and the metadata digest, so any change to
        ///   a tensor changes the identity (each tensor's bytes are checked against its digest when read);
        /// - other files (a Hugging Face model.safetensors): the SHA-256 of all the file's bytes — their only hash.
        /// Used as the checkpoint's identity in feature manifests and cache keys (`checkpoint_sha256`).
        public func identity() -> String { identityHex }

        /// The digest of a tensor's bytes as stored in `lmprobe.digests`.
        public func digest(_ name: String) throws -> String? {
            guard let t = tensors[name] else { return nil }
            var sum = Checksum()
            try withBytes(t) { sum.add(UnsafeRawBufferPointer(start: $0, count: t.byteRange.count)) }
            return sum.hex
        }

        /// A tensor's stored bytes, unconverted and unverified (for tools that re-serialise a file).
        func rawBytes(_ t: TensorInfo) throws -> Data {
            var d = Data(count: t.byteRange.count)
            try d.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                try source.read(into: base, offset: dataStart &+ t.byteRange.lowerBound, count: t.byteRange.count, path: path)
            }
            return d
        }

        /// Throws when the file carries a digest for `t` that `bytes` do not match.
        func verify(_ t: TensorInfo, _ bytes: UnsafeRawBufferPointer) throws {
            guard let expected = digests[t.name] else { return }
            var sum = Checksum()
            sum.add(bytes)
            guard sum.hex == expected else {
                throw ModelError.badCheckpoint(path: path, reason:
                    "tensor \"\(t.name)\" digest mismatch (stored \(expected), computed \(sum.hex)): the file is damaged")
            }
        }

        /// Reads a tensor's bytes into a transient buffer and calls `body` with them.
        func withBytes(_ t: TensorInfo, _ body: (UnsafeRawPointer) throws -> Void) throws {
            let n = t.byteRange.count
            let buf = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 16)
            defer { buf.deallocate() }
            try source.read(into: buf, offset: dataStart &+ t.byteRange.lowerBound, count: n, path: path)
            try body(UnsafeRawPointer(buf))
        }

        func withVerifiedBytes(_ t: TensorInfo, _ body: (UnsafeRawPointer) -> Void) throws {
            try withBytes(t) { src in
                try verify(t, UnsafeRawBufferPointer(start: src, count: t.byteRange.count))
                body(src)
            }
        }
    }

    /// The bytes behind a `File`: an open regular file read with `pread` (each read checked to return every byte
    /// asked for, so a file shortened while it is read is an error), or bytes in memory.
    final class Source {
        let fd: Int32
        let bytes: Data?
        /// Size when opened (the header was checked against it).
        let size: Int

        init(fd: Int32, size: Int) { self.fd = fd; self.bytes = nil; self.size = size }
        init(bytes: Data) { self.fd = -1; self.bytes = bytes; self.size = bytes.count }
        deinit { if fd >= 0 { close(fd) } }

        /// Reads exactly `count` bytes at `offset` into `dst`.
        func read(into dst: UnsafeMutableRawPointer, offset: Int, count: Int, path: String) throws {
            guard count > 0 else { return }
            if let bytes {
                guard offset >= 0, count <= bytes.count, offset <= bytes.count - count else {
                    throw ModelError.badCheckpoint(path: path, reason: "byte range \(offset)..<\(offset + count) lies past the end (\(bytes.count) bytes)")
                }
                bytes.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
                return
            }
            var done = 0
            while done < count {
                let r = pread(fd, dst + done, count - done, off_t(offset + done))
                if r < 0 {
                    if errno == EINTR { continue }
                    throw ModelError.io(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
                }
                if r == 0 {
                    throw ModelError.badCheckpoint(path: path, reason: "the file ended at byte \(offset + done) while reading bytes up to \(offset + count) (it was \(size) bytes when opened): truncated or being rewritten by another process; wait for the copy to finish and retry")
                }
                done += r
            }
        }

        /// Calls `body` with consecutive chunks (multiples of 8 bytes but the last) of `count` bytes at `offset`.
        func stream(offset: Int, count: Int, path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws {
            let chunk = 1 << 20
            let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
            defer { buf.deallocate() }
            var done = 0
            while done < count {
                let n = min(chunk, count - done)
                try read(into: buf, offset: offset + done, count: n, path: path)
                body(UnsafeRawBufferPointer(start: buf, count: n))
                done += n
            }
        }
    }

    // MARK: Reading

    /// Opens and parses `url` (see `parse`), reading with `pread` (no mapping). A FIFO, device or folder is refused
    /// without blocking (the file is opened non-blocking and must be a regular file).
    public static func read(_ url: URL) throws -> File {
        let path = url.path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError.io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = String(cString: strerror(errno)); close(fd)
            throw ModelError.io(path: path, reason: "cannot stat: \(e)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ModelError.io(path: path, reason: "not a regular file (a FIFO, device or folder cannot be a safetensors file)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return try parse(Source(fd: fd, size: Int(st.st_size)), url: url)
    }

    /// Parses and validates safetensors bytes (the entry point of the fuzz target): header bounds, dtypes, shapes
    /// (element counts and byte sizes with overflow checks) matching their byte ranges, contiguous coverage of the
    /// data section (a truncated file is refused), the metadata digest and the legacy whole-data checksum.
    /// Tensor digests are checked when a tensor is read.
    public static func parse(_ data: Data, url: URL = URL(fileURLWithPath: "<bytes>")) throws -> File {
        try parse(Source(bytes: data), url: url)
    }

    /// Most tensors one file may declare (GPT-2 XL has 580; a shard of the largest open models ~1,000), and most
    /// JSON structural tokens (`{ [ , :`) per declared tensor: both checked by a scan of the header before it is
    /// parsed, so the parse's memory and time follow the tensors a file can hold, not its header's byte size.
    public static let maxTensors = 65_536
    static let maxTokensPerTensor = 24

    static func parse(_ source: Source, url: URL) throws -> File {
        let path = url.path
        func bad(_ reason: String) -> ModelError { .badCheckpoint(path: path, reason: reason) }
        let size = source.size
        guard size >= 8 else { throw bad("file is \(size) bytes, shorter than the 8-byte header length") }
        var n64: UInt64 = 0
        try withUnsafeMutableBytes(of: &n64) { try source.read(into: $0.baseAddress!, offset: 0, count: 8, path: path) }
        n64 = UInt64(littleEndian: n64)
        guard n64 > 0, n64 <= UInt64(size - 8) else {
            throw bad("header length \(n64) exceeds the file size \(size) (truncated or not safetensors)")
        }
        guard n64 <= UInt64(maxHeaderBytes) else { throw bad("header length \(n64) exceeds the limit of \(maxHeaderBytes) bytes") }
        let n = Int(n64)
        var prefixAndHeader = Data(count: 8 + n)
        try prefixAndHeader.withUnsafeMutableBytes { try source.read(into: $0.baseAddress!, offset: 0, count: 8 + n, path: path) }
        let headerBytes = prefixAndHeader.subdata(in: 8..<(8 + n))
        try checkHeaderCost(headerBytes, path: path)
        guard let obj = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var meta: [String: String] = [:]
        if let m = obj["__metadata__"] {
            guard let mm = m as? [String: String] else { throw bad("__metadata__ must map strings to strings") }
            meta = mm
        }
        let dataStart = 8 + n, dataLength = size - dataStart
        let infos = try tensorInfos(obj, dataLength: dataLength, path: path)

        var digests: [String: String] = [:]
        if let dj = meta[digestsKey] {
            guard let d = try? JSONSerialization.jsonObject(with: Data(dj.utf8)) as? [String: String] else {
                throw bad("metadata \"\(digestsKey)\" is not a JSON object of strings")
            }
            digests = d
            guard d["__metadata__"] == metadataDigest(meta) else {
                throw bad("metadata digest mismatch (stored \(d["__metadata__"] ?? "none"), computed \(metadataDigest(meta))): the metadata is damaged")
            }
            for name in d.keys where name != "__metadata__" && infos[name] == nil {
                throw bad("tensor \"\(name)\" listed in \(digestsKey) is missing")
            }
        }
        if let expected = meta[checksumKey] {
            var sum = Checksum()
            try source.stream(offset: dataStart, count: dataLength, path: path) { sum.add($0) }
            guard sum.hex == expected else {
                throw bad("checksum mismatch (stored \(expected), computed \(sum.hex)): the file is corrupted")
            }
        }
        let withDigests = !infos.isEmpty && infos.keys.allSatisfy { digests[$0] != nil }
        var h = SHA256.Hasher()
        if withDigests { prefixAndHeader.withUnsafeBytes { h.update($0) } }
        else { try source.stream(offset: 0, count: size, path: path) { h.update($0) } }
        return File(url: url, tensors: infos, metadata: meta, source: source, dataStart: dataStart, digests: digests,
                    identityHex: h.hex())
    }

    /// Refuses a header declaring more than `maxTensors` tensors or more JSON structure than they need, by one
    /// pass over its bytes (strings skipped), before any JSON object is built.
    static func checkHeaderCost(_ header: Data, path: String) throws {
        var objects = 0, tokens = 0, inString = false, escaped = false
        header.withUnsafeBytes { raw in
            for b in raw {
                if inString {
                    if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                    continue
                }
                switch b {
                case 0x22: inString = true
                case 0x7B: objects &+= 1; tokens &+= 1
                case 0x5B, 0x2C, 0x3A: tokens &+= 1
                default: break
                }
            }
        }
        guard objects <= maxTensors + 2 else {
            throw ModelError.badCheckpoint(path: path, reason: "header declares about \(objects) tensors; lmprobe reads at most \(maxTensors) per file")
        }
        guard tokens <= (maxTensors + 2) * maxTokensPerTensor else {
            throw ModelError.badCheckpoint(path: path, reason: "header has \(tokens) JSON values, more than \(maxTensors) tensor entries need (shapes of more than a few dimensions?)")
        }
    }

    /// Each tensor entry of a parsed header checked (dtype, shape, byte range, contiguous coverage of the data
    /// section) with overflow-reporting arithmetic.
    static func tensorInfos(_ obj: [String: Any], dataLength: Int, path: String) throws -> [String: TensorInfo] {
        func bad(_ reason: String) -> ModelError { .badCheckpoint(path: path, reason: reason) }
        var infos: [String: TensorInfo] = [:]
        for (name, value) in obj where name != "__metadata__" {
            guard let d = value as? [String: Any], let ds = d["dtype"] as? String,
                  let shapeN = d["shape"] as? [NSNumber], let offsN = d["data_offsets"] as? [NSNumber], offsN.count == 2 else {
                throw bad("tensor \"\(name)\" has a malformed header entry")
            }
            guard let dtype = DType(rawValue: ds) else {
                throw bad("tensor \"\(name)\" has dtype \(ds); lmprobe reads F32, F16 and BF16")
            }
            guard let shape = exactInts(shapeN), let offs = exactInts(offsN) else {
                throw bad("tensor \"\(name)\": shape and data_offsets must be non-negative integers")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[1] >= offs[0], offs[1] <= dataLength else {
                throw bad("tensor \"\(name)\": byte range \(offs) lies outside the \(dataLength)-byte data section (truncated?)")
            }
            var count = 1
            for s in shape {
                let (m, o) = count.multipliedReportingOverflow(by: s)
                guard !o else { throw bad("tensor \"\(name)\": shape \(shape) overflows") }
                count = m
            }
            let (bytes, o) = count.multipliedReportingOverflow(by: dtype.size)
            guard !o, bytes == offs[1] - offs[0] else {
                throw bad("tensor \"\(name)\": shape \(shape) (\(dtype.rawValue)) does not match byte range \(offs)")
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: offs[0]..<offs[1], count: count)
        }
        var end = 0
        for t in infos.values.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }) {
            guard t.byteRange.lowerBound == end else { throw bad("tensor \"\(t.name)\" does not follow the previous one contiguously") }
            end = t.byteRange.upperBound
        }
        guard end == dataLength else { throw bad("\(dataLength - end) trailing bytes after the tensor data") }
        return infos
    }

    /// Digest of the metadata without the digests entry: keys sorted, each key and value NUL-terminated.
    static func metadataDigest(_ meta: [String: String]) -> String {
        var sum = Checksum()
        for k in meta.keys.sorted() where k != digestsKey {
            sum.add(Data(k.utf8)); sum.add(Data([0])); sum.add(Data(meta[k]!.utf8)); sum.add(Data([0]))
        }
        return sum.hex
    }

    /// Non-negative integers (JSON numbers), or nil if any is negative, fractional or beyond Int64.
    static func exactInts(_ ns: [NSNumber]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(ns.count)
        for x in ns {
            let d = x.doubleValue
            guard d >= 0, d < 9.0e18, d == d.rounded() else { return nil }
            out.append(Int(x.int64Value))
        }
        return out
    }

    // MARK: Writing

    /// float16's largest finite value.
    public static let halfMax: Float = 65_504

    /// Refuses (before anything is written) a tensor holding a value that float16 cannot represent: it would be
    /// stored as ±inf, and the file would no longer load.
    static func checkHalfRange(_ tensors: [Tensor], url: URL) throws {
        for t in tensors {
            guard let i = t.data.firstIndex(where: { !($0.magnitude <= halfMax) }) else { continue }
            throw ModelError.io(path: url.path, reason: "cannot store as float16: tensor \"\(t.name)\" holds \(t.data[i]) at element \(i), beyond float16's largest finite value 65504 (it would become inf); write float32 (drop --float16)")
        }
    }


    /// One tensor to write: Float values (written as `dtype`).
    public typealias Tensor = (name: String, shape: [Int], data: UnsafeBufferPointer<Float>)

    /// Writes `tensors` (in order) and `metadata` through the one atomic writer (`AtomicFile`: temporary sibling,
    /// fsync, rename over `url`). Per-tensor digests and the metadata digest are added under `lmprobe.digests`
    /// unless `digests` is false.
    public static func write(to url: URL, tensors: [Tensor], metadata: [String: String], dtype: DType = .f32,
                             digests addDigests: Bool = true) throws {
        if dtype == .f16 { try checkHalfRange(tensors, url: url) }
        var header: [String: Any] = [:]
        var offset = 0
        var digests: [String: String] = [:]
        let chunk = 1 << 16
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunk * 4, alignment: 16)
        defer { scratch.deallocate() }
        /// Calls `body` with consecutive encoded chunks of a tensor's bytes.
        func encoded(_ t: Tensor, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            guard let base = t.data.baseAddress, t.data.count > 0 else { return }
            if dtype == .f32 {
                #if _endian(little)
                try body(UnsafeRawBufferPointer(start: base, count: t.data.count * 4))
                #else
                #error("lmprobe writes little-endian safetensors on little-endian hosts only")
                #endif
                return
            }
            var i = 0
            while i < t.data.count {
                let m = min(chunk, t.data.count - i)
                let out = scratch.assumingMemoryBound(to: UInt16.self)
                for j in 0..<m { out[j] = (dtype == .f16 ? floatToHalf(base[i + j]) : floatToBFloat(base[i + j])).littleEndian }
                try body(UnsafeRawBufferPointer(start: scratch, count: m * 2))
                i += m
            }
        }
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.data.count, "safetensors: \(t.name) shape/data mismatch")
            let bytes = t.data.count * dtype.size
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
            if addDigests {
                var sum = Checksum()
                encoded(t) { sum.add($0) }
                digests[t.name] = sum.hex
            }
        }
        var meta = metadata
        meta[checksumKey] = nil
        if addDigests {
            meta[digestsKey] = nil
            digests["__metadata__"] = metadataDigest(meta)
            let dj = try JSONSerialization.data(withJSONObject: digests, options: [.sortedKeys])
            meta[digestsKey] = String(decoding: dj, as: UTF8.self)
        }
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var prefix = Data(count: 8)
        prefix.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(json.count).littleEndian, as: UInt64.self) }

        do {
            let file = try AtomicFile(url)
            try prefix.withUnsafeBytes { try file.write($0) }
            try file.write(json)
            for t in tensors { try encoded(t) { try file.write($0) } }
            try file.commit()
        } catch let e as FileError {
            throw ModelError.io(path: url.path, reason: e.message)
        }
    }
}

// MARK: - Half-precision conversion

/// Converts `count` little-endian elements of `dtype` at `src` to Float.
func convert(_ src: UnsafeRawPointer, _ dtype: SafeTensors.DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        #if _endian(little)
        UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: count &* 4)
        #else
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        #endif
    case .f16:
        for i in 0..<count { out[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
    case .bf16:
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) << 16) }
    }
}

/// IEEE binary16 → binary32 (exact).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int(h >> 10) & 0x1F
    let man = UInt32(h & 0x3FF)
    if exp == 0 {
        // Zero or subnormal: man · 2⁻²⁴.
        let v = Float(man) * Float(bitPattern: 0x3380_0000)
        return Float(bitPattern: v.bitPattern | sign)
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
    return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (man << 13))
}

/// binary32 → binary16, round to nearest even (overflow → ±inf, NaN kept NaN).
func floatToHalf(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    let sign = UInt16((x >> 16) & 0x8000)
    let exp = Int((x >> 23) & 0xFF)
    var man = x & 0x7F_FFFF
    if exp == 255 { return sign | 0x7C00 | (man != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        man |= 0x80_0000
        let shift = UInt32(14 - e)
        var h = man >> shift
        let rem = man & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e) << 10 | (man >> 13)
    let rem = man & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }  // may carry into the exponent: still correct
    return sign | UInt16(h)
}

/// binary32 → bfloat16, round to nearest even.
func floatToBFloat(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    if f.isNaN { return UInt16(x >> 16) | 0x40 }
    let r = x &+ 0x7FFF &+ ((x >> 16) & 1)
    return UInt16(r >> 16)
}
