import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// THE atomic file writer: every file lmprobe writes (`.npy`, safetensors, JSON, reports, pointers, tokenizer
/// files) goes through it; whole folders go through `OutputFolder`, which is built the same way.
///
/// Guarantees:
/// - Bytes go to a hidden temporary sibling, `.NAME.tmp-PID`, in the destination's folder; `commit()` flushes it,
///   fsyncs it, renames it over the destination in one step and fsyncs the folder. A reader therefore sees the old
///   file or the new one, never a partial file, and after `commit()` returns the new file survives a crash.
/// - One rule for an existing target: a regular file (or nothing) is replaced; a folder, FIFO, device, socket or
///   anything else that is not a regular file is refused before a byte is written. A symbolic link to a regular
///   file is resolved and its target replaced (the link stays).
/// - On failure, or when the writer is dropped without `commit()`, the temporary file is removed; a temporary file
///   left by a killed process is removed by the next writer of the same destination.
public final class AtomicFile {
    /// The destination (symbolic links resolved).
    public let url: URL
    /// The temporary sibling the bytes go to until `commit()`.
    public let temporaryURL: URL
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var done = false
    /// Bytes accepted so far.
    public private(set) var count = 0

    static let bufferSize = 1 << 22

    /// Opens the temporary sibling of `url` for writing; `role` (e.g. "--stats-out") names the path in errors.
    public init(_ url: URL, role: String? = nil) throws {
        let dest = try AtomicFile.checkedDestination(url, role: role)
        self.url = dest
        let dir = dest.deletingLastPathComponent()
        AtomicFile.removeAbandoned(in: dir, name: dest.lastPathComponent, kinds: [".tmp-"])
        temporaryURL = dir.appendingPathComponent(".\(dest.lastPathComponent).tmp-\(getpid())")
        unlink(temporaryURL.path)
        fd = open(temporaryURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileError(path: dest.path, message: "cannot create \(AtomicFile.describe(temporaryURL)): \(String(cString: strerror(errno)))")
        }
    }

    deinit { discard() }

    /// Writes `data` to `url` atomically and durably (see the type's guarantees).
    public static func write(_ data: Data, to url: URL, role: String? = nil) throws {
        let f = try AtomicFile(url, role: role)
        try data.withUnsafeBytes { try f.write($0) }
        try f.commit()
    }

    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// Appends bytes (buffered; the buffer is flushed every 4 MiB and at `commit()`).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !done else { throw FileError(path: url.path, message: "write after the file was committed or discarded") }
        guard bytes.count > 0 else { return }
        if bytes.count >= AtomicFile.bufferSize {
            try flush()
            try put(bytes)
        } else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= AtomicFile.bufferSize { try flush() }
        }
        count += bytes.count
    }

    /// Sets the file's size (after flushing what was appended), for files filled out of order with `write(_:at:)`.
    public func resize(to size: Int) throws {
        guard !done else { throw FileError(path: url.path, message: "resize after the file was committed or discarded") }
        try flush()
        guard ftruncate(fd, off_t(size)) == 0 else {
            let e = errno
            discard()
            throw FileError(path: url.path, message: "cannot size the file to \(size) bytes: \(String(cString: strerror(e)))")
        }
    }

    /// Writes bytes at `offset` (unbuffered; the append position is unchanged).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard !done else { throw FileError(path: url.path, message: "write after the file was committed or discarded") }
        try put(bytes, at: offset)
    }

    /// Flushes, fsyncs, renames the temporary file over the destination and fsyncs the folder.
    public func commit() throws {
        guard !done else { return }
        do {
            try flush()
            guard fsync(fd) == 0 else { throw FileError(path: url.path, message: "cannot write (fsync: \(String(cString: strerror(errno))))") }
            guard close(fd) == 0 else { fd = -1; throw FileError(path: url.path, message: "cannot write (close: \(String(cString: strerror(errno))))") }
            fd = -1
            // Checked again at commit time: the destination may have become a folder or a FIFO meanwhile.
            _ = try AtomicFile.checkedDestination(url, role: nil)
            guard rename(temporaryURL.path, url.path) == 0 else {
                throw FileError(path: url.path, message: "cannot put the finished file in place: \(String(cString: strerror(errno)))")
            }
        } catch {
            discard()
            throw error
        }
        done = true
        AtomicFile.syncFolder(url.deletingLastPathComponent())
    }

    /// Abandons the file: the temporary file is removed and the destination untouched.
    public func discard() {
        guard !done else { return }
        done = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryURL.path)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try put($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes all of `bytes` at the append position, or at `offset` (pwrite); a failure discards the file.
    private func put(_ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) throws {
        guard let base = bytes.baseAddress else { return }
        var off = 0
        while off < bytes.count {
            let w = offset.map { pwrite(fd, base + off, bytes.count - off, off_t($0 + off)) } ?? Glibc.write(fd, base + off, bytes.count - off)
            if w < 0 {
                if errno == EINTR { continue }
                let e = errno
                discard()
                throw FileError(path: url.path, message: "cannot write: \(String(cString: strerror(e)))")
            }
            off += w
        }
    }

    // MARK: The rules shared with OutputFolder

    /// The destination with symbolic links resolved, refused unless it is absent or a regular file, in a folder
    /// that exists.
    static func checkedDestination(_ url: URL, role: String?) throws -> URL {
        let dest = url.standardizedFileURL.resolvingSymlinksInPath()
        let name = role.map { "\($0) \(url.path)" } ?? url.path
        var st = stat()
        if stat(dest.path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFREG else {
                throw FileError(path: url.path, message: "is \(AtomicFile.kind(st.st_mode)), not a file lmprobe can replace; give \(role ?? "a path") a file name")
                    .named(name)
            }
        }
        let dir = dest.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw FileError(path: url.path, message: "its folder \(dir.path) does not exist").named(name)
        }
        return dest
    }

    /// "a folder", "a FIFO", … for an `st_mode`.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        case S_IFREG: return "a file"
        default: return "not a regular file"
        }
    }

    /// fsync of a folder, so a rename in it survives a crash (best effort: not every file system allows it).
    static func syncFolder(_ dir: URL) {
        let dfd = open(dir.path, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Removes `.NAME<kind>PID` entries in `dir` left by processes that no longer run.
    static func removeAbandoned(in dir: URL, name: String, kinds: [String]) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            for kind in kinds where entry.hasPrefix(".\(name)\(kind)") {
                guard let pid = Int32(entry.dropFirst(name.count + 1 + kind.count)) else { continue }
                if pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                    try? FileManager.default.removeItem(at: dir.appendingPathComponent(entry))
                }
            }
        }
    }

    static func describe(_ url: URL) -> String { url.lastPathComponent }
}

extension FileError {
    /// The same error naming the path as the user gave it (with the option that gave it).
    func named(_ name: String) -> FileError { FileError(path: name, message: message) }
}
