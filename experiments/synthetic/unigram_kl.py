#!/usr/bin/env python3
"""ε of the best context-free predictor: E_s KL(p*(·|s) ‖ u) = H(u) − H_rate, u the stationary unigram distribution.

  python3 experiments/synthetic/unigram_kl.py RUN/lang/hmm ENTROPY_RATE

A model that has learned only word frequencies (no use of the context) sits at this ε; the entropy rate is the one
`synth measure` reports (report.md), so the difference is exact up to that estimate's standard error.
"""
import sys
import numpy as np

hmm, rate = sys.argv[1], float(sys.argv[2])
A = np.load(f"{hmm}/transition.npy")      # K × K, rows sum to 1
E = np.load(f"{hmm}/emission.npy")        # K × V
w, v = np.linalg.eig(A.T)
pi = np.real(v[:, np.argmin(np.abs(w - 1))]); pi /= pi.sum()
u = pi @ E
H = -np.sum(u[u > 0] * np.log(u[u > 0]))
print(f"stationary unigram entropy H(u) = {H:.4f} nats; entropy rate {rate:.4f}; "
      f"ε of the best context-free predictor = H(u) − rate = {H - rate:.4f} nats")
