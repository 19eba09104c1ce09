#!/bin/sh
# Same-run extraction benchmark (issue 13, the `extract` row): ROUNDS rounds of `lmprobe bench extract --checkpoint`
# on SST-2's size — 8,741 sequences (train + test), lengths drawn like SST-2 plus a prompt — through the real
# extractor (length-bucketed batches; f, p over all V words as float16, Φp_f), with the PyTorch peer
# (experiments/hf/peer_extract.py: transformers GPT2LMHeadModel, batches of 64, padding + attention mask) on the same
# sequences in the same run. The model is CKPT (default: the recipe study's L4-d256 run, the reference config
# L=4 d=256 h=4 T=128 V=8192), exported once to a Hugging Face folder so that both sides read the same weights.
# Every line of OUT carries /proc/loadavg at its start; best and median: python3 experiments/bench/summarize.py OUT.
# Run alone on the machine, after `make build`; PY needs torch + transformers (experiments/hf/setup_venv.sh).
#   CKPT=runs/recipe/L4-d256 PY=.venv-fixtures/bin/python ROUNDS=3 sh experiments/bench/extract_vs_torch.sh
set -eu
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; SENTENCES=${SENTENCES:-8741}
CKPT=${CKPT:-runs/recipe/L4-d256}
BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-fixtures/bin/python}
HF=${HF:-runs/bench-extract-hf}
OUT=${OUT:-experiments/bench/results/extract-sst2size.jsonl}
mkdir -p "$(dirname "$OUT")"
[ -f "$HF/model.safetensors" ] || "$BIN" export --checkpoint "$CKPT" --out "$HF" --format hf
for r in $(seq 1 "$ROUNDS"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    res=$("$BIN" bench extract --threads "$THREADS" --checkpoint "$HF/model.safetensors" --sentences "$SENTENCES" \
        --peer-python "$PY" --json)
    echo "{\"round\":$r,\"who\":\"lmprobe-vs-transformers\",\"loadavg\":\"$load\",\"result\":$res}" | tee -a "$OUT"
done
