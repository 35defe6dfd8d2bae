"""What a Train/DPO launch from the browser may name, and what it must not be, checked before
the job is queued (docs/studio.md, "Jobs").

A browser is not the machine's owner: a run writes only under the runs folder
(`EDITHF_RUNS_DIR`), and the paths it reads (dataset, pairs, init_from, backbone, pipeline,
resume) lie under the runs folder, `configs/` or the folders the Dataset tab opens datasets
from (the studio's dataset among them). Hub ids ("org/name")
and built-in names ("tiny:qwen2_vl") are not paths and pass. A config that cannot learn (DPO
beta 0, LoRA alpha 0) is refused by the config's own `validate` (edithf/dpo/dpo_config.py), so
the form's launch refuses it before the queue.
"""
from __future__ import annotations

import re
from pathlib import Path

from edithf.config import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
# Fields the run writes into, and fields it reads from (a local path or, where allowed, a name).
WRITE_FIELDS = ("output_dir", "cache_dir")
READ_FIELDS = ("dataset", "pairs", "init_from", "backbone", "pipeline", "resume")
NAME_FIELDS = ("init_from", "backbone", "pipeline")   # may be a hub id / tiny: name instead of a path
RESUME_WORDS = ("auto", "never")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def is_name(value: str) -> bool:
    """A hub id or a built-in `tiny:` model, not a local path (a folder of that name here is a path)."""
    if value.startswith("tiny:"):
        return True
    return bool(HUB_ID.match(value)) and ".." not in value and not Path(value).exists()


class RunPaths:
    """The studio's rule for the paths of one launch."""

    def __init__(self, runs_dir: Path, read_roots: list[Path]):
        self.runs_dir = Path(runs_dir).expanduser().resolve()
        roots = dict.fromkeys([self.runs_dir, *(Path(r).expanduser().resolve() for r in read_roots), CONFIGS_DIR])
        # each folder once, none inside another: the refusal lists them to the user
        self.read_roots = [r for r in roots if not any(o != r and r.is_relative_to(o) for o in roots)]

    def written(self, name: str, value: str) -> Path:
        """A folder the run writes into: a relative one is inside the runs folder, an absolute one
        must be there."""
        path = Path(value).expanduser()
        path = (path if path.is_absolute() else self.runs_dir / path).resolve()
        if not path.is_relative_to(self.runs_dir) or path == self.runs_dir:
            raise ConfigError(f"{name} {value!r} is outside the runs folder {self.runs_dir}: runs launched "
                              f"from the studio write only there; use e.g. {self.runs_dir / Path(value).name} "
                              "or a plain name such as my-run")
        return path

    def read(self, name: str, value: str) -> str:
        """The absolute path (or the name unchanged) of a path field, or ConfigError."""
        if not value or (name == "resume" and value in RESUME_WORDS) or (name in NAME_FIELDS and is_name(value)):
            return value
        path = Path(value).expanduser().resolve()
        if not any(path.is_relative_to(root) for root in self.read_roots):
            allowed = ", ".join(str(r) for r in self.read_roots)
            hint = " or a hub id (org/name)" if name in NAME_FIELDS else ""
            raise ConfigError(f"{name} {value!r} is outside the folders the studio reads ({allowed}): put it "
                              f"there{hint} (EDITHF_DATA_ROOTS adds folders)")
        return str(path)

    def apply(self, cfg) -> None:
        """Every path field of `cfg` checked and made absolute (the job may outlive this app)."""
        for name in WRITE_FIELDS:
            if getattr(cfg, name, ""):  # an empty cache_dir means "in memory"
                setattr(cfg, name, str(self.written(name, getattr(cfg, name))))
        for name in READ_FIELDS:
            if hasattr(cfg, name):
                setattr(cfg, name, self.read(name, getattr(cfg, name)))


def check_inputs_exist(cfg) -> None:
    """At launch, not after the queue: a DPO run needs a readable pairs table."""
    if hasattr(cfg, "pairs"):
        from edithf.dpo.pairs_data import load_pairs

        if not cfg.pairs:
            raise ConfigError("no pairs table: build one above (toy pairs, or Global-DPO pairs from the dataset) "
                              "or type the path of a table written by `edithf pairs`")
        try:
            load_pairs(cfg.pairs, cfg.on_size_mismatch)
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from exc
