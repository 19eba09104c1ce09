import XCTest
import Foundation
import Linalg
@testable import Analysis
import Features
import Probes
import Text
import Support

/// Timings at realistic sizes. Skipped unless LMPROBE_BENCH=1 (run them in a release build:
/// `swift build -c release --build-tests -Xswiftc -enable-testing && LMPROBE_BENCH=1 swift test -c release
///  --skip-build --filter AnalysisBenchmarks`).
final class AnalysisBenchmarks: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["LMPROBE_BENCH"] == "1", "set LMPROBE_BENCH=1 to run")
    }

    func time(_ name: String, _ body: () throws -> Void) rethrows {
        let t0 = Benchmark.now()
        try body()
        print(String(format: "bench %@: %.3f s", name, Benchmark.now() - t0))
    }

    func testSoftmaxStatisticsAndTheoryChecks() throws {
        let n = 8000, d = 384, v = 8192
        let f = randomMatrix(n, d, scale: 0.05, seed: 1), phi = randomMatrix(v, d, scale: 1, seed: 2)
        try time("softmax statistics n=\(n) d=\(d) V=\(v)") { _ = try SoftmaxStatistics.compute(f: f, phi: phi) }
        let stats = try SoftmaxStatistics.compute(f: f, phi: phi)
        try time("linearity fit n=\(n) d=\(d)") { _ = try LinearityCheck.run(f: f, conditionalMean: stats.conditionalMean) }
        try time("log Z fit, 32 PCs, n=\(n) d=\(d)") {
            _ = try LogPartitionCheck.run(theta: f, logPartition: stats.logPartition)
        }
    }

    func testTfidfGramAndKernelRidge() throws {
        var rng = SeededRandom(seed: 3)
        let words = (0..<20000).map { "w\($0)" }
        func doc() -> String {   // Zipf-ish word choice, ~20 words
            (0..<(10 + rng.int(below: 20))).map { _ in words[Int(pow(rng.uniform(), 3) * Double(words.count))] }
                .joined(separator: " ")
        }
        let train = (0..<8000).map { _ in doc() }, test = (0..<1800).map { _ in doc() }
        let labels = (0..<train.count).map { _ in rng.int(below: 2) }
        var vec: TfidfVectorizer!
        try time("tf-idf fit 8000 docs") { vec = try TfidfVectorizer(fit: train) }
        var xtr: SparseMatrix!, xte: SparseMatrix!
        time("tf-idf transform 9800 docs") { xtr = vec.transform(train); xte = vec.transform(test) }
        print("vocabulary \(vec.vocabulary.count), nnz \(xtr.nonZeroCount)")
        var k: Matrix<Double>!, kt: Matrix<Double>!
        try time("sparse gram 8000×8000") { k = try SparseMatrix.gram(xtr, xtr) }
        try time("sparse cross gram 1800×8000") { kt = try SparseMatrix.gram(xte, xtr) }
        var model: DualRidgeModel!
        for decomposition in [RidgeDecomposition.band, .tridiagonal] {
            try time("gram ridge LOO (\(decomposition)), 9 alphas, n=8000") {
                model = try RidgeClassifier.fit(gram: k, labels: labels, classes: 2,
                                                alphas: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100],
                                                decomposition: decomposition)
            }
        }
        try time("kernel ridge predict 1800") { _ = try model.predict(crossKernel: kt) }
    }

    func testLeakageScan() throws {
        var rng = SeededRandom(seed: 4)
        let words = (0..<5000).map { "w\($0)" } + [",", ".", "n't", "'s", "-LRB-", "-RRB-"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<30000).map { _ in sentence(170) }      // ~30 MB
        let eval = (0..<10000).map { _ in sentence(3 + rng.int(below: 30)) }
        var index: SentenceIndex!
        time("leakage index 10k sentences") { index = SentenceIndex(sentences: eval) }
        time("leakage scan \(docs.reduce(0) { $0 + $1.utf8.count } / 1_000_000) MB") {
            index.scan(documents: docs)
        }
        print("leaked \(index.report().leaked)")
    }
}
