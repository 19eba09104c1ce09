import Foundation
import Linalg
import Support

// TF-IDF bag-of-words features: scikit-learn's `TfidfVectorizer(ngram_range=(1, 2))` defaults exactly — lowercase
// (Python's, with the final sigma), tokens are maximal runs of ≥ 2 Unicode word characters, idf = ln((1 + n)/(1 + df))
// + 1, raw counts × idf, rows scaled to unit L2 norm (matches scikit-learn to 1e-12 on the committed fixtures) — held
// as sparse rows, with the linear kernel (`SparseMatrix.gram`) the ridge probe's Gram entry point takes.

/// A sparse matrix in compressed sparse row form: row i holds `columns[rowStart[i]..<rowStart[i+1]]` (ascending)
/// with `values` alongside.
public struct SparseMatrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public let rowStart: [Int]
    public let columns: [Int32]
    public let values: [Double]

    public init(rows: Int, cols: Int, rowStart: [Int], columns: [Int32], values: [Double]) throws {
        guard rowStart.count == rows + 1, rowStart.first == 0, rowStart.last == columns.count,
              columns.count == values.count else {
            throw FeatureError.badArgument("sparse matrix: inconsistent CSR arrays for \(shapeString(rows, cols))")
        }
        for i in 0..<rows {
            guard rowStart[i] <= rowStart[i + 1] else {
                throw FeatureError.badArgument("sparse matrix: row \(i) has a negative length")
            }
            var previous = -1
            for k in rowStart[i]..<rowStart[i + 1] {
                let c = Int(columns[k])
                guard c > previous, c < cols else {
                    throw FeatureError.badArgument("sparse matrix: row \(i) column \(c) unsorted or out of 0..<\(cols)")
                }
                previous = c
            }
        }
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    /// Unchecked construction for arrays built correctly here.
    init(trusted rows: Int, cols: Int, rowStart: [Int], columns: [Int32], values: [Double]) {
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    public var nonZeroCount: Int { values.count }

    /// Row i as (column, value) pairs.
    public func row(_ i: Int) -> [(column: Int, value: Double)] {
        (rowStart[i]..<rowStart[i + 1]).map { (Int(columns[$0]), values[$0]) }
    }

    /// The dense matrix (for small problems and tests).
    public func dense() -> Matrix<Double> {
        let m = Matrix<Double>(rows: rows, cols: cols)
        for i in 0..<rows { for k in rowStart[i]..<rowStart[i + 1] { m[i, Int(columns[k])] = values[k] } }
        return m
    }

    /// Xᵀ in CSR form (equivalently X in CSC form), by a counting sort over columns.
    public func transposed() -> SparseMatrix {
        var start = [Int](repeating: 0, count: cols + 1)
        for c in columns { start[Int(c) + 1] += 1 }
        for j in 0..<cols { start[j + 1] += start[j] }
        var next = start
        var outColumns = [Int32](repeating: 0, count: columns.count)
        var outValues = [Double](repeating: 0, count: values.count)
        for i in 0..<rows {
            for k in rowStart[i]..<rowStart[i + 1] {
                let j = Int(columns[k]), dst = next[j]
                outColumns[dst] = Int32(i)
                outValues[dst] = values[k]
                next[j] = dst + 1
            }
        }
        return SparseMatrix(trusted: cols, cols: rows, rowStart: start, columns: outColumns, values: outValues)
    }

    /// A·Bᵀ as a dense Double matrix (rows of A × rows of B): the linear kernel between two sets of sparse rows.
    /// K = gram(X, X) is XXᵀ; gram(X_test, X_train) is the cross kernel. Each output row accumulates
    /// Σ_t a_it · (column t of B) through Bᵀ in CSR form; rows are split over `parallelChunks` workers.
    public static func gram(_ a: SparseMatrix, _ b: SparseMatrix) throws -> Matrix<Double> {
        guard a.cols == b.cols else {
            throw FeatureError.badArgument("sparse gram: A has \(a.cols) columns but B has \(b.cols)")
        }
        let out = Matrix<Double>(rows: a.rows, cols: b.rows)
        if a.rows == 0 || b.rows == 0 { return out }
        let bt = b.transposed()
        let base = out.pointer, ld = out.stride
        a.rowStart.withUnsafeBufferPointer { aStart in
        a.columns.withUnsafeBufferPointer { aCol in
        a.values.withUnsafeBufferPointer { aVal in
        bt.rowStart.withUnsafeBufferPointer { tStart in
        bt.columns.withUnsafeBufferPointer { tCol in
        bt.values.withUnsafeBufferPointer { tVal in
            parallelChunks(a.rows, minChunk: 16) { range in
                for i in range {
                    let acc = base + i &* ld
                    for k in aStart[i]..<aStart[i &+ 1] {
                        let t = Int(aCol[k]), v = aVal[k]
                        for q in tStart[t]..<tStart[t &+ 1] { acc[Int(tCol[q])] += v * tVal[q] }
                    }
                }
            }
        }}}}}}
        return out
    }
}

/// Tokens and n-grams exactly as scikit-learn's default word analyzer.
public enum BagOfWords {
    /// Python's `str.lower()`: full Unicode lowercase mappings, with the final-sigma rule (Σ → ς at the end of a
    /// word), which Swift's `lowercased()` does not apply.
    public static func pythonLowercase(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, s) in scalars.enumerated() {
            if s.value == 0x03A3, isFinalSigma(scalars, i) {
                out.append(Unicode.Scalar(0x03C2)!)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// Unicode's Final_Sigma condition: a cased letter before (skipping case-ignorables), none after.
    static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        var k = i + 1
        while k < s.count, s[k].properties.isCaseIgnorable { k += 1 }
        return !(k < s.count && s[k].properties.isCased)
    }

    /// Python `re`'s `\w` on str: letters (Lu Ll Lt Lm Lo), characters with a numeric value, and "_".
    @inline(__always)
    public static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 {
            let v = s.value
            return (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) || (v >= 0x30 && v <= 0x39) || v == 0x5F
        }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s.properties.numericType != nil
        }
    }

    /// scikit-learn's default tokens: the lowercased text's matches of `(?u)\b\w\w+\b`, i.e. maximal runs of two
    /// or more word characters.
    public static func tokens(_ text: String, lowercase: Bool = true) -> [String] {
        let t = lowercase ? pythonLowercase(text) : text
        var out = [String](), current = String.UnicodeScalarView(), length = 0
        func flush() {
            if length >= 2 { out.append(String(current)) }
            current = String.UnicodeScalarView()
            length = 0
        }
        for s in t.unicodeScalars {
            if isWordScalar(s) { current.append(s); length += 1 } else if length > 0 { flush() }
        }
        flush()
        return out
    }

    /// Word n-grams for n in `range`, ordered as scikit-learn's `_word_ngrams`: all n = lo first, then lo + 1, …
    public static func ngrams(_ tokens: [String], range: ClosedRange<Int>) -> [String] {
        var out = [String]()
        for n in range where n >= 1 && n <= tokens.count {
            if n == 1 { out.append(contentsOf: tokens); continue }
            for i in 0...(tokens.count - n) { out.append(tokens[i..<i + n].joined(separator: " ")) }
        }
        return out
    }
}

