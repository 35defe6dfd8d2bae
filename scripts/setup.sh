#!/usr/bin/env bash
# Sets up .venv with everything EditHF Studio needs, offline-friendly:
#   torch 2.13.0 first (the CPU build pip finds locally; a bare "torch" would pull CUDA wheels),
#   never torchvision (its CUDA-only build breaks transformers' image processors on CPU),
#   then the project with all extras, then Debian's chromium for the browser tests if asked.
# Idempotent: a second run installs nothing new.  Usage: bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU build)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
fi
echo "[setup] installing edithf[all]"
.venv/bin/python -m pip install -q -e ".[all]"
if .venv/bin/python -c "import torchvision" 2>/dev/null; then
  echo "[setup] removing torchvision (breaks transformers' image processors next to CPU torch)"
  .venv/bin/python -m pip uninstall -y -q torchvision
fi
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "[setup] done"
