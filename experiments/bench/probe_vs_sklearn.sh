#!/bin/sh
# Same-run comparison of `lmprobe bench probe` (ridge, exact LOO) with scikit-learn's RidgeClassifierCV on the same
# shape and alphas: ROUNDS rounds, each running ours then the peer, every line tagged with /proc/loadavg at its start.
# Writes JSON lines to OUT (default experiments/bench/results/probe-<n>x<d>.jsonl); the median and best are taken by
# experiments/bench/summarize.py. Needs a release build (make build) and experiments/bench/setup_peers.sh.
#   N=6920 D=8192 ROUNDS=3 THREADS=2 sh experiments/bench/probe_vs_sklearn.sh
set -eu
N=${N:-6920}; D=${D:-8192}; ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}
ALPHAS=${ALPHAS:-0.001,0.00316228,0.01,0.0316228,0.1,0.316228,1,3.16228,10,31.6228,100,316.228,1000}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}
OUT=${OUT:-experiments/bench/results/probe-${N}x${D}.jsonl}
mkdir -p "$(dirname "$OUT")"
for r in $(seq 1 "$ROUNDS"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    ours=$("$BIN" bench probe --threads "$THREADS" --n "$N" --d "$D" --alphas "$ALPHAS" --fixed-grid --json)
    echo "{\"round\":$r,\"who\":\"lmprobe\",\"loadavg\":\"$load\",\"result\":$ours}" | tee -a "$OUT"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    peer=$("$PY" experiments/bench/peer_ridge.py --threads "$THREADS" --n "$N" --d "$D" --alphas "$ALPHAS")
    echo "{\"round\":$r,\"who\":\"sklearn\",\"loadavg\":\"$load\",\"result\":$peer}" | tee -a "$OUT"
done
