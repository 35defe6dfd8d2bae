#!/usr/bin/env bash
# Sets up (see setup.sh) and launches the studio on the built-in demo benchmark (built on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1
exec .venv/bin/python app.py "$@"
