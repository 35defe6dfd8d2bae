"""EditReward's pairs JSON (their training/validation files, e.g. `valid_dataset_*.json`): a list
of `{prompt, path_src, path1, path2, model1, model2, ...}` where `path1` is the preferred edit.
Image paths are relative to the JSON's folder or to SRC (the first that holds them).

Protocol: strict pairwise accuracy (score(path1) > score(path2); a model tie is wrong).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, dedupe_edits, edit_row,
    read_any_table, require_columns, table_files,
)
from edithf.utils.io import read_table

COLUMNS = ("prompt", "path_src", "path1", "path2", "model1", "model2")


def _resolve(value, roots: list[Path], file, row, column) -> Path:
    if not isinstance(value, str) or not value:
        raise ImportFormatError(file, "no image path in this cell", row, column)
    candidates = [Path(value)] if Path(value).is_absolute() else [root / value for root in roots]
    for path in candidates:
        if path.is_file():
            return path
    raise ImportFormatError(file, f"image {value!r} not found (looked under {', '.join(map(str, roots))})", row, column)


def import_editreward_pairs(src: Path, out: Path) -> Imported:
    result = Imported()
    src_root = src if src.is_dir() else src.parent
    write = ImageWriter(out, src_root)
    for file in table_files(src, ("**/*.json",)):
        df = read_any_table(file)
        require_columns(df, COLUMNS, file)
        roots = list(dict.fromkeys([file.parent, src_root]))
        for i, r in enumerate(df.itertuples(index=False)):
            prompt = clean_prompt(r.prompt, file, i, "prompt")
            source = write(_resolve(r.path_src, roots, file, i, "path_src"), file=file, row=i, column="path_src")
            # one group per source image and instruction, so an edit shared by pairs is one edit
            group = "erpairs-" + hashlib.sha1(f"{source}\n{prompt}".encode()).hexdigest()[:12]
            ids = []
            for k in (1, 2):
                edited = write(_resolve(getattr(r, f"path{k}"), roots, file, i, f"path{k}"),
                               file=file, row=i, column=f"path{k}")
                ids.append(f"{group}-{Path(edited).stem[:10]}")
                result.edits.append(edit_row(ids[-1], group, "editreward_pairs", prompt, source,
                                             str(getattr(r, f"model{k}")), edited))
            if ids[0] == ids[1]:
                raise ImportFormatError(file, "path1 and path2 are the same image", i, "path2")
            result.comparisons.append(dict(comparison_id=f"{file.stem}:{i}", group_id=group, edit_a=ids[0],
                                           edit_b=ids[1], label=1, dimension="overall", task=file.stem,
                                           vote="path1"))
    result.edits = dedupe_edits(result.edits)
    result.report["comparisons"] = len(result.comparisons)
    return result


def protocol_pairs(comparisons: pd.DataFrame, scores: pd.Series) -> dict:
    from edithf.metrics import pairwise_accuracy

    diff = scores.loc[comparisons.edit_a].to_numpy() - scores.loc[comparisons.edit_b].to_numpy()
    return {"acc_pairs": pairwise_accuracy(np.ones(len(diff)), diff, mode="strict"), "n_pairs": int(len(diff))}


def evaluate(folder: Path, preds: pd.DataFrame) -> dict:
    return protocol_pairs(read_table(folder / "comparisons.parquet"), preds.set_index("edit_id")["overall"])


BENCHMARK = Benchmark(
    name="editreward-pairs", column="EditReward pairs", headline="acc_pairs",
    importer=import_editreward_pairs, protocol=evaluate,
    summary="EditReward's pairs JSON (path1 preferred over path2); strict pairwise accuracy",
)
