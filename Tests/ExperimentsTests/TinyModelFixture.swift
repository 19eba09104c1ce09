import Features
import Foundation
import Model
import Text
@testable import Experiments

/// A tiny random GPT checkpoint with its BPE tokenizer and a labelled TSV task, built in-process (no CLI) once per
/// test run: enough for the comparison runner and the feature cache to do real extractions in well under a second.
enum TinyModelFixture {
    nonisolated(unsafe) private static var built: URL?
    private static let lock = NSLock()

    static let layers = 2

    /// The folder holding `tok/`, `model.safetensors` and `data.tsv` (60 rows, two classes).
    static func folder() throws -> URL {
        lock.lock(); defer { lock.unlock() }
        if let built { return built }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-tinymodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pos = "great charming happy fantastic".split(separator: " "), neg = "boring sad terrible dull".split(separator: " ")
        let nouns = "movie film story plot".split(separator: " ")
        var rows: [String] = [], corpus: [String] = []
        for i in 0..<60 {
            let label = i % 2
            let w = label == 1 ? pos[(i / 2) % 4] : neg[(i / 2) % 4]
            rows.append("\(label)\tthe \(nouns[(i * 3) % 4]) was \(w) \(i % 7 == 0 ? "and long" : "")")
            corpus.append("The \(nouns[i % 4]) is \(w). The movie is \(pos[i % 4]) or \(neg[(i + 1) % 4]).")
        }
        try (rows.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("data.tsv"), atomically: true, encoding: .utf8)
        let tok = try BPETrainer(vocabSize: 300, minFrequency: 1).train(documents: corpus)
        try tok.save(directory: dir.appendingPathComponent("tok"))
        let model = try GPT(config: GPTConfig(layers: layers, dim: 16, heads: 2, context: 32, vocabSize: tok.vocabSize), seed: 7)
        try Checkpoint.save(to: dir.appendingPathComponent("model.safetensors"), model: model, step: 0, optimizer: nil,
                            state: nil, tokenizer: dir.appendingPathComponent("tok").path, tokensHash: nil,
                            dataDirectory: nil, validation: [])
        built = dir
        return dir
    }

    static func task(_ dir: URL) -> TaskSpec {
        TaskSpec(name: "tiny", train: DatasetSource(path: dir.appendingPathComponent("data.tsv").path, format: .tsv),
                 test: nil, testFraction: 0.25, seed: 0, prompt: " The movie is", words: ["great", "boring", "zzqx"],
                 classWords: [["boring", "sad"], ["great", "happy"]])
    }

    static func freshCache() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-cache-\(UUID().uuidString)")
    }
}
