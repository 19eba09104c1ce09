#!/bin/sh
# Same-run extraction benchmark (issue 13, the `extract` row): ROUNDS rounds of `lmprobe bench extract --checkpoint`
# on SST-2's size — 8,741 sequences (train + test), lengths drawn like SST-2 plus a prompt — through the real
# extractor (length-bucketed batches; f, p over all V words as float16, Φp_f), with the transformers peers
# (experiments/hf/peer_extract.py: GPT2LMHeadModel, batches of 64, padding + attention mask) on the same
# sequences in the same run, one per PEER_LOGITS entry: every-position (the paper's code path: logits at every
# position) and last-position (a careful user's: logits at the last position only). The peers run with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from their environment (lmprobe removes them). The model is CKPT
# (default: the recipe study's L4-d256 run, the reference config L=4 d=256 h=4 T=128 V=8192), exported once to a
# Hugging Face folder HF so that both sides read the same weights; when HF already holds a model (e.g. GPT-2 small
# from experiments/hf/make_fixtures.py full-size), it is used as it is. Every line of OUT carries /proc/loadavg at
# its start and end; best and median: python3 experiments/bench/summarize.py OUT. Run alone on the machine, after
# `make build`; PY needs torch + transformers (make bench-peers).
#   CKPT=runs/recipe/L4-d256 PY=.venv-bench/bin/python ROUNDS=3 sh experiments/bench/extract_vs_torch.sh
#   HF=runs/gpt2-random OUT=experiments/bench/results/extract-gpt2.jsonl sh experiments/bench/extract_vs_torch.sh
set -eu
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; SENTENCES=${SENTENCES:-8741}
CKPT=${CKPT:-runs/recipe/L4-d256}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}
HF=${HF:-runs/bench-extract-hf}
OUT=${OUT:-experiments/bench/results/extract-sst2size.jsonl}
PEER_LOGITS=${PEER_LOGITS:-every-position last-position}
mkdir -p "$(dirname "$OUT")"
[ -f "$HF/model.safetensors" ] || "$BIN" export --checkpoint "$CKPT" --out "$HF" --format hf
peers=""
for p in $PEER_LOGITS; do peers="$peers --peer-logits $p"; done
. "$(dirname "$0")/lib.sh"
for r in $(seq 1 "$ROUNDS"); do
    start_figure
    # shellcheck disable=SC2086
    res=$("$BIN" bench extract --threads "$THREADS" --checkpoint "$HF/model.safetensors" --sentences "$SENTENCES" \
        --peer-python "$PY" $peers --json)
    record "$OUT" "$r" lmprobe-vs-transformers "$res"
done
