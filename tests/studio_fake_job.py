"""A stand-in for `edithf train CONFIG.yaml` in the studio's tests: it follows the run contract
(docs/architecture.md, "Jobs") without a model: metrics.jsonl lines with `progress`, a log on
stdout, and a cooperative stop when output_dir/STOP appears.

    python tests/studio_fake_job.py KIND CONFIG.yaml

The config sets `output_dir` and may set `steps` (default 1200, about a minute) and `step_seconds` (0.05).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml


def main() -> int:
    kind, config_path = sys.argv[1], Path(sys.argv[2])
    cfg = yaml.safe_load(config_path.read_text()) or {}
    out = Path(cfg.get("output_dir") or ".")
    out.mkdir(parents=True, exist_ok=True)
    steps, pause = int(cfg.get("steps", 1200)), float(cfg.get("step_seconds", 0.05))
    print(f"fake {kind} job: {steps} steps into {out}", flush=True)
    with (out / "metrics.jsonl").open("a") as log:
        for step in range(1, steps + 1):
            if (out / "STOP").exists():
                print(f"STOP found at step {step}: saving and exiting", flush=True)
                return 0
            row = {"step": step, "epoch": 0, "train/loss": 1.0 / step, "progress": step / steps}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(f"step {step} loss {1.0 / step:.4f}", flush=True)
            time.sleep(pause)
    (out / "best").mkdir(exist_ok=True)
    # what a real best/ is known by: an evaluator's config (train) or a LoRA adapter (dpo)
    (out / "best" / ("edithf_config.json" if kind == "train" else "adapter_config.json")).write_text("{}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
