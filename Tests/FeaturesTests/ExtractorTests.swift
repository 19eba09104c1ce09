import Foundation
import XCTest
@testable import Features
import Linalg
import Support

/// A word-level tokenizer over a fixed vocabulary (test double with exact, known behaviour).
struct WordTokenizer: FeatureTokenizer {
    let vocab: [String]
    func encode(_ text: String) -> [Int] {
        // " w" tokens: every word keeps its leading space, like GPT-2's pre-tokeniser.
        var out: [Int] = []
        var word = ""
        func flush() { if !word.isEmpty { out.append(vocab.firstIndex(of: word) ?? 0); word = "" } }
        for ch in text {
            if ch == " " { flush(); word = " " } else { word.append(ch) }
        }
        flush()
        return out
    }
    func singleTokenID(_ text: String) -> Int? { vocab.firstIndex(of: text) }
}

/// A tiny "LM" whose f depends on the whole prefix in a known way: f = normalised Σ_t (t+1)·E[token_t].
final class PrefixModel: ContextEncoder {
    let E: Matrix<Float>, phi: Matrix<Float>
    let maxContextLength: Int
    var calls: [(batch: Int, length: Int)] = []
    init(vocab: Int, dim: Int, context: Int) {
        var rng = SeededRandom(seed: 5)
        E = Matrix(rows: vocab, cols: dim) { _, _ in Float(rng.normal()) }
        phi = Matrix(rows: vocab, cols: dim) { _, _ in Float(rng.normal()) }
        maxContextLength = context
    }
    var embeddingDimension: Int { E.cols }
    var vocabularySize: Int { E.rows }
    var outputEmbeddings: Matrix<Float> { phi }
    func features(_ ids: [Int32]) -> [Float] {
        var f = [Float](repeating: 0, count: E.cols)
        for (t, id) in ids.enumerated() { for j in 0..<E.cols { f[j] += Float(t + 1) * E[Int(id), j] } }
        let norm = f.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return f.map { $0 / max(norm, 1e-6) }
    }
    func lastPositionFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int) throws -> Matrix<Float> {
        calls.append((batch, length))
        let out = Matrix<Float>(rows: batch, cols: E.cols)
        for b in 0..<batch {
            let f = features(Array(UnsafeBufferPointer(start: tokens + b * length, count: length)))
            for j in 0..<E.cols { out[b, j] = f[j] }
        }
        return out
    }
    /// Layer k's state is the final one scaled by k + 2 (so a wrong layer or pooling shows in the values).
    var blockCount: Int { 3 }
    func sequenceFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int,
                          readouts: [(layer: Int?, meanOverPositions: Bool)]) throws -> [Matrix<Float>] {
        calls.append((batch, length))
        return readouts.map { sequenceFeatures(tokens: tokens, batch: batch, length: length, layer: $0.layer,
                                               meanOverPositions: $0.meanOverPositions) }
    }
    func sequenceFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int, layer: Int?,
                          meanOverPositions: Bool) -> Matrix<Float> {
        let scale = Float(layer.map { $0 + 2 } ?? 1)
        let out = Matrix<Float>(rows: batch, cols: E.cols)
        for b in 0..<batch {
            let ids = Array(UnsafeBufferPointer(start: tokens + b * length, count: length))
            let positions = meanOverPositions ? Array(1...length) : [length]
            for t in positions {
                let f = features(Array(ids[0..<t]))
                for j in 0..<E.cols { out[b, j] += scale * f[j] / Float(positions.count) }
            }
        }
        return out
    }
}

final class ExtractorTests: XCTestCase {
    let vocab = ["<unk>", " the", " movie", " is", " great", " boring", " This", "great", " plot", " sad", " fun",
                 " a", " film", "boring "]

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("lmprobe-feat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func provenance() -> Provenance {
        Provenance(checkpoint: "test", checkpointSHA256: "0", tokenizer: "test", dataset: "inline", datasetSHA256: "0",
                   split: "train")
    }

    func testPromptTemplates() throws {
        let tok = WordTokenizer(vocab: vocab)
        let p = try PromptTemplate(" This movie is")
        XCTAssertEqual(p.prefix, "")
        XCTAssertEqual(p.encode(" the plot", maxLength: 10, with: tok), [1, 8, 6, 2, 3])
        // Left truncation keeps the prompt and the end of the text.
        XCTAssertEqual(p.encode(" the great plot", maxLength: 4, with: tok), [8, 6, 2, 3])
        XCTAssertNil(p.encode(" the", maxLength: 2, with: tok))
        let q = try PromptTemplate(" a{text} film")
        XCTAssertEqual(q.encode(" great fun sad", maxLength: 4, with: tok), [11, 10, 9, 12])
        XCTAssertThrowsError(try PromptTemplate("{text}{text}"))
    }

