import Foundation

/// An error of the shared utilities (the folder writer, the folder lock, path-name checks), as one line.
public struct SupportError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// An error about one file, as one line: "PATH: message".
public struct FileError: Error, CustomStringConvertible, LocalizedError {
    public let path: String
    public let message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
    public var errorDescription: String? { description }
}

/// A path as a report records it: relative to the current folder when it lies inside it (so a report written from a
/// repository checkout names repository-relative paths, valid on another machine), else absolute.
public func reportPath(_ path: String) -> String {
    let full = URL(fileURLWithPath: path).standardizedFileURL.path
    let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
    let prefix = cwd.hasSuffix("/") ? cwd : cwd + "/"
    return full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full
}

/// One line for an error from Foundation or the C library, for messages of the form "PATH: cannot read (…)".
///
/// Foundation's own texts on Linux are either raw (`Error Domain=NSCocoaErrorDomain Code=516 … UserInfo={…}`),
/// empty (`(NSCocoaErrorDomain error 512.)`) or positionless ("The data is not in the correct format."). This picks
/// the most specific part: the POSIX reason of an underlying error ("No such file or directory"), else the debug
/// description (which holds JSON positions, "Invalid value around line 3, column 7."), else the localized text
/// without its boilerplate prefix. With `json`, a JSON character offset is turned into line and column.
public func ioErrorText(_ error: Error, json: Data? = nil) -> String {
    if let e = error as? FileError { return e.message }
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(under.code)))
    }
    if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let debug = ns.userInfo[NSDebugDescriptionErrorKey] as? String, !debug.isEmpty {
        if let data = json, let offset = characterOffset(in: debug) {
            let (line, column) = lineAndColumn(of: offset, in: data)
            return debug.replacingOccurrences(of: "around character \(offset)", with: "at line \(line), column \(column)")
        }
        return debug
    }
    if case let DecodingError.dataCorrupted(c) = error {
        return c.debugDescription + (c.underlyingError.map { " " + ioErrorText($0, json: json) } ?? "")
    }
    var text = ns.localizedDescription
    for prefix in ["The operation could not be completed. ", "The operation couldn’t be completed. "] where text.hasPrefix(prefix) {
        text.removeFirst(prefix.count)
    }
    if text.hasPrefix("("), ns.domain == NSCocoaErrorDomain {
        switch ns.code {
        case NSFileWriteFileExistsError: return "file exists"
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
        default: return "file system error \(ns.code)"
        }
    }
    return text.replacingOccurrences(of: "\n", with: " ")
}

/// The N of "character N" in a JSONSerialization debug description.
private func characterOffset(in text: String) -> Int? {
    guard let r = text.range(of: "around character ") else { return nil }
    return Int(text[r.upperBound...].prefix { $0.isNumber })
}

/// 1-based line and column of byte `offset` in `data`.
public func lineAndColumn(of offset: Int, in data: Data) -> (line: Int, column: Int) {
    var line = 1, column = 1
    var i = data.startIndex
    let end = data.index(data.startIndex, offsetBy: min(max(offset, 0), data.count))
    while i < end {
        if data[i] == 0x0A { line += 1; column = 1 } else { column += 1 }
        i += 1
    }
    return (line, column)
}

/// The bytes of a file, as `Data(contentsOf:)` (memory-mapped with `mapped`), but without its leak: swift-foundation
/// 6.3's `Data(contentsOf:)` leaks a 4 KB buffer for every empty file it reads (found by `make fuzz`), so an empty
/// regular file is answered here. Errors are Foundation's; callers add the path with `ioErrorText`.
public func readFileData(_ url: URL, mapped: Bool = false) throws -> Data {
    var st = stat()
    if stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0 { return Data() }
    return try Data(contentsOf: url, options: mapped ? .alwaysMapped : [])
}

/// What a path names on disk, following symlinks: the file's identity (device and inode, so a symlink or a second
/// path to one file compares equal) and its kind; nil when nothing is there.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    /// A regular file (not a folder, device, FIFO or socket).
    public let isRegular: Bool

    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: st.st_dev); inode = UInt64(truncatingIfNeeded: st.st_ino)
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func == (a: Self, b: Self) -> Bool { a.device == b.device && a.inode == b.inode }
    public func hash(into h: inout Hasher) { h.combine(device); h.combine(inode) }
}
