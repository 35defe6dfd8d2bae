#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): the head scorer at InternVL3.5-8B size and one
# Qwen-Image-Edit DPO step at real width, on one H100/H200, within 8 minutes (the timeout).
#   bash benchmarks/gpu_check.sh [--json gpu_check.json]   # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry-run                 # tiny sizes on CPU (tests/test_gpu_check.py)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}"
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py "$@"
