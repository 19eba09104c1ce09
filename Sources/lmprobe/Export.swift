import ArgumentParser
import Foundation
import Model
import Text

/// `lmprobe export`: a checkpoint as a Hugging Face GPT-2 folder, or as a weights-only lmprobe checkpoint.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint as a Hugging Face GPT-2 folder (or a weights-only lmprobe checkpoint).",
        discussion: """
        --format hf (default): DIR gets config.json, model.safetensors, vocab.json, merges.txt and \
        tokenizer_config.json; transformers' GPT2LMHeadModel.from_pretrained(DIR) and \
        GPT2TokenizerFast.from_pretrained(DIR) load it and give lmprobe's logits (an untied Φ becomes lm_head with \
        tie_word_embeddings false). --format lmprobe: DIR/final.safetensors without optimizer state (loads \
        wherever --checkpoint is accepted; cannot be resumed). DIR must not exist or be empty; it appears complete \
        or not at all.

        Quad models: the export computes the same f and Φ, but its logits Φf are not log-probabilities, so \
        softmax(logits) is not the model's next-word distribution and generate() samples gibberish. config.json \
        marks it ("lmprobe_objective": "quad" and "lmprobe_warning") and export prints the warning.

        --float16 refuses a model holding a weight beyond float16's largest value, 65504 (it would be stored as \
        inf). --tokenizer must encode as the checkpoint's recorded tokenizer does (same tokens, merges and special \
        tokens) when that folder can be read. An imported model may have more vocabulary rows than its tokenizer \
        (a padded vocabulary): --format hf keeps them, --format lmprobe refuses.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case hf, lmprobe }

    @Option(help: "Checkpoint file, run folder or Hugging Face GPT-2 folder.") var checkpoint: String
    @Option(help: "Output folder (must not exist, or be empty).") var out: String
    @Option(help: "Output format: hf (Hugging Face GPT-2 folder) or lmprobe (weights-only checkpoint). Not a dataset format, as --format is in extract and compare.") var format: Format = .hf
    @Flag(help: "Store the weights as float16 (half the size; logits then agree to float16 rounding; refused for weights beyond 65504).") var float16 = false
    @Option(help: "Tokenizer folder (default: the one recorded in the checkpoint).") var tokenizer: String?

    func run() throws {
        try export()
    }

    func export() throws {
        // THE model loader: the weights and their tokenizer (recorded, or --tokenizer), vocabulary checked.
        let loaded = try ModelLoader(tokenizer: tokenizer).load(checkpoint)
        let ckpt = loaded.checkpoint, tok = loaded.tokenizer
        let rowsPast = ckpt.config.vocabSize - tok.vocabSize
        if rowsPast > 0, format == .lmprobe {
            throw CLIError("--format lmprobe: \(checkpoint) has \(rowsPast) vocabulary rows past its tokenizer's \(tok.vocabSize) tokens; an lmprobe checkpoint needs them equal (use --format hf)")
        }
        let outURL = URL(fileURLWithPath: out).standardizedFileURL
        let dtype: SafeTensors.DType = float16 ? .f16 : .f32
        switch format {
        case .hf:
            try HuggingFaceGPT2.writeFolder(ckpt.model, to: outURL, dtype: dtype, eosTokenId: tok.eotToken) { dir in
                try tok.saveForTransformers(directory: dir, modelMaxLength: ckpt.config.context)
            }
            print("wrote \(outURL.path): Hugging Face GPT-2 (\(ckpt.config), \(dtype.rawValue), "
                  + (ckpt.config.untiedPhi ? "untied lm_head" : "tied lm_head")
                  + (rowsPast > 0 ? ", \(rowsPast) vocabulary rows past the tokenizer, never produced by it" : "") + ")")
            if ckpt.config.objective == .quad { print("warning: \(HuggingFaceGPT2.quadNote)") }
        case .lmprobe:
            try HuggingFaceGPT2.prepareFolder(outURL) { dir in
                try tok.save(directory: dir.appendingPathComponent("tokenizer"))
                try Checkpoint.save(to: dir.appendingPathComponent("final.safetensors"), model: ckpt.model,
                                    step: ckpt.step, optimizer: nil, state: nil,
                                    tokenizer: outURL.appendingPathComponent("tokenizer").path,
                                    tokensHash: ckpt.tokensHash, dataDirectory: ckpt.metadata["data"],
                                    validation: ckpt.validation, dtype: dtype)
            }
            print("wrote \(outURL.path)/final.safetensors: weights-only lmprobe checkpoint (\(ckpt.config), \(dtype.rawValue))")
        }
    }
}
