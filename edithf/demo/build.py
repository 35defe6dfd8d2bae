"""Building the synthetic demo benchmark (docs/demo.md): real photographs that ship inside
installed packages, edited by programmatic "editing models" (tasks in `edits`, editors in
`editors`), rated and ranked by a simulated panel (`panel`), processed by the real
annotation pipeline.

    from edithf.demo import build_demo, ensure_demo
    path = build_demo("demo/", seed=0)          # a processed dataset folder
    path = ensure_demo()                        # built once into the cache, then reused

Same seed -> byte-identical tables and images. Everything it writes says it is synthetic.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from PIL import Image

from edithf import __version__
from edithf.data.schema import DIMENSIONS
from edithf.demo.editors import DEMO_MODELS, true_scores
from edithf.demo.edits import DEMO_TASKS, from_uint8, to_uint8
from edithf.demo.panel import make_panel, panel_table, simulate_rankings, simulate_ratings
from edithf.utils.io import atomic_dir, write_table

__all__ = ["build_demo", "ensure_demo", "build_raw_demo", "demo_photos", "summary", "default_demo_dir",
           "DEMO_NAME", "DEMO_VERSION", "DEFAULT_GROUPS", "LARGE_GROUPS", "IMAGE_SIZE"]

DEMO_NAME = "EditHF demo (synthetic)"
DEMO_VERSION = "1"           # bump when the content of a seed's build changes (cache key)
DEFAULT_GROUPS = 64
LARGE_GROUPS = 400
IMAGE_SIZE = 192
CROPS_PER_PHOTO = 5
NOTE = ("SYNTHETIC: edits are made by programmatic editing models and scored by a simulated panel of "
        "annotators; the scores say nothing about real editing models or real people.")

Progress = Callable[[float, str], None]


# --------------------------------------------------------------------------------------------
# photographs


def _package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.exists() else None


def _skimage(name: str):
    def load():
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: left view
    return load


def _file(package: str, *parts: str):
    def load():
        path = _package_file(package, *parts)
        return None if path is None else np.asarray(Image.open(path).convert("RGB"))
    return load


# (package, name, loader): colour photographs only (the tasks are about colour too)
PHOTOS = [
    *(("scikit-image", f"skimage.data.{n}", _skimage(n)) for n in (
        "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
        "retina", "stereo_motorcycle")),
    *(("gradio", f"media_assets/images/{n}", _file("gradio", "media_assets", "images", n)) for n in (
        "cheetah.jpg", "lion.jpg", "tower.jpg", "groot.jpeg")),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
     _file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")),
]


@dataclass
class Source:
    source_id: str
    photo: str          # "<package>:<name>"
    box: tuple          # crop (top, left, size) in the photo's pixels
    image: np.ndarray   # (IMAGE_SIZE, IMAGE_SIZE, 3) float32


def _crops(shape, n: int) -> list[tuple[int, int, int]]:
    """The largest centred square, then n-1 squares of 60% of the short side spread over the
    photo: distinct (overlapping) views of one photograph."""
    h, w = shape[:2]
    side = min(h, w)
    boxes = [((h - side) // 2, (w - side) // 2, side)]
    small = int(side * 0.6)
    for fy, fx in ((0.1, 0.1), (0.1, 0.9), (0.9, 0.1), (0.9, 0.9), (0.5, 0.5))[: n - 1]:
        boxes.append((int((h - small) * fy), int((w - small) * fx), small))
    return boxes


def demo_photos(size: int = IMAGE_SIZE) -> list[Source]:
    """Square crops of every shipped photograph that is installed, resized to `size`."""
    sources = []
    for package, name, load in PHOTOS:
        photo = load()
        if photo is None:
            continue
        photo = np.asarray(photo)[..., :3]
        for k, (top, left, side) in enumerate(_crops(photo.shape, CROPS_PER_PHOTO)):
            crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.LANCZOS)
            stem = Path(name.split(".")[-1] if package == "scikit-image" else name).stem
            sources.append(Source(f"{stem}-{k}", f"{package}:{name}", (top, left, side),
                                  from_uint8(np.asarray(crop))))
    if not sources:
        raise RuntimeError("no demo photographs found: scikit-image, gradio or matplotlib must be installed")
    return sources


# --------------------------------------------------------------------------------------------
# building


def _plan(n_groups: int, n_sources: int, seed: int) -> list[tuple[int, str]]:
    """(source index, task) of each group: tasks in turn, sources in a seeded order; when sources
    run out they come back with the next task, so no (source, task) repeats early."""
    order = np.random.default_rng([seed, 7000]).permutation(n_sources)
    tasks = list(DEMO_TASKS)
    # round r gives the source at position i the task (i + r): a source meets every task before any repeats
    return [(int(order[g % n_sources]), tasks[(g % n_sources + g // n_sources) % len(tasks)]) for g in range(n_groups)]


def _save_png(path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, "PNG", compress_level=1)


def _edit_group(g: int, source: Source, task_name: str, seed: int, root: Path) -> tuple[list[dict], list[dict]]:
    """Draw the group's instruction, run every model on it, save the images; returns the edits
    rows and the truth rows of the group."""
    task = DEMO_TASKS[task_name]
    group_id = f"g{g:04d}"
    rng = np.random.default_rng([seed, g])
    shown, params = task.sample(source.image, rng)
    shown = from_uint8(to_uint8(shown))  # what annotators see is the 8-bit file
    if "clean" in params:  # low-level task: the degraded source is its own image
        src_rel = f"images/sources/{source.source_id}-{task_name}-{group_id}.png"
    else:
        src_rel = f"images/sources/{source.source_id}.png"
    if not (root / src_rel).exists():
        _save_png(root / src_rel, to_uint8(shown))
    ideal = task.ideal(shown, params)
    edits, truth = [], []
    for m, model in enumerate(DEMO_MODELS.values()):
        intended, delivered = model.edit(task, shown, params, np.random.default_rng([seed, g, m]))
        if not (np.isfinite(intended).all() and np.isfinite(delivered).all()):
            raise RuntimeError(f"demo model {model.name!r} produced non-finite pixels on {task_name} "
                               f"(group {group_id}, source {source.source_id}); please report this")
        delivered8 = to_uint8(delivered)
        scores = true_scores(shown, ideal, intended, from_uint8(delivered8), params.get("clean"))
        edit_id = f"{group_id}-{model.name}"
        edited_rel = f"images/edits/{edit_id}.png"
        _save_png(root / edited_rel, delivered8)
        edits.append({"edit_id": edit_id, "group_id": group_id, "task": task_name, "prompt": params["instruction"],
                      "description": params["description"], "source": src_rel, "model": model.name,
                      "edited": edited_rel, "photo": source.photo, "task_level": task.level})
        truth.append({"edit_id": edit_id, **{f"true_{k}": v for k, v in scores.items()}})
    return edits, truth


def _latent(truth: pd.DataFrame, sources: pd.Series, seed: int) -> pd.DataFrame:
    """The latent scores the panel sees: the measured truth, plus how appealing each source
    image is (shared by its edits, quality only) and a little per-edit variation nobody measured."""
    rng = np.random.default_rng([seed, 7004])
    codes, uniques = pd.factorize(sources)
    appeal = rng.uniform(-0.06, 0.06, len(uniques))[codes]
    out = pd.DataFrame({"edit_id": truth["edit_id"]})
    for dim in DIMENSIONS:
        bump = appeal if dim == "quality" else 0.0
        out[dim] = np.clip(truth[f"true_{dim}"] + bump + rng.normal(0, 0.03, len(truth)), 0, 1)
    return out


def _split_by_photo(edits: pd.DataFrame, seed: int) -> pd.Series:
    """train/val/test 5:1:1 by photograph, not by crop: crops of one photo overlap, so they must
    not straddle splits. Uses the annotation pipeline's own splitter on the photo column."""
    from edithf.data.annotations import split_by_source

    by_photo = edits.assign(source=edits["photo"])
    split, _ = split_by_source(by_photo, seed=seed, require_test_annotations=False)
    return split


