#!/usr/bin/env bash
# Starts JupyterLab from the project's venv with the sgdl-tslab kernel, file browser on notebooks/.
# Usage: bash scripts/lab.sh [--classic] [extra jupyter options]    (npm run lab [-- --classic])
#   --classic  starts classic Notebook 7 (jupyter notebook) instead of JupyterLab.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ ! -x .venv/bin/jupyter ]]; then
  echo "lab: .venv/bin/jupyter not found; run: bash scripts/setup.sh" >&2
  exit 1
fi
export JUPYTER_PATH="$root/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
app=lab
if [[ "${1:-}" == "--classic" ]]; then app=notebook; shift; fi
args=(--ServerApp.root_dir="$root" --FileContentsManager.preferred_dir=notebooks --MultiKernelManager.default_kernel_name=sgdl-tslab)
[[ $EUID -eq 0 ]] && args+=(--allow-root)
if [[ $app == lab ]]; then
  args+=(--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate
         --LabApp.extension_manager=readonly)
fi
exec .venv/bin/jupyter "$app" "${args[@]}" "$@"
