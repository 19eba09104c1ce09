#!/usr/bin/env python3
"""Makes the HF parity fixture for TextTests (run from this folder; needs `pip install tokenizers`).

Trains HF `tokenizers`' ByteLevelBPETokenizer (add_prefix_space=False, min_frequency=2, special token
<|endoftext|>, vocab 600) on train_corpus.txt, one document per blank-line-separated paragraph (as lmprobe's
`--doc-split blank-line` reads it), and writes:
  hf_bpe/vocab.json, hf_bpe/merges.txt  the trained tokenizer in GPT-2 format
  hf_bpe_min1/                          the same with min_frequency=1, vocab 900 (many count ties)
  hf_expected.json                      per line of encode_cases.txt (and the whole file): HF's pre-tokenised words
                                        (byte-level strings) and ids
"""
import json
import os

import tokenizers
from tokenizers import ByteLevelBPETokenizer, pre_tokenizers

here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, "train_corpus.txt"), encoding="utf-8").read()

docs, cur = [], []
for line in text.split("\n"):
    if line.strip() == "":
        if cur:
            docs.append("\n".join(cur))
            cur = []
    else:
        cur.append(line[:-1] if line.endswith("\r") else line)
if cur:
    docs.append("\n".join(cur))

tok = ByteLevelBPETokenizer(add_prefix_space=False)
tok.train_from_iterator(docs, vocab_size=600, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False)
out = os.path.join(here, "hf_bpe")
os.makedirs(out, exist_ok=True)
tok.save_model(out)

# A second run with min_frequency=1 exercises many count ties (pairs seen once), broken by id order.
tok1 = ByteLevelBPETokenizer(add_prefix_space=False)
tok1.train_from_iterator(docs, vocab_size=900, min_frequency=1, special_tokens=["<|endoftext|>"], show_progress=False)
out1 = os.path.join(here, "hf_bpe_min1")
os.makedirs(out1, exist_ok=True)
tok1.save_model(out1)

pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
cases_text = open(os.path.join(here, "encode_cases.txt"), encoding="utf-8").read()
cases = cases_text.split("\n") + [cases_text]
expected = {
    "tokenizers_version": tokenizers.__version__,
    "documents": len(docs),
    "cases": [{"text": c, "words": [w for w, _ in pre.pre_tokenize_str(c)], "ids": tok.encode(c).ids} for c in cases],
}
with open(os.path.join(here, "hf_expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
print(f"tokenizers {tokenizers.__version__}: {len(docs)} documents, vocab {tok.get_vocab_size()}, {len(cases)} cases")
