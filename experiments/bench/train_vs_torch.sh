#!/bin/sh
# Same-run training-step benchmarks (issue 13): ROUNDS rounds, each running, back to back,
#   lmprobe `bench train` (reference config, CE; default batch-parallel steps, then --step-mode serial: what the
#   batch-parallel step buys) and the PyTorch eager peer (peer_train.py)                  → train-ce.jsonl
#   lmprobe `bench train --objective quad` and CE again (the Quad ÷ CE ratio of the same round) → train-quad.jsonl
#   lmprobe and PyTorch at L6 d384 h6                                                      → train-l6d384.jsonl
# plus `bench gemm` (the sgemm ceiling) at the start of every round → gemm.jsonl. Every line carries /proc/loadavg
# at its start and end (experiments/bench/lib.sh). The peer runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# removed from its environment (they choose lmprobe's kernel, not torch's). Best and median:
# python3 experiments/bench/summarize.py FILE. Run alone on the machine, after `make build` and `make bench-peers`
# (PY= another venv's python works too). SHAPE= extra shape options given to both sides before the row's own
# (e.g. "--context 32 --vocab-size 512 --batch 4" for a smoke test; both sides spell them alike).
#   ROUNDS=3 THREADS=2 STEPS=8 sh experiments/bench/train_vs_torch.sh
set -eu
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; STEPS=${STEPS:-8}; SHAPE=${SHAPE:-}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}
DIR=${DIR:-experiments/bench/results}
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"
ours() {  # ours FILE ROUND WHO ARGS…: one `lmprobe bench train` line
    f=$1 r=$2 who=$3; shift 3
    start_figure
    # shellcheck disable=SC2086
    res=$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" $SHAPE "$@" --json)
    record "$DIR/$f" "$r" "$who" "$res"
}
peer() {  # peer FILE ROUND ARGS…: one PyTorch eager line
    f=$1 r=$2; shift 2
    start_figure
    # shellcheck disable=SC2086
    res=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" experiments/bench/peer_train.py --threads "$THREADS" \
        --steps "$STEPS" $SHAPE "$@")
    record "$DIR/$f" "$r" pytorch "$res"
}
for r in $(seq 1 "$ROUNDS"); do
    start_figure
    res=$("$BIN" bench gemm --threads "$THREADS" --sizes 1024 --json)
    record "$DIR/gemm.jsonl" "$r" lmprobe "$res"
    ours train-ce.jsonl "$r" lmprobe
    peer train-ce.jsonl "$r"
    ours train-ce.jsonl "$r" lmprobe-serial --step-mode serial
    ours train-quad.jsonl "$r" lmprobe-quad --objective quad
    ours train-quad.jsonl "$r" lmprobe-ce
    ours train-l6d384.jsonl "$r" lmprobe --layers 6 --dim 384 --heads 6
    peer train-l6d384.jsonl "$r" --layers 6 --dim 384 --heads 6
done
