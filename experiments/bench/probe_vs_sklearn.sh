#!/bin/sh
# Same-run comparison of `lmprobe bench probe` (ridge, exact LOO) with scikit-learn's RidgeClassifierCV on the same
# shape and alphas: ROUNDS rounds, each running ours then the peer, every line tagged with /proc/loadavg at its start
# and end (experiments/bench/lib.sh). The peer runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its
# environment (they choose lmprobe's kernel; numpy's own OpenBLAS picks its kernel, which it reports).
# Writes JSON lines to OUT (default experiments/bench/results/probe-<n>x<d>.jsonl); the median and best are taken by
# experiments/bench/summarize.py. Needs a release build (make build) and the peers (make bench-peers).
#   N=6920 D=8192 ROUNDS=3 THREADS=2 sh experiments/bench/probe_vs_sklearn.sh
# FIXTURE=file.npy: the full-vocabulary probe instead — a synthetic float16 N × D file (written by lmprobe on the
# first round unless it holds one of that shape, with its labels beside it as <file>-labels.npy), fitted by lmprobe
# streamed from the file and by sklearn read whole; both on the probe's default grid logspace(-3, 6, 19), fixed, both
# on standardized columns (the probe path's default).
#   FIXTURE=runs/wide/wide-6920x50257.npy N=6920 D=50257 sh experiments/bench/probe_vs_sklearn.sh
set -eu
N=${N:-6920}; D=${D:-8192}; ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}
FIXTURE=${FIXTURE:-}
if [ -n "$FIXTURE" ]; then   # (paths without spaces: the options below are split on blanks)
    ALPHAS=${ALPHAS:-0.001,0.00316228,0.01,0.0316228,0.1,0.316228,1,3.16228,10,31.6228,100,316.228,1000,3162.28,10000,31622.8,100000,316228,1000000}
    OUT=${OUT:-experiments/bench/results/probe-wide-${N}x${D}.jsonl}
    LABELS=${FIXTURE%.npy}-labels.npy
    mkdir -p "$(dirname "$FIXTURE")"
    OURS="--wide-fixture $FIXTURE --wide-labels $LABELS --wide-path streamed"
    PEER="--npy $FIXTURE --labels $LABELS --standardize"   # lmprobe's probe path standardizes, so the peer does too
else
    ALPHAS=${ALPHAS:-0.001,0.00316228,0.01,0.0316228,0.1,0.316228,1,3.16228,10,31.6228,100,316.228,1000}
    OUT=${OUT:-experiments/bench/results/probe-${N}x${D}.jsonl}
    OURS=""
    PEER="--n $N --d $D"
fi
mkdir -p "$(dirname "$OUT")"
. "$(dirname "$0")/lib.sh"
for r in $(seq 1 "$ROUNDS"); do
    start_figure
    # shellcheck disable=SC2086
    res=$("$BIN" bench probe --threads "$THREADS" --n "$N" --d "$D" --alphas "$ALPHAS" --fixed-grid $OURS --json)
    record "$OUT" "$r" lmprobe "$res"
    start_figure
    # shellcheck disable=SC2086
    res=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" experiments/bench/peer_ridge.py --threads "$THREADS" \
        --alphas "$ALPHAS" $PEER)
    record "$OUT" "$r" sklearn "$res"
done
