import Analysis
import ArgumentParser
import Features
import Foundation
import Linalg
import Probes
import Support
import Text

/// `lmprobe bench analysis`: timings of the theory checks, the bag-of-words baseline and the leakage scan at
/// realistic sizes, on seeded synthetic inputs (no data files needed). Benchmarks live here, not in the test tree.
struct BenchAnalysis: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analysis",
        abstract: "Seconds for the theory checks (softmax statistics, linearity, log Z), TF-IDF + kernel ridge, and the leakage scan.",
        discussion: "Sizes: f 8000 × 384 with Φ 8192 × 384; 8000 + 1800 synthetic documents over 20,000 words; 10,000 sentences scanned in ~30 MB of text."
    )

    enum Part: String, ExpressibleByArgument, CaseIterable { case theory, bow, leakage }

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .upToNextOption, help: "Parts to time (\(Part.allCases.map(\.rawValue).joined(separator: ", "))).")
    var parts: [Part] = Part.allCases

    func run() throws {
        global.apply()
        print("threads \(Threads.count)")
        for part in parts {
            switch part {
            case .theory: try theory()
            case .bow: try bagOfWords()
            case .leakage: leakage()
            }
        }
    }

    func time(_ name: String, _ body: () throws -> Void) rethrows {
        let t0 = Benchmark.now()
        try body()
        print(String(format: "%-48@ %8.3f s", name as NSString, Benchmark.now() - t0))
    }

    static func randomMatrix(_ rows: Int, _ cols: Int, scale: Double, seed: UInt64) -> Matrix<Float> {
        var rng = SeededRandom(seed: seed)
        return Matrix<Float>(rows: rows, cols: cols) { _, _ in Float(rng.normal() * scale) }
    }

    func theory() throws {
        let n = 8000, d = 384, v = 8192
        let f = Self.randomMatrix(n, d, scale: 0.05, seed: 1), phi = Self.randomMatrix(v, d, scale: 1, seed: 2)
        var stats: (conditionalMean: Matrix<Float>, logPartition: [Double])!
        try time("softmax statistics n=\(n) d=\(d) V=\(v)") { stats = try SoftmaxStatistics.compute(f: f, phi: phi) }
        try time("linearity fit n=\(n) d=\(d)") { _ = try LinearityCheck.run(f: f, conditionalMean: stats.conditionalMean) }
        try time("log Z fit, 32 PCs, n=\(n) d=\(d)") { _ = try LogPartitionCheck.run(theta: f, logPartition: stats.logPartition) }
    }

    func bagOfWords() throws {
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

    func leakage() {
        var rng = SeededRandom(seed: 4)
        let words = (0..<5000).map { "w\($0)" } + [",", ".", "n't", "'s", "-LRB-", "-RRB-"]
        func sentence(_ k: Int) -> String { (0..<k).map { _ in words[rng.int(below: words.count)] }.joined(separator: " ") }
        let docs = (0..<30000).map { _ in sentence(170) }      // ~30 MB
        let eval = (0..<10000).map { _ in sentence(3 + rng.int(below: 30)) }
        var index: SentenceIndex!
        time("leakage index 10k sentences") { index = SentenceIndex(sentences: eval) }
        time("leakage scan \(docs.reduce(0) { $0 + $1.utf8.count } / 1_000_000) MB") { index.scan(documents: docs) }
        print("leaked \(index.report().leaked)")
    }
}
