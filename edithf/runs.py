"""The run folder shared by every trainer (EditHF evaluator, DPO) and read by the studio's job store.

    output_dir/
      config.yaml              the resolved config of the run (what the trainer really used)
      metrics.jsonl            one JSON object per line; NaN / inf are written as null
      STOP                     ask the run to save a checkpoint and return at its next step
      checkpoint-<step>/       accelerate save_state + trainer_state.json (TrainerState)
      best/                    what the run hands on (an EditHF model folder, or a LoRA)
      warnings.json            a finished run that did not learn says why (list of strings)

The moments, the same for every trainer:
- `RunFolder.begin(resume)` (before any model is built): picks the checkpoint to resume from
  (resume=auto|never|PATH), removes a stale STOP and the `.checkpoint-*.tmp` / `.best.*.tmp`
  folders a killed run left. A STOP written after this moment is honoured.
- `RunFolder.start(cfg, step)` (after a resume was loaded): writes config.yaml and truncates
  metrics.jsonl to the resumed step, so a killed attempt leaves no rows (none on a fresh start).
- Checkpoints are written under `.checkpoint-<step>.tmp` and renamed when complete; the oldest
  beyond `save_total_limit` are removed.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional

from edithf.config import ConfigError, config_to_yaml
from edithf.utils.io import atomic_write_text

CONFIG_NAME = "config.yaml"
METRICS_NAME = "metrics.jsonl"
STOP_NAME = "STOP"
STATE_NAME = "trainer_state.json"
BEST_NAME = "best"
WARNINGS_NAME = "warnings.json"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
TEMP_GLOBS = (".checkpoint-*.tmp", f".{BEST_NAME}.*.tmp", f".{BEST_NAME}.old-*")

# A step callback: called after every optimizer step with the step number and that step's logs;
# returning True stops the run as a STOP file would (a checkpoint is saved first).
StepCallback = Callable[[int, dict], Optional[bool]]


def config_field(default, help_: str, group: str, choices=None):
    """A dataclass field with the metadata the YAML loader, `--list-fields` and the studio form read."""
    meta = {"help": help_, "group": group}
    if choices is not None:
        meta["choices"] = list(choices)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """What every training run shares (as TRL's TrainingArguments); TrainConfig and DPOConfig
    inherit it and may change a default by redeclaring the field."""

    output_dir: str = config_field("runs/run", "run folder: config.yaml, metrics.jsonl, checkpoint-<step>/, best/",
                                   "run")
    seed: int = config_field(0, "seed of new weights, data order, noise and dropout", "run")
    lr: float = config_field(1e-4, "peak learning rate (AdamW) of the LoRA weights", "optimisation")
    weight_decay: float = config_field(0.0, "AdamW weight decay", "optimisation")
    warmup: float = config_field(0.0, "linear warm-up: a fraction of the run's steps (< 1) or a number of steps "
                                 "(>= 1)", "optimisation")
    max_grad_norm: float = config_field(1.0, "gradient clipping norm; 0 = off", "optimisation")
    batch_size: int = config_field(1, "samples per device per micro-batch", "optimisation")
    grad_accum: int = config_field(1, "micro-batches accumulated per optimizer step", "optimisation")
    max_steps: int = config_field(0, "optimizer steps in all", "optimisation")
    mixed_precision: str = config_field("no", "accelerate mixed precision (bf16 also works on CPU; fp16 needs a "
                                        "GPU); trained weights stay fp32", "run", ("no", "bf16", "fp16"))
    save_every: int = config_field(100, "save a resumable checkpoint every N optimizer steps", "run")
    save_total_limit: int = config_field(2, "keep at most this many checkpoint-<step>/ folders (oldest removed); "
                                         "0 = all", "run")
    resume: str = config_field("auto", "auto = continue from the newest checkpoint in output_dir if any; never = "
                               "start over (output_dir must hold no checkpoint); or a checkpoint folder", "run")
    logging_steps: int = config_field(1, "write train/* rows to metrics.jsonl every N optimizer steps", "run")
    progress_bar: bool = config_field(True, "show a tqdm progress bar", "run")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        if not self.output_dir:
            raise ConfigError("output_dir is empty: name the folder the run writes into")
        for name in ("batch_size", "grad_accum", "logging_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "warmup", "max_grad_norm", "max_steps", "save_every", "save_total_limit"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")

    def warmup_steps(self, total: int) -> float:
        """`warmup` in optimizer steps for a schedule of `total` steps."""
        return self.warmup * total if self.warmup < 1 else min(self.warmup, total)


@dataclass
class TrainerState:
    """trainer_state.json of a checkpoint, one schema for every trainer. `stage_index`, `epoch`
    and `batches_done` point at the next batch (trainers without stages leave them at 0)."""

    global_step: int = 0
    max_steps: int = 0
    stage_index: int = 0
    epoch: int = 0
    batches_done: int = 0  # micro-batches of the current epoch already trained on
    best_metric: float | None = None
    best_step: int | None = None
    last_eval_step: int | None = None

    def save(self, folder: Path) -> None:
        atomic_write_text(Path(folder) / STATE_NAME, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "TrainerState":
        path = Path(folder) / STATE_NAME
        if not path.exists():
            raise FileNotFoundError(f"{folder} is not a checkpoint of this project: it has no {STATE_NAME}")
        values = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path} holds keys {unknown} that {cls.__name__} does not know ({sorted(known)})")
        return cls(**values)


# ==================================================================== metrics.jsonl
def _jsonable(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _finite_or_none(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def read_metrics(path) -> list[dict]:
    """Rows of a metrics.jsonl, possibly being written: a torn (half-written) line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_progress(path) -> float:
    """The last `progress` (in [0, 1]) of a metrics.jsonl; 0 when it has none."""
    values = [r["progress"] for r in read_metrics(path) if isinstance(r.get("progress"), (int, float))]
    return float(min(1.0, max(0.0, values[-1]))) if values else 0.0


class MetricsLog:
    """metrics.jsonl: appended one line at a time, so the studio can tail it while the run goes."""

    def __init__(self, path, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            clean = {k: _finite_or_none(v) for k, v in record.items()}  # NaN is not JSON: null
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(clean, default=_jsonable, allow_nan=False) + "\n")

    def truncate_after(self, step: int) -> None:
        """Keep the rows of steps up to `step` (a resumed checkpoint; 0 = a fresh start keeps none).

        Rows after it will be logged again, a closing `done`/`stopped` row is no longer true, and
        a torn line is dropped."""
        if not (self.enabled and self.path.exists()):
            return
        kept = [r for r in read_metrics(self.path)
                if step > 0 and r.get("step", 0) <= step and r.get("event") not in ("done", "stopped")]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


# ==================================================================== warnings.json
def write_warnings(output_dir, warnings: list[str]) -> Path:
    """Record why a finished run did not learn; an empty list removes the file."""
    path = Path(output_dir) / WARNINGS_NAME
    if not warnings:
        path.unlink(missing_ok=True)
        return path
    return atomic_write_text(path, json.dumps([str(w) for w in warnings], indent=2))


def report_warnings(output_dir, warnings: list[str], run: str) -> None:
    """`write_warnings`, and each warning on stderr too (`run`: "training run", "DPO run")."""
    write_warnings(output_dir, warnings)
    for text in warnings:
        print(f"WARNING: {run} {output_dir} did not learn: {text}", file=sys.stderr)


def read_warnings(output_dir) -> list[str]:
    """The warnings of a run ([] when it has none or its file is unreadable)."""
    try:
        data = json.loads((Path(output_dir) / WARNINGS_NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [str(w) for w in data] if isinstance(data, list) else []


# ==================================================================== checkpoints
def list_checkpoints(output_dir) -> list[Path]:
    """Complete checkpoint folders (those with a trainer_state.json), oldest (lowest step) first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir()
             if p.is_dir() and (m := CHECKPOINT_RE.match(p.name)) and (p / STATE_NAME).exists()]
    return [p for _, p in sorted(found)]


def checkpoint_to_resume(output_dir, resume: str) -> Path | None:
    """The checkpoint a run continues from: resume=auto (the newest, if any), never, or a folder."""
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


def rotate_checkpoints(output_dir, keep: int) -> None:
    """Remove the oldest checkpoints beyond `keep` (0 = keep all)."""
    found = list_checkpoints(output_dir)
    for old in found[: max(0, len(found) - keep)] if keep else []:
        shutil.rmtree(old, ignore_errors=True)


class RunFolder:
    """One run's folder, as every trainer writes it. `is_main`: only the main process writes."""

    def __init__(self, output_dir, is_main: bool = True):
        self.out = Path(output_dir)
        self.is_main = is_main
        self.log = MetricsLog(self.out / METRICS_NAME, enabled=is_main)

    @property
    def best_dir(self) -> Path:
        return self.out / BEST_NAME

    @property
    def stop_file(self) -> Path:
        return self.out / STOP_NAME

    def begin(self, resume: str) -> Path | None:
        """Before any model is built: the checkpoint to resume from (errors early), and the
        leftovers of an earlier run (a stale STOP, half-written temporary folders) removed."""
        ckpt = checkpoint_to_resume(self.out, resume)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.stop_file.unlink(missing_ok=True)
            for pattern in TEMP_GLOBS:
                for tmp in self.out.glob(pattern):
                    shutil.rmtree(tmp, ignore_errors=True)
        return ckpt

    def start(self, cfg, step: int) -> None:
        """The run begins training at `step` (0 = fresh): config.yaml is the resolved `cfg`, and
        metrics.jsonl holds only the rows up to `step`. Also clears an earlier run's warnings."""
        if self.is_main:
            atomic_write_text(self.out / CONFIG_NAME, config_to_yaml(cfg))
            self.log.truncate_after(step)
            write_warnings(self.out, [])

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def save_checkpoint(self, accelerator, state: TrainerState, keep: int) -> Path:
        """accelerate save_state into `.checkpoint-<step>.tmp`, the trainer state, then renamed."""
        step = state.global_step
        tmp = self.out / f".checkpoint-{step}.tmp"
        final = self.out / f"checkpoint-{step}"
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            state.save(tmp)
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)  # a checkpoint appears complete or not at all
            rotate_checkpoints(self.out, keep)
        accelerator.wait_for_everyone()
        return final


def ask_callbacks(callbacks, step: int, logs: dict) -> bool:
    """True when any step callback asks the run to stop."""
    return any([bool(cb(step, logs)) for cb in callbacks])
