"""What every tab shares: settings from the environment, the dataset (the demo by default,
built in a background thread on first start), scorers by name, cached predictions.

Environment (all optional):
    EDITHF_DATASET     dataset folder shown at start (default: the built-in demo, built on first use)
    EDITHF_SCORER      scorer selected at start (default `classic`, which needs no weights);
                       e.g. `edithf:runs/my-run/best` or `edithf:ORG/MODEL` on the hub
    EDITHF_RUNS_DIR    where Train/DPO runs and the job database go (default `runs`)
    EDITHF_CACHE_DIR   where cached predictions go (default ~/.cache/edithf)
    EDITHF_DATA_ROOTS  folders (os.pathsep-separated) a dataset typed in the Dataset tab may lie
                       under, besides the working directory, the runs and cache folders and
                       the start-up dataset's parent
    EDITHF_AUTH        `user:password[,user2:password2]`: Gradio's login (set it on a Space)
    EDITHF_DEMO_DIR    where the demo is built (read by `edithf.demo.ensure_demo`)
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from edithf.predict import dataset_stamp  # the cache key of a dataset folder's tables
from studio.launch_checks import is_name

DEFAULT_SCORER = "classic"


@dataclass
class Settings:
    dataset: str = ""
    scorer: str = DEFAULT_SCORER
    runs_dir: Path = Path("runs")
    cache_dir: Path = Path.home() / ".cache" / "edithf"
    n_bootstrap: int = 100
    data_roots: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            dataset=env.get("EDITHF_DATASET", ""),
            scorer=env.get("EDITHF_SCORER", "") or DEFAULT_SCORER,
            runs_dir=Path(env.get("EDITHF_RUNS_DIR", "runs")),
            cache_dir=Path(env.get("EDITHF_CACHE_DIR", Path.home() / ".cache" / "edithf")),
            data_roots=tuple(Path(p) for p in env.get("EDITHF_DATA_ROOTS", "").split(os.pathsep) if p),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class DatasetLoader:
    """Finds or builds the start-up dataset in a background thread so the page is served at
    once and shows the progress (a demo build takes a while on a fresh machine)."""

    settings: Settings
    status: str = "starting"
    path: Path | None = None
    error: str | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "DatasetLoader":
        threading.Thread(target=self._run, daemon=True, name="edithf-demo").start()
        return self

    def _run(self) -> None:
        try:
            if self.settings.dataset:
                self.path = Path(self.settings.dataset)
                self.status = f"dataset: {self.path}"
            else:
                from edithf.demo import ensure_demo

                self.status = "finding or building the demo benchmark (synthetic) ..."
                self.path = Path(ensure_demo(progress=self._progress))  # EDITHF_DEMO_DIR or the user cache
                self.status = f"demo benchmark (synthetic data) ready: {self.path}"
            print(f"[edithf studio] {self.status}", flush=True)
        except Exception as exc:  # shown in the page; the rest of the studio still works
            self.error = f"{type(exc).__name__}: {exc}"
            self.status = f"could not prepare the dataset: {self.error}"
            print(f"[edithf studio] {self.status}", flush=True)
        finally:
            self._ready.set()

    def _progress(self, fraction: float, message: str) -> None:
        self.status = f"building the demo benchmark (synthetic data): {fraction:.0%} · {message}"
        print(f"[edithf studio] {self.status}", flush=True)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> Path:
        """The dataset folder, waiting for the build; raises if it failed."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the dataset is still being prepared ({self.status})")
        if self.path is None:
            raise RuntimeError(self.status)
        return self.path


# -- datasets ------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _load_dataset(root: str, stamp: str):
    import gradio as gr

    from edithf.data.dataset import load_dataset

    ds = load_dataset(root)
    gr.set_static_paths([root])  # its images are shown as they are (read-only), not copied
    return ds


def load_dataset_cached(path: str | os.PathLike):
    """`edithf.data.dataset.load_dataset`, cached while the folder's tables do not change.
    Raises DatasetError / FileNotFoundError with the library's message."""
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    return _load_dataset(str(root.resolve()), dataset_stamp(root))


def open_typed_dataset(path: str, roots: list[Path]):
    """A dataset folder typed in the page: only under `roots`, and an error names what is
    wrong without listing the folder (the page must not browse the server's folders)."""
    from edithf.data.dataset import find_table

    root = Path(path).expanduser().resolve()
    if not any(root.is_relative_to(r) for r in roots):
        raise ValueError(f"{path} is outside the folders this studio opens datasets from: "
                         f"{', '.join(str(r) for r in roots)} (EDITHF_DATA_ROOTS adds folders)")
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {path}")
    if find_table(root, "edits") is None:
        raise FileNotFoundError(f"{path} has no edits.parquet / edits.csv / edits.jsonl: is it a dataset folder?")
    return load_dataset_cached(root)


# -- scorers -------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def get_evaluator(name: str):
    """A scorer by registry name, built once (a model scorer loads its weights here)."""
    from edithf.evaluators.registry import create_evaluator

    ev = create_evaluator(name)
    _BUILT_INFO[name] = ev.info
    return ev


_BUILT_INFO: dict = {}  # name -> the info of the scorer get_evaluator built (a loaded run's own)


