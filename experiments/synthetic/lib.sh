# Shell helpers of the synthetic experiments (run.sh, rate.sh source this after setting BIN, RUN, TIMINGS, THREADS_OPT,
# STATES, WORDS, EMISSION, TRANSITION, TOKENS, STEPS and CHECKPOINTS; the repository root is the current folder).

mkdir -p "$(dirname "$TIMINGS")"
[ -f "$TIMINGS" ] || printf 'stage\tseconds\tloadavg_1m_at_start\tutc_start\n' > "$TIMINGS"

stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
# timed NAME command…: runs the command and appends its wall time and the load average at its start to $TIMINGS.
timed() {
    name=$1; shift
    load=$(cut -d' ' -f1 /proc/loadavg); t0=$(date +%s.%N); start=$(date -u +%H:%M:%S)
    "$@"
    awk -v n="$name" -v a="$t0" -v b="$(date +%s.%N)" -v l="$load" -v s="$start" \
        'BEGIN { printf "%s\t%.1f\t%s\t%s\n", n, b - a, l, s }' >> "$TIMINGS"
}
# CHECKPOINTS log-spaced steps from 10 to STEPS (distinct, comma-separated).
logsteps() {
    awk -v n="$CHECKPOINTS" -v s="$STEPS" 'BEGIN { a = log(10); b = log(s); last = 0; out = "";
        for (i = 0; i < n; i++) { x = int(exp(a + (b - a) * i / (n - 1)) + 0.5);
            if (x > last) { out = out (out == "" ? "" : ",") x; last = x } } print out }'
}
pretrain() {  # pretrain OUTDIR args…  (on $RUN/lang/tokens; resumes when a run was interrupted, skips a finished one)
    out=$1; shift
    if [ -f "$out/final.safetensors" ]; then echo "   reusing $out"; return; fi
    if [ -f "$out/latest" ]; then timed "resume $(basename "$out")" $BIN pretrain --data "$RUN/lang/tokens" --out "$out" --resume $THREADS_OPT
    else timed "pretrain $(basename "$out")" $BIN pretrain --data "$RUN/lang/tokens" --out "$out" "$@" $THREADS_OPT; fi
}
# language LOG [synth generate flags…]: the HMM (seed 0) and its corpus in $RUN/lang, kept when complete; the
# generator's output is also written to LOG.
language() {
    log=$1; shift
    [ -f "$RUN/lang/tokens/tokens.json" ] && return
    rm -rf "$RUN/lang"
    timed generate $BIN synth generate --out "$RUN/lang" --states "$STATES" --words "$WORDS" \
        --emission-concentration "$EMISSION" --transition-concentration "$TRANSITION" --seed 0 \
        --train-tokens "$TOKENS" --val-tokens 200000 "$@" $THREADS_OPT | tee "$log"
}
