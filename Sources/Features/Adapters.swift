import Linalg
import Model
import Text

/// The trained GPT as the extractor sees it: f(s) is the final-LayerNorm output, Φ its output word embeddings.
extension GPT: ContextEncoder {
    public var embeddingDimension: Int { config.dim }
    public var vocabularySize: Int { config.vocabSize }
    public var maxContextLength: Int { config.context }
    public var outputEmbeddings: Matrix<Float> { phi }

    public func lastPositionFeatures(tokens: UnsafePointer<Int32>, batch: Int, length: Int) throws -> Matrix<Float> {
        try contextEmbeddings(tokens: Array(UnsafeBufferPointer(start: tokens, count: batch * length)), batch: batch,
                              length: length, positions: [Int](repeating: length - 1, count: batch))
    }
}

extension BPETokenizer: FeatureTokenizer {
    public func singleTokenID(_ text: String) -> Int? { id(forToken: text) }
}