/// TF-IDF features as scikit-learn's `TfidfVectorizer(ngram_range=…)` with its other defaults: lowercase, the
/// `(?u)\b\w\w+\b` tokens, `smooth_idf=True` (idf_t = ln((1 + n)/(1 + df_t)) + 1), `sublinear_tf=False` (raw counts),
/// `norm="l2"`, `max_df=1.0`, and `min_df`. The vocabulary is the sorted (code point order) set of n-grams of the
/// fit documents that pass `min_df`; terms unseen at fit time are ignored by `transform`.
public struct TfidfVectorizer: Codable, Equatable, Sendable {
    /// scikit-learn's `min_df`: an absolute document count, or a fraction of the fit documents.
    public enum MinimumDocumentFrequency: Codable, Equatable, Sendable {
        case count(Int)
        case fraction(Double)
    }

    public let ngramRange: ClosedRange<Int>
    public let minimumDocumentFrequency: MinimumDocumentFrequency
    /// Terms in column order.
    public let vocabulary: [String]
    /// idf of each column.
    public let idf: [Double]
    public let fitDocuments: Int
    let index: [String: Int]

    public init(fit documents: [String], ngramRange: ClosedRange<Int> = 1...2,
                minimumDocumentFrequency: MinimumDocumentFrequency = .count(1)) throws {
        guard ngramRange.lowerBound >= 1 else {
            throw FeatureError.badArgument("ngram range must start at 1 or more, got \(ngramRange)")
        }
        guard !documents.isEmpty else { throw FeatureError.badInput("TF-IDF: no documents to fit") }
        let n = documents.count
        let minCount: Double
        switch minimumDocumentFrequency {
        case let .count(c):
            guard c >= 0 else { throw FeatureError.badArgument("min_df count must be ≥ 0, got \(c)") }
            minCount = Double(c)
        case let .fraction(f):
            guard f >= 0, f <= 1 else { throw FeatureError.badArgument("min_df fraction must be in [0, 1], got \(f)") }
            minCount = f * Double(n)
        }
        var df = [String: Int]()
        for doc in documents {
            for term in Set(BagOfWords.ngrams(BagOfWords.tokens(doc), range: ngramRange)) { df[term, default: 0] += 1 }
        }
        let kept = df.filter { Double($0.value) >= minCount }
        guard !kept.isEmpty else {
            throw FeatureError.badInput("TF-IDF: empty vocabulary (no term of 2+ word characters passes min_df)")
        }
        let terms = kept.keys.map { ($0, Array($0.utf8)) }
            .sorted { $0.1.lexicographicallyPrecedes($1.1) }.map { $0.0 }   // UTF-8 order = code point order
        vocabulary = terms
        idf = terms.map { Foundation.log(Double(1 + n) / Double(1 + kept[$0]!)) + 1 }
        var index = [String: Int](minimumCapacity: terms.count)
        for (i, t) in terms.enumerated() { index[t] = i }
        self.index = index
        self.ngramRange = ngramRange
        self.minimumDocumentFrequency = minimumDocumentFrequency
        fitDocuments = n
    }

