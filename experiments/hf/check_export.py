#!/usr/bin/env python3
"""Checks that transformers loads an `lmprobe export` folder and reproduces lmprobe's features (run by hand).

    python check_export.py EXPORT_DIR FEATURE_DIR DATA.tsv [--tol 1e-4]

EXPORT_DIR: from `lmprobe export --checkpoint RUN --out EXPORT_DIR`; FEATURE_DIR: from `lmprobe extract --checkpoint
RUN --dataset DATA.tsv --out FEATURE_DIR` (no prompt, float32 p). For every row of DATA.tsv (label<TAB>text) the
text is tokenised by GPT2TokenizerFast.from_pretrained(EXPORT_DIR) and run through
GPT2LMHeadModel.from_pretrained(EXPORT_DIR); f = last hidden state at the last token, p = softmax(logits) there.
Prints the max differences from f.npy / p.npy and exits non-zero beyond --tol. experiments/hf/check_export.sh
runs the whole thing (tied and untied Φ, float32 and float16).
"""
import argparse, json, sys

import numpy as np
import torch
from transformers import GPT2LMHeadModel, GPT2TokenizerFast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export")
    ap.add_argument("features")
    ap.add_argument("data")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    try:   # compute in float32 whatever the stored dtype (transformers ≥ 4.56 says dtype, older torch_dtype)
        model = GPT2LMHeadModel.from_pretrained(a.export, dtype=torch.float32).eval()
    except TypeError:
        model = GPT2LMHeadModel.from_pretrained(a.export, torch_dtype=torch.float32).eval()
    tok = GPT2TokenizerFast.from_pretrained(a.export)
    cfg = json.load(open(a.export + "/config.json"))
    texts = [line.rstrip("\n").split("\t", 1)[1] for line in open(a.data, encoding="utf-8") if line.strip()]
    f_ref, p_ref = np.load(a.features + "/f.npy"), np.load(a.features + "/p.npy").astype(np.float32)
    assert len(tok) == cfg["vocab_size"], (len(tok), cfg["vocab_size"])
    df = dp = 0.0
    with torch.no_grad():
        for i, t in enumerate(texts):
            ids = tok(t)["input_ids"][-cfg["n_positions"]:]
            out = model(torch.tensor([ids]), output_hidden_states=True)
            f = out.hidden_states[-1][0, -1].numpy()
            p = torch.softmax(out.logits[0, -1], -1).numpy()
            df = max(df, float(np.abs(f - f_ref[i]).max()))
            dp = max(dp, float(np.abs(p - p_ref[i]).max()))
    tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    print(json.dumps({"export": a.export, "texts": len(texts), "tied": tied,
                      "tie_word_embeddings": cfg["tie_word_embeddings"], "max_abs_diff_f": df,
                      "max_abs_diff_p": dp, "tolerance": a.tol}))
    if tied != cfg["tie_word_embeddings"]:
        sys.exit("lm_head tying does not follow tie_word_embeddings")
    if df > a.tol or dp > a.tol:
        sys.exit("differences exceed the tolerance")


if __name__ == "__main__":
    main()
