// The module overview (Text's purpose, guarantees and notation) is Text.docc/Text.md.
import Foundation

extension TextError: LocalizedError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}
