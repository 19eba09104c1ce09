import Foundation
import XCTest
@testable import Features
import Linalg
import Model
import Support

/// One forward pass yields every readout (issue 25): the readouts of the combined pass are bit-for-bit those of one
/// pass per readout, so features, and every number computed from them, are unchanged by the sharing.
final class OnePassExtractionTests: XCTestCase {
    let vocab = ["<unk>", " the", " movie", " is", " great", " boring", " This", "great", " plot", " sad", " fun",
                 " a", " film", "boring ", " was", " not"]

    func tinyGPT(layers: Int = 3) throws -> GPT {
        try GPT(config: GPTConfig(layers: layers, dim: 16, heads: 2, context: 12, vocabSize: vocab.count), seed: 11)
    }

    func bits(_ m: Matrix<Float>) -> [UInt32] {
        var out: [UInt32] = []
        for i in 0..<m.rows { for j in 0..<m.cols { out.append(m[i, j].bitPattern) } }
        return out
    }

    func testOnePassReadoutsEqualSeparatePassReadoutsBitForBit() throws {
        for L in [1, 3] {
            let model = try tinyGPT(layers: L)
            var rng = SeededRandom(seed: 3)
            let B = 3, T = 7
            let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: vocab.count)) }
            var readouts: [(layer: Int?, meanOverPositions: Bool)] = [(nil, false), (nil, true)]
            for k in 0...L { readouts += [(k, false), (k, true)] }
            // Every readout alone, every readout together, and the subsets compare uses (f + f_mean; f + layers).
            let sets: [[(layer: Int?, meanOverPositions: Bool)]] = readouts.map { [$0] } + [readouts, Array(readouts.prefix(2)),
                      [readouts[0]] + readouts.dropFirst(2).filter { !$0.meanOverPositions }]
            for set in sets {
                let together = try tokens.withUnsafeBufferPointer {
                    try model.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, readouts: set)
                }
                XCTAssertEqual(together.count, set.count)
                for (r, got) in zip(set, together) {
                    let alone = try tokens.withUnsafeBufferPointer {
                        try model.sequenceFeatures(tokens: $0.baseAddress!, batch: B, length: T, layer: r.layer,
                                                   meanOverPositions: r.meanOverPositions)
                    }
                    XCTAssertEqual(bits(got), bits(alone), "L=\(L) layer \(String(describing: r.layer)) mean \(r.meanOverPositions) in a set of \(set.count)")
                }
            }
        }
    }


    /// `extract(targets:)` over f(s) with every family, f_mean and two layers writes the same bytes as one extract
    /// per folder, in one pass instead of four (counted), with labels.npy and manifest.json written once per folder.
    func testOnePassExtractionWritesTheSameFilesAsOneExtractionPerFolder() throws {
        let model = try tinyGPT()
        let tok = WordTokenizer(vocab: vocab)
        let texts = [" the movie is great", " boring", " the plot is sad and a film is fun", " great fun", " a film",
                     " the film was not fun", " sad"]
        let labels = [1, 0, 0, 1, 1, 0, 0]
        var main = ExtractionOptions()
        main.prompt = try PromptTemplate(" This movie is")
        main.words = ["great", "boring"]
        main.classWords = [["boring"], ["great"]]
        main.maxBatchTokens = 16
        var mean = main
        mean.words = []; mean.classWords = nil; mean.pooling = .mean
        var layer0 = mean, layer2 = mean
        layer0.pooling = .last; layer0.layer = 0
        layer2.pooling = .last; layer2.layer = 2
        let optionsList = [main, mean, layer0, layer2]
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-onepass-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let ex = FeatureExtractor(model: model, tokenizer: tok)
        let prov = Provenance(checkpoint: "t", checkpointSHA256: "0", tokenizer: "t", dataset: "inline", datasetSHA256: "0", split: "train")
        let before = WorkCount.snapshot()
        let targets = optionsList.enumerated().map { ExtractionTarget(directory: root.appendingPathComponent("one/\($0)"), options: $1) }
        let together = try ex.extract(texts: texts, labels: labels, classNames: ["neg", "pos"], targets: targets, provenance: prov)
        let after = WorkCount.snapshot()
        XCTAssertEqual(after[.extractionPass]! - before[.extractionPass]!, 1)
        XCTAssertEqual(after[.labelsWrite]! - before[.labelsWrite]!, 4)
        XCTAssertEqual(after[.manifestWrite]! - before[.manifestWrite]!, 4)
        for (i, o) in optionsList.enumerated() {
            let dir = root.appendingPathComponent("alone/\(i)")
            let alone = try ex.extract(texts: texts, labels: labels, classNames: ["neg", "pos"], to: dir, options: o, provenance: prov)
            XCTAssertEqual(Set(alone.files.keys), Set(together[i].files.keys))
            XCTAssertEqual(alone.zeroShotAccuracy, together[i].zeroShotAccuracy)
            XCTAssertEqual(alone.readout, together[i].readout)
            for name in alone.files.keys {
                let a = try Data(contentsOf: dir.appendingPathComponent(name + ".npy"))
                let b = try Data(contentsOf: targets[i].directory.appendingPathComponent(name + ".npy"))
                XCTAssertEqual(a, b, "folder \(i) \(name).npy")
            }
        }
        XCTAssertEqual(WorkCount.snapshot()[.extractionPass]! - after[.extractionPass]!, 4)
    }

    func testTargetsThatTokenizeDifferentlyAreRefused() throws {
        let ex = FeatureExtractor(model: try tinyGPT(), tokenizer: WordTokenizer(vocab: vocab))
        var a = ExtractionOptions(), b = ExtractionOptions()
        b.prompt = try PromptTemplate(" This movie is")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-onepass-\(UUID().uuidString)")
        let prov = Provenance(checkpoint: "t", checkpointSHA256: "0", tokenizer: "t", dataset: "inline", datasetSHA256: "0", split: "train")
        a.pooling = .mean
        XCTAssertThrowsError(try ex.extract(texts: [" the"], labels: [0], classNames: ["x"],
                                            targets: [.init(directory: root.appendingPathComponent("a"), options: a),
                                                      .init(directory: root.appendingPathComponent("b"), options: b)],
                                            provenance: prov)) { e in
            XCTAssertTrue("\(e)".contains("one prompt"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.path))
    }
}
