#!/bin/sh
# Every performance figure of issue 29's table, in one command, under the environment's OpenBLAS kernel AND the best
# verified one (`lmprobe doctor --json`), each labelled, against their peers in the same runs:
#   CE and Quad training steps (and L6 d384) vs PyTorch eager        train_vs_torch.sh   → train-*.jsonl, gemm.jsonl
#   ridge LOO n 6,920 d 8,192 vs sklearn RidgeClassifierCV          probe_vs_sklearn.sh → probe.jsonl
#   GPT-2 small extraction (L12 d768 V50,257, SST-2 lengths) vs transformers with logits at every position (the
#   paper's code path) and at the last position only (a careful user)  extract_vs_torch.sh → extract-gpt2.jsonl
#   ridge on a float16 n 6,920 × V 50,257 file (streamed) vs sklearn probe_vs_sklearn.sh FIXTURE= → probe-wide.jsonl
# The peers run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in their own command; which BLAS and kernel they
# then use is recorded once (peers-blas.json). Before every figure the harness waits (at most 5 min) for the 1-minute
# load average to fall below 0.5; a figure that starts at ≥ 0.5 anyway is marked LOADED in summary.md. Each line
# records the load at its start and end.
#
#   sh experiments/bench/run_all.sh [--quick] [--rounds N] [--out DIR]     (or: make bench-all [BENCH_ARGS=--quick])
#
# Writes DIR (default experiments/bench/results/<YYYY-MM-DD>-<cpu>-<cores>c/, refused if it exists; --quick:
# …-quick/, replaced on each run and not committed): machine.json (date, commit, CPU, cores, memory, OpenBLAS,
# the environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE), doctor.json (every kernel: self-test, sgemm 1 and 2
# threads, the best verified), peers-blas.json, one folder per kernel pass with the raw JSON lines, and summary.md
# (experiments/bench/summarize.py --run DIR: best / median per row, peers, ratios, MFU against the ceiling of the
# kernel used with the best verified ceiling beside it, the machine block) for the README to quote.
# --quick: tiny sizes, 1 round unless --rounds, no waiting for the load: a smoke test of the whole chain (about a minute).
# The full run takes hours — an estimate from issue 29's idle rates: ~25 min per GPT-2 extraction round (lmprobe and
# both peers on 8,741 sequences; SENTENCES= fewer), ~45 min per pass for the other rows and the waits for the load
# to settle, so ~2 h per kernel pass at 3 rounds: run it alone on the machine.
# Needs `make build` (the release binary) and `make bench-peers` (.venv-bench: torch, transformers, scikit-learn);
# the GPT-2 small random model is written once to runs/gpt2-random (needs `make gpt2-tokenizer`).
set -eu
cd "$(dirname "$0")/../.."
QUICK=0; ROUNDS=""; OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) [ $# -ge 2 ] || { echo "run_all.sh: --rounds needs a number" >&2; exit 64; }; ROUNDS=$2; shift ;;
        --out) [ $# -ge 2 ] || { echo "run_all.sh: --out needs a folder" >&2; exit 64; }; OUT=$2; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "run_all.sh: unknown argument '$1' (expected --quick, --rounds N, --out DIR)" >&2; exit 64 ;;
    esac
    shift
done
case "${ROUNDS:-1}" in ''|*[!0-9]*|0) echo "run_all.sh: --rounds must be a positive integer, not '$ROUNDS'" >&2; exit 64 ;; esac

BIN=${BIN:-.build/release/lmprobe}; PY=${PY:-.venv-bench/bin/python}; THREADS=${THREADS:-2}
[ -x "$BIN" ] || { echo "run_all.sh: no release binary at $BIN — run \`make build\` first" >&2; exit 1; }
"$PY" -c 'import torch, transformers, sklearn, threadpoolctl' 2>/dev/null \
    || { echo "run_all.sh: the peer venv ($PY) is missing or lacks torch/transformers/scikit-learn — run \`make bench-peers\` first" >&2; exit 1; }

if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1}; STEPS=2; SENTENCES=24
    SHAPE="--layers 2 --dim 64 --heads 2 --context 32 --vocab-size 512 --batch 4"
    PROBE_N=300; PROBE_D=600; WIDE_N=200; WIDE_D=1500
    GPT2=Tests/ModelTests/Fixtures/hf-gpt2-tiny
    unset SETTLE
