#!/bin/sh
# transformers loads what `lmprobe export` writes and gives lmprobe's f and p (run by hand; needs
# .venv-fixtures from experiments/hf/setup_venv.sh and a built lmprobe). Tied and untied Φ, float32 and float16.
set -eu
LMPROBE=${LMPROBE:-.build/release/lmprobe}
PY=${PY:-.venv-fixtures/bin/python}
W=$(mktemp -d /tmp/lmprobe-check-export.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$PY" - "$W" <<'PYEOF'
import random, sys
w = sys.argv[1]
rnd = random.Random(0)
adj = "great charming happy boring sad dull awful fantastic".split()
nouns = "movie film story plot actor scene".split()
open(w + "/corpus.txt", "w").write("\n".join(
    f"The {rnd.choice(nouns)} is {rnd.choice(adj)} and the {rnd.choice(nouns)} was {rnd.choice(adj)}." for _ in range(400)))
open(w + "/data.tsv", "w").write("".join(
    f"{i % 2}\tthe {rnd.choice(nouns)} was {rnd.choice(adj)}, really {rnd.choice(adj)}!\n" for i in range(40)))
PYEOF
"$LMPROBE" tokenize --out "$W/tok" --vocab-size 400 --doc-split line "$W/corpus.txt" >/dev/null
for tie in tied untied; do
  flag=""; [ $tie = untied ] && flag="--untied-phi"
  "$LMPROBE" pretrain --data "$W/tok" --out "$W/run-$tie" --layers 2 --dim 32 --heads 4 --context 32 --batch 8 \
    --steps 30 --warmup 3 --eval-every 30 --eval-batches 1 $flag >/dev/null 2>&1
  "$LMPROBE" extract --checkpoint "$W/run-$tie" --dataset "$W/data.tsv" --out "$W/feat-$tie" >/dev/null
  "$LMPROBE" export --checkpoint "$W/run-$tie" --out "$W/hf-$tie" >/dev/null
  "$PY" experiments/hf/check_export.py "$W/hf-$tie" "$W/feat-$tie" "$W/data.tsv" --tol 1e-4
  "$LMPROBE" export --checkpoint "$W/run-$tie" --out "$W/hf16-$tie" --float16 >/dev/null
  "$PY" experiments/hf/check_export.py "$W/hf16-$tie" "$W/feat-$tie" "$W/data.tsv" --tol 2e-2
done
echo "check_export: transformers reproduces lmprobe's features for tied and untied exports"
