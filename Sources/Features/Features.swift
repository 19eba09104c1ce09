/// Features — the paper's measurement instrument: from a trained softmax LM and a labelled dataset, the feature
/// families Saunshi, Malladi & Arora (ICLR 2021) compare, written as NumPy `.npy` files.
///
/// For a context s (the input text, optionally inside a prompt template such as `"{text} This movie is"`), with
/// f(s) ∈ ℝ^d the final-LayerNorm output at the **last real token** and Φ ∈ ℝ^{d×V} the output word embeddings:
///
/// | file | shape | definition |
/// |---|---|---|
/// | `f.npy` | n × d | f(s) |
/// | `p.npy` | n × V | p_f(s) = softmax(Φᵀf(s)) (float32, or float16 with `pDtype: "<f2"`) |
/// | `phip.npy` | n × d | Φp_f(s) = Σ_w p_f(w∣s) φ_w, the conditional mean |
/// | `subset_logits.npy` | n × k | φ_wᵀf(s) for the k single-token variants of the word list |
/// | `subset_probs.npy` | n × k | p_f(w∣s) for those variants (probabilities under the full softmax) |
/// | `labels.npy` | n | class indices (int64) |
/// | `manifest.json` | | hashes of checkpoint and dataset, prompt, word → token ids, shapes, dtypes, timings |
///
/// Each word w of the list is expanded to the variants `" w"`, `"w"`, `"w "` that are single tokens (as the
/// paper did); duplicates are dropped and words with no single-token variant are recorded as missing.
///
/// Other readouts (`ExtractionOptions.pooling` / `.layer`, `extract --pool mean --layer k`) write only `f.npy`
/// (and labels): the mean over every real token of the input, prompt tokens included, and/or the residual stream
/// after block k (0 = embeddings) instead of the final LayerNorm output; the manifest records `pooling`, `layer`
/// and `readout`. p_f, Φp_f and the subsets stay defined by the next-word distribution at the last token only.
///
/// Guarantees: inputs longer than the model context are truncated **from the left of the text**, so the prompt
/// is always kept; inputs are batched by exact token length, so no computation is spent on padding and the
/// feature row is always the last real token; rows are written to preallocated `.partial` files as they are
/// computed (n × V never has to fit in memory) and renamed only at the end, so an interrupted run leaves no file
/// that looks complete. The softmax is computed in Float32 with max-subtraction (relative error ~1e-6 per entry).
///
/// The other feature family needs no model: TF-IDF bag-of-words rows (`TfidfVectorizer`, `SparseMatrix`), exactly
/// scikit-learn's `TfidfVectorizer(ngram_range=(1, 2))`, with their linear kernel `SparseMatrix.gram` for the ridge
/// probe's Gram entry point.
import Linalg
