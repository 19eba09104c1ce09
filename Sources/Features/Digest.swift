import Crypto
import Foundation

/// SHA-256 of files, for manifests and content-addressed feature folders.
public enum Digest {
    /// Hex SHA-256 of a file's bytes (memory-mapped, streamed through the hash).
    public static func sha256(file url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw FeatureError.file(path: url.path, message: "cannot open file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Hex SHA-256 of a string's UTF-8 bytes.
    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
