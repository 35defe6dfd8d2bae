#!/usr/bin/env bash
# Sets up (see setup.sh, with chromium for the browser tests) and runs the whole default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
