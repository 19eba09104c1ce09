import Analysis
import ArgumentParser
import Experiments
import Features
import Foundation
import Model
import Probes
import Text
import Support

// Closed option sets are the library's own enums: `--help` lists the choices and a bad value is a usage error
// (exit 64).
extension Objective: ExpressibleByArgument {}
extension RidgeSelection: ExpressibleByArgument {}
extension RidgeDecomposition: ExpressibleByArgument {}
extension ProbeMethod: ExpressibleByArgument {}
extension ProbeProtocol: ExpressibleByArgument {}
extension LogisticMulticlass: ExpressibleByArgument {}
extension FeatureFamily: ExpressibleByArgument {}
extension ProbabilityDType: ExpressibleByArgument {}
extension ComparisonSettings.PromptMode: ExpressibleByArgument {}
extension DatasetSource.Format: ExpressibleByArgument {}
extension Corpus.DocSplit: ExpressibleByArgument {}

extension LabelledDataset.Detokenize: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "none": self = .none
        case "ptb": self = .ptb
        default: return nil
        }
    }
    public static var allValueStrings: [String] { ["none", "ptb"] }
    public var defaultValueDescription: String { self == .ptb ? "ptb" : "none" }
}

/// `pretrain --output-scale`: `auto` (1/‖Φ‖_F of the starting Φ, after --phi-from) or a positive number.
enum OutputScaleOption: ExpressibleByArgument, Equatable {
    case auto
    case value(Float)
    init?(argument: String) {
        if argument == "auto" { self = .auto; return }
        guard let v = Float(argument), v.isFinite, v > 0 else { return nil }
        self = .value(v)
    }
    static var allValueStrings: [String] { ["auto", "<positive number>"] }
}

/// A comma-separated list of values of one type (`--families f,phip`). Parsing keeps the elements it cannot read,
/// so the command's `validate()` names the bad one (`check`): "phi is not a feature family; choose from …".
struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]
    /// Elements that are not values of `Element`, in order.
    var unreadable: [String] = []
    init(_ values: [Element]) { self.values = values }
    init?(argument: String) {
        values = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let text = part.trimmingCharacters(in: .whitespaces)
            if let v = Element(argument: text) { values.append(v) } else { unreadable.append(text) }
        }
    }
    /// The default as the parser reads it back: each element's argument spelling (raw value), comma-separated.
    var defaultValueDescription: String { values.map(Self.spelling).joined(separator: ",") }
    static var allValueStrings: [String] { [] }

    static func spelling(_ v: Element) -> String {
        if let r = v as? any CaseIterable & RawRepresentable { return String(describing: r.rawValue) }
        return v.defaultValueDescription
    }

    /// The choices, as the parser accepts them ("" for open types such as numbers).
    static var choices: String { Element.allValueStrings.joined(separator: ", ") }

    /// Refuses an empty list or one with an unreadable element, naming it: "--families: phi is not a feature
    /// family; choose from f, phip, …".
    func check(_ option: String, noun: String) throws {
        if let bad = unreadable.first {
            let text = bad.isEmpty ? "an empty element" : "'\(bad)'"
            throw ValidationError("\(option): \(text) is not \(noun)" + (Self.choices.isEmpty ? "" : "; choose from \(Self.choices)"))
        }
        guard !values.isEmpty else { throw ValidationError("\(option): give at least one value") }
    }
}

/// A grid of positive numbers (`--alphas 0.1,1,10`).
typealias PositiveGrid = CommaList<Double>

extension CommaList where Element == Double {
    func checkPositive(_ option: String) throws {
        try check(option, noun: "a number")
        for v in values where !(v > 0 && v.isFinite) { throw ValidationError("\(option): \(v) is not a positive number") }
    }
}

/// The model shape shared by `pretrain` and the model benchmarks.
struct ModelShapeOptions: ParsableArguments {
    /// The default shape (here and in `pretrain`'s own shape group).
    static let defaults = (layers: 4, dim: 256, heads: 4, context: 128)

    @Option(help: "Transformer blocks L.") var layers = ModelShapeOptions.defaults.layers
    @Option(help: "Width d.") var dim = ModelShapeOptions.defaults.dim
    @Option(help: "Attention heads h.") var heads = ModelShapeOptions.defaults.heads
    @Option(help: "Context length T.") var context = ModelShapeOptions.defaults.context

