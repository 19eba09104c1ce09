import Model
import Text

/// The trained GPT as the extractor sees it: f(s) is the final-LayerNorm output, Φ its output word embeddings.
extension GPT: ContextEncoder {}  // the members live in Model (GPT.swift), which cannot import Features

extension BPETokenizer: FeatureTokenizer {
    public func singleTokenID(_ text: String) -> Int? { id(forToken: text) }
}

/// Token-id datasets (`*.ids`) are their own tokenisation: the extractor reads them through the identity tokenizer.
extension TokenIDText: FeatureTokenizer {}
