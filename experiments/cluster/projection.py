#!/usr/bin/env python3
"""Scaling projection for data-parallel `lmprobe pretrain` over MPI (docs/cluster.md).

Model of one optimizer step with N nodes (one rank per node, weak scaling: each rank keeps its micro-batch):
  t_step(N) = t_compute + t_allreduce(N)      lmprobe does not overlap the allreduce with the backward pass
  t_allreduce(N) = 2(N-1)/N * S / bw + 2(N-1) * latency        ring allreduce of the S-byte fp32 gradient block
  efficiency(N) = t_compute / t_step(N)
t_compute comes from a measured single-node throughput (tokens/s) for the reference model; for L=12 d=768 it is
scaled by the forward+backward FLOPs per token (6 x matrix parameters + attention 12 L T d), stated as an estimate.

Usage: projection.py TOKENS_PER_S_REFERENCE [NODE_SPEEDUP]
  TOKENS_PER_S_REFERENCE  measured tokens/s of one node on the reference model (L=4 d=256 T=128 V=8192)
  NODE_SPEEDUP            a cluster node's throughput relative to the measured node (default 1)
"""
import sys


def parameters(L, C, V, T):
    """ParameterLayout.count (Sources/Model/GPT.swift), tied Φ."""
    per_block = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C
    return V * C + T * C + L * per_block + 2 * C


def flops_per_token(L, C, V, T):
    """Forward + backward: 6 per matrix weight (blocks and the tied output layer) + attention scores/values."""
    matrix = L * 12 * C * C + V * C
    return 6 * matrix + 12 * L * T * C


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    measured = float(sys.argv[1])
    speedup = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    latency = 50e-6  # seconds per ring step over TCP/Ethernet (OpenMPI's tcp BTL: tens of microseconds)
    links = [("10 GbE", 10e9 / 8 * 0.9), ("25 GbE", 25e9 / 8 * 0.9)]  # 90% of the line rate
    ref = dict(L=4, C=256, V=8192, T=128)
    models = [("reference L=4 d=256 V=8192 T=128, B=16", ref, 16),
              ("L=12 d=768 V=50257 T=1024 (GPT-2 small), B=8", dict(L=12, C=768, V=50257, T=1024), 8)]
    ref_rate = measured * speedup
    print(f"node throughput on the reference model: {ref_rate:,.0f} tokens/s "
          f"(measured {measured:,.0f} x {speedup:g})\n")
    print("| model | gradient bytes/step | t_compute/step | link | allreduce 4 / 16 / 64 nodes | efficiency 4 / 16 / 64 |")
    print("|---|---:|---:|---|---:|---:|")
    for name, m, batch in models:
        size = 4 * parameters(**m)
        rate = ref_rate * flops_per_token(**ref) / flops_per_token(**m)
        t_compute = batch * m["T"] / rate
        for link, bw in links:
            ar = [2 * (n - 1) / n * size / bw + 2 * (n - 1) * latency for n in (4, 16, 64)]
            eff = [t_compute / (t_compute + a) for a in ar]
            print(f"| {name} | {size / 1e6:,.1f} MB | {t_compute:.2f} s | {link} | "
                  + " / ".join(f"{a * 1e3:,.0f} ms" for a in ar) + " | "
                  + " / ".join(f"{100 * e:.0f}%" for e in eff) + " |")


if __name__ == "__main__":
    main()
