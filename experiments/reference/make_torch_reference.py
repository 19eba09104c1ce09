#!/usr/bin/env python3
"""PyTorch reference for lmprobe's model, objectives and optimiser (llm.c's test_gpt2.c, for lmprobe).

    .venv-fixtures/bin/python experiments/reference/make_torch_reference.py    # run by hand (needs torch), not by CI

Writes Tests/ModelTests/Fixtures/torch-reference/, which Tests/ModelTests/PyTorchReferenceTests.swift checks:

  ce.safetensors      a small GPT with cross-entropy and tied Φ (= wte), in lmprobe's checkpoint format
                      (format lmprobe-checkpoint-1, JSON config, the tensors of `ParameterLayout`)
  quad.safetensors    the same shape with the Quad objective, an untied Φ and output scale c = 0.5
  batch.json          the token batch (inputs, targets: B × T ids) and the training hyper-parameters
  reference.safetensors
      ce.logits (B·T, V), ce.loss (1), ce.grad.NAME for every parameter tensor NAME (wte's gradient includes Φ's,
      as Φ is wte), train.loss (10): the loss before each of 10 steps, train.grad_norm (10): the gradient norm
      before clipping, train.lr (10), train.final.NAME: every parameter after the 10 steps;
      quad.loss (1), quad.grad.NAME for every parameter tensor of the Quad model (phi included).

The model is written out op by op in float64 from lmprobe's float32 initial weights, so the reference has no
float32 rounding of its own: what the Swift test measures is lmprobe's error. Architecture (Sources/Model/GPT.swift,
Ops.swift): x = wte[tokens] + wpe[t]; per block x += proj(attn(LN1(x))), x += fcproj(gelu_tanh(fc(LN2(x)))) with
causal softmax(q·kᵀ/√hs) per head (qkv = [q | k | v], each head a contiguous hs-slice), LayerNorm ε = 1e-5
(biased variance); f(s) = c·LN_f(x). Objectives (Objectives.swift), mean over the B·T positions:
  ce:   ℓ = −log softmax(Φf)_w
  quad: ℓ = −fᵀφ_w + ½‖Φf‖²  (here with the V-sized product Φf itself, not lmprobe's Gram form ½fᵀ(ΦᵀΦ)f)
A training step (Trainer.swift, Optimizer.swift): g = ∇ mean loss; n = ‖g‖₂ over the whole parameter block (tied Φ
counted once); if n > clip: g ← g·clip/n (torch.nn.utils.clip_grad_norm_ would divide by n + 1e-6 instead);
torch.optim.AdamW(betas (0.9, 0.95), eps 1e-8) with weight decay on the matrices (wte, wpe, the four weight
matrices of each block, phi) and none on LayerNorm gains and biases; lr from lmprobe's schedule: linear warmup
lr·(s+1)/warmup for s < warmup, then cosine from lr to min_lr over the remaining steps.

Weights are random and larger than lmprobe's initialisation (std 0.1; LayerNorm gains 1 + 0.1·N(0,1), biases
0.1·N(0,1)) so a transposed or misplaced tensor changes every output far beyond the tolerances. d = 20 with 4 heads
(hs = 5) so lmprobe's 8-wide SIMD loops and their scalar tails both run.
"""
import json, math, os, shutil

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "torch-reference")

L, C, H, T, V, B = 2, 20, 4, 8, 64, 4
TRAIN = {"steps": 10, "lr": 1e-2, "min_lr": 1e-3, "warmup": 3, "weight_decay": 0.1, "clip": 1.0}


def layout(untied_phi):
    """lmprobe's ParameterLayout: (name, shape, is_matrix) in block order."""
    t = [("wte", [V, C], True), ("wpe", [T, C], True), ("blocks.ln1.weight", [L, C], False),
         ("blocks.ln1.bias", [L, C], False), ("blocks.attn.qkv.weight", [L, 3 * C, C], True),
         ("blocks.attn.qkv.bias", [L, 3 * C], False), ("blocks.attn.proj.weight", [L, C, C], True),
         ("blocks.attn.proj.bias", [L, C], False), ("blocks.ln2.weight", [L, C], False),
         ("blocks.ln2.bias", [L, C], False), ("blocks.mlp.fc.weight", [L, 4 * C, C], True),
         ("blocks.mlp.fc.bias", [L, 4 * C], False), ("blocks.mlp.proj.weight", [L, C, 4 * C], True),
         ("blocks.mlp.proj.bias", [L, C], False), ("lnf.weight", [C], False), ("lnf.bias", [C], False)]
    return t + ([("phi", [V, C], True)] if untied_phi else [])