else
    ROUNDS=${ROUNDS:-3}; STEPS=8; SENTENCES=${SENTENCES:-8741}; SHAPE=""
    PROBE_N=6920; PROBE_D=8192; WIDE_N=6920; WIDE_D=50257
    GPT2=${GPT2:-runs/gpt2-random}
    SETTLE=0.5; export SETTLE
    if [ ! -f "$GPT2/model.safetensors" ]; then
        [ -f data/gpt2-tokenizer/encoder.json ] \
            || { echo "run_all.sh: $GPT2 is missing and making it needs data/gpt2-tokenizer — run \`make gpt2-tokenizer\` first" >&2; exit 1; }
        "$PY" experiments/hf/make_fixtures.py full-size "$GPT2"
    fi
fi

machine=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//')
machine="${machine:-cpu}-$(nproc)c"
if [ -z "$OUT" ]; then
    OUT=experiments/bench/results/$(date -u +%Y-%m-%d)-$machine
    [ "$QUICK" = 1 ] && { OUT=$OUT-quick; rm -rf "$OUT"; }
fi
[ -e "$OUT" ] && { echo "run_all.sh: $OUT exists — move it away or pass --out DIR" >&2; exit 1; }
mkdir -p "$OUT"
echo "run_all.sh: results in $OUT"

# The machine: what `doctor` cannot see (memory, commit, the peers' BLAS), then every kernel's self-test and ceiling.
{
    printf '{"date":"%s","commit":"%s","quick":%s,"rounds":%s,"threads":%s,"memory_kb":%s,' \
        "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$([ "$QUICK" = 1 ] && echo true || echo false)" "$ROUNDS" "$THREADS" \
        "$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
    printf '"openblas_coretype":"%s","openblas_l2_size":"%s","loadavg":"%s"}\n' \
        "${OPENBLAS_CORETYPE:-}" "${OPENBLAS_L2_SIZE:-}" "$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" -c '
import json, re, numpy, sklearn, torch, transformers
from threadpoolctl import threadpool_info
print(json.dumps({"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                               "sklearn": sklearn.__version__, "numpy": numpy.__version__},
                  "torch_blas": re.findall(r"CPU capability usage: \w+|(?<![A-Z_])(?:BLAS|LAPACK)_INFO=[^,\s]+",
                                           torch.__config__.show()),
                  "threadpools": [{k: p.get(k) for k in ("internal_api", "version", "architecture", "filepath")}
                                  for p in threadpool_info()]}))' > "$OUT/peers-blas.json"
doctor_args=""
[ "$QUICK" = 1 ] && doctor_args="--quick"
# shellcheck disable=SC2086
"$BIN" doctor --json $doctor_args > "$OUT/doctor.json" || echo "run_all.sh: the environment's kernel FAILED lmprobe's self-test (doctor.json); its figures are labelled so" >&2
env_core=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernels"][0].get("core_in_effect") or "")' "$OUT/doctor.json")
best=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("best") or "")' "$OUT/doctor.json")

# One pass per kernel: the environment's (OPENBLAS_* as they are), then the best verified unless it is the same.
run_pass() {  # run_pass LABEL — the environment's OPENBLAS_CORETYPE is what lmprobe runs in this pass
    d=$OUT/$1
    mkdir -p "$d"
    echo "run_all.sh: pass $1 (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}), load $(cut -d' ' -f1-3 /proc/loadavg)"
    DIR=$d ROUNDS=$ROUNDS THREADS=$THREADS STEPS=$STEPS SHAPE=$SHAPE BIN=$BIN PY=$PY sh experiments/bench/train_vs_torch.sh
    N=$PROBE_N D=$PROBE_D OUT=$d/probe.jsonl ROUNDS=$ROUNDS THREADS=$THREADS BIN=$BIN PY=$PY \
        sh experiments/bench/probe_vs_sklearn.sh
    HF=$GPT2 OUT=$d/extract-gpt2.jsonl SENTENCES=$SENTENCES ROUNDS=$ROUNDS THREADS=$THREADS BIN=$BIN PY=$PY \
        sh experiments/bench/extract_vs_torch.sh
    FIXTURE=runs/bench-wide/wide-${WIDE_N}x${WIDE_D}.npy N=$WIDE_N D=$WIDE_D OUT=$d/probe-wide.jsonl \
        ROUNDS=$ROUNDS THREADS=$THREADS BIN=$BIN PY=$PY sh experiments/bench/probe_vs_sklearn.sh
}
run_pass environment
if [ -n "$best" ] && [ "$(echo "$best" | tr 'A-Z' 'a-z')" != "$(echo "$env_core" | tr 'A-Z' 'a-z')" ]; then
    OPENBLAS_CORETYPE=$best; export OPENBLAS_CORETYPE
    run_pass best-verified
else
    echo "run_all.sh: the best verified kernel (${best:-none}) is the environment's ($env_core): one pass"
fi
python3 experiments/bench/summarize.py --run "$OUT"
echo "run_all.sh: wrote $OUT/summary.md"
