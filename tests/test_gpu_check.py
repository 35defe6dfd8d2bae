"""benchmarks/gpu_check.sh --dry-run: the GPU check's whole code path at tiny size on CPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_gpu_check_dry_run_runs_both_checks(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--json",
                           str(tmp_path / "check.json")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "check.json").read_text())
    assert result["dry_run"] is True and result["device_name"] == "cpu"
    scorer, dpo = result["scorer"], result["dpo"]
    assert scorer["size"] == "internvl-mini" and scorer["attention"] == "sdpa"
    assert scorer["one_by_one_edits_per_s"] > 0 and scorer["shared_edits_per_s"] > 0
    assert scorer["one_by_one_tflops_per_s"] > 0 and scorer["shared_tflops_per_s"] > 0
    one, shared = scorer["one_by_one_tokens"], scorer["shared_tokens"]  # the shared prefix runs once
    assert shared["language"] < one["language"] and shared["vision_patches"] < one["vision_patches"]
    assert dpo["plain_step_s"] > 0 and dpo["dpo_over_plain"] > 0
    assert "| step time (s) |" in done.stdout and "card: cpu" in done.stdout
