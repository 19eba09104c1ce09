#!/bin/sh
# Same-run training-step benchmarks (issue 13): ROUNDS rounds, each running, back to back,
#   lmprobe `bench train` (reference config, CE; default batch-parallel steps, then --step-mode serial: what the
#   batch-parallel step buys) and the PyTorch eager peer (peer_train.py)                  → train-ce.jsonl
#   lmprobe `bench train --objective quad` and CE again (the Quad ÷ CE ratio of the same round) → train-quad.jsonl
#   lmprobe and PyTorch at L6 d384 h6                                                      → train-l6d384.jsonl
# plus `bench gemm` (the sgemm ceiling) at the start of every round → gemm.jsonl. Every line carries /proc/loadavg
# at its start. Best and median: python3 experiments/bench/summarize.py FILE. Run alone on the machine, after
# `make build` and experiments/bench/setup_peers.sh (PY= another venv's python works too).
#   ROUNDS=3 THREADS=2 STEPS=8 sh experiments/bench/train_vs_torch.sh
set -eu
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; STEPS=${STEPS:-8}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}
DIR=${DIR:-experiments/bench/results}
mkdir -p "$DIR"
line() {  # line FILE ROUND WHO JSON
    echo "{\"round\":$2,\"who\":\"$3\",\"loadavg\":\"$load\",\"result\":$4}" | tee -a "$DIR/$1"
}
for r in $(seq 1 "$ROUNDS"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line gemm.jsonl "$r" lmprobe "$("$BIN" bench gemm --threads "$THREADS" --sizes 1024 --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-ce.jsonl "$r" lmprobe "$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-ce.jsonl "$r" pytorch "$("$PY" experiments/bench/peer_train.py --threads "$THREADS" --steps "$STEPS")"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-ce.jsonl "$r" lmprobe-serial "$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" --step-mode serial --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-quad.jsonl "$r" lmprobe-quad "$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" --objective quad --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-quad.jsonl "$r" lmprobe-ce "$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-l6d384.jsonl "$r" lmprobe "$("$BIN" bench train --threads "$THREADS" --steps "$STEPS" --layers 6 --dim 384 --heads 6 --json)"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line train-l6d384.jsonl "$r" pytorch "$("$PY" experiments/bench/peer_train.py --threads "$THREADS" --steps "$STEPS" --layers 6 --dim 384 --heads 6)"
done