    func validate() throws {
        guard layers >= 1, dim >= 1, heads >= 1, context >= 1 else {
            throw ValidationError("--layers, --dim, --heads and --context must be ≥ 1")
        }
    }
}

/// A checkpoint and its tokenizer (`extract`): `load()` is `ModelLoader`'s one way to get both with the hash.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "Checkpoint (.safetensors), run folder (its final / latest checkpoint) or Hugging Face GPT-2 folder.")
    var checkpoint: String
    @Option(help: "Tokenizer folder with vocab.json and merges.txt (default: the one recorded in the checkpoint).")
    var tokenizer: String?

    func load() throws -> LoadedModel { try ModelLoader(tokenizer: tokenizer).load(checkpoint) }
}

/// How a labelled dataset is read and split (`extract`, `compare`, `analyze transfer`).
struct DatasetOptions: ParsableArguments {
    @Option(help: "Labelled dataset: a TSV (label<TAB>text), CSV, JSONL file, a folder with one subfolder per class, or a token-id file (*.ids: label<TAB>id id …).")
    var dataset: String?
    @Option(help: "Test set in the same format (otherwise --test-fraction splits --dataset, or no split).")
    var testDataset: String?
    @Option(help: "Hold out this fraction of --dataset as a fixed-seed stratified test split (0: no split).")
    var testFraction: Double = 0
    @Option(help: "Seed of the stratified split.") var splitSeed: UInt64 = 0
    @Option(help: "Dataset format (default: from the path).") var format: DatasetSource.Format?
    @Option(help: "CSV column / JSONL field holding the text.") var textColumn = "text"
    @Option(help: "CSV column / JSONL field holding the label.") var labelColumn = "label"
    @Option(help: "Keep only CSV rows with column=value (e.g. source=rotten_tomatoes).") var filter: String?
    @Option(help: "Undo tokenisation of the input text (ptb: Penn Treebank, as in the SST files).")
    var detokenize: LabelledDataset.Detokenize = .none
    @Flag(help: "Class folders: read documents that are not valid UTF-8 as ISO Latin-1 (the BBC corpus has some).")
    var latin1Fallback = false

    func validate() throws {
        guard testFraction >= 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in [0, 1)") }
        if testDataset != nil && testFraction > 0 { throw ValidationError("give --test-dataset or --test-fraction, not both") }
        if testDataset != nil && dataset == nil { throw ValidationError("--test-dataset needs --dataset") }
    }

    /// Whether the dataset is token ids (read with the identity tokenizer, no BPE).
    var isTokenIDs: Bool { dataset.map { source($0).format == .ids } ?? false }

    func source(_ path: String) -> DatasetSource {
        DatasetSource(path: path, format: format, textColumn: textColumn, labelColumn: labelColumn, filter: filter,
                      detokenizePTB: detokenize == .ptb, latin1Fallback: latin1Fallback)
    }

    /// Named splits of --dataset: [all] or [train, test].
    func splits() throws -> [DatasetSplit] {
        guard let dataset else { throw ValidationError("give --dataset") }
        return try DatasetSplits.load(train: source(dataset), test: testDataset.map(source), testFraction: testFraction,
                                      seed: splitSeed)
    }

    /// --dataset as a task (named after the file) with a test split, the given prompt and words.
    func task(prompt: String, words: [String], classWords: [[String]]? = nil) throws -> TaskSpec {
        guard let dataset else { throw ValidationError("give --dataset") }
        guard testDataset != nil || testFraction > 0 else {
            throw ValidationError("--dataset \(dataset): give --test-dataset or --test-fraction (a task needs a test split)")
        }
        return TaskSpec(name: URL(fileURLWithPath: dataset).deletingPathExtension().lastPathComponent,
                        train: source(dataset), test: testDataset.map(source), testFraction: testFraction,
                        seed: splitSeed, prompt: prompt, words: words, classWords: classWords)
    }
}

/// Prints `value` as one line of JSON (the one JSON writer: `JSONCoding`, snake_case keys, sorted).
func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try JSONCoding.encoder(pretty: false).encode(value), as: UTF8.self))
}