    func testWordSubsetVariants() {
        let ws = WordSubset(words: ["great", "boring", "awful"], tokenizer: WordTokenizer(vocab: vocab))
        XCTAssertEqual(ws.variants.map(\.text), [" great", "great", " boring", "boring "])
        XCTAssertEqual(ws.tokenIDs, [4, 7, 5, 13])
        XCTAssertEqual(ws.missingWords, ["awful"])
    }

    func testLengthBatchesNeverMixLengths() {
        let lengths = [3, 5, 3, 3, 5, 1, 3]
        let batches = FeatureExtractor.lengthBatches(lengths, maxBatchTokens: 6, maxBatch: 10)
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<7))
        for b in batches { XCTAssertEqual(Set(b.map { lengths[$0] }).count, 1) }
        for b in batches { XCTAssertLessThanOrEqual(b.count * lengths[b[0]], max(6, lengths[b[0]])) }
    }

    func testExtractionMatchesNaiveRecomputationInDatasetOrder() throws {
        let tok = WordTokenizer(vocab: vocab)
        let model = PrefixModel(vocab: vocab.count, dim: 6, context: 6)
        let texts = [" the movie is great", " boring", " the plot is sad and a film is fun", " great fun", " a film"]
        let labels = [1, 0, 0, 1, 1]
        var opts = ExtractionOptions()
        opts.prompt = try PromptTemplate(" This movie is")
        opts.words = ["great", "boring"]
        opts.classWords = [["boring"], ["great"]]
        opts.pDtype = "<f2"
        opts.maxBatchTokens = 16
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ex = FeatureExtractor(model: model, tokenizer: tok)
        let manifest = try ex.extract(texts: texts, labels: labels, classNames: ["neg", "pos"], to: dir, options: opts,
                                      provenance: provenance())
        XCTAssertEqual(manifest.n, 5)
        XCTAssertEqual(manifest.truncated, 2)
        XCTAssertEqual(manifest.files["p"]?.shape, [5, vocab.count])
        XCTAssertEqual(manifest.files["p"]?.dtype, "<f2")
        XCTAssertEqual(manifest.files["p"]?.checksum, try Digest.checksum(file: dir.appendingPathComponent("p.npy")))
        XCTAssertTrue(model.calls.allSatisfy { $0.batch * $0.length <= 16 || $0.batch == 1 })

        let f: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("f.npy"))
        let p: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("p.npy"))
        let phip: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("phip.npy"))
        let sl: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("subset_logits.npy"))
        let sp: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("subset_probs.npy"))
        XCTAssertEqual(try NPY.readIntegers(dir.appendingPathComponent("labels.npy")), labels)
        var zeroShot = 0
        for (i, text) in texts.enumerated() {
            let ids = opts.prompt.encode(text, maxLength: 6, with: tok)!
            XCTAssertEqual(Array(ids.suffix(3)), [6, 2, 3], "prompt kept for input \(i)")
            let fRef = model.features(ids)
            var logits = [Double](repeating: 0, count: vocab.count)
            for w in 0..<vocab.count { for j in 0..<6 { logits[w] += Double(fRef[j]) * Double(model.phi[w, j]) } }
            let m = logits.max()!
            let z = logits.reduce(0) { $0 + exp($1 - m) }
            let pRef = logits.map { exp($0 - m) / z }
            for j in 0..<6 {
                XCTAssertEqual(f[i, j], fRef[j], accuracy: 1e-6)
                let cm = (0..<vocab.count).reduce(0.0) { $0 + pRef[$1] * Double(model.phi[$1, j]) }
                XCTAssertEqual(Double(phip[i, j]), cm, accuracy: 1e-5)
            }
            for w in 0..<vocab.count { XCTAssertEqual(Double(p[i, w]), pRef[w], accuracy: 1e-3) }  // float16
            for (c, id) in [4, 7, 5, 13].enumerated() {
                XCTAssertEqual(Double(sl[i, c]), logits[id], accuracy: 1e-5)
                XCTAssertEqual(Double(sp[i, c]), pRef[id], accuracy: 1e-6)
            }
            let pred = pRef[5] + pRef[13] > pRef[4] + pRef[7] ? 0 : 1
            if pred == labels[i] { zeroShot += 1 }
        }
        XCTAssertEqual(manifest.zeroShotAccuracy!, Double(zeroShot) / 5, accuracy: 1e-12)
        let read = try FeatureFolder.manifest(dir)
        XCTAssertEqual(read.wordSubset?.tokenIDs, [4, 7, 5, 13])
        let loaded = try LabelledFeatures.load(folder: dir, feature: .phip)
        XCTAssertEqual(loaded.features.rows, 5)
        XCTAssertEqual(loaded.labels, labels)
        XCTAssertEqual(loaded.classNames, read.classNames)
    }

    func testMeanPoolingAndLayerReadoutWriteOnlyF() throws {
        let tok = WordTokenizer(vocab: vocab)
        let model = PrefixModel(vocab: vocab.count, dim: 5, context: 8)
        let texts = [" the movie is great", " boring", " a film is fun"]
        var opts = ExtractionOptions()
        opts.prompt = try PromptTemplate(" This movie is")
        opts.pooling = .mean
        opts.layer = 1
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ex = FeatureExtractor(model: model, tokenizer: tok)
        let m = try ex.extract(texts: texts, labels: [1, 0, 1], classNames: ["neg", "pos"], to: dir, options: opts,
                               provenance: provenance())
        XCTAssertEqual(Set(m.files.keys), ["f", "labels"])
        XCTAssertEqual(m.pooling, .mean)
        XCTAssertEqual(m.layer, 1)
        XCTAssertEqual(m.readout, "residual stream after block 1, mean over all tokens (prompt included)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("phip.npy").path))
        let f: Matrix<Float> = try NPY.readMatrix(dir.appendingPathComponent("f.npy"))
        for (i, text) in texts.enumerated() {
            let ids = opts.prompt.encode(text, maxLength: 8, with: tok)!
            for j in 0..<5 {
                // mean over every prefix (prompt positions included) of layer 1's state (scale 3)
                let ref = (1...ids.count).map { 3 * model.features(Array(ids[0..<$0]))[j] }.reduce(0, +) / Float(ids.count)
                XCTAssertEqual(f[i, j], ref, accuracy: 1e-5)
            }
        }
        let read = try FeatureFolder.manifest(dir)
        XCTAssertEqual(read.effectivePooling, .mean)
        XCTAssertEqual(read.layer, 1)

        opts.words = ["great"]
        XCTAssertThrowsError(try ex.extract(texts: texts, labels: [1, 0, 1], classNames: ["neg", "pos"], to: dir,
                                            options: opts, provenance: provenance())) { e in
            XCTAssertTrue("\(e)".contains("--words"), "\(e)")
        }
        opts.words = []
        opts.layer = 4
        XCTAssertThrowsError(try ex.extract(texts: texts, labels: [1, 0, 1], classNames: ["neg", "pos"], to: dir,
                                            options: opts, provenance: provenance())) { e in
            XCTAssertTrue("\(e)".contains("--layer 4"), "\(e)")
        }
    }

    func testBadInputsAreRefusedAndLeaveNoFiles() throws {
        let tok = WordTokenizer(vocab: vocab)
        let model = PrefixModel(vocab: vocab.count, dim: 4, context: 3)
        let ex = FeatureExtractor(model: model, tokenizer: tok)
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var opts = ExtractionOptions()
        XCTAssertThrowsError(try ex.extract(texts: [" great", ""], labels: [0, 1], classNames: ["a", "b"], to: dir,
                                            options: opts, provenance: provenance())) { e in
            XCTAssertTrue("\(e)".contains("input 2"), "\(e)")
        }
        XCTAssertThrowsError(try ex.extract(texts: [" great"], labels: [0, 1], classNames: ["a", "b"], to: dir,
                                            options: opts, provenance: provenance()))
        opts.prompt = try PromptTemplate(" This movie is a film")
        XCTAssertThrowsError(try ex.extract(texts: [" great"], labels: [0], classNames: ["a", "b"], to: dir,
                                            options: opts, provenance: provenance())) { e in
            XCTAssertTrue("\(e)".contains("longer than 3 tokens"), "\(e)")
        }
        opts = ExtractionOptions()
        opts.words = ["zebra"]
        XCTAssertThrowsError(try ex.extract(texts: [" great"], labels: [0], classNames: ["a", "b"], to: dir,
                                            options: opts, provenance: provenance())) { e in
            XCTAssertTrue("\(e)".contains("--words"), "\(e)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertTrue(leftovers.filter { $0.hasSuffix(".npy") }.isEmpty, "\(leftovers)")
    }

    func testSoftmaxRowsMatchesReference() {
        var rng = SeededRandom(seed: 2)
        let x = Matrix<Float>(rows: 7, cols: 37) { _, _ in Float(rng.normal() * 10) }
        let ref = x.copy()
        softmaxRows(x.pointer, rows: 7, cols: 37, stride: 37)
        for i in 0..<7 {
            let row = (0..<37).map { Double(ref[i, $0]) }
            let m = row.max()!, z = row.reduce(0) { $0 + exp($1 - m) }
            for j in 0..<37 { XCTAssertEqual(Double(x[i, j]), exp(row[j] - m) / z, accuracy: 1e-6) }
        }
    }
}
