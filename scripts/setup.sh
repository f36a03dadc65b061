#!/usr/bin/env bash
# Set up (or update) a virtual environment in .venv with everything trackmate-cellpose needs, tests included.
# PyTorch is installed FIRST and pinned, so that cellpose does not pull a multi-GB CUDA build of torch.
#   TORCH_SPEC   torch requirement (default torch==2.13.0; e.g. a CUDA build index for GPU users)
#   VENV         venv folder (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
"$VENV/bin/python" -m pip install -q -e '.[test]' 'cellpose>=3.1,<4'
"$VENV/bin/python" -c "import trackmate_cellpose, cellpose, torch; print('trackmate-cellpose', trackmate_cellpose.__version__, '| torch', torch.__version__)"
