#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: node_modules (npm ci), a Python venv with JupyterLab in .venv,
# and JupyterLab settings without news or update checks. Safe to run again; skips what is up to date.
# Chromium is not needed here (only for the browser test and figure export: scripts/install-chromium.sh).
# Env: PYTHON (default python3), PIP_DEFAULT_TIMEOUT (default 5).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
step() { printf '\n== %s\n' "$*"; }

step "node packages"
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json \
      || package-lock.json -nt node_modules/.package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date with package-lock.json"
fi
node -e 'require("tslab/dist/main.js")' || { echo "setup: tslab does not load (zeromq binding?)" >&2; exit 1; }

step "python venv (.venv)"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  if ! "$python" -m venv .venv; then
    rm -rf .venv
    echo "setup: '$python -m venv' failed; on Debian/Ubuntu: apt-get install -y python3-venv" >&2
    exit 1
  fi
fi
req="jupyter/requirements.txt"
stamp=".venv/.sgdl-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x .venv/bin/jupyter-lab ]]; then
  echo "$req already installed"
else
  PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-5}" .venv/bin/pip install --retries 0 --disable-pip-version-check -q -r "$req"
  echo "$want" > "$stamp"
fi

step "JupyterLab settings"
settings=".venv/share/jupyter/lab/settings"
mkdir -p "$settings"
cat > "$settings/overrides.json.tmp" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false",
    "checkForUpdates": false
  }
}
JSON
mv "$settings/overrides.json.tmp" "$settings/overrides.json"
echo "wrote $settings/overrides.json (no news, no update checks)"

step "kernel"
JUPYTER_PATH="$root/jupyter" .venv/bin/jupyter kernelspec list | grep -E '^\s*sgdl-tslab\s' \
  || { echo "setup: kernel sgdl-tslab not found under jupyter/kernels" >&2; exit 1; }

echo
echo "ready: npm run lab (JupyterLab), npm test (all tests)"
[[ -x /usr/bin/chromium ]] || echo "note: no /usr/bin/chromium; the browser test and figure export need it: bash scripts/install-chromium.sh"
