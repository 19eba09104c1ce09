#!/usr/bin/env python3
"""The peer of `lmprobe bench extract --checkpoint DIR --peer-python PY`, on the same inputs.

transformers GPT2LMHeadModel on torch (CPU, --threads threads), inputs in their given order in batches of 64,
right-padded with an attention mask; per sentence f (last real position's final hidden state), p = softmax of the
logits there over all V words (kept as float16, as lmprobe writes p.npy) and Φp. Prints one JSON object.
--logits every-position (default) is the paper's code path: the model's own forward, which computes the logits at
every position (B×T×V) and keeps one row per sentence. --logits last-position is what a careful user writes: the
transformer body (model.transformer), then lm_head at each sentence's last real position only (B×V).

    python peer_extract.py HF_DIR INPUTS.json [--threads 2] [--batch 64] [--logits every-position|last-position]
"""
import argparse, json, time

import numpy as np
import torch
from transformers import GPT2LMHeadModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("inputs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--logits", choices=["every-position", "last-position"], default="every-position")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seqs = json.load(open(a.inputs))
    model = GPT2LMHeadModel.from_pretrained(a.model).eval()
    phi = model.lm_head.weight.detach()
    start = time.perf_counter()
    outs = []
    with torch.no_grad():
        for s in range(0, len(seqs), a.batch):
            batch = seqs[s:s + a.batch]
            T = max(len(x) for x in batch)
            ids = torch.zeros((len(batch), T), dtype=torch.long)
            mask = torch.zeros((len(batch), T), dtype=torch.long)
            for i, x in enumerate(batch):
                ids[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            last = torch.tensor([len(x) - 1 for x in batch])
            rows = torch.arange(len(batch))
            if a.logits == "every-position":
                out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                f = out.hidden_states[-1][rows, last]
                logits = out.logits[rows, last]
            else:
                f = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state[rows, last]
                logits = model.lm_head(f)
            p = torch.softmax(logits, dim=-1)
            phip = p @ phi
            outs.append((f.numpy(), p.to(torch.float16).numpy(), phip.numpy()))
    seconds = time.perf_counter() - start
    tokens = sum(len(x) for x in seqs)
    print(json.dumps({"peer": f"transformers {__import__('transformers').__version__} torch {torch.__version__} "
                              f"threads {a.threads} batch {a.batch} padded, logits at {a.logits}",
                      "logits": a.logits,
                      "sentences_per_s": len(seqs) / seconds, "tokens_per_s": tokens / seconds,
                      "seconds": seconds, "sentences": len(seqs)}))


if __name__ == "__main__":
    main()
