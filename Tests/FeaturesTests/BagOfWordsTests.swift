import XCTest
import Foundation
import Linalg
import Probes
@testable import Features

/// The committed scikit-learn reference (Fixtures/make_fixtures.py → tfidf_sklearn.json).
struct SklearnFixture: Decodable {
    struct Row: Decodable { let indices: [Int]; let values: [Double] }
    struct Case: Decodable {
        let options: [String: Double]
        let vocabulary: [String]
        let idf: [Double]
        let train_rows: [Row]
        let test_rows: [Row]
    }
    struct RidgeCase: Decodable {
        let labels: [Int]
        let alpha: Double
        let best_score: Double
        let decision: [[Double]]
        let predictions: [Int]
    }
    struct Ridge: Decodable { let alphas: [Double]; let multiclass: RidgeCase; let binary: RidgeCase }
    let sklearn_version: String
    let train: [String]
    let test: [String]
    let train_labels: [Int]
    let test_labels: [Int]
    let cases: [Case]
    let ridge: Ridge

    static func load() throws -> SklearnFixture {
        guard let url = Bundle.module.url(forResource: "tfidf_sklearn", withExtension: "json",
                                          subdirectory: "Fixtures") else {
            throw FeatureError.badInput("fixture tfidf_sklearn.json missing from the test bundle")
        }
        return try JSONDecoder().decode(SklearnFixture.self, from: Data(contentsOf: url))
    }
}

final class BagOfWordsTests: XCTestCase {
    func testTokensMatchPythonWordPattern() {
        XCTAssertEqual(BagOfWords.tokens("Don't stop-believing!! a b3 __x__ 3.14"),
                       ["don", "stop", "believing", "b3", "__x__", "14"])
        XCTAssertEqual(BagOfWords.tokens("ΣΊΣΥΦΟΣ ΣΑ"), ["σίσυφος", "σα"])       // final sigma as Python
        XCTAssertEqual(BagOfWords.tokens("cafe\u{301}s"), ["cafe"])             // a combining mark is not \w
        XCTAssertEqual(BagOfWords.tokens("½x Ⅻ 12½"), ["½x", "12½"])            // numeric characters are \w
        XCTAssertEqual(BagOfWords.ngrams(["a", "b", "c"], range: 1...2), ["a", "b", "c", "a b", "b c"])
        XCTAssertEqual(BagOfWords.ngrams(["a"], range: 1...3), ["a"])
    }

    func testVocabularyIdfAndRowsMatchScikitLearn() throws {
        let fx = try SklearnFixture.load()
        for c in fx.cases {
            let minDF: TfidfVectorizer.MinimumDocumentFrequency
            if let v = c.options["min_df"] { minDF = v == v.rounded() && v >= 1 ? .count(Int(v)) : .fraction(v) }
            else { minDF = .count(1) }
            let vec = try TfidfVectorizer(fit: fx.train, ngramRange: 1...2, minimumDocumentFrequency: minDF)
            XCTAssertEqual(vec.vocabulary, c.vocabulary, "min_df \(minDF)")
            XCTAssertEqual(vec.idf.count, c.idf.count)
            for (a, b) in zip(vec.idf, c.idf) { XCTAssertEqual(a, b, accuracy: 1e-12) }
            for (docs, rows) in [(fx.train, c.train_rows), (fx.test, c.test_rows)] {
                let x = vec.transform(docs)
                XCTAssertEqual(x.rows, rows.count)
                XCTAssertEqual(x.cols, c.vocabulary.count)
                for (i, r) in rows.enumerated() {
                    let mine = x.row(i)
                    XCTAssertEqual(mine.map { $0.column }, r.indices, "row \(i): \(docs[i])")
                    for (m, v) in zip(mine, r.values) { XCTAssertEqual(m.value, v, accuracy: 1e-12) }
                }
            }
        }
    }

    func testSparseGramMatchesDenseProducts() throws {
        let fx = try SklearnFixture.load()
        let vec = try TfidfVectorizer(fit: fx.train)
        let xtr = vec.transform(fx.train), xte = vec.transform(fx.test)
        let k = try SparseMatrix.gram(xtr, xtr), kt = try SparseMatrix.gram(xte, xtr)
        let dk = try BLAS.matmul(xtr.dense(), xtr.dense(), transB: true)
        let dkt = try BLAS.matmul(xte.dense(), xtr.dense(), transB: true)
        XCTAssertLessThan(try k.maxAbsDifference(dk), 1e-12)
        XCTAssertLessThan(try kt.maxAbsDifference(dkt), 1e-12)
        XCTAssertEqual(k[3, 3], 1, accuracy: 1e-12)           // unit rows
        XCTAssertEqual(xtr.transposed().transposed(), xtr)
        XCTAssertThrowsError(try SparseMatrix.gram(xtr, try TfidfVectorizer(fit: ["other words here"]).transform(["x"])))
    }

    func testVectorizerErrorsAndCodableRoundTrip() throws {
        XCTAssertThrowsError(try TfidfVectorizer(fit: []))
        XCTAssertThrowsError(try TfidfVectorizer(fit: ["a b c", "! ?"])) { XCTAssertTrue("\($0)".contains("empty vocabulary")) }
        XCTAssertThrowsError(try TfidfVectorizer(fit: ["good film"], minimumDocumentFrequency: .fraction(1.5)))
        let vec = try TfidfVectorizer(fit: ["good film", "bad film here"])
        let back = try JSONDecoder().decode(TfidfVectorizer.self, from: try JSONEncoder().encode(vec))
        XCTAssertEqual(back, vec)
        XCTAssertEqual(back.column(of: "bad film"), vec.column(of: "bad film"))
        XCTAssertEqual(vec.transform(["nothing known"]).nonZeroCount, 0)
        XCTAssertThrowsError(try SparseMatrix(rows: 1, cols: 2, rowStart: [0, 2], columns: [1, 0], values: [1, 1]))
    }
}

final class GramRidgeOnTfidfTests: XCTestCase {
    func testMatchesScikitLearnRidgeClassifierCVOnTfidf() throws {
        let fx = try SklearnFixture.load()
        let vec = try TfidfVectorizer(fit: fx.train)
        let xtr = vec.transform(fx.train), xte = vec.transform(fx.test)
        let k = try SparseMatrix.gram(xtr, xtr), kt = try SparseMatrix.gram(xte, xtr)
        for ref in [fx.ridge.multiclass, fx.ridge.binary] {
            for decomposition in [RidgeDecomposition.eigen, .tridiagonal, .band] {
            let model = try RidgeClassifier.fit(gram: k, labels: ref.labels, classes: ref.labels.max()! + 1,
                                                alphas: fx.ridge.alphas, decomposition: decomposition, extension: nil)
            XCTAssertEqual(model.alpha, ref.alpha)
            let chosen = model.looMeanSquaredError[model.chosenIndex]
            XCTAssertEqual(-chosen, ref.best_score, accuracy: 1e-9)
            let d = try model.decisionFunction(crossKernel: kt)
            XCTAssertEqual(d.cols, ref.decision[0].count)
            for i in 0..<d.rows { for t in 0..<d.cols { XCTAssertEqual(d[i, t], ref.decision[i][t], accuracy: 1e-9) } }
            XCTAssertEqual(try model.predict(crossKernel: kt), ref.predictions)
            }
        }
    }
}
