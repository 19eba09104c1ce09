import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on a folder (`flock` on FOLDER/.lock), so two processes never write one output
/// folder at once. The kernel releases it when the process ends, even by kill -9, so a stale lock cannot outlive
/// its holder. The lock file records the holder's pid for the message the second process prints.
public final class DirectoryLock {
    public let url: URL
    private var fd: Int32

    /// Takes the lock on `directory` (creating the folder if needed), or throws a one-line error naming the folder
    /// and the pid holding it. With `wait`, blocks until the holder releases it instead (a shared cache entry).
    public init(directory: URL, purpose: String, wait: Bool = false) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw SupportError("\(directory.path): cannot create folder (\(ioErrorText(error)))")
        }
        url = directory.appendingPathComponent(".lock")
        fd = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SupportError("\(url.path): cannot open the folder's lock file (\(String(cString: strerror(errno))))")
        }
        var locked = flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0
        while !locked && wait && errno == EINTR { locked = flock(fd, LOCK_EX) == 0 }
        guard locked else {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            let holder = n > 0 ? String(decoding: buf[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw SupportError("\(directory.path) is in use by another \(purpose) (pid \(holder)); wait for it or choose another folder")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
    }

    /// Releases the lock (also done on deinit and by process exit).
    public func release() {
        if fd >= 0 { flock(fd, LOCK_UN); close(fd); fd = -1 }
    }

    deinit { release() }
}

/// Names that become file or folder names inside an output folder (task names, model names): one path component
/// that cannot climb out of the folder or hide in it.
public enum PathName {
    /// Throws a one-line error unless `name` is non-empty, at most 200 bytes, and contains no `/`, no NUL and no
    /// `..`, and does not start with `.`. `role` names it in the message ("task name", "model name").
    public static func check(_ name: String, role: String) throws {
        let problem: String?
        if name.isEmpty { problem = "is empty" }
        else if name.contains("/") { problem = "contains '/'" }
        else if name.contains("..") { problem = "contains '..'" }
        else if name.hasPrefix(".") { problem = "starts with '.'" }
        else if name.utf8.contains(0) { problem = "contains a NUL byte" }
        else if name.utf8.count > 200 { problem = "is longer than 200 bytes" }
        else { problem = nil }
        if let p = problem {
            throw SupportError("\(role) '\(name)' \(p); it is used in file names inside --out, so it must be one plain path component")
        }
    }
}
