"""What every tab shares: settings from the environment, the dataset (the demo by default,
built in a background thread on first start), scorers by name, cached predictions.

Environment (all optional):
    EDITHF_DATASET     dataset folder shown at start (default: the built-in demo, built on first use)
    EDITHF_SCORER      scorer selected at start (default `classic`, which needs no weights);
                       e.g. `edithf:runs/my-run/best` or `edithf:ORG/MODEL` on the hub
    EDITHF_RUNS_DIR    where Train/DPO runs and the job database go (default `runs`)
    EDITHF_CACHE_DIR   where cached predictions go (default ~/.cache/edithf)
    EDITHF_DEMO_DIR    where the demo is built (read by `edithf.data.demo.ensure_demo`)
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_SCORER = "classic"


@dataclass
class Settings:
    dataset: str = ""
    scorer: str = DEFAULT_SCORER
    runs_dir: Path = Path("runs")
    cache_dir: Path = Path.home() / ".cache" / "edithf"
    n_bootstrap: int = 100

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            dataset=env.get("EDITHF_DATASET", ""),
            scorer=env.get("EDITHF_SCORER", "") or DEFAULT_SCORER,
            runs_dir=Path(env.get("EDITHF_RUNS_DIR", "runs")),
            cache_dir=Path(env.get("EDITHF_CACHE_DIR", Path.home() / ".cache" / "edithf")),
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
                from edithf.data.demo import ensure_demo

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
def dataset_stamp(root: Path) -> str:
    """Changes when the dataset folder's tables change (cache key)."""
    parts = [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sorted(root.glob("*.parquet"))]
    return hashlib.sha1(f"{root.resolve()}|{'|'.join(parts)}".encode()).hexdigest()[:16]


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


# -- scorers -------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def get_evaluator(name: str):
    """A scorer by registry name, built once (a model scorer loads its weights here)."""
    from edithf.evaluators.registry import create_evaluator

    return create_evaluator(name)


def scorer_info(name: str):
    from edithf.evaluators.registry import get_info

    return get_info(name)


def finished_runs(runs_dir: Path) -> list[str]:
    """Scorer names of trained evaluators under runs_dir (`edithf:<run>/best`), newest first."""
    if not runs_dir.exists():
        return []
    bests = [p for p in runs_dir.glob("*/best") if p.is_dir() and any(p.iterdir())]
    bests.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [f"edithf:{p}" for p in bests]


def scorer_choices(settings: Settings) -> list[str]:
    """The dropdown: scorers that need no argument, the configured one, finished runs."""
    from edithf.evaluators.registry import list_evaluators

    names = [info.name for info in list_evaluators() if not info.takes_argument]
    extra = [settings.scorer, *finished_runs(settings.runs_dir)]
    return list(dict.fromkeys([*[n for n in extra if n], *names]))


# -- predictions ---------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80]


def predictions_cached(dataset, scorer: str, cache_dir: Path):
    """A scorer's predictions for a whole dataset, computed once per dataset + scorer and kept
    as parquet (`edithf.predict.predict_dataset` does the work and resumes if interrupted)."""
    from edithf.predict import predict_dataset
    from edithf.utils.io import read_table

    folder = Path(cache_dir) / "predictions"
    out = folder / f"{dataset_stamp(Path(dataset.root))}-{_slug(scorer)}.parquet"
    if not out.exists():
        started = time.perf_counter()
        predict_dataset(get_evaluator(scorer), dataset.root, out, batch_size=16, progress=False)
        print(f"[edithf studio] predictions of {scorer} cached in {out} ({time.perf_counter() - started:.1f} s)")
    return read_table(out)


def cached_predictions_if_any(dataset, scorer: str, cache_dir: Path):
    """Predictions already computed for this dataset + scorer, else None (never computes)."""
    from edithf.utils.io import read_table

    out = Path(cache_dir) / "predictions" / f"{dataset_stamp(Path(dataset.root))}-{_slug(scorer)}.parquet"
    return read_table(out) if out.exists() else None


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
