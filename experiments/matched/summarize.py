"""Summarises the matched-compute CE vs Quad runs: OUT/compare-sS/report.json for each seed S → OUT/SUMMARY.md.

Usage: python3 experiments/matched/summarize.py OUT SEED [SEED ...]

Per task · prompt · feature: CE and Quad accuracy (mean ± sample std over seeds), the difference Quad − CE, and each
seed's McNemar mid-p on the pooled test examples (a task run by K-fold CV pools its K test folds, which cover every
example once). Also each seed's Quad steps and its gap to the plug-in value (OUT/quad-sS.steps, plug-in JSON).
Standard library only."""
import json
import math
import os
import re
import statistics
import sys


def mcnemar(b, c):
    """Exact two-sided p and mid-p for b, c discordant pairs (Binomial(b + c, 1/2))."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0, 1.0
    pmf = [math.comb(n, i) / 2 ** n for i in range(k + 1)]
    tail = sum(pmf)
    return min(1.0, 2 * tail), min(1.0, 2 * (tail - 0.5 * pmf[k]))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: summarize.py OUT SEED [SEED ...]")
    out, seeds = sys.argv[1], sys.argv[2:]
    cells = {}   # (task, prompt, feature) -> seed -> model -> correct string (pooled over folds)
    for s in seeds:
        path = os.path.join(out, f"compare-s{s}", "report.json")
        if not os.path.exists(path):
            sys.exit(f"{path}: missing (run the compare phase)")
        report = json.load(open(path, encoding="utf-8"))
        pooled = {}
        for r in report["results"]:
            if not r.get("correct") or r["feature"].startswith("BoW"):   # the model-free baseline: same in both columns
                continue
            m = re.match(r"^(.*)@([sf])(\d+)$", r["task"])
            task, fold = (m.group(1), int(m.group(3))) if m else (r["task"], 0)
            key = (task, r.get("prompt") or "", r["feature"])
            pooled.setdefault(key, {}).setdefault(r["model"], []).append((fold, r["correct"]))
        for key, models in pooled.items():
            for model, parts in models.items():
                cells.setdefault(key, {}).setdefault(s, {})[model] = "".join(c for _, c in sorted(parts))
    lines = ["# Matched-compute CE vs Quad: summary over seeds " + ", ".join(seeds), ""]
    lines += ["Quad runs (steps reached, relative gap to the plug-in value f = G⁻¹Φᵀp_REF(s)):", ""]
    for s in seeds:
        p = os.path.join(out, f"quad-s{s}.steps")
        lines.append(f"- seed {s}: " + (open(p).read().strip() if os.path.exists(p) else "missing"))
    lines += ["", "Accuracy (%) on the pooled test examples; mean ± sample std over seeds; Δ = Quad − CE; "
              "mid-p: McNemar per seed (significant at 5 % when < 0.05).", "",
              "| task · prompt | feature | CE | Quad | Δ | mid-p per seed | seeds with p < 0.05 |",
              "|---|---|---:|---:|---:|---|---:|"]

    def ms(v):
        return f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f}" if len(v) > 1 else f"{100 * v[0]:.1f}"

    for (task, prompt, feature), per_seed in sorted(cells.items()):
        ce, quad, diff, ps = [], [], [], []
        for s in seeds:
            m = per_seed.get(s, {})
            if "CE" not in m or "Quad" not in m or len(m["CE"]) != len(m["Quad"]):
                continue
            a, q = m["CE"], m["Quad"]
            n = len(a)
            ce.append(a.count("1") / n)
            quad.append(q.count("1") / n)
            diff.append(quad[-1] - ce[-1])
            b = sum(1 for x, y in zip(q, a) if x == "1" and y == "0")
            c = sum(1 for x, y in zip(q, a) if x == "0" and y == "1")
            ps.append(mcnemar(b, c)[1])
        if not ce:
            continue
        p = f"“{prompt.strip()}”" if prompt else "no prompt"
        lines.append(f"| {task} · {p} | {feature} | {ms(ce)} | {ms(quad)} | {ms(diff)} | "
                     + ", ".join(f"{x:.3g}" for x in ps) + f" | {sum(x < 0.05 for x in ps)} of {len(ps)} |")
    target = os.path.join(out, "SUMMARY.md")
    open(target, "w", encoding="utf-8").write("\n".join(lines) + "\n")
    print(target)


if __name__ == "__main__":
    main()
