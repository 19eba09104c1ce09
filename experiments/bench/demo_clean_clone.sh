#!/bin/bash
# `make demo` from a clean clone, every output line stamped with the seconds since the start (issue 13's "≤ 12 min
# including the build" row). Run it alone on the machine; the load average is printed at the start and the end.
#   bash experiments/bench/demo_clean_clone.sh [REPO] [OUT]
#     REPO  the repository to clone (default: this checkout; its committed HEAD is what is measured)
#     OUT   the stamped log (default experiments/bench/results/demo/make-demo-clean-clone.log; the committed rounds
#           are make-demo-clean-clone-{1,2,3}.log)
# The clone lives in a temporary folder that is removed at the end. The swift package dependencies come from
# SwiftPM's cache as in any clone on this machine; the data from PyPI (`make data`).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
REPO=${1:-$here}
OUT=${2:-$here/experiments/bench/results/demo/make-demo-clean-clone.log}
tmp=$(mktemp -d /tmp/lmprobe-demo-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$REPO" "$tmp/lmprobe" || exit 1
mkdir -p "$(dirname "$OUT")"
cd "$tmp/lmprobe" || exit 1
start=$(date +%s)
{
    echo "commit $(git rev-parse --short HEAD); start $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v make demo 2>&1 | while IFS= read -r line; do
        printf '%5ds %s\n' $(( $(date +%s) - start )) "$line"
    done
    echo "end $(date -u +%FT%TZ); total $(( $(date +%s) - start )) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
