#!/bin/sh
# `compare` at V = 50,257 on SST-2, end to end (issue 29, "the full-vocabulary probe, lean"): GPT-2 small's
# extraction of SST-2's train and test splits (f, p over all 50,257 words as float16, Φp_f, the word subsets) and
# every ridge probe of them — p_f(s) fitted streamed from its cached .npy (`ProbeRunner.streams`: n = 6,920 ≤ V) —
# timed with peak resident memory. Two runs: the first extracts into a fresh cache (extract + every probe), the
# second reuses the cache (every probe alone). NOT run by the session that wrote it: run it alone on the machine,
# after `make build` and `make sst`, with a Hugging Face GPT-2 small folder (config.json, model.safetensors,
# vocab.json, merges.txt — e.g. transformers' GPT2LMHeadModel.from_pretrained("gpt2").save_pretrained(DIR,
# safe_serialization=True) plus GPT2Tokenizer's save_pretrained(DIR)):
#   GPT2=runs/gpt2-small sh experiments/bench/compare_v50257.sh
# Writes OUT (JSON lines: run, machine, load average at its start, wall seconds, peak RSS from /usr/bin/time -v,
# the report's seconds) and keeps the reports in WORK/report-*; the p_f rows of report.md carry λ and accuracy, and
# the log says "streamed from the file" for them.
set -eu
: "${GPT2:?set GPT2 to a Hugging Face GPT-2 small folder}"
BIN=${BIN:-.build/release/lmprobe}; SST=${SST:-data/sst}; THREADS=${THREADS:-2}
WORK=${WORK:-runs/bench-compare-v50257}
OUT=${OUT:-experiments/bench/results/compare-v50257.jsonl}
mkdir -p "$(dirname "$OUT")" "$WORK"
rm -rf "$WORK/features"                               # the first run must extract
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
for run in extract-and-probe probe-only; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    rm -rf "$WORK/report-$run"
    /usr/bin/time -v -o "$WORK/$run.time" "$BIN" compare --threads "$THREADS" --checkpoint GPT2="$GPT2" --task sst2 --sst-dir "$SST" \
        --methods ridge --p-dtype float16 --prompts both --no-leakage-check \
        --cache "$WORK/features" --out "$WORK/report-$run" > "$WORK/$run.log" 2>&1
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$run.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$run.time")
    secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$WORK/report-$run/report.json")
    echo "{\"run\":\"$run\",\"cpu\":\"$cpu\",\"cores\":$(nproc),\"threads\":$THREADS,\"loadavg\":\"$load\",\"wall\":\"$wall\",\"peak_rss_kb\":$rss,\"report_seconds\":$secs,\"openblas_coretype\":\"${OPENBLAS_CORETYPE:-unset}\"}" | tee -a "$OUT"
    grep -E "p_f\(s\) ridge" "$WORK/$run.log" || true
done
