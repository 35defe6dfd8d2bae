"""AURORA-Bench: items (`input, instruction, task`, `id` optional) in a json/jsonl/parquet
table such as the published `test.json`, model outputs as `outputs/<model>/<key>.<ext>`, and
human ratings in a table `ratings.*` with columns `item_id, model, score`.

An item's key is its `id` read as a string (never a float: "31", not "31.0"), or, for an item
without one, its position in the items table, as the benchmark numbers its items.

Protocol: Spearman between the scorer's overall and the human score, and 3-way pairwise
accuracy between the outputs of each item (the headline).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, edit_row, read_any_table,
    require_columns,
)
from edithf.public.pointwise import evaluate_folder


def item_keys(items: pd.DataFrame, file) -> list[str]:
    """`id` where an item has one, its position otherwise; keys must be unique."""
    ids = items["id"] if "id" in items else pd.Series([None] * len(items))
    keys = [str(i) if v is None or v != v else str(v) for i, v in enumerate(ids)]
    seen: dict[str, int] = {}
    for row, key in enumerate(keys):
        if key in seen:
            raise ImportFormatError(file, f"item key {key!r} is used twice (rows {seen[key]} and {row}; an item "
                                    "without an id is keyed by its position)", row, "id")
        seen[key] = row
    return keys


def _items(src: Path) -> tuple[pd.DataFrame, Path]:
    files = sorted(p for p in src.glob("*") if p.suffix in (".json", ".jsonl", ".parquet")
                   and not p.stem.startswith("ratings"))
    if not files:
        raise ImportFormatError(src, "no items table found (json/jsonl/parquet with input, instruction, task)")
    items = pd.concat([read_any_table(p, text_columns=("id",)) for p in files], ignore_index=True)
    require_columns(items, ("input", "instruction", "task"), files[0])
    return items.set_index(pd.Index(item_keys(items, files[0]), name="key")), files[0]


def _ratings(src: Path) -> tuple[pd.DataFrame, Path]:
    files = sorted(src.glob("ratings.*"))
    if not files:
        raise ImportFormatError(src, "no ratings table (ratings.csv/jsonl with item_id, model, score)")
    ratings = read_any_table(files[0], text_columns=("item_id", "model"))
    require_columns(ratings, ("item_id", "model", "score"), files[0])
    ratings["score"] = pd.to_numeric(ratings["score"], errors="coerce")
    bad = ratings["score"].isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise ImportFormatError(files[0], "the score is not a number", row, "score")
    return ratings.groupby(["item_id", "model"], as_index=False)["score"].mean(), files[0]


def import_aurora(src: Path, out: Path) -> Imported:
    result = Imported()
    write = ImageWriter(out, src)
    items, items_file = _items(src)
    ratings, ratings_file = _ratings(src)
    skipped = []
    for i, r in enumerate(ratings.itertuples(index=False)):
        key = str(r.item_id)
        if key not in items.index:
            raise ImportFormatError(ratings_file, f"item_id {key!r} is not in the items table (keys are the "
                                    "items' ids, or their positions where they have none)", i, "item_id")
        found = sorted((src / "outputs" / str(r.model)).glob(f"{key}.*"))
        if not found:
            skipped.append(f"outputs/{r.model}/{key}.*")
            continue
        item = items.loc[key]
        eid = f"aurora-{key}-{r.model}"
        result.edits.append(edit_row(eid, f"aurora-{key}", str(item["task"]),
                                     clean_prompt(item["instruction"], items_file, key, "instruction"),
                                     write(item["input"], file=items_file, row=key, column="input"), str(r.model),
                                     write(found[0], file=found[0], row=None, column=None)))
        result.human.append(dict(edit_id=eid, human_score=float(r.score)))
    result.report.update(items=len(items), rated=len(ratings), skipped_missing=skipped)
    return result


def evaluate(folder: Path, preds: pd.DataFrame, *, tie_margin=0.0) -> dict:
    return evaluate_folder(folder, preds, pairwise=True, tie_margin=tie_margin)


BENCHMARK = Benchmark(
    name="aurora", column="AURORA", headline="acc_3way",
    importer=import_aurora, protocol=evaluate, options=("tie_margin",),
    summary="AURORA-Bench: human scores of several editors per item; 3-way pairwise accuracy",
)
