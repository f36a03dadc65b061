#!/usr/bin/env bash
# Set up (or update) a virtual environment with everything trackmate-cellpose needs, tests included.
# PyTorch is installed FIRST and pinned, so that cellpose does not pull a multi-GB CUDA build of torch.
#   TORCH_SPEC       torch requirement (default torch==2.13.0, a CPU build here; e.g. add a CUDA index for a GPU)
#   CELLPOSE_SPEC    cellpose requirement (default 'cellpose>=3.1,<4'; 'cellpose>=4,<5' for cellpose 4 / Cellpose-SAM)
#   TORCHVISION_SPEC torchvision requirement, used with cellpose 4 only (default: torch's partner version, so pip does
#                    not replace torch by a CUDA build to satisfy a newer torchvision)
#   VENV             venv folder (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
CELLPOSE_SPEC="${CELLPOSE_SPEC:-cellpose>=3.1,<4}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# shellcheck disable=SC2086  # TORCH_SPEC may carry pip options (--index-url ...)
"$VENV/bin/python" -m pip install -q $TORCH_SPEC
extra=()
if [[ "$CELLPOSE_SPEC" =~ (>=|==|~=)[[:space:]]*4 ]]; then
  # cellpose 4 needs torchvision; pin it to the partner of the installed torch
  torch_v=$("$VENV/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
  tv_default=$("$VENV/bin/python" - "$torch_v" <<'PYEOF'
import sys
major, minor = (int(p) for p in sys.argv[1].split(".")[:2])
# torchvision 0.N+15 is the partner of torch 2.N (2.13 -> 0.28)
print(f"torchvision==0.{minor + 15}.*" if major == 2 else "torchvision")
PYEOF
)
  extra=("${TORCHVISION_SPEC:-$tv_default}")
fi
"$VENV/bin/python" -m pip install -q -e '.[test]' "$CELLPOSE_SPEC" "${extra[@]}"
"$VENV/bin/python" -c "import trackmate_cellpose, torch; from importlib.metadata import version; print('trackmate-cellpose', trackmate_cellpose.__version__, '| torch', torch.__version__, '| cellpose', version('cellpose'))"
