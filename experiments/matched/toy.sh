#!/bin/sh
# Toy-scale check of experiments/matched/run.sh (seconds, not a result): a synthetic corpus, a 20-step reference CE
# model, then every phase with 1-layer d=16 models, 3 seeds, Quad tries of 4 → 8 → 16 steps and 2-fold CV on a
# 60-sentence toy task. Everything goes to a temporary folder (TOY, default /tmp/lmprobe-matched-toy), removed first.
#   sh experiments/matched/toy.sh            (BIN defaults to the debug build: swift build first)
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/debug/lmprobe}
TOY=${TOY:-/tmp/lmprobe-matched-toy}
rm -rf "$TOY"; mkdir -p "$TOY"
python3 - "$TOY" <<'PY'
import random, sys
d = sys.argv[1]; rng = random.Random(0)
pos = "great charming happy fantastic exciting strong classic interesting".split()
neg = "boring sad terrible flawed dull awful bad weak".split()
nouns = "movie film story plot actor scene ending cast".split()
with open(d + "/corpus.txt", "w") as f:
    for _ in range(400):
        f.write(f"the {rng.choice(nouns)} was {rng.choice(pos + neg)} and the {rng.choice(nouns)} felt {rng.choice(pos + neg)} .\n")
with open(d + "/data.tsv", "w") as f:
    for i in range(60):
        w = pos[(i // 2) % 8] if i % 2 else neg[(i // 2) % 8]
        f.write(f"{i % 2}\tthe {nouns[i % 8]} was {w}\n")
with open(d + "/task.json", "w") as f:
    f.write('[{"name": "toy", "train": {"path": "%s/data.tsv", "format": "tsv", "text_column": "text", '
            '"label_column": "label", "detokenize_ptb": false}, "test_fraction": 0.25, "seed": 0, '
            '"prompt": " The movie is", "words": [], "class_words": null}]' % d)
PY
$BIN tokenize --out "$TOY/tok" --vocab-size 300 --doc-split line "$TOY/corpus.txt" >/dev/null
$BIN pretrain --data "$TOY/tok" --out "$TOY/ref" --layers 1 --dim 16 --heads 2 --context 16 --batch 4 --steps 20 \
    --eval-every 20 --eval-batches 1 --warmup 2 >/dev/null
REF="$TOY/ref" TOK="$TOY/tok" RUN="$TOY/runs" OUT="$TOY/results" SEEDS="1 2 3" STEPS0=4 MAX_STEPS=16 FOLDS=2 \
    LAYERS=1 DIM=16 HEADS=2 CONTEXT=16 BATCH=4 TASKS="" METHODS=ridge BIN="$BIN" \
    EXTRA_COMPARE="--tasks-file $TOY/task.json --families f,phip --no-bow --no-leakage-check --threads 2" \
    sh experiments/matched/run.sh
cat "$TOY/results/SUMMARY.md"