def random_weights(untied_phi, seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape, _ in layout(untied_phi):
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        gain = name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "lnf.weight"
        w[name] = (1 + 0.1 * x if gain else 0.1 * x).float()   # float32 values: exactly what lmprobe loads
    return w


def features(p, tokens, scale):
    """f(s) = c·LN_f(x) at every position: (B, T, C), float64."""
    Bn, Tn = tokens.shape
    hs = C // H
    x = p["wte"][tokens] + p["wpe"][:Tn]
    mask = torch.ones(Tn, Tn, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), p["blocks.ln1.weight"][l], p["blocks.ln1.bias"][l], eps=1e-5)
        qkv = h @ p["blocks.attn.qkv.weight"][l].T + p["blocks.attn.qkv.bias"][l]
        q, k, v = (t.view(Bn, Tn, H, hs).transpose(1, 2) for t in qkv.split(C, dim=-1))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + y @ p["blocks.attn.proj.weight"][l].T + p["blocks.attn.proj.bias"][l]
        h = F.layer_norm(x, (C,), p["blocks.ln2.weight"][l], p["blocks.ln2.bias"][l], eps=1e-5)
        u = F.gelu(h @ p["blocks.mlp.fc.weight"][l].T + p["blocks.mlp.fc.bias"][l], approximate="tanh")
        x = x + u @ p["blocks.mlp.proj.weight"][l].T + p["blocks.mlp.proj.bias"][l]
    return scale * F.layer_norm(x, (C,), p["lnf.weight"], p["lnf.bias"], eps=1e-5)


def phi(p):
    return p["phi"] if "phi" in p else p["wte"]


def ce_loss(p, inputs, targets):
    logits = features(p, inputs, 1.0) @ phi(p).T                  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)), logits


def quad_loss(p, inputs, targets, scale):
    f = features(p, inputs, scale).reshape(-1, C)                  # (N, C)
    P = phi(p)
    per_row = -(f * P[targets.reshape(-1)]).sum(-1) + 0.5 * ((f @ P.T) ** 2).sum(-1)
    return per_row.mean()


def leaf(w):
    return {k: v.double().clone().requires_grad_(True) for k, v in w.items()}


def lr_at(step):
    s = TRAIN
    if step < s["warmup"]:
        return s["lr"] * (step + 1) / s["warmup"]
    span = max(1, s["steps"] - s["warmup"])
    progress = min(1.0, (step - s["warmup"]) / span)
    return s["min_lr"] + 0.5 * (s["lr"] - s["min_lr"]) * (1 + math.cos(math.pi * progress))


def train(w, inputs, targets):
    p = leaf(w)
    decay = [p[n] for n, _, m in layout(False) if m]
    no_decay = [p[n] for n, _, m in layout(False) if not m]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": TRAIN["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=TRAIN["lr"], betas=(0.9, 0.95), eps=1e-8)
    losses, norms, lrs = [], [], []
    for step in range(TRAIN["steps"]):
        opt.zero_grad()
        loss, _ = ce_loss(p, inputs, targets)
        loss.backward()
        norm = math.sqrt(sum(float((t.grad ** 2).sum()) for t in p.values()))
        if norm > TRAIN["clip"]:
            for t in p.values():
                t.grad.mul_(TRAIN["clip"] / norm)
        lr = lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        losses.append(float(loss.detach())); norms.append(norm); lrs.append(lr)
    return p, losses, norms, lrs


def checkpoint(path, w, objective, untied_phi, scale):
    config = {"layers": L, "dim": C, "heads": H, "context": T, "vocab_size": V, "objective": objective,
              "untied_phi": untied_phi, "output_scale": scale}
    meta = {"format": "lmprobe-checkpoint-1", "config": json.dumps(config), "step": "0", "validation": "[]"}
    save_file({k: v.numpy() for k, v in w.items()}, path, metadata=meta)


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    g = torch.Generator().manual_seed(7)
    inputs = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    ref = {}

    ce = random_weights(False, seed=1)
    checkpoint(os.path.join(OUT, "ce.safetensors"), ce, "ce", False, 1.0)
    p = leaf(ce)
    loss, logits = ce_loss(p, inputs, targets)
    loss.backward()
    ref["ce.logits"] = f32(logits.reshape(-1, V))
    ref["ce.loss"] = f32(loss.reshape(1))
    for name, t in p.items():
        ref["ce.grad." + name] = f32(t.grad)

    p, losses, norms, lrs = train(ce, inputs, targets)
    ref["train.loss"] = np.array(losses, dtype=np.float32)
    ref["train.grad_norm"] = np.array(norms, dtype=np.float32)
    ref["train.lr"] = np.array(lrs, dtype=np.float32)
    for name, t in p.items():
        ref["train.final." + name] = f32(t)

    quad = random_weights(True, seed=2)
    checkpoint(os.path.join(OUT, "quad.safetensors"), quad, "quad", True, 0.5)
    p = leaf(quad)
    loss = quad_loss(p, inputs, targets, 0.5)
    loss.backward()
    ref["quad.loss"] = f32(loss.reshape(1))
    for name, t in p.items():
        ref["quad.grad." + name] = f32(t.grad)

    save_file(ref, os.path.join(OUT, "reference.safetensors"),
              metadata={"made_by": "experiments/reference/make_torch_reference.py", "torch": torch.__version__})
    json.dump({"inputs": inputs.tolist(), "targets": targets.tolist(), "train": TRAIN},
              open(os.path.join(OUT, "batch.json"), "w"), indent=1)
    print("wrote", OUT, "losses", [round(x, 4) for x in losses], "grad norms", [round(x, 3) for x in norms])


if __name__ == "__main__":
    main()
