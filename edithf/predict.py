"""Score a whole dataset with any scorer: batched, with a progress bar, resumable, on one
process or many, and one cache of predictions for the studio and the public benchmarks.

    df = predict_dataset("classic", "demo/", "preds.parquet", split="test")
    df = cached_predictions(dataset, "classic", cache_dir)   # computed once per dataset + scorer

The output table has `edit_id, quality, alignment, preservation, overall` and the scorer's
extra columns, in the dataset's order; its format follows the suffix (.parquet/.csv/.jsonl).

Resuming: each finished batch is written atomically as its own file into `<out>.partial/`
(next to the output) together with a `run.json` naming the scorer, dataset and split. A run
that is killed and started again with the same arguments reads the finished batches, skips
their edit ids and scores only the rest; the final table is the same as an uninterrupted
run's. The partial folder is removed once the output is written.

Many processes (`accelerate launch --multi_gpu` on GPUs, `torchrun` on GPUs or CPUs): each
process scores its own shard of whole groups (group k goes to process k mod N), resumable in
its own `<out>.shard-RRRRR-of-NNNNN.partial/`, and writes its part to `<out>.parts/`; after a
barrier the main process merges the parts atomically into `<out>` in the dataset's order, the
same file one process writes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable

import pandas as pd

from edithf.data.dataset import load_dataset
from edithf.data.schema import normalize_weights
from edithf.evaluators.base import Evaluator
from edithf.evaluators.registry import create_evaluator, split_name
from edithf.utils.io import atomic_write_text, read_table, write_table

# Part of every cache key: bumped when the scorers' outputs change meaning (v2: a dimension a
# scorer cannot judge is NaN), so no stale prediction is shown.
PREDICTIONS_VERSION = 2
Progress = Callable[[int, int], None]


def resolve_evaluator(evaluator: str | Evaluator, **kwargs) -> Evaluator:
    if isinstance(evaluator, Evaluator):
        return evaluator
    return create_evaluator(str(evaluator), **kwargs)


def partial_dir(out_path: Path, shard: tuple[int, int] = (0, 1)) -> Path:
    rank, world = shard
    suffix = ".partial" if world == 1 else f".shard-{rank:05d}-of-{world:05d}.partial"
    return out_path.with_name(out_path.name + suffix)


def parts_dir(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".parts")


def _start_partial(folder: Path, run: dict, resume: bool) -> pd.DataFrame:
    """Open (or restart) the partial folder; return the rows already finished."""
    marker = folder / "run.json"
    if folder.exists() and resume and marker.exists():
        previous = json.loads(marker.read_text())
        if previous != run:
            raise ValueError(
                f"{folder} holds a partial run of {previous}, not of {run}; delete that folder or "
                "pass resume=False (--no-resume) to start over"
            )
        chunks = sorted(folder.glob("batch-*.parquet"))
        return pd.concat([read_table(p) for p in chunks], ignore_index=True) if chunks else pd.DataFrame()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    atomic_write_text(marker, json.dumps(run, sort_keys=True))
    return pd.DataFrame()


# -- processes and shards ----------------------------------------------------------------------


def process_shard() -> tuple[int, int]:
    """(rank, world size) of this process: from `accelerate launch` / `torchrun`'s environment,
    (0, 1) when started alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_positions(group_ids: pd.Series, rank: int, world: int) -> list[int]:
    """Row positions of the shard `rank` of `world`: whole groups, group k to shard k mod world."""
    codes = pd.factorize(group_ids.astype(str))[0]
    return [i for i, c in enumerate(codes) if c % world == rank]


