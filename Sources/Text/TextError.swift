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

/// Reads a whole file, with a TextError naming it on failure.
func readFileBytes(_ url: URL) throws -> [UInt8] {
    do { return [UInt8](try readFileData(url)) }
    catch { throw TextError(file: url, "cannot read (\(ioErrorText(error)))") }
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
