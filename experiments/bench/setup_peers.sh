#!/bin/sh
# Creates .venv-bench/ (git-ignored) with every benchmark peer: torch (PyTorch eager training step), transformers
# (the extraction peers), numpy + scikit-learn (RidgeClassifierCV) and threadpoolctl (which BLAS each peer ran).
# `make bench-peers` runs it; experiments/bench/run_all.sh needs it; not run by CI or `make test`. VENV= another
# venv (e.g. .venv-fixtures, which has torch + transformers) adds what that one lacks. torch is installed only when
# the venv has none (an existing build is kept); TORCH_SPEC may name a CPU-only wheel file to avoid PyPI's multi-GB
# CUDA build; by default a torch wheel found in pip's configured --find-links folder is used, else PyPI's `torch`.
# The other packages: experiments/bench/peers-requirements.txt.
set -eu
VENV=${VENV:-.venv-bench}
here=$(dirname "$0")
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    if [ -z "${TORCH_SPEC:-}" ]; then
        links=$(python3 -m pip config get global.find-links 2>/dev/null || true)
        TORCH_SPEC=$(ls "${links:-/nonexistent}"/torch-*cpu*.whl 2>/dev/null | tail -n 1 || true)
        TORCH_SPEC=${TORCH_SPEC:-torch}
    fi
    "$VENV/bin/pip" install --quiet "$TORCH_SPEC"
fi
"$VENV/bin/pip" install --quiet -r "$here/peers-requirements.txt"
"$VENV/bin/python" -c "import torch, transformers, sklearn, numpy, threadpoolctl; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sklearn', sklearn.__version__, 'numpy', numpy.__version__)"
