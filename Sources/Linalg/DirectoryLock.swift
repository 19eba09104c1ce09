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
    /// and the pid holding it.
    public init(directory: URL, purpose: String) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw LinalgError.invalidArgument("\(directory.path): cannot create folder (\(ioErrorText(error)))")
        }
        url = directory.appendingPathComponent(".lock")
        fd = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LinalgError.invalidArgument("\(url.path): cannot open the folder's lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            let holder = n > 0 ? String(decoding: buf[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw LinalgError.invalidArgument("\(directory.path) is in use by another \(purpose) (pid \(holder)); wait for it or choose another folder")
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
