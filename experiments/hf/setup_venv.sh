#!/bin/sh
# Creates .venv-fixtures/ (git-ignored) with torch, transformers, safetensors and numpy from PyPI.
# Run by hand (not by CI, not by `make test`): the fixture generator and the transformers checks need it.
# TORCH_SPEC may name a CPU-only wheel (e.g. a local file) to avoid the multi-GB CUDA build.
set -eu
VENV=${VENV:-.venv-fixtures}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet ${TORCH_SPEC:-torch} transformers safetensors numpy
"$VENV/bin/python" -c "import torch, transformers, safetensors; print('torch', torch.__version__, 'transformers', transformers.__version__)"
