// The module overview (Model's purpose, guarantees and notation) is Model.docc/Model.md.
import Foundation
import Support

/// Errors of the Model stage; each description is one line naming the file, argument or value at fault.
public enum ModelError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case badInput(String)
    case badCheckpoint(path: String, reason: String)
    case nonFiniteLoss(step: Int, loss: Double, lastCheckpoint: String?)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfig(m): return "invalid model configuration: \(m)"
        case let .badInput(m): return m
        case let .badCheckpoint(path, reason): return "\(path): not a valid lmprobe checkpoint: \(reason)"
        case let .nonFiniteLoss(step, loss, last):
            return "training stopped: non-finite loss \(loss) at step \(step); "
                + (last.map { "last good checkpoint is \($0)" } ?? "no checkpoint was written yet")
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}

extension ModelError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}
/// The checkpoint checksum is Linalg's (shared with the token-dataset hash); this name keeps it in scope for files
/// that import only Foundation.
typealias Checksum = Support.Checksum
