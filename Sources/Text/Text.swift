/// # Text — bytes to tokens, and labelled text
///
/// **Tokenizer.** GPT-2's byte-level BPE (`BPETokenizer`): text is pre-tokenised by GPT-2's rule (`PreTokenizer`,
/// hand-written), each word's bytes start as 256 single-byte tokens, and learned merges are applied by rank.
/// Guaranteed: `decodeBytes(encode(bytes: x)) == x` for every byte string x (invalid UTF-8 included); ids equal
/// HF `tokenizers`' ByteLevel BPE on the same files (checked against a committed fixture, and on the full IMDb
/// corpus: 8,099,506 ids identical); `vocab.json` and
/// `merges.txt` are GPT-2's own format both ways. `encode` is pure and thread-safe; `encodeBatch`/`encodeCorpus` run
/// on `Threads.count` workers, each caching word encodings, with identical output.
///
/// **Training.** `BPETrainer` replicates HF's `BpeTrainer`: the merge with the largest word-weighted pair count
/// Σ_w c(w)·n_ab(w) is taken, ties to the smallest id pair; counts are updated incrementally (only neighbours of a
/// merge change) with a lazy max-heap. Deterministic: same corpus, same vocabulary, independent of thread count.
///
/// **Corpus.** `Corpus.tokenize` reads text/CSV/JSONL documents, strips `<br />`, de-duplicates, drops documents
/// containing excluded sentences (`SentenceIndex`, the same test as `compare`'s leakage count), splits train/validation by document with a fixed seed, and
/// writes little-endian uint16/uint32 token files (each document preceded by `<|endoftext|>`) with `tokens.json`;
/// `TokenFile` memory-maps them and validates size and id range on open.
///
/// **Labelled data.** `LabelledDataset` reads TSV/CSV (RFC 4180, own reader)/JSONL/class folders, maps labels to class indices in a stored
/// order, optionally undoes PTB tokenisation (`PTB`), and makes fixed-seed stratified splits. Every malformed input is
/// a one-line `TextError` naming file and line.
public enum Text {}
