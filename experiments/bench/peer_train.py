#!/usr/bin/env python3
"""The peer of `lmprobe bench train`: the same GPT (pre-LN GPT-2 block, GELU-tanh MLP, tied or untied output
embedding Φ, learned positions) trained with cross-entropy in PyTorch eager mode on CPU: forward, loss, backward,
gradient norm, AdamW (lr 1e-4, weight decay 0.1) — the step lmprobe's benchmark times. Attention is
`scaled_dot_product_attention(is_causal=True)` (PyTorch's own fused CPU kernel), so the peer is eager PyTorch at
its best, not a naive attention.

    python peer_train.py [--layers 4 --dim 256 --heads 4 --context 128 --vocab-size 8192 --batch 16]
                         [--steps 6] [--threads 2]

Prints one JSON object: tokens_per_s and ms_per_step (median of the timed steps after 2 warm-up steps).
"""
import argparse, json, math, os, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.fcproj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers, d, h, context, vocab, untied):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(layers))
        self.lnf = nn.LayerNorm(d)
        self.phi = nn.Linear(d, vocab, bias=False)
        if not untied:
            self.phi.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x)
        logits = self.phi(self.lnf(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--untied-phi", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = GPT(a.layers, a.dim, a.heads, a.context, a.vocab_size, a.untied_phi)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    x = torch.randint(0, a.vocab_size, (a.batch, a.context))
    y = torch.randint(0, a.vocab_size, (a.batch, a.context))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)   # the global norm, as lmprobe computes it
        opt.step()

    step(); step()
    times = []
    for _ in range(max(1, a.steps)):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    n = a.batch * a.context
    print(json.dumps({"peer": "pytorch eager", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "tokens_per_s": n / median, "ms_per_step": median * 1e3,
                      "params": sum(p.numel() for p in model.parameters()),
                      "layers": a.layers, "dim": a.dim, "heads": a.heads, "context": a.context,
                      "vocab_size": a.vocab_size, "batch": a.batch}, sort_keys=True))


if __name__ == "__main__":
    main()
