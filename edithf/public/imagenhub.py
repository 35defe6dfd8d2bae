"""ImagenHub, text-guided editing. SRC holds `*rater*.tsv` (uid + one column per model, cells
"[SC, PQ]"), the inputs table (`img_id, turn_index, source_img, instruction`, parquet) and the
model outputs as `outputs/<model>/<uid>`. Human score = sqrt(SC*PQ) averaged over raters;
SC -> alignment, PQ -> quality. Outputs that are not on disk are skipped and reported.

Protocol: Spearman between the scorer's overall and the human score.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, edit_row, read_any_table,
    require_columns,
)
from edithf.public.pointwise import evaluate_folder

_CELL_RE = re.compile(r"^\s*\[\s*([0-9.]+)\s*,\s*([0-9.]+)\s*\]\s*$")


def _parse_cell(cell, file, row, column) -> tuple[float, float]:
    m = _CELL_RE.match(str(cell))
    if not m:
        raise ImportFormatError(file, f"cell {cell!r} is not '[SC, PQ]'", row, column)
    sc, pq = float(m.group(1)), float(m.group(2))
    if not (0 <= sc <= 1 and 0 <= pq <= 1):
        raise ImportFormatError(file, f"cell {cell!r} has values outside [0, 1]", row, column)
    return sc, pq


def _mean_ratings(raters: list[Path]) -> pd.DataFrame:
    cells = []
    for file in raters:
        df = read_any_table(file)
        require_columns(df, ("uid",), file)
        for i, r in df.iterrows():
            for model in df.columns.drop("uid"):
                sc, pq = _parse_cell(r[model], file, i, model)
                cells.append((str(r["uid"]), model, sc, pq))
    ratings = pd.DataFrame(cells, columns=["uid", "model", "sc", "pq"])
    ratings["overall"] = np.sqrt(ratings.sc * ratings.pq)
    return ratings.groupby(["uid", "model"], as_index=False)[["sc", "pq", "overall"]].mean()


def import_imagenhub(src: Path, out: Path) -> Imported:
    result = Imported()
    write = ImageWriter(out, src)
    raters = sorted(src.glob("**/*rater*.tsv"))
    if not raters:
        raise ImportFormatError(src, "no rater TSV found (Text-Guided_IE_rater{1,2,3}.tsv)")
    mean = _mean_ratings(raters)
    inputs_files = list(src.glob("**/*.parquet"))
    if not inputs_files:
        raise ImportFormatError(src, "no inputs parquet found (img_id, turn_index, source_img, instruction)")
    inputs = pd.concat([read_any_table(p).assign(_file=str(p)) for p in inputs_files], ignore_index=True)
    require_columns(inputs, ("img_id", "turn_index", "source_img", "instruction"), inputs_files[0])
    inputs["uid"] = [f"sample_{a}_{b}.jpg" for a, b in zip(inputs.img_id, inputs.turn_index)]
    by_uid = inputs.set_index("uid")
    skipped = []
    for r in mean.itertuples(index=False):
        if r.uid not in by_uid.index:
            skipped.append(f"{r.uid} (not in the inputs table)")
            continue
        out_path = src / "outputs" / r.model / r.uid
        if not out_path.is_file():
            skipped.append(f"outputs/{r.model}/{r.uid}")
            continue
        row = by_uid.loc[r.uid]
        source = write(row["source_img"], file=row["_file"], row=r.uid, column="source_img")
        eid = f"imagenhub-{Path(r.uid).stem}-{r.model}"
        result.edits.append(edit_row(eid, f"imagenhub-{Path(r.uid).stem}", "text_guided_editing",
                                     clean_prompt(row["instruction"], row["_file"], r.uid, "instruction"),
                                     source, r.model, write(out_path, file=out_path, row=None, column=None)))
        result.human.append(dict(edit_id=eid, human_score=float(r.overall), alignment=float(r.sc) * 100,
                                 quality=float(r.pq) * 100))
    result.report.update(raters=len(raters), rated_outputs=len(mean), skipped_missing=skipped)
    return result


def evaluate(folder: Path, preds: pd.DataFrame) -> dict:
    return evaluate_folder(folder, preds, pairwise=False)


BENCHMARK = Benchmark(
    name="imagenhub", column="ImagenHub", headline="srcc",
    importer=import_imagenhub, protocol=evaluate,
    summary="ImagenHub text-guided editing: rater [SC, PQ] cells; Spearman with sqrt(SC*PQ)",
)
