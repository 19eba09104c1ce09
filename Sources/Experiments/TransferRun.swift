import Analysis
import Features
import Foundation
import Model
import Probes
import Text
import Support
import Report

/// Check 3 on real files: every checkpoint of one pretraining run (listed by `Checkpoint.list(in:)`) → validation
/// cross-entropy, features of a task's train/test splits (`FeatureCache`), the closed-form ridge probe (exact LOO λ)
/// per feature family, and the `TransferCheck` table.
public enum TransferRun {
    /// The checkpoint's validation cross-entropy on the whole validation split of the run's tokens (`GPT.splitLoss`),
    /// measured now for every checkpoint — never the training log's sampled estimate — so all rows of a transfer
    /// table come from one estimator (issue 14: mixing them moved one checkpoint by 0.06 nats).
    public static func validationCrossEntropy(_ ckpt: Checkpoint, tokenDirectory: URL?, maxWindows: Int? = nil)
        throws -> SplitLoss {
        // `splitLoss` refuses token files whose vocabulary differs from the model's, naming the folder.
        try ckpt.model.splitLoss(data: try TokenDataset(directory: tokenFolder(ckpt, tokenDirectory)),
                                 maxWindows: maxWindows)
    }

    /// The token folder whose validation split scores `ckpt`: the one given, else the one its metadata records.
    static func tokenFolder(_ ckpt: Checkpoint, _ given: URL?) throws -> URL {
        guard let dir = given ?? ckpt.metadata["data"].map({ URL(fileURLWithPath: $0) }) else {
            throw ExperimentError("\(ckpt.url.path): records no token directory; give --data")
        }
        return dir
    }

    /// What `cache/validation/` records of one measurement: the loss and everything it depends on.
    struct ValidationRecord: Codable, Equatable {
        var lmprobeVersion: String
        var checkpointSHA256: String
        var validationTokensSHA256: String
        var maxWindows: Int?
        var loss: SplitLoss

        /// `JSONCoding` keys: `checkpoint_sha256`, `validation_tokens_sha256`.
        enum CodingKeys: String, CodingKey {
            case lmprobeVersion, checkpointSHA256 = "checkpointSha256"
            case validationTokensSHA256 = "validationTokensSha256", maxWindows, loss
        }
    }

    /// `validationCrossEntropy`, content-addressed under `cache/validation/`: a record of the same checkpoint (its
    /// SHA-256 `checkpointSHA256`), the same validation tokens (SHA-256 of `val.bin`) and the same window cap is
    /// reused — the loss does not depend on the task, so a study that probes several tasks measures each checkpoint
    /// once; anything else is measured and recorded (written atomically). Returns the loss and whether it was reused.
    /// `validationDigests` memoises the SHA-256 of each `val.bin` by path, so the checkpoints of one run (which share
    /// their token folder) hash it once per invocation rather than once per checkpoint.
    public static func validationCrossEntropy(_ ckpt: Checkpoint, checkpointSHA256: String, tokenDirectory: URL?,
                                              maxWindows: Int?, cache: URL,
                                              validationDigests: inout [String: String]) throws
        -> (loss: SplitLoss, reused: Bool) {
        let dir = try tokenFolder(ckpt, tokenDirectory)
        let valFile = dir.appendingPathComponent("\(TokenFile.Split.val.rawValue).bin")
        let valSHA: String
        if let known = validationDigests[valFile.path] { valSHA = known } else {
            do { valSHA = try Digest.sha256(file: valFile) } catch {
                throw ExperimentError("\(valFile.path): cannot read the validation tokens (\(ioErrorText(error)))")
            }
            validationDigests[valFile.path] = valSHA
        }
        let key = Digest.sha256("checkpoint \(checkpointSHA256)\nval \(valSHA)\nmax_windows \(maxWindows.map(String.init) ?? "all")")
        let url = cache.appendingPathComponent("validation/\(checkpointSHA256.prefix(12))-\(key.prefix(16)).json")
        if let data = try? readFileData(url), let r = try? JSONCoding.decoder().decode(ValidationRecord.self, from: data),
           r.lmprobeVersion == lmprobeVersion, r.checkpointSHA256 == checkpointSHA256,
           r.validationTokensSHA256 == valSHA, r.maxWindows == maxWindows {
            return (r.loss, true)
        }
        let loss = try validationCrossEntropy(ckpt, tokenDirectory: dir, maxWindows: maxWindows)
        try ReportWriter.writeJSON(ValidationRecord(lmprobeVersion: lmprobeVersion, checkpointSHA256: checkpointSHA256,
                                                    validationTokensSHA256: valSHA, maxWindows: maxWindows, loss: loss),
                                   to: url)
        return (loss, false)
    }

    /// The probe `compare` runs (`FamilyProbe`, the same settings), on `train/FAMILY.npy` → `test/FAMILY.npy`: test
    /// accuracy with its interval, and as probe loss the test mean squared error of the ridge scores on ±1 targets.
    public static func probe(directory: URL, family: FeatureFamily, settings: ComparisonSettings = ComparisonSettings())
        throws -> TransferCheck.ProbeOutcome {
        let o = try FamilyProbe.run(directory: directory, family: family, method: .ridge, settings: settings)
        var out = TransferCheck.ProbeOutcome(accuracy: o.metrics.accuracy, loss: o.loss)
        out.interval = o.metrics.accuracyInterval
        return out
    }
}
