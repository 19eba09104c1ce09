#!/usr/bin/env python3
"""Seed-level tests of the matched-compute CE vs Quad study: the seeds, not the test examples, are the replicates.

Usage: python3 experiments/matched/seed_tests.py OUT SEED [SEED ...]   → OUT/SEED_TESTS.md and OUT/SEED_TESTS.json

For each task · prompt · feature cell, the per-seed accuracy difference d_s = Quad − CE (each seed trains one CE and
one Quad model from the same seed on the same frozen Φ) gives a paired t-test over seeds: t = mean(d) / (sd(d)/√n)
with n − 1 degrees of freedom, two-sided p = I_{ν/(ν+t²)}(ν/2, ½) (the regularised incomplete beta function). With
3 seeds ν = 2, so this test has little power: it asks whether the sign and size of the difference are stable across
model replicates, which the per-seed McNemar tests (test examples as replicates, in SUMMARY.md) cannot say. The
per-seed accuracies come from OUT/compare-sS/report.json through summarize.py's `collect` (one reader for both).
Standard library only.
"""
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import collect  # noqa: E402


def incomplete_beta(a, b, x):
    """Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz), for 0 ≤ x ≤ 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f


def paired_t(differences):
    """(mean, sample std, t, two-sided p) of a paired t-test on the differences; p is None when sd = 0."""
    n = len(differences)
    mean = statistics.mean(differences)
    sd = statistics.stdev(differences)
    if sd == 0:
        return mean, sd, None, None
    t = mean / (sd / math.sqrt(n))
    nu = n - 1
    return mean, sd, t, incomplete_beta(nu / 2, 0.5, nu / (nu + t * t))


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: seed_tests.py OUT SEED SEED [SEED ...]  (a t-test over seeds needs at least two)")
    out, seeds = sys.argv[1], sys.argv[2:]
    rows = []
    for (task, prompt, feature), per_seed in sorted(collect(out, seeds).items()):
        usable = [s for s in seeds if "CE" in per_seed.get(s, {}) and "Quad" in per_seed.get(s, {})]
        if len(usable) < 2:
            continue
        diffs = [per_seed[s]["Quad"] - per_seed[s]["CE"] for s in usable]
        mean, sd, t, p = paired_t(diffs)
        mid_ps = [per_seed[s]["p"] for s in usable if "p" in per_seed[s]]
        rows.append({"task": task, "prompt": prompt, "feature": feature, "seeds": usable,
                     "ce": [per_seed[s]["CE"] for s in usable], "quad": [per_seed[s]["Quad"] for s in usable],
                     "difference": diffs, "mean_difference": mean, "sd_difference": sd, "t": t,
                     "degrees_of_freedom": len(usable) - 1, "p_seeds": p,
                     "mc_nemar_mid_p": mid_ps, "seeds_with_mid_p_below_0_05": sum(x < 0.05 for x in mid_ps)})

    # The probe families that have per-seed McNemar tests (zero-shot rows are shown but not counted).
    sentiment = [r for r in rows if not r["task"].startswith("bbc") and r["mc_nemar_mid_p"]]
    lines = [f"# Matched-compute CE vs Quad: seed-level paired t-tests over seeds {', '.join(seeds)}", "",
             f"Written by `experiments/matched/seed_tests.py {out} {' '.join(seeds)}` from `compare-sS/report.json`. "
             "Δ = Quad − CE accuracy per seed (points); t-test over seeds (the model replicates), two-sided, "
             "ν = seeds − 1; beside it the per-seed McNemar mid-p (test examples as replicates, from the same reports).",
             "",
             f"Sentiment cells with probes (SST-2, SST-5, RT; {len(sentiment)} task · prompt · feature cells): "
             f"{sum(r['p_seeds'] is not None and r['p_seeds'] < 0.05 for r in sentiment)} with seed-level p < 0.05, "
             f"{sum(r['p_seeds'] is not None and r['p_seeds'] < 0.01 for r in sentiment)} with p < 0.01; "
             f"{sum(r['seeds_with_mid_p_below_0_05'] for r in sentiment)} of "
             f"{sum(len(r['mc_nemar_mid_p']) for r in sentiment)} per-seed McNemar tests with mid-p < 0.05.", "",
             "| task · prompt | feature | Δ per seed | mean Δ ± sd | t (ν) | p over seeds | McNemar mid-p < 0.05 |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        p = f"“{r['prompt'].strip()}”" if r["prompt"] else "no prompt"
        t = "–" if r["t"] is None else f"{r['t']:.2f} ({r['degrees_of_freedom']})"
        pv = "–" if r["p_seeds"] is None else f"{r['p_seeds']:.3g}"
        lines.append(f"| {r['task']} · {p} | {r['feature']} | "
                     + ", ".join(f"{100 * d:+.1f}" for d in r["difference"])
                     + f" | {100 * r['mean_difference']:+.1f} ± {100 * r['sd_difference']:.1f} | {t} | {pv} | "
                     f"{r['seeds_with_mid_p_below_0_05']} of {len(r['mc_nemar_mid_p'])} |")
    for name, text in (("SEED_TESTS.md", "\n".join(lines) + "\n"),
                       ("SEED_TESTS.json", json.dumps({"tool": "experiments/matched/seed_tests.py", "seeds": seeds,
                                                       "cells": rows}, indent=1, ensure_ascii=False) + "\n")):
        target = os.path.join(out, name)
        with open(target + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(target + ".tmp", target)
        print(target)


if __name__ == "__main__":
    main()
