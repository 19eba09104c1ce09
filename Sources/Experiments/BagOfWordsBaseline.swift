import Features
import Foundation
import Probes
import Support

/// The bag-of-words baseline in one call: TF-IDF (uni+bigrams, vocabulary from the training texts) → linear kernels
/// → the ridge probe on the Gram matrix (`RidgeClassifier.fit(gram:…)`) with α chosen by exact leave-one-out on the
/// training split → test accuracy.
/// Equivalent to scikit-learn's `TfidfVectorizer(ngram_range=(1, 2))` + `RidgeClassifierCV(alphas)`.
public struct BagOfWordsBaseline: Codable, Equatable, Sendable {
    public let trainCount: Int
    public let testCount: Int
    public let vocabularySize: Int
    /// The α grid searched (the requested one, extended past an end when α landed there).
    public let alphas: [Double]
    /// What the grid search did (`GridSearch.note`: extensions, or α still at an end of the limit); empty when α
    /// was interior to the requested grid.
    public let gridNote: String
    public let alpha: Double
    public let leaveOneOutAccuracy: Double
    public let testAccuracy: Double
    public let testPredictions: [Int]

    public static let defaultAlphas: [Double] = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]

    public init(trainTexts: [String], trainLabels: [Int], testTexts: [String], testLabels: [Int],
                alphas: [Double] = BagOfWordsBaseline.defaultAlphas,
                minimumDocumentFrequency: TfidfVectorizer.MinimumDocumentFrequency = .count(1),
                log: ((String) -> Void)? = nil) throws {
        guard trainTexts.count == trainLabels.count else {
            throw ExperimentError("bag of words: \(trainTexts.count) training texts but \(trainLabels.count) labels")
        }
        guard testTexts.count == testLabels.count else {
            throw ExperimentError("bag of words: \(testTexts.count) test texts but \(testLabels.count) labels")
        }
        var clock = Benchmark.now()
        func lap() -> Double { let t = Benchmark.now(); defer { clock = t }; return t - clock }
        let vectorizer = try TfidfVectorizer(fit: trainTexts, ngramRange: 1...2,
                                             minimumDocumentFrequency: minimumDocumentFrequency)
        let xTrain = vectorizer.transform(trainTexts), xTest = vectorizer.transform(testTexts)
        log?(String(format: "TF-IDF: %d + %d documents, %d terms (%.1f s)", trainTexts.count, testTexts.count,
                    vectorizer.vocabulary.count, lap()))
        let gram = try SparseMatrix.gram(xTrain, xTrain)
        log?(String(format: "Gram matrix %d × %d (%.1f s)", gram.rows, gram.cols, lap()))
        let classes = max(trainLabels.max() ?? 0, testLabels.max() ?? 0) + 1
        let model = try RidgeClassifier.fit(gram: gram, labels: trainLabels, classes: classes, alphas: alphas)
        log?(String(format: "ridge, exact LOO over %d α (%@ decomposition): α = %g (%.1f s: %@)", model.alphas.count,
                    model.decomposition.rawValue, model.alpha, lap(),
                    model.timings.map { String(format: "%@ %.1f", $0.phase, $0.seconds) }.joined(separator: ", ")))
        let predictions = try model.predict(crossKernel: try SparseMatrix.gram(xTest, xTrain))
        log?(String(format: "test predictions (%.1f s)", lap()))
        trainCount = trainTexts.count
        testCount = testTexts.count
        vocabularySize = vectorizer.vocabulary.count
        self.alphas = model.alphas
        gridNote = model.gridSearch?.note ?? ""
        alpha = model.alpha
        leaveOneOutAccuracy = model.leaveOneOutAccuracy
        testAccuracy = testTexts.isEmpty ? .nan
            : Double(zip(predictions, testLabels).filter { $0 == $1 }.count) / Double(testTexts.count)
        testPredictions = predictions
    }
}
