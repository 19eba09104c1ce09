#!/bin/sh
# Creates .venv-bench/ (git-ignored) with the benchmark peers: numpy, scikit-learn (RidgeClassifierCV) and torch
# (PyTorch eager training step). Run by hand or by experiments/bench/run_peers.sh; not by CI, not by `make test`.
# TORCH_SPEC may name a CPU-only wheel file to avoid PyPI's multi-GB CUDA build; by default a torch wheel found in
# pip's configured --find-links folder is used, else PyPI's `torch`.
set -eu
VENV=${VENV:-.venv-bench}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ -z "${TORCH_SPEC:-}" ]; then
    links=$(python3 -m pip config get global.find-links 2>/dev/null || true)
    TORCH_SPEC=$(ls "${links:-/nonexistent}"/torch-*cpu*.whl 2>/dev/null | tail -n 1 || true)
    TORCH_SPEC=${TORCH_SPEC:-torch}
fi
"$VENV/bin/pip" install --quiet "$TORCH_SPEC" numpy scikit-learn threadpoolctl
"$VENV/bin/python" -c "import torch, sklearn, numpy; print('torch', torch.__version__, 'sklearn', sklearn.__version__, 'numpy', numpy.__version__)"