def init_processes() -> None:
    """Join the process group `accelerate launch` / `torchrun` set up (env:// rendezvous), and
    give each process its own GPU (LOCAL_RANK) where there are GPUs. The group is gloo: it only
    carries barriers, and gloo runs on CPU and GPU machines alike."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("gloo")


def wait_for_everyone() -> None:
    """A barrier across the launched processes."""
    import torch.distributed as dist

    init_processes()
    dist.barrier()


# -- scoring -----------------------------------------------------------------------------------


def _score_positions(ev: Evaluator, triples, edit_ids: list[str], positions: list[int], folder: Path, run: dict,
                     *, resume: bool, batch_size: int, progress) -> pd.DataFrame:
    """Score the rows at `positions`, resumable in `folder`; their table in `positions` order."""
    sources, edited, prompts = triples
    done = _start_partial(folder, run, resume)
    finished = set(done["edit_id"].astype(str)) if not done.empty else set()
    todo = [i for i in positions if edit_ids[i] not in finished]
    total = len(positions)
    report = _progress_reporter(progress, total, total - len(todo), ev.info.name)
    bs = max(1, int(batch_size))
    next_chunk = len(list(folder.glob("batch-*.parquet")))
    for start in range(0, len(todo), bs):
        rows = todo[start:start + bs]
        scores = ev.score([sources[i] for i in rows], [edited[i] for i in rows], [prompts[i] for i in rows],
                          batch_size=bs)
        scores.insert(0, "edit_id", [edit_ids[i] for i in rows])
        write_table(scores, folder / f"batch-{next_chunk:06d}.parquet")
        next_chunk += 1
        report(total - len(todo) + start + len(rows))
    report(None)
    chunks = sorted(folder.glob("batch-*.parquet"))
    if not chunks:
        return pd.DataFrame(columns=["edit_id"])
    table = pd.concat([read_table(p) for p in chunks], ignore_index=True)
    table["edit_id"] = table["edit_id"].astype(str)
    order = [edit_ids[i] for i in positions]
    return table.drop_duplicates("edit_id", keep="last").set_index("edit_id").loc[order].reset_index()


def _progress_reporter(progress, total: int, initial: int, name: str) -> Callable[[int | None], None]:
    """progress=True: a tqdm bar; a callable: called as progress(done, total); None at the end."""
    if callable(progress):
        progress(initial, total)
        return lambda done: None if done is None else progress(done, total)
    if not progress:
        return lambda done: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc=f"predict {name}", unit="edit")

    def report(done):
        if done is None:
            bar.close()
        else:
            bar.update(done - bar.n)

    return report


def predict_dataset(
    evaluator: str | Evaluator,
    dataset_dir,
    out_path,
    *,
    split: str | None = None,
    batch_size: int = 8,
    resume: bool = True,
    progress: bool | Progress = True,
    shard: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Score every edit of `dataset_dir` (or of one split) and write the predictions table.

    `progress`: a tqdm bar (True), none (False), or a callable `progress(done, total)`.
    `shard`: (rank, world size); default from the launcher's environment (`process_shard`).
    Under several processes every process calls this; each returns the merged table."""
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise ValueError(f"--out {out_path}: use a .parquet, .csv or .jsonl file name")
    ds = load_dataset(dataset_dir)
    if split:
        ds = ds.split(split)
    if ds.edits.empty:
        raise ValueError(f"{dataset_dir} has no edits{f' in split {split!r}' if split else ''} to score")
    rank, world = shard or process_shard()
    ev = resolve_evaluator(evaluator)
    edit_ids = ds.edits["edit_id"].astype(str).tolist()
    run = {"scorer": ev.info.name, "repr": repr(ev), "dataset": str(Path(dataset_dir).absolute()), "split": split}
    if world > 1:
        run["shard"] = [rank, world]
    folder = partial_dir(out_path, (rank, world))
    positions = shard_positions(ds.edits["group_id"], rank, world) if world > 1 else list(range(len(edit_ids)))
    table = _score_positions(ev, ds.triples(), edit_ids, positions, folder, run, resume=resume,
                             batch_size=batch_size, progress=progress)
    if world == 1:
        write_table(table, out_path)
        shutil.rmtree(folder, ignore_errors=True)
        return table
    part = parts_dir(out_path) / f"shard-{rank:05d}-of-{world:05d}.parquet"
    part.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, part)
    wait_for_everyone()
    if rank == 0:
        _merge_parts(out_path, world, edit_ids)
    wait_for_everyone()
    shutil.rmtree(folder, ignore_errors=True)
    return read_table(out_path)


