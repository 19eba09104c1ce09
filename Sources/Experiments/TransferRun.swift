import Analysis
import Features
import Foundation
import Linalg
import Model
import Probes
import Text

/// Check 3 on real files: every checkpoint of one pretraining run → validation cross-entropy, features of a task's
/// train/test splits (`FeatureCache`), the closed-form ridge probe (exact LOO λ) per feature family, and the
/// `TransferCheck` table.
public enum TransferRun {
    /// One checkpoint file of a run.
    public struct CheckpointFile: Equatable, Sendable {
        public let url: URL
        public let step: Int
        public let label: String
    }

    /// RUNDIR/ckpt-STEP.safetensors sorted by step, then RUNDIR/final.safetensors unless its step is already listed.
    public static func checkpoints(in run: URL) throws -> [CheckpointFile] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: run.path) } catch {
            throw ExperimentError("--run \(run.path): not a readable run directory")
        }
        var out: [CheckpointFile] = []
        for name in names where name.hasPrefix("ckpt-") && name.hasSuffix(".safetensors") {
            let digits = name.dropFirst(5).dropLast(12)
            guard let step = Int(digits) else { continue }
            out.append(CheckpointFile(url: run.appendingPathComponent(name), step: step, label: name.replacingOccurrences(of: ".safetensors", with: "")))
        }
        out.sort { $0.step < $1.step }
        let final = run.appendingPathComponent("final.safetensors")
        if FileManager.default.fileExists(atPath: final.path) {
            let step = try Checkpoint.load(url: final).step
            if !out.contains(where: { $0.step == step }) {
                out.append(CheckpointFile(url: final, step: step, label: "final"))
                out.sort { $0.step < $1.step }
            }
        }
        guard !out.isEmpty else {
            throw ExperimentError("--run \(run.path): no ckpt-*.safetensors or final.safetensors (pretrain with --keep-checkpoints to keep them all)")
        }
        return out
    }

    /// The checkpoint's validation cross-entropy at its own step, from its metadata when recorded (source
    /// "metadata"), else measured now on the run's validation tokens (source "evaluated"): `batches` × `batchSize`
    /// evenly spaced windows of the model's context length, as `pretrain` validates.
    public static func validationCrossEntropy(_ ckpt: Checkpoint, tokenDirectory: URL?, batches: Int = 8,
                                              batchSize: Int = 16) throws -> (crossEntropy: Double, source: String) {
        if let r = ckpt.validation.last(where: { $0.step == ckpt.step }), r.crossEntropy.isFinite {
            return (r.crossEntropy, "metadata")
        }
        guard let dir = tokenDirectory ?? ckpt.metadata["data"].map({ URL(fileURLWithPath: $0) }) else {
            throw ExperimentError("\(ckpt.url.path): no validation record for step \(ckpt.step) and no token directory recorded; give --data")
        }
        let data = try TokenDataset(directory: dir)
        guard data.vocabSize == ckpt.config.vocabSize else {
            throw ExperimentError("\(dir.path): vocab_size \(data.vocabSize) does not match the checkpoint's \(ckpt.config.vocabSize)")
        }
        guard data.valCount > ckpt.config.context + 1 else {
            throw ExperimentError("\(dir.path): \(data.valCount) validation tokens, need more than \(ckpt.config.context + 1)")
        }
        return (try Trainer.validationLoss(model: ckpt.model, data: data, batches: batches, batchSize: batchSize).crossEntropy,
                "evaluated")
    }

    /// Ridge probe (exact LOO λ over `alphas`) fitted on `train/FAMILY.npy`, scored on `test/FAMILY.npy`:
    /// test accuracy, and as probe loss the test mean squared error of the decision scores on the ±1 targets.
    public static func probe(directory: URL, family: FeatureFamily, alphas: [Double] = RidgeClassifier.defaultAlphas)
        throws -> TransferCheck.ProbeOutcome {
        let tr: (x: Matrix<Float>, labels: [Int]) = try FeatureFolder.load(directory.appendingPathComponent("train"), family: family)
        let te: (x: Matrix<Float>, labels: [Int]) = try FeatureFolder.load(directory.appendingPathComponent("test"), family: family)
        let classes = max(tr.labels.max() ?? 0, te.labels.max() ?? 0) + 1
        let model = try RidgeClassifier.fit(x: tr.x, labels: tr.labels, classes: classes, alphas: alphas)
        let predicted = try model.predict(te.x)
        let accuracy = Double(zip(predicted, te.labels).filter { $0 == $1 }.count) / Double(max(te.labels.count, 1))
        let scores = try model.decisionFunction(te.x)
        var sse = 0.0
        for i in 0..<scores.rows {
            for k in 0..<scores.cols {
                let target: Double = scores.cols == 1 ? (te.labels[i] == 1 ? 1 : -1) : (te.labels[i] == k ? 1 : -1)
                let e = scores[i, k] - target
                sse += e * e
            }
        }
        return .init(accuracy: accuracy, loss: sse / Double(max(scores.rows * scores.cols, 1)))
    }
}
