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


EVAL_EVERY = 25


def fake_eval(step: int) -> dict:
    """SRCC per dimension rising towards a ceiling, like an evaluator that learns."""
    ceilings = {"quality": 0.8, "alignment": 0.55, "preservation": 0.7}
    srcc = {f"eval/srcc_{d}": round(c * (1 - 1 / (1 + step / 50)), 4) for d, c in ceilings.items()}
    return {**srcc, "eval/srcc_mean": round(sum(srcc.values()) / len(srcc), 4)}


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
            row = {"step": step, "epoch": 0, "train/loss": 1.0 / step, "train/lr": 1e-3 * min(1.0, step / 20),
                   "progress": step / steps}
            log.write(json.dumps(row) + "\n")
            if step % EVAL_EVERY == 0:  # as a real run logs its evaluations (the plot's second panel)
                log.write(json.dumps({"step": step, **fake_eval(step), "progress": step / steps}) + "\n")
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
