"""EditReward-Bench of EditScore (a different benchmark from TIGER-Lab's): each row holds
[preferred, rejected] outputs for one instruction, a task type (13) and a dimension
(prompt_following, consistency, overall).

Protocol: a row is right iff score(preferred) > score(rejected) on the row's dimension (a tie
is wrong); macro average over the task types, per dimension.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, edit_row, read_any_table,
    require_columns, table_files,
)
from edithf.utils.io import read_table

DIMENSIONS = {"prompt_following": "alignment", "consistency": "preservation", "overall": "overall"}


def import_editscore_bench(src: Path, out: Path) -> Imported:
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    for file in table_files(src, ("**/*.parquet", "**/*.arrow")):
        df = read_any_table(file)
        require_columns(df, ("instruction", "input_image", "output_images", "task_type", "dimension"), file)
        for i, r in enumerate(df.itertuples(index=False)):
            dim = str(r.dimension)
            if dim not in DIMENSIONS:
                raise ImportFormatError(file, f"dimension {dim!r} not one of {sorted(DIMENSIONS)}", i, "dimension")
            outputs = list(r.output_images) if r.output_images is not None else []
            if len(outputs) != 2:
                raise ImportFormatError(file, f"expected [preferred, rejected], got {len(outputs)} image(s)", i, "output_images")
            keys = list(getattr(r, "key", None) if getattr(r, "key", None) is not None else ["preferred", "rejected"])
            prompt = clean_prompt(r.instruction, file, i, "instruction")
            source = write(r.input_image, file=file, row=i, column="input_image")
            gid = f"editscore-{file.stem}-{i}"
            ids = []
            for name, img in zip(("preferred", "rejected"), outputs):
                edited = write(img, file=file, row=i, column="output_images")
                ids.append(f"{gid}-{name}")
                result.edits.append(edit_row(ids[-1], gid, str(r.task_type), prompt, source, str(keys[len(ids) - 1]), edited))
            result.comparisons.append(dict(comparison_id=gid, group_id=gid, edit_a=ids[0], edit_b=ids[1], label=1,
                                           dimension=DIMENSIONS[dim], task=str(r.task_type), vote=dim))
    result.report["task_types"] = sorted({c["task"] for c in result.comparisons})
    return result


def protocol_editscore(comparisons, preds_by_dim: dict[str, pd.Series]) -> dict:
    out = {}
    for dim, rows in comparisons.groupby("dimension"):
        s = preds_by_dim[dim]
        correct = s.loc[rows.edit_a].to_numpy() > s.loc[rows.edit_b].to_numpy()
        per_task = pd.Series(correct, index=rows.task.to_numpy()).groupby(level=0).mean()
        out[f"macro_acc_{dim}"] = float(per_task.mean())
        out[f"n_{dim}"] = int(len(rows))
    return out


def evaluate(folder: Path, preds: pd.DataFrame) -> dict:
    by_dim = {d: preds.set_index("edit_id")[d] for d in ("alignment", "preservation", "overall")}
    return protocol_editscore(read_table(folder / "comparisons.parquet"), by_dim)


BENCHMARK = Benchmark(
    name="editscore-bench", column="EditScore-Bench", headline="macro_acc_overall",
    importer=import_editscore_bench, protocol=evaluate,
    summary="EditScore's EditReward-Bench: preferred vs rejected per dimension; macro accuracy over 13 tasks",
)
