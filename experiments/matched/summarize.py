"""Summarises the matched-compute CE vs Quad runs: OUT/compare-sS/report.json for each seed S → OUT/SUMMARY.md.

Usage: python3 experiments/matched/summarize.py OUT SEED [SEED ...]

Per task · prompt · feature: CE and Quad accuracy (mean ± sample std over seeds), the difference Quad − CE, and each
seed's McNemar mid-p as `lmprobe compare` computed it (its paired test of Quad against CE on the same examples; a
task run by K-fold CV is taken from its pooled row, whose K test folds cover every example once). Also each seed's
Quad steps and its gap to the plug-in value (OUT/quad-sS.steps). Standard library only; no statistics are
recomputed here.
"""
import json
import os
import statistics
import sys


def collect(out, seeds):
    """(task, prompt, feature) -> seed -> {"CE": accuracy, "Quad": accuracy, "p": McNemar mid-p} from each seed's
    OUT/compare-sS/report.json; exits with a one-line message naming a missing report."""
    cells = {}
    for s in seeds:
        path = os.path.join(out, f"compare-s{s}", "report.json")
        if not os.path.exists(path):
            sys.exit(f"{path}: missing (run the compare phase)")
        report = json.load(open(path, encoding="utf-8"))
        # Fixed-split tasks are in "results"; a K-fold task's pooled row ("task (K folds pooled)") is in
        # "pooled_folds", its per-fold rows "task@fK" (parts of the pooled row) in "results".
        for r in report["results"] + report.get("pooled_folds", []):
            # Whole tasks and pooled K-fold rows only; the bag-of-words baseline is model-free, the same in both
            # columns.
            if "@" in r["task"] or r["feature"].startswith("BoW") or r["model"] not in ("CE", "Quad"):
                continue
            key = (r["task"], r.get("prompt") or "", r["feature"])
            cells.setdefault(key, {}).setdefault(s, {})[r["model"]] = r["accuracy"]
        for t in report.get("paired_tests", []):
            if "@" in t["task"] or not (t["a"].startswith("Quad · ") and t["b"].startswith("CE · ")):
                continue
            feature = t["a"][len("Quad · "):]
            if t["b"][len("CE · "):] != feature:
                continue
            key = (t["task"], t.get("prompt") or "", feature)
            cells.setdefault(key, {}).setdefault(s, {})["p"] = t["comparison"]["mc_nemar_mid_p"]
    return cells


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: summarize.py OUT SEED [SEED ...]")
    out, seeds = sys.argv[1], sys.argv[2:]
    cells = collect(out, seeds)
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
            if "CE" not in m or "Quad" not in m:
                continue
            ce.append(m["CE"])
            quad.append(m["Quad"])
            diff.append(m["Quad"] - m["CE"])
            if "p" in m:
                ps.append(m["p"])
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
