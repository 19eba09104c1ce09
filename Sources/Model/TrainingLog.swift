import Foundation
import Support

/// The losses a pretraining run logged (RUNDIR/log.jsonl, written by `Trainer.run`), read back for curves.
///
/// THE log.jsonl reader is `TrainingLog.records` (curves and `--resume`'s log truncation both use it), with one rule
/// for a bad line: a complete (newline-terminated) line that is not a JSON object is refused, naming FILE:LINE — the
/// log is written only by lmprobe, so such a line is damage, and skipping it would silently drop points from a curve
/// or keep a stale step on resume. The one thing a crash legitimately leaves, a last line cut short by kill -9 or a
/// full disk, has no newline: it is an unfinished write, not a record, and is ignored (`--resume` removes it).
///
/// Lines with `"loss"` are training steps (the mean objective of the step's batch), lines with `"val_loss"` are
/// validations; lines with an `"event"` field (the time-budget plan, a non-finite step) are skipped. A resumed run
/// appends to the same file, so a step can occur twice (the steps between the last checkpoint and a crash are
/// re-run): the later line wins. Tokens seen come from each line's `"tokens"` field; logs written before that
/// field existed get step × `tokensPerStep` instead.
public struct TrainingLog: Sendable {
    public struct Point: Equatable, Sendable {
        public var step: Int
        public var tokens: Int
        public var value: Double
    }

    /// Training objective per logged step, by step.
    public var train: [Point]
    /// Validation objective (`val_loss`) per validation, by step.
    public var validation: [Point]
    /// Validation cross-entropy (`val_ce`; equals `validation` for a CE model).
    public var validationCrossEntropy: [Point]

    /// Reads `url`. `tokensPerStep` (B·T·grad-accum) is needed only for lines without `"tokens"`; nil then
    /// throws naming the line.
    public static func read(_ url: URL, tokensPerStep: Int? = nil) throws -> TrainingLog {
        var train: [Int: Point] = [:], val: [Int: Point] = [:], ce: [Int: Point] = [:]
        for record in try records(url) {
            let o = record.object, lineNumber = record.line
            if o["event"] != nil { continue }
            guard let step = (o["step"] as? NSNumber)?.intValue, step >= 0 else {
                throw ModelError.io(path: "\(url.path):\(lineNumber)", reason: "no non-negative integer \"step\"")
            }
            let tokens: Int
            if let t = (o["tokens"] as? NSNumber)?.intValue, t >= 0 { tokens = t } else {
                guard let per = tokensPerStep else {
                    throw ModelError.io(path: "\(url.path):\(lineNumber)", reason: "no \"tokens\" field and no tokens per step known")
                }
                let (t, overflow) = step.multipliedReportingOverflow(by: per)
                guard !overflow else { throw ModelError.io(path: "\(url.path):\(lineNumber)", reason: "step \(step) × \(per) tokens overflows") }
                tokens = t
            }
            func number(_ key: String) -> Double? {
                (o[key] as? NSNumber).map(\.doubleValue).flatMap { $0.isFinite ? $0 : nil }
            }
            if let v = number("loss") { train[step] = Point(step: step, tokens: tokens, value: v) }
            if let v = number("val_loss") { val[step] = Point(step: step, tokens: tokens, value: v) }
            if let v = number("val_ce") { ce[step] = Point(step: step, tokens: tokens, value: v) }
        }
        func sorted(_ d: [Int: Point]) -> [Point] { d.values.sorted { $0.step < $1.step } }
        return TrainingLog(train: sorted(train), validation: sorted(val), validationCrossEntropy: sorted(ce))
    }

    /// One record of log.jsonl: its 1-based line number, the JSON object, and the line's bytes (without newline).
    public struct Record {
        public var line: Int
        public var object: [String: Any]
        public var bytes: Data
        /// The optimizer step the line is about (nil for events such as the time-budget plan).
        public var step: Int? { (object["step"] as? NSNumber)?.intValue }
    }

    /// THE log.jsonl reader: every newline-terminated line that is not blank, as a JSON object; a line that is not a
    /// JSON object is refused naming FILE:LINE; a last line without a newline (a write cut short) is not a record.
    public static func records(_ url: URL) throws -> [Record] {
        let data: Data
        do { data = try readFileData(url) } catch {
            throw ModelError.io(path: url.path, reason: "cannot read the training log (\(ioErrorText(error)))")
        }
        return try records(in: data, path: url.path)
    }

    /// `records(_:)` of log bytes already read (`path` names the file in messages).
    public static func records(in data: Data, path: String) throws -> [Record] {
        var out: [Record] = []
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // After the last newline: "" for a complete file, else an unfinished write.
        lines.removeLast()
        for (i, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)), let o = object as? [String: Any] else {
                throw ModelError.io(path: "\(path):\(i + 1)",
                                    reason: "not a JSON object (the training log is damaged: delete or fix this line)")
            }
            out.append(Record(line: i + 1, object: o, bytes: Data(line)))
        }
        return out
    }

    /// The log of a run directory: RUNDIR/log.jsonl, with the tokens per step of its latest checkpoint for lines
    /// that predate the `"tokens"` field.
    public static func read(runDirectory: URL) throws -> TrainingLog {
        let url = runDirectory.appendingPathComponent("log.jsonl")
        do { return try read(url) } catch ModelError.io(let path, let reason) where reason.hasPrefix("no \"tokens\"") {
            guard let latest = try? Checkpoint.latest(in: runDirectory), let ckpt = try? ModelLoader.checkpoint(latest.path).checkpoint,
                  let o = ckpt.trainingState?.options else {
                throw ModelError.io(path: path, reason: "\(reason) (and no training checkpoint in \(runDirectory.path) to take B·T from)")
            }
            return try read(url, tokensPerStep: o.batch * o.gradAccum * ckpt.config.context)
        }
    }
}