def built_info(name: str):
    """The info of the scorer `get_evaluator` built under this name, if it did (never builds one)."""
    return _BUILT_INFO.get(name)


def scorer_info(name: str):
    """The registry's info of a scorer name; for `edithf:<run folder>` (or `edithf:tiny:...`)
    with what the run's own scorer will say (its dimensions, range, and caveats such as a tiny
    fixture backbone), read from its edithf_config.json without loading torch or weights."""
    import dataclasses

    from edithf.evaluators.registry import get_info, split_name

    info = get_info(name)
    key, arg = split_name(name)
    saved = saved_evaluator_config(arg) if key == "edithf" and arg else {}
    if not saved:
        return info
    from edithf.evaluators.edithf_scorer import tiny_backbone_caveat

    caveat = tiny_backbone_caveat(saved.get("backbone", ""))
    return dataclasses.replace(
        info, dimensions=tuple(saved.get("dimensions", info.dimensions)),
        score_range=tuple(saved.get("score_range", info.score_range)),
        extra={**info.extra, "caveats": [caveat]} if caveat else info.extra)


def saved_evaluator_config(arg: str) -> dict:
    """What `edithf:<arg>` is: {"backbone": arg} for a tiny backbone name, the saved
    edithf_config.json of a local run folder, {} for a hub id or an unreadable file."""
    import json

    from edithf.models.families import parse_tiny

    if parse_tiny(arg):
        return {"backbone": arg}
    path = Path(arg).expanduser() / EVALUATOR_CONFIG
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


# An EditHF evaluator folder holds this file (EditHFModel.save_pretrained); a DPO run's best/
# holds a LoRA for a diffusers pipeline instead, which is not a scorer.
EVALUATOR_CONFIG = "edithf_config.json"


def evaluator_runs(runs_dir: Path) -> list[str]:
    """Scorer names of trained evaluators under runs_dir (`edithf:<run>/best`), newest first;
    DPO runs are left out (they are editors, not scorers)."""
    if not runs_dir.exists():
        return []
    bests = [p for p in runs_dir.glob("*/best") if (p / EVALUATOR_CONFIG).is_file()]
    bests.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [f"edithf:{p}" for p in bests]


def scorer_choices(settings: Settings) -> list[str]:
    """The dropdown: the configured scorer, trained evaluator runs, scorers that need no argument."""
    from edithf.evaluators.registry import list_evaluators

    names = [info.name for info in list_evaluators() if not info.takes_argument]
    extra = [settings.scorer, *evaluator_runs(settings.runs_dir)]
    return list(dict.fromkeys([*[n for n in extra if n], *names]))


# -- predictions ---------------------------------------------------------------------------
def predictions_cached(dataset, scorer: str, cache_dir: Path, progress=None):
    """A scorer's predictions for a whole dataset: the library's one prediction cache
    (`edithf.predict.cached_predictions`, computed once per dataset + scorer, resumed if
    interrupted); `progress(done, total)` is called as edits are scored."""
    from edithf.predict import cached_predictions

    started = time.perf_counter()
    table = cached_predictions(dataset, scorer, cache_dir, progress=progress)
    if progress is not None:
        print(f"[edithf studio] predictions of {scorer} ready ({time.perf_counter() - started:.1f} s)", flush=True)
    return table


def cached_predictions_if_any(dataset, scorer: str, cache_dir: Path):
    """Predictions already in the library's cache for this dataset + scorer, else None (never computes)."""
    from edithf.predict import cached_predictions_if_any as cached

    return cached(dataset, scorer, cache_dir)


@dataclass
class StudioContext:
    """Handed to every tab's `build(ctx)`."""

    settings: Settings
    loader: DatasetLoader
    jobs: object  # studio.jobs.JobStore

    def dataset_path(self, timeout: float = 600.0) -> Path:
        return self.loader.wait(timeout)

    def scorers(self) -> list[str]:
        return scorer_choices(self.settings)

    def allowed_scorer(self, name: str) -> str:
        """A scorer named in the page (the dropdown also takes typed names): a listed scorer, a
        registry name, or PREFIX:ARG whose ARG is a hub id, a `tiny:` model or a folder under the
        runs folder or the data roots. Anything else would let a browser make the server load (and
        so probe) any folder on it; the refusal reads the same whether that folder exists or not."""
        name = str(name or "").strip()
        prefix, sep, arg = name.partition(":")
        if not sep or name in self.scorers() or is_name(arg):
            return name  # an unknown registry name is refused by the registry itself
        path = Path(arg).expanduser().resolve()
        if any(path.is_relative_to(root) for root in self.dataset_roots()):  # the runs folder among them
            return name
        raise ValueError(f"{prefix}:{arg} names a folder outside the runs folder {self.settings.runs_dir} and the "
                         "data roots: put the trained run there (or set EDITHF_DATA_ROOTS), or give a hub id (org/name)")

    def dataset_roots(self) -> list[Path]:
        """Where a dataset typed in the page may lie (see `open_typed_dataset`)."""
        s = self.settings
        roots = [Path.cwd(), s.runs_dir, s.cache_dir, *s.data_roots]
        if self.loader.path is not None:
            roots.append(Path(self.loader.path).parent)
        return list(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))
