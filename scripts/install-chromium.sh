#!/usr/bin/env bash
# Installs Debian's chromium (browser test, figure export) when /usr/bin/chromium is missing.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
cmd="apt-get update && apt-get install -y --no-install-recommends chromium"
if [[ $EUID -ne 0 ]]; then
  echo "chromium is missing; install it as root: sudo sh -c '$cmd'" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null)"
