import Foundation
import Text
import Support

/// SHA-256 of files, for manifests and content-addressed feature folders (Text's FIPS 180-4 implementation:
/// one hash in the project, and no BoringSSL build for every clean checkout).
public enum Digest {
    /// Hex SHA-256 of a file's bytes.
    /// Reads the file in 1 MiB pieces: memory stays constant whatever its size (a GPT-2 checkpoint is 500 MB).
    public static func sha256(file url: URL) throws -> String {
        var hasher = SHA256.Hasher()
        try forEachPiece(of: url) { hasher.update($0) }
        return hasher.hex()
    }

    /// Hex `Checksum` (64-bit, not cryptographic, memory-bandwidth fast) of a file's bytes: what a feature folder's
    /// manifest records per file, so a file swapped in from another folder is refused when read.
    public static func checksum(file url: URL) throws -> String {
        var sum = Checksum()
        try forEachPiece(of: url) { sum.add($0) }
        return sum.hex
    }

    /// The file's bytes in 1 MiB pieces (a FIFO or other non-regular file is refused, not waited on).
    static func forEachPiece(of url: URL, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        if let id = FileIdentity(path: url.path), !id.isRegular {
            throw FeatureError.file(path: url.path, message: "not a regular file")
        }
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw FeatureError.file(path: url.path, message: "cannot read file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buf.deallocate() }
        while true {
            let n = read(fd, buf, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw FeatureError.file(path: url.path, message: "cannot read file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            body(UnsafeRawBufferPointer(start: buf, count: n))
        }
    }

    /// Hex SHA-256 of a file, or of a folder: the hash of its sorted "relative-path  file-hash" lines.
    public static func sha256(path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FeatureError.file(path: path, message: "no such file or folder")
        }
        if !isDir.boolValue { return try sha256(file: URL(fileURLWithPath: path)) }
        let files = (FileManager.default.subpaths(atPath: path) ?? []).sorted()
        var lines = ""
        for rel in files {
            var sub: ObjCBool = false
            let full = path + "/" + rel
            if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue {
                lines += rel + "  " + (try sha256(file: URL(fileURLWithPath: full))) + "\n"
            }
        }
        return sha256(lines)
    }

    /// SHA-256 of a labelled dataset's contents: its texts and labels in order, then its class names (so the same
    /// file read differently — another column, PTB detokenisation, another split seed — gets another address).
    /// Counted (`WorkCount.contentDigest`): a run computes it once per split.
    public static func sha256(content data: LabelledDataset) -> String {
        WorkCount.add(.contentDigest)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.texts.reduce(0) { $0 + $1.utf8.count + 8 })
        for (t, l) in zip(data.texts, data.labels) {
            bytes += Array(t.utf8)
            bytes.append(0x1F)
            bytes += Array(String(l).utf8)
            bytes.append(0x1E)
        }
        bytes += Array(data.classNames.joined(separator: "\u{1F}").utf8)
        return SHA256.hex(bytes)
    }

    /// Hex SHA-256 of a string's UTF-8 bytes.
    public static func sha256(_ text: String) -> String { SHA256.hex(Array(text.utf8)) }
}
