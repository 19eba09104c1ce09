#!/usr/bin/env python3
"""Best and median of benchmark rounds, the same-run ratios against the peers, and the load beside each figure.

    python3 experiments/bench/summarize.py FILE.jsonl     one results file (probe_vs_sklearn.sh, train_vs_torch.sh,
                                                          extract_vs_torch.sh): printed
    python3 experiments/bench/summarize.py --run DIR      a run_all.sh folder: writes DIR/summary.md (every row under
                                                          each kernel pass, the machine block), printed too

Ratios are "> 1 means lmprobe is faster" (peer seconds ÷ ours, our rate ÷ the peer's). A figure whose 1-minute load
average at its start was ≥ 0.5 is LOADED; a row says how many of its rounds were.
"""
import json, os, statistics, sys

LOADED = 0.5


def read_lines(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def start_load(r):
    return float(r["loadavg"].split()[0])


def main(path):
    rows = read_lines(path)
    by = {}
    for r in rows:
        by.setdefault(r["who"], []).append(r)
    for who, rs in by.items():
        res = [r["result"] for r in rs]
        if isinstance(res[0], list):   # bench gemm: the rate on the most threads
            vals, unit, better = [max(x, key=lambda g: g["threads"])["gflops"] for x in res], "GFLOP/s", max
        elif "seconds" in res[0] and "sentences_per_s" not in res[0]:
            vals, unit, better = [x["seconds"] for x in res], "s", min
        elif "sentences_per_s" in res[0]:
            vals, unit, better = [x["sentences_per_s"] for x in res], "sentences/s", max
        else:
            vals, unit, better = [x["tokens_per_s"] for x in res], "tok/s", max
        loads = ", ".join(r["loadavg"].split()[0] for r in rs)
        print(f"{who:10s} best {better(vals):10.2f} {unit}  median {statistics.median(vals):10.2f} {unit}"
              f"  runs {', '.join('%.2f' % v for v in vals)}  (1-min load: {loads})")
        for name, sp in extract_speedups(res).items():
            print(f"{'':10s} same-run speedup over {name}: {', '.join('%.2f' % v for v in sp)}"
                  f"  best {max(sp):.2f}  median {statistics.median(sp):.2f}")
    names = list(by)
    first = names[0]
    for other in names[1:]:   # same-round ratio of every other line against the first (peer ÷ ours: > 1 = first faster)
        ratios = same_round_ratios(by[first], by[other])
        if ratios:
            print(f"ratio {other} ÷ {first} per round: {', '.join('%.2f' % r for r in ratios)}"
                  f"  best {max(ratios):.2f}  median {statistics.median(ratios):.2f}")


def extract_speedups(results):
    """bench extract --peer-python: the same-run ratio over each peer (older lines carry one peer as `speedup`)."""
    out = {}
    for x in results:
        if not isinstance(x, dict):
            continue
        if x.get("peers"):
            for p in x["peers"]:
                out.setdefault(f"transformers, logits at {p['logits']}", []).append(p["speedup"])
        elif x.get("speedup") is not None:
            out.setdefault(x.get("peer", "the peer"), []).append(x["speedup"])
    return out


def same_round_ratios(ours_rows, peer_rows):
    ours = {r["round"]: r["result"] for r in ours_rows}
    ratios = []
    for rb in peer_rows:
        x, y = ours.get(rb["round"]), rb["result"]
        if x is None:
            continue
        ratios.append(y["seconds"] / x["seconds"] if "seconds" in x else x["tokens_per_s"] / y["tokens_per_s"])
    return ratios


# ---- --run DIR: summary.md ---------------------------------------------------------------------------------------

def fmt(v, digits=0):
    return f"{v:,.{digits}f}"


def best_median(vals, higher_better, digits=0, unit=""):
    b = max(vals) if higher_better else min(vals)
    return f"{fmt(b, digits)} / {fmt(statistics.median(vals), digits)}{unit}"


def ratio_text(ratios):
    if not ratios:
        return "—"
    return f"{', '.join('%.2f' % r for r in ratios)} (best {max(ratios):.2f}, median {statistics.median(ratios):.2f})"


def load_text(rows):
    """The start → end 1-minute loads of every round, and how many started LOADED."""
    loaded = sum(start_load(r) >= LOADED for r in rows)
    parts = ", ".join(f"{r['loadavg'].split()[0]}→{r.get('loadavg_after', '?').split()[0]}" for r in rows)
    return parts + (f" — **LOADED** {loaded} of {len(rows)}" if loaded else " — idle")


class Pass:
    """One kernel pass of a run_all.sh folder: its raw lines by file and by who."""

    def __init__(self, folder, best_ceiling):
        self.folder, self.best_ceiling = folder, best_ceiling

    def rows(self, name, who):
        path = os.path.join(self.folder, name)
        return [r for r in read_lines(path) if r["who"] == who] if os.path.exists(path) else []

    def mfu_text(self, rows):
        """MFU against the ceiling measured in the same process (the kernel in use), the best verified beside it."""
        res = [r["result"] for r in rows if "mfu" in r["result"]]
        if not res:
            return "—"
        ceil = statistics.median(x["sgemm_ceiling_gflops"] for x in res)
        text = f"{best_median([x['mfu'] for x in res], True, 2)} of {fmt(ceil, 1)} GFLOP/s"
        if self.best_ceiling:
            text += f"; {best_median([x['gflops'] / self.best_ceiling for x in res], True, 2)} of best verified {fmt(self.best_ceiling, 1)}"
        return text

    def rate_row(self, label, name, ours, peer, peer_label, metric="tokens_per_s", unit="tok/s"):
        a, b = self.rows(name, ours), self.rows(name, peer)
        if not a:
            return None
        av = [r["result"][metric] for r in a]
        bv = [r["result"][metric] for r in b]
        pb = {r["round"]: r["result"][metric] for r in b}
        ratios = [r["result"][metric] / pb[r["round"]] for r in a if r["round"] in pb]
        return [label, best_median(av, True) + f" {unit}", self.mfu_text(a),
                f"{peer_label}: {best_median(bv, True)} {unit}" if bv else "—", ratio_text(ratios), load_text(a + b)]

    def ridge_row(self, label, name):
        a, b = self.rows(name, "lmprobe"), self.rows(name, "sklearn")
        if not a:
            return None
        def total(x):   # the peer's read of a file counts, as lmprobe's streamed figure includes its reads
            return x["seconds"] + (x.get("load_seconds") or 0)
        av, bv = [r["result"]["seconds"] for r in a], [total(r["result"]) for r in b]
        pb = {r["round"]: total(r["result"]) for r in b}
        ratios = [pb[r["round"]] / r["result"]["seconds"] for r in a if r["round"] in pb]
        ours = best_median(av, False, 2, " s")
        peer = f"sklearn RidgeClassifierCV: {best_median(bv, False, 2, ' s')}" if bv else "—"
        if "peak_resident_bytes" in a[0]["result"]:
            ours += f", peak RSS {max(r['result']['peak_resident_bytes'] for r in a) / 1e9:.2f} GB"
        if b and b[0]["result"].get("peak_resident_bytes"):
            peer += f", peak RSS {max(r['result']['peak_resident_bytes'] for r in b) / 1e9:.2f} GB"
        if b and b[0]["result"].get("load_seconds") is not None:
            peer += " (read + fit)"
        lam = {r["result"].get("alpha") for r in a} | {r["result"].get("alpha") for r in b}
        return [label + f" (λ chosen: {', '.join('%g' % x for x in sorted(v for v in lam if v is not None))})",
                ours, "—", peer, ratio_text(ratios), load_text(a + b)]

    def extract_rows(self, label, name):
        a = self.rows(name, "lmprobe-vs-transformers")
        if not a:
            return []
        res = [r["result"] for r in a]
        ours = best_median([x["sentences_per_s"] for x in res], True, 1, " sentences/s")
        out = []
        for logits, who in (("every-position", "the paper's code path"), ("last-position", "a careful user")):
            peers = [p for x in res for p in x.get("peers") or [] if p["logits"] == logits]
            if not peers:
                continue
            out.append([f"{label}, peer: {who}", ours, self.mfu_text(a),
                        f"transformers, logits at {logits}: {best_median([p['sentences_per_s'] for p in peers], True, 1)} sentences/s",
                        ratio_text([p["speedup"] for p in peers]), load_text(a)])
        return out

    def gemm_row(self):
        a = self.rows("gemm.jsonl", "lmprobe")
        if not a:
            return None
        top = [max(r["result"], key=lambda g: g["threads"]) for r in a]
        return [f"sgemm ceiling, n = {top[0]['n']}, {top[0]['threads']} threads (`bench gemm`)",
                best_median([g["gflops"] for g in top], True, 1, " GFLOP/s"), "—", "—", "—", load_text(a)]


def machine_block(machine, doctor, peers):
    env_row = doctor["kernels"][0]
    lines = [f"- date {machine['date']}, commit {machine['commit']}, {machine['rounds']} round(s), "
             f"{machine['threads']} threads{', **--quick** (tiny sizes: a smoke test, not figures)' if machine['quick'] else ''}",
             f"- CPU: {doctor.get('cpu_model') or 'unknown'}, {doctor['cores']} cores, "
             f"{machine['memory_kb'] / 1024 / 1024:.1f} GiB memory; 1-minute load at the start {machine['loadavg'].split()[0]}",
             f"- OpenBLAS: {doctor['openblas_config']}",
             f"- environment: OPENBLAS_CORETYPE={machine['openblas_coretype'] or '(unset)'}, "
             f"OPENBLAS_L2_SIZE={machine['openblas_l2_size'] or '(unset)'}; the kernel OpenBLAS chose: "
             f"**{env_row.get('core_in_effect', '?')}**",
             f"- best verified kernel (`lmprobe doctor`): **{doctor.get('best') or 'none'}**"
             f"{' — measured LOADED' if doctor.get('loaded') else ''}",
             f"- peers (run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): "
             + ", ".join(f"{k} {v}" for k, v in peers["versions"].items())
             + "; their BLAS: " + "; ".join(f"{p['internal_api']} {p.get('version') or ''} {p.get('architecture') or ''}".strip()
                                            for p in peers["threadpools"])
             + ("; torch: " + " ".join(peers["torch_blas"]) if peers.get("torch_blas") else ""),
             "",
             f"| kernel | self-test (checks, worst error/tolerance) | " + " | ".join(
                 f"sgemm n = {doctor['sgemm_n']}, {t} thread(s)" for t in thread_counts(doctor)) + " |",
             "|---|---|" + "---:|" * len(thread_counts(doctor))]
    for k in doctor["kernels"]:
        name = ("environment → " + (k.get("core_in_effect") or "?")) if k["kernel"] == "environment" else k["kernel"]
        if not k["runs_on_cpu"]:
            lines.append(f"| {name} | not on this CPU (needs {', '.join(k['missing_flags'])}) |" + " |" * len(thread_counts(doctor)))
            continue
        test = (("pass" if k.get("self_test_passed") else "**FAIL**") + f" ({k.get('checks')}, {k.get('worst_ratio') or 0:.3f})"
                if k.get("self_test_passed") is not None else f"— {k.get('error')}")
        if k.get("error") and k.get("self_test_passed") is not None:
            test += f" ({k['error']})"
        speeds = {s["threads"]: s["gflops"] for s in k.get("sgemm", [])}
        lines.append(f"| {name} | {test} | " + " | ".join(fmt(speeds[t], 1) if t in speeds else "—"
                                                          for t in thread_counts(doctor)) + " |")
    return lines


def thread_counts(doctor):
    return sorted({s["threads"] for k in doctor["kernels"] for s in k.get("sgemm", [])})


def best_ceiling(doctor):
    """The best verified kernel's sgemm GFLOP/s on the most threads (doctor's own ranking figure)."""
    for k in doctor["kernels"]:
        if k.get("core_in_effect") == doctor.get("best") and k.get("self_test_passed") and not k.get("error") and k.get("sgemm"):
            return max(k["sgemm"], key=lambda s: s["threads"])["gflops"]
    return None


def run_summary(folder):
    machine = json.load(open(os.path.join(folder, "machine.json")))
    doctor = json.load(open(os.path.join(folder, "doctor.json")))
    peers = json.load(open(os.path.join(folder, "peers-blas.json")))
    ceiling = best_ceiling(doctor)
    env_core = doctor["kernels"][0].get("core_in_effect", "?")
    out = [f"# Benchmarks, every row of issue 29 — {os.path.basename(os.path.normpath(folder))}", "",
           "Written by `sh experiments/bench/run_all.sh` (`python3 experiments/bench/summarize.py --run` on this "
           "folder); the raw JSON lines are beside this file, one folder per kernel pass. Figures are best / median "
           f"of the rounds; ratios > 1 mean lmprobe is faster (same round, same inputs). A round whose 1-minute load "
           f"at its start was ≥ {LOADED} is **LOADED** (loads listed start→end; the end includes the figure's own "
           "threads). MFU is against the sgemm ceiling measured in the same process — the kernel actually used — with "
           "the best verified kernel's ceiling (`lmprobe doctor`) beside it.", "", "## Machine", ""]
    out += machine_block(machine, doctor, peers)
    passes = [("environment", f"the environment's kernel ({env_core})")]
    if os.path.isdir(os.path.join(folder, "best-verified")):
        passes.append(("best-verified", f"the best verified kernel ({doctor.get('best')}, OPENBLAS_CORETYPE set for lmprobe only)"))
    elif doctor.get("best"):
        out += ["", f"The best verified kernel is the environment's ({env_core}): one pass serves both labels."]
    for name, title in passes:
        p = Pass(os.path.join(folder, name), ceiling)
        rows = [p.gemm_row(),
                p.rate_row("CE training step, reference config (batch-parallel)", "train-ce.jsonl", "lmprobe", "pytorch", "PyTorch eager"),
                p.rate_row("CE training step, serial", "train-ce.jsonl", "lmprobe-serial", "pytorch", "PyTorch eager"),
                p.rate_row("Quad training step ÷ CE, same round", "train-quad.jsonl", "lmprobe-quad", "lmprobe-ce", "lmprobe CE"),
                p.rate_row("CE training step, L6 d384 h6", "train-l6d384.jsonl", "lmprobe", "pytorch", "PyTorch eager"),
                p.ridge_row("ridge, exact LOO, " + shape_of(p, "probe.jsonl"), "probe.jsonl")]
        rows += p.extract_rows("extraction, " + model_of(p), "extract-gpt2.jsonl")
        rows.append(p.ridge_row("ridge on a float16 file, streamed, " + shape_of(p, "probe-wide.jsonl"), "probe-wide.jsonl"))
        out += ["", f"## Under {title}", "",
                "| row | lmprobe best / median | MFU best / median | peer best / median | same-run ratio per round | 1-min load per round |",
                "|---|---:|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in rows if r]
    out += ["", "## Commands", "",
            "Each row's harness, as run_all.sh calls it (sizes above): `experiments/bench/train_vs_torch.sh` (training "
            "rows, `bench gemm`), `probe_vs_sklearn.sh` (ridge; `FIXTURE=` for the float16 file), `extract_vs_torch.sh` "
            "(extraction, both transformers peers); `lmprobe doctor --json` for the kernels."]
    text = "\n".join(out) + "\n"
    path = os.path.join(folder, "summary.md")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(text)


def shape_of(p, name):
    rows = p.rows(name, "lmprobe")
    return f"n {fmt(rows[0]['result']['n'])} d {fmt(rows[0]['result']['d'])}" if rows else ""


def model_of(p):
    rows = p.rows("extract-gpt2.jsonl", "lmprobe-vs-transformers")
    if not rows:
        return ""
    x = rows[0]["result"]
    return f"L{x['layers']} d{x['dim']} V{fmt(x['vocab_size'])}, {fmt(x['sentences'])} SST-2-length sequences, f + p + Φp_f"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        run_summary(sys.argv[2])
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
