#!/bin/sh
# Matched-compute CE vs Quad (issue 14): the only difference between the two models is the objective.
#
#   sh experiments/matched/run.sh [phase ...]        phases: plugin quad ce compare summary (default: all)
#
# Protocol
#   1. A reference CE model (REF, default the paper_cpu CE run) supplies Φ. Both new models copy it, untied and
#      frozen (--untied-phi --phi-from REF --freeze-phi), and are otherwise trained from scratch.
#   2. plugin: the Quad loss reachable on that Φ, f = G⁻¹Φᵀp_REF(s), on the whole validation split
#      (`lmprobe analyze plug-in`). This is the target Quad must approach.
#   3. quad: for each seed, Quad with --steps S, S = STEPS0, 2·STEPS0, 4·STEPS0, … (each try from scratch, so every
#      try has a complete learning-rate schedule) until its whole-split validation loss is within TOLERANCE (10 %)
#      of the plug-in value, or S would pass MAX_STEPS (then the run is reported as NOT converged). The S reached is
#      written to OUT/quad-sSEED.steps. A later seed starts its doubling at the S an earlier seed stopped at (converged
#      or not: the shorter tries are ones that seed already failed), so only the first seed pays for the whole search.
#   4. ce: for each seed, CE with the same --steps S as that seed's Quad: equal tokens (S × batch × context).
#   5. compare: per seed, `lmprobe compare` CE_s vs Quad_s on SST-2, SST-5 (fixed splits) and RT, BBC with
#      K-fold CV over all examples (--seeds FOLDS --cv); paired tests (McNemar mid-p, paired bootstrap) per cell.
#   6. summary: mean ± std over seeds of every cell, and every seed's paired test (summarize.py → OUT/SUMMARY.md);
#      with two seeds or more, a paired t-test over seeds per cell (seed_tests.py → OUT/SEED_TESTS.{md,json}).
#
# Environment: REF (default runs/paper/ce), TOK (default runs/paper/tok), RUN (default runs/matched),
#   SEEDS (default "1 2 3"), STEPS0 (default 1200), MAX_STEPS (default 19200), TOLERANCE (default 0.10),
#   FOLDS (default 5), TASKS (default "--task sst2 --task sst5 --task rt --task bbc"), SST_DIR (default data/sst),
#   LAYERS/DIM/HEADS/CONTEXT/BATCH (default 4/256/4/128/16), LR (default: pretrain's 1e-3; min LR = LR/10, as in
#   experiments/paper_cpu/run.sh — the same for both objectives), QUAD_SCALE (default auto: Quad's output scale
#   c = 1/‖Φ‖_F, as in paper_cpu; CE keeps c = 1, its LayerNorm gain is not fighting a huge Φ), METHODS (default ridge,logistic), EXTRA_COMPARE (extra compare options, e.g. a
#   --tasks-file for a toy check), OUT (default experiments/matched/results).
# Every phase skips work whose output exists. Nothing here is run by `make test`; a toy-scale check of the whole
# script runs in under a minute: sh experiments/matched/toy.sh.
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
REF=${REF:-runs/paper/ce}
TOK=${TOK:-runs/paper/tok}
RUN=${RUN:-runs/matched}
OUT=${OUT:-experiments/matched/results}
SEEDS=${SEEDS:-"1 2 3"}
STEPS0=${STEPS0:-1200}
MAX_STEPS=${MAX_STEPS:-19200}
TOLERANCE=${TOLERANCE:-0.10}
FOLDS=${FOLDS:-5}
SST_DIR=${SST_DIR:-data/sst}
TASKS=${TASKS-"--task sst2 --task sst5 --task rt --task bbc"}
LAYERS=${LAYERS:-4}; DIM=${DIM:-256}; HEADS=${HEADS:-4}; CONTEXT=${CONTEXT:-128}; BATCH=${BATCH:-16}
EXTRA_COMPARE=${EXTRA_COMPARE:-}
METHODS=${METHODS:-ridge,logistic}
QUAD_SCALE=${QUAD_SCALE:-auto}
PHASES=${*:-plugin quad ce compare summary}
LR_OPT=${LR:+--lr $LR --min-lr $(python3 -c "print(${LR:-0}/10)")}
MODEL="--layers $LAYERS --dim $DIM --heads $HEADS --context $CONTEXT --batch $BATCH $LR_OPT --untied-phi --phi-from $REF --freeze-phi"
mkdir -p "$RUN" "$OUT"

stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
# The plug-in value and a Quad run's relative gap to it, from the JSON `analyze plug-in` writes: (q − p)/|p|, and 0
# when the Quad run is below (better than) the plug-in value — the target is reached, not missed by |q − p|.
gap() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); p=d['plug_in']['loss']; q=d['quad']['objective']; print(max(0.0, q-p)/abs(p))" "$1"; }
# Train into $1 unless it has its final checkpoint; a run stopped with Ctrl-C (SIGINT checkpoints after the current
# step) is resumed bit-identically instead of restarted.
train() {
    dir=$1; shift
    [ -f "$dir/final.safetensors" ] && return 0
    if [ -f "$dir/latest" ]; then $BIN pretrain --data "$TOK" --out "$dir" --resume
    else $BIN pretrain --data "$TOK" --out "$dir" "$@"; fi
}

for phase in $PHASES; do
case $phase in
plugin)
    stamp "plugin: Quad loss of f = G⁻¹Φᵀp_REF(s) on the whole validation split"
    [ -f "$OUT/plug-in/plug-in.json" ] || $BIN analyze plug-in --checkpoint "$REF" --data "$TOK" --out "$OUT/plug-in" ;;
quad)
    start=$STEPS0
    for s in $SEEDS; do
        if [ -f "$OUT/quad-s$s.steps" ]; then
            start=$(cut -d' ' -f1 "$OUT/quad-s$s.steps")
            continue
        fi
        steps=$start
        while :; do
            dir="$RUN/quad-s$s-$steps"
            stamp "quad seed $s: $steps steps"
            train "$dir" $MODEL --objective quad \
                --output-scale "$QUAD_SCALE" --steps "$steps" --seed "$s" --eval-every "$steps" --checkpoint-every "$steps"
            [ -f "$OUT/plug-in-quad-s$s-$steps/plug-in.json" ] || $BIN analyze plug-in --checkpoint "$REF" \
                --data "$TOK" --quad "$dir" --out "$OUT/plug-in-quad-s$s-$steps" >/dev/null
            g=$(gap "$OUT/plug-in-quad-s$s-$steps/plug-in.json")
            stamp "quad seed $s: $steps steps, relative gap to the plug-in value $g"
            if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$g" "$TOLERANCE"; then
                echo "$steps converged $g" > "$OUT/quad-s$s.steps"; start=$steps; break
            fi
            next=$((steps * 2))
            if [ "$next" -gt "$MAX_STEPS" ]; then echo "$steps NOT-converged $g" > "$OUT/quad-s$s.steps"; start=$steps; break; fi
            steps=$next
        done
        ln -sfn "$(basename "$RUN/quad-s$s-$(cut -d' ' -f1 "$OUT/quad-s$s.steps")")" "$RUN/quad-s$s"
    done ;;
ce)
    for s in $SEEDS; do
        [ -f "$OUT/quad-s$s.steps" ] || { echo "ce: run the quad phase first (no $OUT/quad-s$s.steps)" >&2; exit 2; }
        steps=$(cut -d' ' -f1 "$OUT/quad-s$s.steps")
        stamp "ce seed $s: $steps steps (the tokens of Quad seed $s)"
        train "$RUN/ce-s$s" $MODEL --objective ce \
            --steps "$steps" --seed "$s" --eval-every "$steps" --checkpoint-every "$steps"
    done ;;
compare)
    for s in $SEEDS; do
        stamp "compare seed $s: CE vs Quad, paired tests; RT and BBC by $FOLDS-fold CV over all examples"
        [ -f "$OUT/compare-s$s/report.json" ] || $BIN compare --checkpoint "CE=$RUN/ce-s$s" --checkpoint "Quad=$RUN/quad-s$s" \
            $TASKS --sst-dir "$SST_DIR" --methods "$METHODS" --seeds "$FOLDS" --cv $EXTRA_COMPARE \
            --out "$OUT/compare-s$s" --cache "$RUN/features"
    done ;;
summary)
    stamp "summary: mean ± std over seeds, every seed's paired test, the paired t-test over seeds"
    python3 experiments/matched/summarize.py "$OUT" $SEEDS
    # A t-test over seeds needs at least two of them.
    if [ "$(echo $SEEDS | wc -w)" -ge 2 ]; then python3 experiments/matched/seed_tests.py "$OUT" $SEEDS; fi ;;
*) echo "unknown phase '$phase' (plugin quad ce compare summary)" >&2; exit 2 ;;
esac
done
stamp "done: $OUT"
