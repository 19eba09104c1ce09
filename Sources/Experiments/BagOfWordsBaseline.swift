import Features
import Foundation
import Linalg
import Probes

/// The bag-of-words baseline in one call: TF-IDF (uni+bigrams, vocabulary from the training texts) → linear kernels
/// → the ridge probe on the Gram matrix (`RidgeClassifier.fit(gram:…)`) with α chosen by exact leave-one-out on the
/// training split → test accuracy.
/// Equivalent to scikit-learn's `TfidfVectorizer(ngram_range=(1, 2))` + `RidgeClassifierCV(alphas)`.
public struct BagOfWordsBaseline: Codable, Equatable, Sendable {
    public let trainCount: Int
    public let testCount: Int
    public let vocabularySize: Int
    public let alphas: [Double]
    public let alpha: Double
    public let leaveOneOutAccuracy: Double
    public let testAccuracy: Double
    public let testPredictions: [Int]

    public static let defaultAlphas: [Double] = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]

    public init(trainTexts: [String], trainLabels: [Int], testTexts: [String], testLabels: [Int],
                alphas: [Double] = BagOfWordsBaseline.defaultAlphas,
                minimumDocumentFrequency: TfidfVectorizer.MinimumDocumentFrequency = .count(1)) throws {
        guard trainTexts.count == trainLabels.count else {
            throw ExperimentError("bag of words: \(trainTexts.count) training texts but \(trainLabels.count) labels")
        }
        guard testTexts.count == testLabels.count else {
            throw ExperimentError("bag of words: \(testTexts.count) test texts but \(testLabels.count) labels")
        }
        let vectorizer = try TfidfVectorizer(fit: trainTexts, ngramRange: 1...2,
                                             minimumDocumentFrequency: minimumDocumentFrequency)
        let xTrain = vectorizer.transform(trainTexts), xTest = vectorizer.transform(testTexts)
        let classes = max(trainLabels.max() ?? 0, testLabels.max() ?? 0) + 1
        let model = try RidgeClassifier.fit(gram: try SparseMatrix.gram(xTrain, xTrain), labels: trainLabels,
                                            classes: classes, alphas: alphas)
        let predictions = try model.predict(crossKernel: try SparseMatrix.gram(xTest, xTrain))
        trainCount = trainTexts.count
        testCount = testTexts.count
        vocabularySize = vectorizer.vocabulary.count
        self.alphas = alphas
        alpha = model.alpha
        leaveOneOutAccuracy = model.leaveOneOutAccuracy
        testAccuracy = testTexts.isEmpty ? .nan
            : Double(zip(predictions, testLabels).filter { $0 == $1 }.count) / Double(testTexts.count)
        testPredictions = predictions
    }
}
