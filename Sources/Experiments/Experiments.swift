/// # Experiments — running the pipeline's stages together
///
/// The orchestration above `Analysis`: what `compare`, `extract` and `analyze transfer` share, written once.
///
/// * `ModelLoader` / `LoadedModel`: a checkpoint (file or run folder) with its SHA-256 and its tokenizer (the one
///   recorded in the checkpoint, or an override), checked to have the model's vocabulary size.
/// * `DatasetSplits`: a labelled dataset as named splits (`train`/`test` from two files or a fixed-seed stratified
///   split, or `all`), each with the SHA-256 of its file.
/// * `FeatureCache`: the one content address of an extraction (checkpoint hash, split contents, prompt, words,
///   class words, p dtype, lmprobe version) and extract-or-reuse of a `{train,test}` feature folder.
/// * `FamilyProbe`: the one probe code path of `compare` and `analyze transfer` (ridge or logistic under the
///   comparison settings and protocol), returning test metrics with intervals and per-example correctness.
/// * `TransferRun`: the checkpoints of one run, each checkpoint's validation cross-entropy measured on the whole
///   validation split (`GPT.splitLoss`, the same estimator for every checkpoint), and `FamilyProbe` per family.
/// * `ContextFeatures`: the theory checks' context sets (presets or the user's) as cached extraction folders.
/// * `ComparisonRunner`: `lmprobe compare` — models × tasks × prompts × feature families × probes, the bag-of-words
///   baseline (`BagOfWordsBaseline`: TF-IDF features + the ridge probe on their Gram matrix) and the leakage count
///   (Text's `SentenceIndex`, the test `tokenize --exclude` uses).
///
/// Guarantees: every error is an `ExperimentError` (or a lower stage's error) printing one line that names the file
/// or argument; a feature folder is reused only when its manifests match the checkpoint hash, the split contents and
/// every setting that changes the files.
import Foundation

/// One-line errors of the orchestration layer.
public struct ExperimentError: Error, LocalizedError, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
    public var errorDescription: String? { description }
}
