import Features
import Foundation
import Probes
@testable import Experiments
import XCTest

final class BagOfWordsBaselineTests: XCTestCase {
    /// The baseline is TF-IDF features + the ridge probe on their Gram matrix, nothing of its own (the sklearn
    /// equivalence of both parts is checked in FeaturesTests).
    func testBaselineIsTfidfPlusTheGramRidgeProbe() throws {
        let pos = ["great film", "a charming classic", "wonderful and moving", "brilliant acting, great story", "happy ending"]
        let neg = ["boring film", "a dull mess", "terrible and tedious", "awful acting, weak story", "sad waste"]
        let train = pos + neg, labels = pos.map { _ in 1 } + neg.map { _ in 0 }
        let test = ["a great and moving story", "dull, awful film"], testLabels = [1, 0]
        let alphas = [0.1, 1, 10]
        let b = try BagOfWordsBaseline(trainTexts: train, trainLabels: labels, testTexts: test, testLabels: testLabels,
                                       alphas: alphas)
        let vec = try TfidfVectorizer(fit: train)
        let xtr = vec.transform(train), xte = vec.transform(test)
        let model = try RidgeClassifier.fit(gram: try SparseMatrix.gram(xtr, xtr), labels: labels, classes: 2, alphas: alphas)
        XCTAssertEqual(b.alpha, model.alpha)
        XCTAssertEqual(b.testPredictions, try model.predict(crossKernel: try SparseMatrix.gram(xte, xtr)))
        XCTAssertEqual(b.testPredictions, testLabels)
        XCTAssertEqual(b.testAccuracy, 1)
        XCTAssertEqual(b.vocabularySize, vec.vocabulary.count)
        XCTAssertThrowsError(try BagOfWordsBaseline(trainTexts: train, trainLabels: [0, 1], testTexts: [], testLabels: []))
    }
}
