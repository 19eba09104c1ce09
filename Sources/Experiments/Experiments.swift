// The module overview (Experiments's purpose, guarantees and notation) is Experiments.docc/Experiments.md.
import Foundation

/// One-line errors of the orchestration layer.
public struct ExperimentError: Error, LocalizedError, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
    public var errorDescription: String? { description }
}
