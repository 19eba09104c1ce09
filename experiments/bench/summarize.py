#!/usr/bin/env python3
"""Best and median of the rounds in a probe_vs_sklearn.sh / train_vs_torch.sh results file, the same-run ratio
(peer ÷ ours: > 1 means lmprobe is faster) and the load recorded beside each run.

    python3 experiments/bench/summarize.py experiments/bench/results/probe-6920x8192.jsonl
"""
import json, statistics, sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["who"], []).append(r)
    ratios = []
    for who, rs in by.items():
        res = [r["result"] for r in rs]
        if "seconds" in res[0]:
            vals, unit, better = [x["seconds"] for x in res], "s", min
        else:
            vals, unit, better = [x["tokens_per_s"] for x in res], "tok/s", max
        loads = ", ".join(r["loadavg"].split()[0] for r in rs)
        print(f"{who:10s} best {better(vals):10.2f} {unit}  median {statistics.median(vals):10.2f} {unit}"
              f"  runs {', '.join('%.2f' % v for v in vals)}  (1-min load: {loads})")
        if res[0].get("speedup") is not None:   # bench extract --peer-python: the same-run ratio is in the line
            sp = [x["speedup"] for x in res]
            print(f"{'':10s} same-run speedup over {res[0].get('peer', 'the peer')}: {', '.join('%.2f' % v for v in sp)}"
                  f"  best {max(sp):.2f}  median {statistics.median(sp):.2f}")
    names = list(by)
    first = names[0]
    for other in names[1:]:   # same-round ratio of every other line against the first (peer ÷ ours: > 1 = first faster)
        ours = {r["round"]: r["result"] for r in by[first]}
        ratios = []
        for rb in by[other]:
            x, y = ours.get(rb["round"]), rb["result"]
            if x is None:
                continue
            ratios.append(y["seconds"] / x["seconds"] if "seconds" in x else x["tokens_per_s"] / y["tokens_per_s"])
        if ratios:
            print(f"ratio {other} ÷ {first} per round: {', '.join('%.2f' % r for r in ratios)}"
                  f"  best {max(ratios):.2f}  median {statistics.median(ratios):.2f}")

if __name__ == "__main__":
    main(sys.argv[1])
