"""Score a whole dataset with any scorer: batched, with a progress bar, resumable.

    df = predict_dataset("classic", "demo/", "preds.parquet", split="test")

The output table has `edit_id, quality, alignment, preservation, overall` and the scorer's
extra columns, in the dataset's order; its format follows the suffix (.parquet/.csv/.jsonl).

Resuming: each finished batch is written atomically as its own file into `<out>.partial/`
(next to the output) together with a `run.json` naming the scorer, dataset and split. A run
that is killed and started again with the same arguments reads the finished batches, skips
their edit ids and scores only the rest; the final table is the same as an uninterrupted
run's. The partial folder is removed once the output is written.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from edithf.evaluators.base import Evaluator
from edithf.utils.io import atomic_write_text, read_table, write_table


def resolve_evaluator(evaluator: str | Evaluator, **kwargs) -> Evaluator:
    if isinstance(evaluator, Evaluator):
        return evaluator
    from edithf.evaluators.registry import create_evaluator

    return create_evaluator(str(evaluator), **kwargs)


def partial_dir(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".partial")


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


def predict_dataset(
    evaluator: str | Evaluator,
    dataset_dir,
    out_path,
    *,
    split: str | None = None,
    batch_size: int = 8,
    resume: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Score every edit of `dataset_dir` (or of one split) and write the predictions table."""
    from edithf.data.dataset import load_dataset

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise ValueError(f"--out {out_path}: use a .parquet, .csv or .jsonl file name")
    ds = load_dataset(dataset_dir)
    if split:
        ds = ds.split(split)
    if ds.edits.empty:
        raise ValueError(f"{dataset_dir} has no edits{f' in split {split!r}' if split else ''} to score")
    ev = resolve_evaluator(evaluator)
    edit_ids = ds.edits["edit_id"].astype(str).tolist()
    sources, edited, prompts = ds.triples()

    folder = partial_dir(out_path)
    run = {"scorer": ev.info.name, "repr": repr(ev), "dataset": str(Path(dataset_dir).absolute()), "split": split}
    done = _start_partial(folder, run, resume)
    finished = set(done["edit_id"].astype(str)) if not done.empty else set()
    todo = [i for i, e in enumerate(edit_ids) if e not in finished]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(edit_ids), initial=len(edit_ids) - len(todo), desc=f"predict {ev.info.name}", unit="edit")
    bs = max(1, int(batch_size))
    next_chunk = len(list(folder.glob("batch-*.parquet")))
    for start in range(0, len(todo), bs):
        rows = todo[start:start + bs]
        scores = ev.score([sources[i] for i in rows], [edited[i] for i in rows], [prompts[i] for i in rows],
                          batch_size=bs)
        scores.insert(0, "edit_id", [edit_ids[i] for i in rows])
        write_table(scores, folder / f"batch-{next_chunk:06d}.parquet")
        next_chunk += 1
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()

    chunks = sorted(folder.glob("batch-*.parquet"))
    table = pd.concat([read_table(p) for p in chunks], ignore_index=True)
    table["edit_id"] = table["edit_id"].astype(str)
    table = table.drop_duplicates("edit_id", keep="last").set_index("edit_id").loc[edit_ids].reset_index()
    write_table(table, out_path)
    shutil.rmtree(folder, ignore_errors=True)
    return table
