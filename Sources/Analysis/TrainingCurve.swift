import Foundation
import Model

/// Training curves of one or more pretraining runs on one chart: training loss (solid line) and validation loss
/// (dashed, with markers) against tokens seen, one colour per run.
public enum TrainingCurve {
    /// One run: a display name and its log.
    public struct Run: Sendable {
        public var name: String
        public var log: TrainingLog
        public init(name: String, log: TrainingLog) { self.name = name; self.log = log }
    }


}
