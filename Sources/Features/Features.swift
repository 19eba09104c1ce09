// The module overview (Features's purpose, guarantees and notation) is Features.docc/Features.md.
import Foundation

extension FeatureError: LocalizedError {
    /// The one-line description (what `localizedDescription` and the CLI print).
    public var errorDescription: String? { description }
}

/// Precision of the n × V `p.npy`.
public enum ProbabilityDType: String, CaseIterable, Codable, Sendable {
    case float32, float16
    /// The NumPy descr written (`ExtractionOptions.pDtype`).
    public var npyDescr: String { self == .float16 ? "<f2" : "<f4" }
}
