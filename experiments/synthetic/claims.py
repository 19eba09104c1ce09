#!/usr/bin/env python3
"""Every derived number RESULTS.md states about the synthetic study, recomputed from its committed report.

  python3 experiments/synthetic/claims.py [experiments/synthetic/results]   → DIR/claims.md

Reads only DIR/report.json (written by `lmprobe synth measure`); standard library only; nothing is measured here.
It computes, per natural task, where the bound τ + B·√(2ε) would drop below ln 2 (the loss of a probe that predicts
½ for every example): ε < ((ln 2 − τ)/B)² / 2; the smallest bound over all checkpoints; on `natural-sign-B1` the
ratio B·√(2ε_task) / (ℓ(p_f, κv) − τ) per checkpoint and ln 2 − τ; the log–log slopes as reported; ε_quad at the
last step; the p* and f ceilings on `natural-phi`; how many Quad–CE pairs at the last step have non-overlapping
95 % Wilson intervals; and the control task's range of accuracies against its majority class.
"""
import json
import math
import os
import sys

LN2 = math.log(2)


def probe(task, feature, method="logistic"):
    return next(p for p in task["probes"] if p["feature"] == feature and p["method"] == method)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "experiments/synthetic/results"
    path = os.path.join(folder, "report.json")
    if not os.path.exists(path):
        sys.exit(f"{path}: missing (the committed report of `lmprobe synth measure`)")
    report = json.load(open(path, encoding="utf-8"))
    checkpoints = report["checkpoints"]
    specs = {t["spec"]["name"]: t for t in report["tasks"]}
    natural = [n for n, t in specs.items() if t["spec"]["kind"] == "natural"]
    last = max(c["step"] for c in checkpoints)
    out = ["# Synthetic study: derived numbers", "",
           f"Written by `experiments/synthetic/claims.py` from `{path}` (one seed per run; "
           f"{len(checkpoints)} checkpoints). ln 2 = {LN2:.6f}.", ""]

    out += ["## Where the bound τ + B·√(2ε) drops below ln 2", "",
            "Solving τ + B·√(2ε) < ln 2 for ε: ε < ((ln 2 − τ)/B)² / 2.", "",
            "| task | τ | B | ln 2 − τ | ε below which bound < ln 2 | smallest bound measured | at ε_task | checkpoints with bound > ln 2 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in natural:
        rows = [t for c in checkpoints for t in c["tasks"] if t["task"] == name]
        tau, b = rows[0]["tau"], rows[0]["B"]
        threshold = ((LN2 - tau) / b) ** 2 / 2
        smallest = min(rows, key=lambda t: t["bound"])
        above = sum(t["bound"] > LN2 for t in rows)
        out.append(f"| `{name}` | {tau:.4f} | {b:.2f} | {LN2 - tau:.4f} | {threshold:.2e} | "
                   f"{smallest['bound']:.4f} | {smallest['epsilon_task']:.4f} | {above} of {len(rows)} |")
    out.append("")

    sign = "natural-sign-B1"
    if sign in specs:
        out += [f"## `{sign}`: how much B·√(2ε_task) overstates the measured loss increase", "",
                "| run | step | ε_task | B·√(2ε_task) | ℓ(p_f, κv) − τ | ratio |", "|---|---:|---:|---:|---:|---:|"]
        ratios = {"ce": [], "quad": []}
        increases = []
        for c in checkpoints:
            t = next(t for t in c["tasks"] if t["task"] == sign)
            slack = t["B"] * math.sqrt(2 * t["epsilon_task"])
            increase = t["direction_loss"] - t["tau"]
            increases.append(increase)
            ratios[c["objective"]].append(slack / increase)
            out.append(f"| {c['run']} | {c['step']} | {t['epsilon_task']:.4f} | {slack:.4f} | {increase:.4f} | "
                       f"{slack / increase:.1f} |")
        tau = next(t for t in checkpoints[0]["tasks"] if t["task"] == sign)["tau"]
        out += ["", f"Ratio range: CE {min(ratios['ce']):.1f}–{max(ratios['ce']):.1f}, "
                    f"Quad {min(ratios['quad']):.1f}–{max(ratios['quad']):.1f}. "
                    f"Measured increases {min(increases):.4f}–{max(increases):.4f} nats; "
                    f"ln 2 − τ = {LN2 - tau:.4f} (the increase of a model whose score vᵀp_f is 0 everywhere); "
                    f"largest ℓ(p_f, κv) − ln 2 = {max(increases) + tau - LN2:.1e}.", ""]

    out += ["## Log–log slopes of (loss − τ) against ε_task (descriptive, as the report states them)", "",
            "| task | objective | quantity | slope | checkpoints (runs × steps, one seed) |", "|---|---|---|---:|---:|"]
    for s in report["slopes"]:
        out.append(f"| `{s['task']}` | {s['objective']} | {s['quantity']} | {s['slope']:.3f} | {s['points']} |")
    out.append("")

    out += [f"## Quad at step {last}: ε_quad (± standard error over windows) and ε", "",
            "| run | ε_quad | ε |", "|---|---:|---:|"]
    for c in checkpoints:
        if c["objective"] == "quad" and c["step"] == last:
            e = c["epsilon"]
            out.append(f"| {c['run']} | {e['epsilon_quad']:.2e} ± {e['epsilon_quad_standard_error']:.1e} | "
                       f"{e['epsilon']:.4f} |")
    out.append("")

    out += [f"## Ceilings and model features at step {last} (logistic probe accuracy, %)", "",
            "| task | p* | " + " | ".join(f"{c['run']} f" for c in checkpoints if c["step"] == last) + " |",
            "|---|---:|" + "---:|" * sum(c["step"] == last for c in checkpoints)]
    for name in natural:
        ceiling = next(p for p in specs[name]["p_star"] if p["method"] == "logistic")["accuracy"]
        cells = [probe(next(t for t in c["tasks"] if t["task"] == name), "f")["accuracy"]
                 for c in checkpoints if c["step"] == last]
        out.append(f"| `{name}` | {100 * ceiling:.2f} | " + " | ".join(f"{100 * a:.2f}" for a in cells) + " |")
    out.append("")

    out += [f"## Quad against CE at step {last}: pairs whose 95 % Wilson intervals do not overlap", "",
            "Unpaired intervals (the report has no paired test); one seed per run.", "",
            "| task | width | feature | CE | Quad | separated |", "|---|---|---|---:|---:|---|"]
    counts = {}
    for name in natural:
        for c in checkpoints:
            if c["objective"] != "ce" or c["step"] != last:
                continue
            width = c["run"].split("-")[1]
            q = next(x for x in checkpoints if x["objective"] == "quad" and x["step"] == last
                     and x["run"].split("-")[1] == width)
            for feature in ("p_f", "Φp_f", "f"):
                a = probe(next(t for t in c["tasks"] if t["task"] == name), feature)
                b = probe(next(t for t in q["tasks"] if t["task"] == name), feature)
                apart = a["accuracy_upper"] < b["accuracy_lower"] or b["accuracy_upper"] < a["accuracy_lower"]
                n, k = counts.get(feature, (0, 0))
                counts[feature] = (n + 1, k + apart)
                out.append(f"| `{name}` | {width} | {feature} | {100 * a['accuracy']:.2f} "
                           f"[{100 * a['accuracy_lower']:.1f}, {100 * a['accuracy_upper']:.1f}] | "
                           f"{100 * b['accuracy']:.2f} [{100 * b['accuracy_lower']:.1f}, {100 * b['accuracy_upper']:.1f}] | "
                           f"{'yes' if apart else 'no'} |")
    out += ["", "Separated: " + "; ".join(f"{f} {k} of {n}" for f, (n, k) in counts.items()) + ".", ""]

    for name, t in specs.items():
        if t["spec"]["kind"] != "control":
            continue
        accs = [p["accuracy"] for c in checkpoints for x in c["tasks"] if x["task"] == name
                for p in x["probes"] if p["method"] == "logistic"]
        ceiling = next(p for p in t["p_star"] if p["method"] == "logistic")
        out += [f"## Control `{name}`", "",
                f"Majority class {100 * t['spec']['majority']:.2f} %; logistic probe on p* "
                f"{100 * ceiling['accuracy']:.2f} % (loss {ceiling['loss']:.4f}); logistic probes on model features, "
                f"all checkpoints: {100 * min(accs):.2f}–{100 * max(accs):.2f} %. "
                + (f"Bayes accuracy from the words: {100 * t['bayes']['accuracy']:.2f} %." if t.get("bayes")
                   else "Bayes accuracy from the words: not in this report (measured by `synth measure` since; "
                        "the report predates it)."), ""]

    target = os.path.join(folder, "claims.md")
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(target + ".tmp", target)
    print(target)


if __name__ == "__main__":
    main()
