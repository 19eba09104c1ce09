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

    /// A parsed safetensors file over its bytes (memory-mapped by `read`, or any `Data` given to `parse`).
    public struct File {
        public let url: URL
        public let tensors: [String: TensorInfo]
        public let metadata: [String: String]
        let data: Data
        let dataStart: Int
        /// Per-tensor digests from the metadata (empty for files lmprobe did not write).
        let digests: [String: String]
        /// True when `data` is a private file mapping whose pages may be dropped after a tensor is copied.
        let mapped: Bool

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
        public func copy(_ name: String, shape: [Int], into out: UnsafeMutablePointer<Float>) throws {
            let t = try info(name, shape: shape)
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

        /// The file's identity, a hex SHA-256 computed without a second pass over the tensor bytes:
        /// - files with per-tensor digests (lmprobe's): the SHA-256 of the 8-byte length and the JSON header, which
        ///   holds every tensor's name, dtype, shape, byte range and digest and the metadata digest, so any change to
        ///   a tensor changes the identity (each tensor's bytes are checked against its digest when read);
        /// - other files (a Hugging Face model.safetensors): the SHA-256 of all the file's bytes — their only hash.
        /// Used as the checkpoint's identity in feature manifests and cache keys (`checkpoint_sha256`).
        public func identity() -> String {
            data.withUnsafeBytes { raw in
                var h = SHA256.Hasher()
                h.update(hasTensorDigests ? UnsafeRawBufferPointer(rebasing: raw[0..<dataStart]) : raw)
                return h.hex()
            }
        }

        /// The digest of a tensor's bytes as stored in `lmprobe.digests`.
        public func digest(_ name: String) -> String? {
            guard let t = tensors[name] else { return nil }
            return data.withUnsafeBytes { raw in
                var sum = Checksum()
                sum.add(UnsafeRawBufferPointer(start: raw.baseAddress! + dataStart + t.byteRange.lowerBound,
                                               count: t.byteRange.count))
                return sum.hex
            }
        }

        func withVerifiedBytes(_ t: TensorInfo, _ body: (UnsafeRawPointer) -> Void) throws {
            try data.withUnsafeBytes { raw in
                let src = raw.baseAddress! + dataStart + t.byteRange.lowerBound
                if let expected = digests[t.name] {
                    var sum = Checksum()
                    sum.add(UnsafeRawBufferPointer(start: src, count: t.byteRange.count))
                    guard sum.hex == expected else {
                        throw ModelError.badCheckpoint(path: path, reason:
                            "tensor \"\(t.name)\" digest mismatch (stored \(expected), computed \(sum.hex)): the file is damaged")
                    }
                }
                body(src)
                if mapped { release(UnsafeRawPointer(raw.baseAddress!), offset: dataStart + t.byteRange.lowerBound, count: t.byteRange.count) }
            }
        }

        /// Drops the mapped pages of a tensor already copied, so a load keeps one copy of the weights resident.
        func release(_ base: UnsafeRawPointer, offset: Int, count: Int) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (Int(bitPattern: base) + offset) / page * page
            let end = Int(bitPattern: base) + offset + count
            guard end > start else { return }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
        }
    }

    // MARK: Reading

    /// Memory-maps and parses `url` (see `parse`). The mapping is private and read-only; nothing is copied.
    public static func read(_ url: URL) throws -> File {
        let path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelError.io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError.io(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError.io(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw ModelError.badCheckpoint(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelError.io(path: path, reason: "cannot memory-map: \(String(cString: strerror(errno)))")
        }
        let data = Data(bytesNoCopy: p, count: size, deallocator: .custom { ptr, n in munmap(ptr, n) })
        return try parse(data, url: url, mapped: true)
    }

    /// Parses and validates safetensors bytes (the entry point of the fuzz target): header bounds, dtypes, shapes
    /// (element counts and byte sizes with overflow checks) matching their byte ranges, contiguous coverage of the
    /// data section (a truncated file is refused), the metadata digest and the legacy whole-data checksum.
    /// Tensor digests are checked when a tensor is read.
    public static func parse(_ data: Data, url: URL = URL(fileURLWithPath: "<bytes>"), mapped: Bool = false) throws -> File {
        let path = url.path
        func bad(_ reason: String) -> ModelError { .badCheckpoint(path: path, reason: reason) }
        guard data.count >= 8 else { throw bad("file is \(data.count) bytes, shorter than the 8-byte header length") }
        let n64 = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n64 > 0, n64 <= UInt64(data.count - 8) else {
            throw bad("header length \(n64) exceeds the file size \(data.count) (truncated or not safetensors)")
        }
        guard n64 <= UInt64(maxHeaderBytes) else { throw bad("header length \(n64) exceeds the limit of \(maxHeaderBytes) bytes") }
        let n = Int(n64)
        let start = data.startIndex
        guard let obj = try? JSONSerialization.jsonObject(with: data.subdata(in: (start + 8)..<(start + 8 + n))) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var meta: [String: String] = [:]
        if let m = obj["__metadata__"] {
            guard let mm = m as? [String: String] else { throw bad("__metadata__ must map strings to strings") }
            meta = mm
        }
        let dataStart = 8 + n, dataLength = data.count - dataStart
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
            data.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[dataStart...])) }
            guard sum.hex == expected else {
                throw bad("checksum mismatch (stored \(expected), computed \(sum.hex)): the file is corrupted")
            }
        }
        return File(url: url, tensors: infos, metadata: meta, data: data, dataStart: dataStart, digests: digests,
                    mapped: mapped)
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

    /// One tensor to write: Float values (written as `dtype`).
    public typealias Tensor = (name: String, shape: [Int], data: UnsafeBufferPointer<Float>)

    /// Writes `tensors` (in order) and `metadata` through the one atomic writer (`AtomicFile`: temporary sibling,
    /// fsync, rename over `url`). Per-tensor digests and the metadata digest are added under `lmprobe.digests`
    /// unless `digests` is false.
    public static func write(to url: URL, tensors: [Tensor], metadata: [String: String], dtype: DType = .f32,
                             digests addDigests: Bool = true) throws {
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
