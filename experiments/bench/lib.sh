# Sourced by the experiments/bench/*_vs_*.sh harnesses: how a figure is recorded, in one place.
#   start_figure          waits, when SETTLE is set (run_all.sh sets 0.5), until the 1-minute load average is below
#                         SETTLE (at most SETTLE_MAX seconds, default 300), then reads the load at the figure's start
#   record FILE ROUND WHO JSON
#                         appends {"round", "who", "loadavg" (at the start), "loadavg_after" (now: it includes the
#                         figure's own threads), "kernel" (OPENBLAS_CORETYPE as lmprobe ran it, "" = the
#                         environment's own choice), "result": JSON} to FILE and echoes it
# A figure whose start load is ≥ 0.5 is LOADED (experiments/bench/summarize.py labels it so).
start_figure() {
    if [ -n "${SETTLE:-}" ]; then
        waited=0
        while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v s="$SETTLE" 'BEGIN { exit !(l >= s) }' \
            && [ "$waited" -lt "${SETTLE_MAX:-300}" ]; do
            sleep 10; waited=$((waited + 10))
        done
    fi
    load=$(cut -d' ' -f1-3 /proc/loadavg)
}

record() {
    printf '{"round":%s,"who":"%s","loadavg":"%s","loadavg_after":"%s","kernel":"%s","result":%s}\n' \
        "$2" "$3" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "${OPENBLAS_CORETYPE:-}" "$4" | tee -a "$1"
}
