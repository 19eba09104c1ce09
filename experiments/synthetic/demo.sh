#!/bin/sh
# The synthetic part of `make demo` (about a minute on 2 idle cores): a small HMM language whose p* is known, a CE GPT
# trained on it with log-spaced checkpoints, and for each checkpoint the exact ε, the bound τ + B√(2ε) and the probe
# losses → OUT/report/report.md and OUT/report/natural.svg (probe loss against √ε with the bound line).
#   sh experiments/synthetic/demo.sh [OUT]        (default runs/demo/synthetic; stages whose outputs exist are reused)
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
OUT=${1:-runs/demo/synthetic}
mkdir -p "$OUT"
echo "== synthetic 1/3: HMM language (K = 32, V = 256) and 2M tokens → $OUT/lang"
[ -f "$OUT/lang/tokens/tokens.json" ] || { rm -rf "$OUT/lang"; $BIN synth generate --out "$OUT/lang" --states 32 \
    --words 256 --train-tokens 2000000 --val-tokens 50000; }
[ -f "$OUT/tasks/natural/task.json" ] || $BIN synth task --hmm "$OUT/lang/hmm" --out "$OUT/tasks/natural" \
    --length 32 --train 1000 --test 1000
echo "== synthetic 2/3: CE GPT (L=2, d=64, T=64), 2000 steps, checkpoints at 25, 100, 300, 1000, 2000 → $OUT/ce"
if [ ! -f "$OUT/ce/final.safetensors" ]; then
    if [ -f "$OUT/ce/latest" ]; then $BIN pretrain --data "$OUT/lang/tokens" --out "$OUT/ce" --resume
    else $BIN pretrain --data "$OUT/lang/tokens" --out "$OUT/ce" --layers 2 --dim 64 --heads 2 --context 64 \
        --steps 2000 --warmup 20 --checkpoint-every 2000 --checkpoint-at 25,100,300,1000 --keep-checkpoints \
        --eval-every 1000 --log-every 200; fi
fi
echo "== synthetic 3/3: exact ε, τ, the bound τ + B√(2ε), probes on p_f, Φp_f, f and p* → $OUT/report"
$BIN synth measure --hmm "$OUT/lang/hmm" --task "$OUT/tasks/natural" --lm "CE=$OUT/ce" --out "$OUT/report" --windows 64
