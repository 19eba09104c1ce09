#!/bin/sh
# The synthetic part of `make demo`: experiment 1 of issue 28 (experiments/synthetic/rate.sh) at demo scale — a small
# HMM language whose p* is known, three CE GPTs (seeds 0, 1, 2) trained on it with log-spaced checkpoints, for each
# checkpoint the exact ε, τ, the bound τ + B√(2ε) and the probe losses (`synth measure`, one report per seed), then the
# gap to τ against ε over the seeds on log–log axes (`synth rate`) → OUT/rate/report.md, OUT/rate/sign-B1-ce.svg and
# OUT/rate/bernoulli-ce.svg (each seed's gaps, B√(2ε), reference slopes ½ and 1, the ε below which the bound is under ln 2).
# Target: ≤ 2 minutes on 2 idle cores. Taken on the shared machine at load 5–9 (a loaded-machine timing, not a benchmark):
# 97 s wall, 67 s CPU (experiments/synthetic/results/rate-demo/demo.log, whose rate report is committed beside it).
#   sh experiments/synthetic/demo.sh [OUT]        (default runs/demo/synthetic; stages whose outputs exist are reused)
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
OUT=${1:-runs/demo/synthetic}
SEEDS="0 1 2"
mkdir -p "$OUT"
echo "== synthetic 1/4: HMM language (K = 16, V = 256, class mass 0.5) and 2M tokens; sign (B = 1) and Bernoulli tasks → $OUT"
[ -f "$OUT/lang/tokens/tokens.json" ] || { rm -rf "$OUT/lang"; $BIN synth generate --out "$OUT/lang" --states 16 \
    --words 256 --emission-concentration 1 --class-mass 0.5 --train-tokens 2000000 --val-tokens 50000; }
common="--hmm $OUT/lang/hmm --length 32 --train 400 --test 400"
[ -f "$OUT/tasks/sign-B1/task.json" ] || $BIN synth task $common --out "$OUT/tasks/sign-B1" --label sign --kappa 1 --seed 2
[ -f "$OUT/tasks/bernoulli/task.json" ] || $BIN synth task $common --out "$OUT/tasks/bernoulli" --seed 1
echo "== synthetic 2/4: CE GPTs (L=2, d=32, T=64), seeds $SEEDS, 2000 steps, checkpoints at 30, 150, 600, 2000 → $OUT/ce-s*"
for s in $SEEDS; do
    [ -f "$OUT/ce-s$s/final.safetensors" ] && continue
    if [ -f "$OUT/ce-s$s/latest" ]; then $BIN pretrain --data "$OUT/lang/tokens" --out "$OUT/ce-s$s" --resume
    else $BIN pretrain --data "$OUT/lang/tokens" --out "$OUT/ce-s$s" --layers 2 --dim 32 --heads 1 --context 64 \
        --lr 0.003 --steps 2000 --warmup 20 --checkpoint-every 2000 --checkpoint-at 30,150,600 --keep-checkpoints \
        --eval-every 1000 --log-every 1000 --seed "$s"; fi
done
echo "== synthetic 3/4: exact ε, τ, the bound τ + B√(2ε), probes on p_f, Φp_f, f and p*, per seed → $OUT/measure/s*"
for s in $SEEDS; do
    $BIN synth measure --hmm "$OUT/lang/hmm" --task "$OUT/tasks/sign-B1" --task "$OUT/tasks/bernoulli" \
        --lm "ce=$OUT/ce-s$s" --out "$OUT/measure/s$s" --windows 32 > /dev/null
done
echo "== synthetic 4/4: the gap to τ against ε over seeds (log–log, slopes with a t interval) → $OUT/rate"
$BIN synth rate --measure "s0=$OUT/measure/s0" --measure "s1=$OUT/measure/s1" --measure "s2=$OUT/measure/s2" --out "$OUT/rate" \
    | sed -n '/^Rule:/p; /^## /p; /^Bound non-vacuous/p; /^| gap | against/,/^$/p'
echo "   charts: $OUT/rate/sign-B1-ce.svg, $OUT/rate/bernoulli-ce.svg; tables: $OUT/rate/report.md"