    enum CodingKeys: String, CodingKey { case ngramRange, minimumDocumentFrequency, vocabulary, idf, fitDocuments }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ngramRange = try c.decode(ClosedRange<Int>.self, forKey: .ngramRange)
        minimumDocumentFrequency = try c.decode(MinimumDocumentFrequency.self, forKey: .minimumDocumentFrequency)
        vocabulary = try c.decode([String].self, forKey: .vocabulary)
        idf = try c.decode([Double].self, forKey: .idf)
        fitDocuments = try c.decode(Int.self, forKey: .fitDocuments)
        guard idf.count == vocabulary.count else {
            throw FeatureError.badArgument("TF-IDF: \(idf.count) idf values for \(vocabulary.count) terms")
        }
        var index = [String: Int]()
        for (i, t) in vocabulary.enumerated() { index[t] = i }
        self.index = index
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ngramRange, forKey: .ngramRange)
        try c.encode(minimumDocumentFrequency, forKey: .minimumDocumentFrequency)
        try c.encode(vocabulary, forKey: .vocabulary)
        try c.encode(idf, forKey: .idf)
        try c.encode(fitDocuments, forKey: .fitDocuments)
    }

    /// Column of a term, if it is in the vocabulary.
    public func column(of term: String) -> Int? { index[term] }

    /// The l2-normalised TF-IDF rows of `documents` (documents with no known term give an all-zero row).
    public func transform(_ documents: [String]) -> SparseMatrix {
        var rowStart = [0], columns = [Int32](), values = [Double]()
        for doc in documents {
            var counts = [Int: Int]()
            for term in BagOfWords.ngrams(BagOfWords.tokens(doc), range: ngramRange) {
                if let j = index[term] { counts[j, default: 0] += 1 }
            }
            let row = counts.sorted { $0.key < $1.key }.map { ($0.key, Double($0.value) * idf[$0.key]) }
            let norm = row.reduce(0.0) { $0 + $1.1 * $1.1 }.squareRoot()
            for (j, v) in row {
                columns.append(Int32(j))
                values.append(norm > 0 ? v / norm : v)
            }
            rowStart.append(columns.count)
        }
        return SparseMatrix(trusted: documents.count, cols: vocabulary.count, rowStart: rowStart, columns: columns,
                            values: values)
    }
}
