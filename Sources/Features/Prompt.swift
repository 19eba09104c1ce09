/// A prompt template such as `"{text} This movie is"`: the input text goes where `{text}` is. A template without
/// `{text}` is a suffix appended to the text (`" This movie is"` ≡ `"{text} This movie is"`).
public struct PromptTemplate: Codable, Equatable, Sendable {
    public let template: String
    public let prefix: String
    public let suffix: String

    public init(_ template: String) throws {
        self.template = template
        let parts = template.components(separatedBy: "{text}")
        switch parts.count {
        case 1: prefix = ""; suffix = template
        case 2: prefix = parts[0]; suffix = parts[1]
        default: throw FeatureError.badArgument("--prompt: '{text}' may appear at most once in '\(template)'")
        }
    }

    /// The prompt for "no prompt".
    public static let none = try! PromptTemplate("{text}")

    public var isEmpty: Bool { prefix.isEmpty && suffix.isEmpty }

    /// Token ids for `text` inside the template, at most `maxLength` long: prefix and suffix are always kept and the
    /// text is truncated from its left. Returns nil when the prompt alone does not fit.
    public func encode(_ text: String, maxLength: Int, with tokenizer: FeatureTokenizer) -> [Int32]? {
        let pre = prefix.isEmpty ? [] : tokenizer.encode(prefix)
        let post = suffix.isEmpty ? [] : tokenizer.encode(suffix)
        let body = tokenizer.encode(text)
        let room = maxLength - pre.count - post.count
        if room < 0 { return nil }
        let kept = body.count > room ? Array(body[(body.count - room)...]) : body
        return (pre + kept + post).map { Int32(truncatingIfNeeded: $0) }
    }
}

/// One-line errors of the feature stage.
public enum FeatureError: Error, CustomStringConvertible {
    case badArgument(String)
    case badInput(String)
    case file(path: String, message: String)

    public var description: String {
        switch self {
        case let .badArgument(m), let .badInput(m): return m
        case let .file(path, m): return "\(path): \(m)"
        }
    }
}
