import XCTest
import Foundation
import Linalg
@testable import Analysis

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
            throw AnalysisError.emptyInput("fixture tfidf_sklearn.json missing from the test bundle")
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

final class KernelRidgeClassifierTests: XCTestCase {
    /// Reference: the primal ridge with an unpenalised intercept, solved densely (centre, posv on d × d).
    func primalRidge(_ x: Matrix<Double>, _ y: Matrix<Double>, alpha: Double) throws -> (Matrix<Double>, [Double], [Double]) {
        let xm = columnMeans(x), ym = columnMeans(y)
        let xc = x.copy(), yc = y.copy()
        subtractRowVector(xc, xm); subtractRowVector(yc, ym)
        let g = try BLAS.matmul(xc, xc, transA: true)
        for i in 0..<g.rows { g[i, i] += alpha }
        let w = try LAPACK.posv(g, try BLAS.matmul(xc, yc, transA: true))
        return (w, xm, ym)
    }

    func primalPredict(_ x: Matrix<Double>, _ model: (Matrix<Double>, [Double], [Double])) throws -> Matrix<Double> {
        let (w, xm, ym) = model
        let xc = x.copy(); subtractRowVector(xc, xm)
        let p = try BLAS.matmul(xc, w)
        for i in 0..<p.rows { for t in 0..<p.cols { p[i, t] += ym[t] } }
        return p
    }

    func targets(_ labels: [Int], _ classes: [Int]) -> Matrix<Double> {
        let t = classes.count == 2 ? 1 : classes.count
        return Matrix<Double>(rows: labels.count, cols: t) { i, c in
            t == 1 ? (labels[i] == classes[1] ? 1 : -1) : (labels[i] == classes[c] ? 1 : -1)
        }
    }

    func checkAgainstDirectSolve(n: Int, d: Int, classes: Int, seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let x = Matrix<Double>(rows: n, cols: d) { _, _ in rng.normal() }
        let labels = (0..<n).map { i in i < classes ? i : rng.int(below: classes) }
        let xt = Matrix<Double>(rows: 7, cols: d) { _, _ in rng.normal() }
        let alphas = [0.03, 0.5, 4.0, 30.0]
        let model = try KernelRidgeClassifier(gram: try BLAS.matmul(x, x, transB: true), labels: labels, alphas: alphas)
        let y = targets(labels, model.classes)
        // Leave-one-out by literally refitting without row i.
        for (a, alpha) in alphas.enumerated() {
            var sse = 0.0
            for i in 0..<n {
                let keep = (0..<n).filter { $0 != i }
                let fit = try primalRidge(gatherRows(x, keep), gatherRows(y, keep), alpha: alpha)
                let p = try primalPredict(gatherRows(x, [i]), fit)
                for t in 0..<y.cols { sse += (y[i, t] - p[0, t]) * (y[i, t] - p[0, t]) }
            }
            XCTAssertEqual(model.leaveOneOutMeanSquaredError[a], sse / Double(n * y.cols), accuracy: 1e-9,
                           "n \(n) d \(d) alpha \(alpha)")
        }
        let bestIndex = model.leaveOneOutMeanSquaredError.indices.min { model.leaveOneOutMeanSquaredError[$0] < model.leaveOneOutMeanSquaredError[$1] }!
        XCTAssertEqual(model.alpha, alphas[bestIndex])
        let reference = try primalPredict(xt, try primalRidge(x, y, alpha: model.alpha))
        let decision = try model.decisionFunction(crossKernel: try BLAS.matmul(xt, x, transB: true))
        XCTAssertLessThan(try decision.maxAbsDifference(reference), 1e-9)
    }

    func testLeaveOneOutAndDecisionMatchDirectSolveWhenNBelowD() throws {
        try checkAgainstDirectSolve(n: 18, d: 30, classes: 3, seed: 1)
        try checkAgainstDirectSolve(n: 16, d: 25, classes: 2, seed: 2)
    }

    func testLeaveOneOutAndDecisionMatchDirectSolveWhenNAboveD() throws {
        try checkAgainstDirectSolve(n: 30, d: 5, classes: 3, seed: 3)
        try checkAgainstDirectSolve(n: 24, d: 4, classes: 2, seed: 4)
    }

    func testMatchesScikitLearnRidgeClassifierCVOnTfidf() throws {
        let fx = try SklearnFixture.load()
        let vec = try TfidfVectorizer(fit: fx.train)
        let xtr = vec.transform(fx.train), xte = vec.transform(fx.test)
        let k = try SparseMatrix.gram(xtr, xtr), kt = try SparseMatrix.gram(xte, xtr)
        for ref in [fx.ridge.multiclass, fx.ridge.binary] {
            let model = try KernelRidgeClassifier(gram: k, labels: ref.labels, alphas: fx.ridge.alphas)
            XCTAssertEqual(model.alpha, ref.alpha)
            let chosen = model.leaveOneOutMeanSquaredError[fx.ridge.alphas.firstIndex(of: model.alpha)!]
            XCTAssertEqual(-chosen, ref.best_score, accuracy: 1e-9)
            let d = try model.decisionFunction(crossKernel: kt)
            XCTAssertEqual(d.cols, ref.decision[0].count)
            for i in 0..<d.rows { for t in 0..<d.cols { XCTAssertEqual(d[i, t], ref.decision[i][t], accuracy: 1e-9) } }
            XCTAssertEqual(try model.predict(crossKernel: kt), ref.predictions)
        }
    }

    func testBagOfWordsBaselineEndToEndMatchesScikitLearn() throws {
        let fx = try SklearnFixture.load()
        let ref = fx.ridge.multiclass
        let b = try BagOfWordsBaseline(trainTexts: fx.train, trainLabels: ref.labels, testTexts: fx.test,
                                       testLabels: fx.test_labels, alphas: fx.ridge.alphas)
        XCTAssertEqual(b.alpha, ref.alpha)
        XCTAssertEqual(b.testPredictions, ref.predictions)
        let expected = Double(zip(ref.predictions, fx.test_labels).filter { $0 == $1 }.count) / Double(fx.test.count)
        XCTAssertEqual(b.testAccuracy, expected)
        XCTAssertEqual(b.vocabularySize, fx.cases[0].vocabulary.count)
        XCTAssertThrowsError(try BagOfWordsBaseline(trainTexts: fx.train, trainLabels: [0, 1], testTexts: [], testLabels: []))
    }

    func testBadInputThrows() throws {
        let k = Matrix<Double>.identity(3)
        XCTAssertThrowsError(try KernelRidgeClassifier(gram: k, labels: [0, 0, 0]))
        XCTAssertThrowsError(try KernelRidgeClassifier(gram: k, labels: [0, 1]))
        XCTAssertThrowsError(try KernelRidgeClassifier(gram: k, labels: [0, 1, 0], alphas: [-1]))
        let model = try KernelRidgeClassifier(gram: k, labels: [0, 1, 0])
        XCTAssertThrowsError(try model.decisionFunction(crossKernel: Matrix<Double>(rows: 2, cols: 4)))
    }
}
