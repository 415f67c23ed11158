#!/usr/bin/env bash
# Runs notebooks headless in fresh sgdl-tslab kernels and fails on any cell error.
# Default: the kernel checks in test/fixtures/notebooks/, then notebooks/*.ipynb.
# Usage: bash scripts/test-notebooks.sh [--timeout S] [--inplace] [NOTEBOOK ...]
# Env: SGDL_PRESET (default quick), SGDL_CELL_TIMEOUT (s per cell, default 900), SGDL_DATA_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
if [[ ! -x "$py" ]]; then
  echo "test-notebooks: $py not found; run: bash scripts/setup.sh" >&2
  exit 1
fi
export JUPYTER_PATH="$root/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export SGDL_PRESET="${SGDL_PRESET:-quick}"
has_nb=0
for a in "$@"; do [[ "$a" == *.ipynb ]] && has_nb=1; done
if [[ $has_nb == 0 ]]; then
  shopt -s nullglob
  set -- "$@" test/fixtures/notebooks/*.ipynb notebooks/*.ipynb
fi
exec "$py" test/notebooks/run_notebooks.py "$@"
