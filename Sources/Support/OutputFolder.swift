import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// THE folder writer (files go through `AtomicFile`, built on the same rules): an output folder built whole, then
/// put in place: the stage writes into a hidden staging folder next to the
/// destination (`.NAME.partial-PID`), and `commit()` swaps it with the destination in one step (Linux
/// `renameat2(RENAME_EXCHANGE)`; elsewhere rename the old folder aside, then the new one in) and deletes the old
/// contents. A reader therefore sees the old folder or the new one, never a mix, and no file of the old run
/// survives into the new one. An interrupted run leaves only its staging folder, removed by the next run.
///
/// Only folders the stage itself made are replaced: an existing destination must be empty or hold `marker` (e.g.
/// `tokens.json`), so `--out` pointed at an unrelated folder is refused instead of emptied.
public final class OutputFolder {
    /// Where the stage writes.
    public let url: URL
    /// Where `commit()` puts it.
    public let destination: URL
    private var done = false

    /// - markers: file names (relative paths) of which one marks an existing destination as this stage's output.
    public init(replacing destination: URL, markers: [String], option: String = "--out") throws {
        // A symbolic link to a folder stands for that folder: the staging folder goes beside the real one.
        let dest = destination.standardizedFileURL.resolvingSymlinksInPath()
        self.destination = dest
        let fm = FileManager.default
        var st = stat()
        if stat(dest.path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw SupportError("\(option) \(destination.path) is \(AtomicFile.kind(st.st_mode)), not a folder; choose a new or empty folder")
            }
            let contents = (try? fm.contentsOfDirectory(atPath: dest.path)) ?? []
            let ours = markers.contains { fm.fileExists(atPath: dest.appendingPathComponent($0).path) }
            guard contents.isEmpty || ours else {
                throw SupportError(markers.isEmpty
                    ? "\(option) \(destination.path) already exists and is not empty; choose an empty or new folder"
                    : "\(option) \(destination.path) is a non-empty folder that lmprobe did not write (no \(markers.joined(separator: " or "))); choose an empty or new folder")
            }
        }
        let parent = dest.deletingLastPathComponent()
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw SupportError("\(option) \(parent.path): cannot create folder (\(ioErrorText(error)))")
        }
        OutputFolder.removeAbandonedStaging(for: dest)
        url = parent.appendingPathComponent(".\(dest.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: url)
        do { try fm.createDirectory(at: url, withIntermediateDirectories: false) } catch {
            throw SupportError("\(url.path): cannot create the staging folder (\(ioErrorText(error)))")
        }
    }

    /// Puts the staging folder in place of the destination and removes what was there.
    public func commit() throws {
        guard !done else { return }
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) {
            if OutputFolder.exchange(url.path, destination.path) {
                try? fm.removeItem(at: url)  // now holds the old contents
            } else {
                let old = destination.deletingLastPathComponent()
                    .appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())")
                try? fm.removeItem(at: old)
                guard rename(destination.path, old.path) == 0 else {
                    throw SupportError("\(destination.path): cannot replace (\(String(cString: strerror(errno))))")
                }
                guard rename(url.path, destination.path) == 0 else {
                    let e = errno
                    _ = rename(old.path, destination.path)
                    throw SupportError("\(destination.path): cannot replace (\(String(cString: strerror(e))))")
                }
                try? fm.removeItem(at: old)
            }
        } else {
            guard rename(url.path, destination.path) == 0 else {
                throw SupportError("\(destination.path): cannot create (\(String(cString: strerror(errno))))")
            }
        }
        done = true
        AtomicFile.syncFolder(destination.deletingLastPathComponent())
    }

    /// Removes the staging folder (on failure); the destination is untouched.
    public func discard() {
        guard !done else { return }
        try? FileManager.default.removeItem(at: url)
        done = true
    }

    deinit { discard() }

    /// Removes `.NAME.partial-PID` / `.NAME.old-PID` folders of `destination` left by processes that no longer run
    /// (and `.NAME.tmp-PID`, the staging name of exports before they used this writer).
    static func removeAbandonedStaging(for destination: URL) {
        AtomicFile.removeAbandoned(in: destination.deletingLastPathComponent(), name: destination.lastPathComponent,
                                   kinds: [".partial-", ".old-", ".tmp-"])
    }

    /// `renameat2(a, b, RENAME_EXCHANGE)`, looked up at run time (glibc ≥ 2.28; not every file system supports it).
    static func exchange(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let f = unsafeBitCast(sym, to: RenameAt2.self)
        return f(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0
        #else
        return false
        #endif
    }
}