def _merge_parts(out_path: Path, world: int, edit_ids: list[str]) -> None:
    """The shards' parts -> one table in the dataset's order, written atomically; parts removed."""
    parts = [parts_dir(out_path) / f"shard-{r:05d}-of-{world:05d}.parquet" for r in range(world)]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise RuntimeError(f"shard part(s) {missing} missing in {parts_dir(out_path)}: a process failed; "
                           "run the same command again to resume")
    table = pd.concat([read_table(p) for p in parts], ignore_index=True)
    table["edit_id"] = table["edit_id"].astype(str)
    write_table(table.set_index("edit_id").loc[edit_ids].reset_index(), out_path)
    shutil.rmtree(parts_dir(out_path), ignore_errors=True)


# -- the one prediction cache ------------------------------------------------------------------


def dataset_stamp(root) -> str:
    """Changes when the dataset folder's tables change (cache key)."""
    root = Path(root)
    parts = [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sorted(root.glob("*.parquet"))]
    return hashlib.sha1(f"{root.resolve()}|{'|'.join(parts)}".encode()).hexdigest()[:16]


def scorer_key(scorer: str | Evaluator) -> str:
    """A file-name-safe key of a scorer: its spec (a registry name with argument; an Evaluator
    gives its name, its `source` and non-default weights). A local checkpoint path is made
    absolute and its files' modification times are part of the key, so retraining into the
    same folder (or the same relative path from another folder) never reuses old predictions."""
    if isinstance(scorer, Evaluator):
        source = getattr(scorer, "source", None)
        spec = f"{scorer.info.name}:{source}" if source else scorer.info.name
        weights = "" if scorer.weights == normalize_weights(None) else f"|{sorted(scorer.weights.items())}"
    else:
        spec, weights = str(scorer), ""
    name, arg = split_name(spec)
    fingerprint = spec + weights
    if arg and Path(arg).exists():
        path = Path(arg).absolute()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        fingerprint = f"{name}:{path}:" + ",".join(f"{p.name}@{p.stat().st_mtime_ns}" for p in files) + weights
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)[-60:]
    return f"{slug}-{hashlib.sha1(fingerprint.encode()).hexdigest()[:10]}"


def dataset_root(dataset) -> Path:
    """The folder of an EditDataset, or the folder given (a Path's own `.root` is '/')."""
    return Path(dataset.root if hasattr(dataset, "edits") else dataset)


def cache_path(dataset, scorer: str | Evaluator, cache_dir) -> Path:
    """`cache_dir/predictions/<dataset stamp>-<scorer key>-v<PREDICTIONS_VERSION>.parquet`."""
    root = dataset_root(dataset)
    return Path(cache_dir) / "predictions" / f"{dataset_stamp(root)}-{scorer_key(scorer)}-v{PREDICTIONS_VERSION}.parquet"


def cached_predictions_if_any(dataset, scorer: str | Evaluator, cache_dir) -> pd.DataFrame | None:
    """Predictions already in the cache for this dataset + scorer, else None (never computes)."""
    out = cache_path(dataset, scorer, cache_dir)
    return read_table(out) if out.exists() else None


def cached_predictions(dataset, scorer: str | Evaluator, cache_dir, progress: Progress | None = None,
                       *, evaluator: Evaluator | None = None, batch_size: int = 16) -> pd.DataFrame:
    """A scorer's predictions of a whole dataset (an EditDataset or its folder), computed once
    per dataset stamp + scorer and kept as parquet under `cache_dir/predictions/`; an
    interrupted computation resumes. `progress(done, total)` is called as batches finish.
    `evaluator`: that scorer already built (the key stays the name `scorer`)."""
    out = cache_path(dataset, scorer, cache_dir)
    if not out.exists():
        root = dataset_root(dataset)
        predict_dataset(evaluator or scorer, root, out, batch_size=batch_size, progress=progress or False,
                        shard=(0, 1))
    return read_table(out)
