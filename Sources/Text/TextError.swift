import Foundation
import Support

/// Every error of the Text stage: one line that names the file (and line or row) and says what is wrong.
public struct TextError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
    /// `path:line: message` (or `path: message` without a line).
    public init(file: String, line: Int? = nil, _ message: String) {
        description = line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
    public init(file: URL, line: Int? = nil, _ message: String) { self.init(file: file.path, line: line, message) }
}

/// Reads a whole file, with a TextError naming it on failure. A regular file is read in one go; anything else that
/// can be opened for reading — a pipe, a FIFO, standard input (`/dev/stdin`), process substitution (`/dev/fd/63`)
/// — is streamed in 1 MiB chunks until end of file. Both are held to the same limit: at most
/// `maximumInputBytes`, checked against the file's size before reading it, and against the bytes received so far
/// while streaming, so a pipe that never ends is an error, not an allocation the input did not justify.
func readFileBytes(_ url: URL, limit: Int = maximumInputBytes) throws -> [UInt8] {
    var st = stat()
    if stat(url.path, &st) == 0 {
        let kind = st.st_mode & S_IFMT
        if kind != S_IFREG && kind != S_IFDIR { return try readStream(url, limit: limit) }
        if kind == S_IFREG && Int(st.st_size) > limit {
            throw TextError(file: url, "\(st.st_size) bytes, more than the \(SystemMemory.format(limit)) an input may hold (a quarter of the memory this process may allocate)")
        }
    }
    do { return [UInt8](try readFileData(url)) }
    catch { throw TextError(file: url, "cannot read (\(ioErrorText(error)))") }
}

/// The largest input file or stream a reader accepts: a quarter of the memory this process may allocate (the
/// bytes, their decoded text and the documents cut from it are held at once).
var maximumInputBytes: Int { SystemMemory.limitBytes / 4 }

/// Everything readable from a non-regular file (pipe, FIFO, character device), streamed until end of file.
private func readStream(_ url: URL, limit: Int) throws -> [UInt8] {
    let fd = open(url.path, O_RDONLY)
    guard fd >= 0 else { throw TextError(file: url, "cannot read (\(String(cString: strerror(errno))))") }
    defer { close(fd) }
    let chunk = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    var bytes: [UInt8] = []
    while true {
        let n = read(fd, buffer.baseAddress!, chunk)
        if n < 0 {
            if errno == EINTR { continue }
            throw TextError(file: url, "cannot read (\(String(cString: strerror(errno))))")
        }
        if n == 0 { return bytes }
        if n > limit - bytes.count {
            throw TextError(file: url, "more than \(SystemMemory.format(limit)) from a stream, the limit of an input (a quarter of the memory this process may allocate)")
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
}

/// Reads a whole file as UTF-8 text; invalid UTF-8 is an error naming the line of the first bad byte.
func readUTF8(_ url: URL) throws -> String {
    let bytes = try readFileBytes(url)
    return try decodeUTF8(bytes, file: url.path)
}

func decodeUTF8(_ bytes: [UInt8], file: String) throws -> String {
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    // Find the line of the first invalid sequence.
    var line = 1, lineStart = 0
    for (i, b) in bytes.enumerated() where b == 0x0A {
        if String(validating: bytes[lineStart..<i], as: UTF8.self) == nil { break }
        line += 1; lineStart = i + 1
    }
    throw TextError(file: file, line: line, "not valid UTF-8 text (wrong encoding?)")
}

/// The lines of `text` split at LF, each without its LF and without a trailing CR (so CRLF files read like LF files;
/// `String.split(separator: "\n")` would not split there, since "\r\n" is one Character). Keeps empty lines.
func textLines(_ text: String) -> [Substring] {
    let u = text.utf8
    var out: [Substring] = []
    var start = u.startIndex, i = u.startIndex
    while i != u.endIndex {
        if u[i] == 0x0A {
            var e = i
            if e > start, u[u.index(before: e)] == 0x0D { e = u.index(before: e) }
            out.append(text[start..<e])
            start = u.index(after: i)
        }
        i = u.index(after: i)
    }
    out.append(text[start..<u.endIndex])
    return out
}