def build_raw_demo(out, seed: int = 0, n_groups: int | None = None, size: int = IMAGE_SIZE,
                   progress: Progress | None = None) -> Path:
    """Write the raw (unprocessed) demo dataset folder: edits with a split, raw ratings and
    rankings, `truth.parquet` (the latent scores) and dataset.json. Not atomic: build it in a
    temporary folder (as `build_demo` does)."""
    progress = progress or (lambda fraction, message: None)
    n_groups = DEFAULT_GROUPS if n_groups is None else int(n_groups)
    if n_groups < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}")
    root = Path(out)
    for folder in ("images/sources", "images/edits"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    progress(0.0, "loading the photographs")
    sources = demo_photos(size)
    edit_rows, truth_rows = [], []
    plan = _plan(n_groups, len(sources), seed)
    progress(0.05, f"editing {n_groups} groups with {len(DEMO_MODELS)} models")
    for g, (s, task_name) in enumerate(plan):
        rows, truth = _edit_group(g, sources[s], task_name, seed, root)
        edit_rows += rows
        truth_rows += truth
        progress(0.05 + 0.8 * (g + 1) / n_groups, f"edited group {g + 1}/{n_groups} ({task_name})")
    edits = pd.DataFrame(edit_rows)
    edits["split"] = _split_by_photo(edits, seed).to_numpy()
    truth = pd.DataFrame(truth_rows)
    progress(0.86, "simulating the annotator panel")
    raters, rankers = make_panel(seed)
    latent = _latent(truth, edits["source"], seed)
    for dim in DIMENSIONS:
        truth[f"latent_{dim}"] = latent[dim].to_numpy()
    write_table(edits, root / "edits.parquet")
    write_table(simulate_ratings(edits, latent, raters, seed), root / "ratings.parquet")
    write_table(simulate_rankings(edits, latent, rankers, seed), root / "rankings.parquet")
    write_table(truth, root / "truth.parquet")
    used = sorted({s for s, _ in plan})
    meta = _meta(seed, n_groups, size, [sources[s] for s in used], raters, rankers)
    (root / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return root


def _meta(seed, n_groups, size, sources, raters, rankers) -> dict:
    return {
        "name": DEMO_NAME, "version": DEMO_VERSION, "synthetic": True, "note": NOTE,
        "seed": seed, "n_groups": n_groups, "image_size": size,
        "dimensions": list(DIMENSIONS), "rating_scale": [1.0, 5.0],
        "tasks": {t.name: {"level": t.level, "summary": t.summary} for t in DEMO_TASKS.values()},
        "models": {m.name: {"behaviour": m.behaviour, "expected_quality_alignment_preservation": m.expected}
                   for m in DEMO_MODELS.values()},
        "sources": [{"source_id": s.source_id, "package": s.photo.split(":")[0], "name": s.photo.split(":", 1)[1],
                     "crop_top_left_size": list(s.box)} for s in sources],
        "panel": panel_table(raters, rankers),
        "files": {"truth.parquet": "latent true scores per edit (true_* measured, latent_* as the panel saw them)"},
        "licence": "photos: see the licences of scikit-image, gradio and matplotlib sample data",
    }


def build_demo(out, seed: int = 0, n_groups: int | None = None, progress: Progress | None = None,
               size: int = IMAGE_SIZE) -> Path:
    """Build the demo benchmark into the folder `out` (atomic) and return its path.

    The raw folder is processed by `edithf.data.annotations.process_folder` (MOS, averaged ranks,
    pairs; the photo-level split is kept); raw ratings and rankings stay in it, with report.md,
    report.json, agreement.parquet and truth.parquet. `progress(fraction, message)` is called as
    it goes (the studio shows it).
    """
    from edithf.data.annotations import process_folder
    from edithf.data.dataset import check_output

    progress = progress or (lambda fraction, message: None)
    out = Path(out)
    if not _is_demo(out):  # an earlier demo (even one older than the output marker) may be rebuilt
        check_output(out)  # building replaces `out` as a whole: else only a new, empty or EditHF-written one
    start = time.perf_counter()
    with atomic_dir(out) as tmp, _scratch(out) as raw:
        build_raw_demo(raw, seed=seed, n_groups=n_groups, size=size, progress=progress)
        progress(0.9, "processing the annotations (MOS, ranks, pairs)")
        process_folder(raw, tmp)
        shutil.copy2(raw / "truth.parquet", tmp / "truth.parquet")
    progress(1.0, f"demo built in {time.perf_counter() - start:.1f} s")
    return out


@contextlib.contextmanager
def _scratch(beside: Path):
    path = Path(tempfile.mkdtemp(prefix=f".{beside.name}.raw-", dir=beside.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def default_demo_dir() -> Path:
    env = os.environ.get("EDITHF_DEMO_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "edithf" / f"demo-{__version__}-seed0"


def ensure_demo(cache_dir=None, progress: Progress | None = None) -> Path:
    """The default demo (seed 0), built once into `cache_dir` (default `$EDITHF_DEMO_DIR` or
    `~/.cache/edithf/demo-<version>-seed0`) and reused. Two processes asking at once do not both
    build it: a lock file serialises them and the folder appears atomically."""
    path = Path(cache_dir) if cache_dir is not None else default_demo_dir()
    if _is_current(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path.with_name(f".{path.name}.lock")):
        if not _is_current(path):  # someone else may have built it meanwhile
            build_demo(path, seed=0, progress=progress)
    return path


def _demo_meta(path: Path) -> dict:
    """The dataset.json of a demo build at `path`, or {} when there is none."""
    try:
        meta = json.loads((path / "dataset.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and meta.get("name") == DEMO_NAME else {}


def _is_demo(path: Path) -> bool:
    return bool(_demo_meta(path))


def _is_current(path: Path) -> bool:
    """A complete demo of this DEMO_VERSION (an older build is rebuilt, not reused)."""
    return _demo_meta(path).get("version") == DEMO_VERSION and (path / "edits.parquet").exists()


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def summary(path) -> str:
    """One paragraph on a built demo: its size and what the annotation screening removed."""
    path = Path(path)
    counts = {name: len(pd.read_parquet(path / f"{name}.parquet", columns=[]))
              for name in ("edits", "ratings", "rankings", "pairs")}
    edits = pd.read_parquet(path / "edits.parquet", columns=["group_id", "split"])
    report = json.loads((path / "report.json").read_text())
    removed = sorted({a["annotator"] for d in report.get("mos", {}).get("dimensions", {}).values()
                      for a in d.get("rejected_annotators", [])}
                     | {a for d in report.get("mos", {}).get("dimensions", {}).values()
                        for a in d.get("flat_annotators_removed", [])})
    splits = ", ".join(f"{s} {n}" for s, n in edits["split"].value_counts().items())
    return (f"{DEMO_NAME} at {path}\n"
            f"  {edits['group_id'].nunique()} groups, {counts['edits']} edits ({splits}), "
            f"{counts['ratings']} ratings, {counts['rankings']} rankings, {counts['pairs']} pairs\n"
            f"  annotators removed by the screening: {', '.join(removed) or 'none'}; see report.md")
