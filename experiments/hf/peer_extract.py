#!/usr/bin/env python3
"""The peer of `lmprobe bench extract --checkpoint DIR --peer-python PY`: the paper's code path on the same inputs.

transformers GPT2LMHeadModel on torch (CPU, --threads threads), inputs in their given order in batches of 64,
right-padded with an attention mask; per sentence f (last real position's final hidden state), p = softmax of the
logits there over all V words (kept as float16, as lmprobe writes p.npy) and Φp. Prints one JSON object.

    python peer_extract.py HF_DIR INPUTS.json [--threads 2] [--batch 64]
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
            out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            last = torch.tensor([len(x) - 1 for x in batch])
            rows = torch.arange(len(batch))
            f = out.hidden_states[-1][rows, last]
            p = torch.softmax(out.logits[rows, last], dim=-1)
            phip = p @ phi
            outs.append((f.numpy(), p.to(torch.float16).numpy(), phip.numpy()))
    seconds = time.perf_counter() - start
    tokens = sum(len(x) for x in seqs)
    print(json.dumps({"peer": f"transformers {__import__('transformers').__version__} torch {torch.__version__} "
                              f"threads {a.threads} batch {a.batch} padded",
                      "sentences_per_s": len(seqs) / seconds, "tokens_per_s": tokens / seconds,
                      "seconds": seconds, "sentences": len(seqs)}))


if __name__ == "__main__":
    main()
