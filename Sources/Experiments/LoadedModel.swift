import Features
import Model

// THE model loader (`ModelLoader`, `LoadedModel`) lives in Model; this is the Features side of a loaded model.
extension LoadedModel {
    /// A feature extractor over this model and tokenizer.
    public var extractor: FeatureExtractor { FeatureExtractor(model: checkpoint.model, tokenizer: tokenizer) }
}
