import Linalg

/// What extraction needs from a trained softmax language model.
public protocol ContextEncoder: AnyObject {
    /// d, the width of f(s).
    var embeddingDimension: Int { get }
    /// V.
    var vocabularySize: Int { get }
    /// Longest input the model accepts (its context length T).
    var maxContextLength: Int { get }
    /// Φ as a V × d matrix: row w is φ_w.
    var outputEmbeddings: Matrix<Float> { get }
    /// f(s) at the last position of each of `batch` sequences of exactly `length` tokens.
    /// - tokens: (batch, length) row-major token ids. Returns (batch × d).
    func lastPositionFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int) throws -> Matrix<Float>
    /// Hidden states per sequence (batch × d each), every readout from ONE forward pass: readout i is `layer` nil =
    /// f(s), else the residual stream after block `layer` (0 = embeddings); at the last position or, with
    /// `meanOverPositions`, averaged over all `length` positions.
    func sequenceFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int,
                          readouts: [(layer: Int?, meanOverPositions: Bool)]) throws -> [Matrix<Float>]
    /// Number of blocks L (valid layers are 0...L).
    var blockCount: Int { get }
}

/// What extraction needs from a tokenizer.
public protocol FeatureTokenizer {
    func encode(_ text: String) -> [Int]
    /// The id of the single token whose text is exactly `text` (e.g. " great"), or nil.
    func singleTokenID(_ text: String) -> Int?
}
