"""Resumable checkpoints of a training run, and the run's metrics log.

    output_dir/
      config.yaml                 the resolved TrainConfig
      metrics.jsonl               one JSON object per line (train/..., eval/..., progress)
      checkpoint-<step>/          accelerate save_state (optimizer, scheduler, RNG states, scaler)
        trainable.safetensors     the LoRA and head tensors only (the frozen base is not copied)
        trainer_state.json        global step, stage, epoch, batches consumed, best metric
      best/                       an EditHF model folder (EditHFModel.from_pretrained)

A checkpoint is written under `.checkpoint-<step>.tmp` and renamed when complete, so a run
killed while saving leaves the previous checkpoint as the last one.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from edithf.utils.io import atomic_write_text

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
STATE_NAME = "trainer_state.json"
TRAINABLE_NAME = "trainable.safetensors"


@dataclass
class TrainerState:
    """Where the run is. `stage_index`/`epoch`/`batches_done` point at the next batch to train on."""

    global_step: int = 0
    stage_index: int = 0
    epoch: int = 0
    batches_done: int = 0  # micro-batches of the current epoch already trained on
    best_metric: float | None = None
    best_step: int | None = None
    last_eval_step: int | None = None

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / STATE_NAME, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "TrainerState":
        path = folder / STATE_NAME
        if not path.exists():
            raise FileNotFoundError(f"{folder} is not a checkpoint of this trainer: it has no {STATE_NAME}")
        return cls(**json.loads(path.read_text()))


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest (lowest step) first."""
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir()
             if p.is_dir() and (m := CHECKPOINT_RE.match(p.name)) and (p / STATE_NAME).exists()]
    return [p for _, p in sorted(found)]


def checkpoint_to_resume(output_dir: Path, resume: str) -> Path | None:
    """The checkpoint the run continues from, following TrainConfig.resume."""
    found = list_checkpoints(output_dir)
    if resume == "never":
        if found:
            raise ValueError(f"resume=never but {output_dir} already holds {found[-1].name}; use resume=auto to "
                             "continue it, or choose a new output_dir")
        return None
    if resume == "auto":
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_NAME).exists():
        raise FileNotFoundError(f"resume={resume}: not a checkpoint folder (no {STATE_NAME}); checkpoints in "
                                f"{output_dir}: {[p.name for p in found] or 'none'}")
    return path


def rotate_checkpoints(output_dir: Path, keep: int) -> None:
    """Remove the oldest checkpoints beyond `keep` (0 = keep all)."""
    found = list_checkpoints(output_dir)
    for old in found[: max(0, len(found) - keep)] if keep else []:
        shutil.rmtree(old, ignore_errors=True)


def temp_checkpoint_dir(output_dir: Path, step: int) -> Path:
    tmp = output_dir / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def publish_checkpoint(tmp: Path, output_dir: Path, step: int) -> Path:
    final = output_dir / f"checkpoint-{step}"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


class MetricsLog:
    """metrics.jsonl: appended one line at a time, so the studio can tail it while the run goes."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = path, enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
            with open(self.path, "a", encoding="utf-8") as f:  # NaN is not JSON: written as null
                f.write(json.dumps(clean, default=_jsonable) + "\n")

    def truncate_after(self, step: int) -> None:
        """On resume: drop lines logged after the checkpoint (they will be logged again)."""
        if not (self.enabled and self.path.exists()):
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if record.get("step", 0) <= step and record.get("event") not in ("done", "stopped"):
                kept.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))


def _jsonable(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
