#!/bin/sh
# The paper's theorem measured on a language whose p* is known (issue 11): an HMM language, CE and Quad GPTs of
# several widths trained on it, and for every kept checkpoint the exact ε, τ, the bound τ + B√(2ε) and the probes.
#
#   sh experiments/synthetic/run.sh [phase ...]      phases: data tasks train measure (default: all)
#
# The reference configuration (issue 11) is the default; every knob is an environment variable:
#   STATES=64 WORDS=1024 EMISSION=0.05 TRANSITION=0.1 TOKENS=20000000   the HMM and its corpus
#   SIZES="64 128 256" LAYERS=2 CONTEXT=64 BATCH=16 STEPS=20000         GPT widths d (heads = d/32), L, T, training
#   SEEDS="0 1 2" CHECKPOINTS=12                                        seeds per size; log-spaced checkpoints
#   NTRAIN=2000 NTEST=2000 LENGTH=48 LAG=30 WINDOWS=320                 tasks; held-out windows for ε (× CONTEXT)
#   RUN=runs/synthetic RESULTS=results THREADS=(all)                    work folder; experiments/synthetic/$RESULTS
#   PHI_TASK=(unset)                                                    a width d: also measure a Φ-natural task whose
#                                                                       direction is Φλ of the Φ-source run phi-d$PHI_TASK
# Per size: one CE run per seed, one separate CE run (seed 99) whose Φ the Quad runs copy and freeze, one Quad run
# per seed — the same number of steps for CE and Quad (their wall times are in $RESULTS/timings.tsv).
# Resumable: every phase skips what exists (pretraining resumes from its latest checkpoint; `synth measure` keeps
# each checkpoint's result in $RUN/report/points). Timings and the load average go to $RESULTS/timings.tsv.
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/lmprobe}
RUN=${RUN:-runs/synthetic}
RESULTS=experiments/synthetic/${RESULTS:-results}
STATES=${STATES:-64}; WORDS=${WORDS:-1024}; EMISSION=${EMISSION:-0.05}; TRANSITION=${TRANSITION:-0.1}
TOKENS=${TOKENS:-20000000}
SIZES=${SIZES:-64 128 256}; LAYERS=${LAYERS:-2}; CONTEXT=${CONTEXT:-64}; BATCH=${BATCH:-16}; STEPS=${STEPS:-20000}
SEEDS=${SEEDS:-0 1 2}; CHECKPOINTS=${CHECKPOINTS:-12}
NTRAIN=${NTRAIN:-2000}; NTEST=${NTEST:-2000}; LENGTH=${LENGTH:-48}; LAG=${LAG:-30}; WINDOWS=${WINDOWS:-320}
THREADS_OPT=${THREADS:+--threads $THREADS}
PHASES=${*:-data tasks train measure}
mkdir -p "$RUN" "$RESULTS"

TIMINGS="$RESULTS/timings.tsv"
. experiments/synthetic/lib.sh

for phase in $PHASES; do
case $phase in
data)
    stamp "data: HMM K=$STATES V=$WORDS, Dirichlet($EMISSION) emissions, Dirichlet($TRANSITION) transitions, $TOKENS tokens"
    language "$RESULTS/generate.txt" ;;
tasks)
    stamp "tasks: natural (Bernoulli labels, κ auto), natural-sign-B1 (the reference: sign, B = 1), control (parity, lag $LAG)"
    common="--hmm $RUN/lang/hmm --length $LENGTH --train $NTRAIN --test $NTEST"
    [ -f "$RUN/tasks/natural/task.json" ] || $BIN synth task $common --out "$RUN/tasks/natural" --seed 1
    [ -f "$RUN/tasks/natural-sign-B1/task.json" ] || $BIN synth task $common --out "$RUN/tasks/natural-sign-B1" \
        --label sign --kappa 1 --seed 2
    [ -f "$RUN/tasks/control/task.json" ] || $BIN synth task $common --out "$RUN/tasks/control" --kind control \
        --lag "$LAG" --seed 3 ;;
train)
    at=$(logsteps)
    for d in $SIZES; do
        h=$(( d / 32 )); [ "$h" -ge 1 ] || h=1
        model="--layers $LAYERS --dim $d --heads $h --context $CONTEXT --batch $BATCH --steps $STEPS --warmup $(( STEPS / 50 + 1 ))"
        keep="--keep-checkpoints --checkpoint-every $STEPS --checkpoint-at $at --eval-every $(( STEPS / 10 + 1 ))"
        for s in $SEEDS; do
            stamp "train: CE d=$d seed $s"
            pretrain "$RUN/runs/ce-d$d-s$s" $model $keep --seed "$s"
        done
        stamp "train: Φ source for Quad (separate CE run, d=$d seed 99)"
        pretrain "$RUN/runs/phi-d$d" $model --untied-phi --seed 99 --checkpoint-every "$STEPS"
        for s in $SEEDS; do
            stamp "train: Quad d=$d seed $s (Φ frozen from phi-d$d)"
            pretrain "$RUN/runs/quad-d$d-s$s" $model $keep --objective quad --untied-phi \
                --phi-from "$RUN/runs/phi-d$d/final.safetensors" --freeze-phi --seed "$s"
        done
    done ;;
measure)
    phitask=""
    if [ -n "${PHI_TASK:-}" ]; then
        [ -f "$RUN/tasks/natural-phi/task.json" ] || $BIN synth task --hmm "$RUN/lang/hmm" --length "$LENGTH" \
            --train "$NTRAIN" --test "$NTEST" --out "$RUN/tasks/natural-phi" --direction phi \
            --phi-from "$RUN/runs/phi-d$PHI_TASK/final.safetensors" --seed 4
        phitask="--task $RUN/tasks/natural-phi"
    fi
    lms=""
    for d in $SIZES; do for s in $SEEDS; do
        lms="$lms --lm ce-d$d-s$s=$RUN/runs/ce-d$d-s$s --lm quad-d$d-s$s=$RUN/runs/quad-d$d-s$s"
    done; done
    stamp "measure: ε, τ, bound, probes for every checkpoint"
    timed measure $BIN synth measure --hmm "$RUN/lang/hmm" --task "$RUN/tasks/natural" \
        --task "$RUN/tasks/natural-sign-B1" --task "$RUN/tasks/control" $phitask $lms --out "$RUN/report" \
        --windows "$WINDOWS" $THREADS_OPT > /dev/null
    cp "$RUN/report/report.md" "$RUN/report/report.json" "$RESULTS/"
    cp "$RUN/report/"*.svg "$RESULTS/"
    stamp "results in $RESULTS (report.md, report.json, *.svg, timings.tsv)" ;;
*) echo "unknown phase '$phase' (data tasks train measure)" >&2; exit 2 ;;
esac
done
