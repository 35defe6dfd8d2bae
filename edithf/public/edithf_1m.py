"""EditHF-1M release: `source/<category>/<n>.jpg`, `edited/<model>/<category>/<n>.jpg`,
`scores/{train,validation,test}.csv` (MOS). The CSVs' column names are unverified: pass
`column_map` (interchange name -> CSV column; `edithf data import ... --map category=<col>`) for
anything the defaults do not find; what could not be mapped is reported (a needed column
raises).

Protocol: the metrics of `edithf.metrics.evaluate_predictions` on the test split; the headline
is the mean SRCC over the three dimensions.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edithf.public.base import Benchmark, ImageWriter, ImportFormatError, Imported, edit_row, read_any_table
from edithf.utils.io import read_table

DEFAULT_COLUMNS = {
    # interchange name: candidate column names in the release CSVs (unverified; first match wins)
    "category": ["category", "task", "edit_type"],
    "index": ["id", "index", "image_id", "n", "name"],
    "model": ["model", "model_name", "editor"],
    "prompt": ["prompt", "instruction", "edit_prompt", "instruct_prompt"],
    "mos_quality": ["mos_quality", "quality", "visual_quality", "perceptual_quality"],
    "mos_alignment": ["mos_alignment", "alignment", "instruction_alignment", "editing_alignment"],
    "mos_preservation": ["mos_preservation", "preservation", "attribute_preservation", "consistency"],
}
NEEDED = ("category", "index", "model")
SPLIT_NAMES = {"train": "train", "validation": "val", "val": "val", "test": "test"}


def _map_columns(df: pd.DataFrame, mapping: dict[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    found, missing = {}, []
    for name, candidates in mapping.items():
        hit = next((c for c in candidates if c in df.columns), None)
        if hit is None:
            missing.append(name)
        else:
            found[name] = hit
    return found, missing


def _mapping(column_map: dict[str, str] | None) -> dict[str, list[str]]:
    unknown = sorted(set(column_map or {}) - set(DEFAULT_COLUMNS))
    if unknown:
        raise ValueError(f"column map names {unknown}; it maps these names: {', '.join(DEFAULT_COLUMNS)}")
    return {k: ([column_map[k]] if column_map and k in column_map else v) for k, v in DEFAULT_COLUMNS.items()}


def import_edithf1m(src: Path, out: Path, column_map: dict[str, str] | None = None) -> Imported:
    result = Imported()
    write = ImageWriter(out, src)
    mapping = _mapping(column_map)
    files = sorted((src / "scores").glob("*.csv"))
    if not files:
        raise ImportFormatError(src / "scores", "no score CSVs found (scores/{train,validation,test}.csv)")
    unmapped: dict[str, list[str]] = {}
    for file in files:
        df = read_any_table(file)
        found, missing = _map_columns(df, mapping)
        needed = [m for m in NEEDED if m in missing]
        if needed:
            raise ImportFormatError(file, f"cannot map {needed}; columns present: {list(df.columns)}; pass a column "
                                    f"map, e.g. --map {needed[0]}=<column>")
        unmapped[file.name] = missing
        for i, r in df.iterrows():
            result.edits.append(_edit(src, write, file, i, r, found))
    result.report["unmapped_columns"] = unmapped
    return result


def _edit(src: Path, write: ImageWriter, file: Path, i: int, r: pd.Series, found: dict[str, str]) -> dict:
    cat, n, model = str(r[found["category"]]), str(r[found["index"]]), str(r[found["model"]])
    src_img = next(iter(sorted((src / "source" / cat).glob(f"{n}.*"))), None)
    ed_img = next(iter(sorted((src / "edited" / model / cat).glob(f"{n}.*"))), None)
    if src_img is None or ed_img is None:
        raise ImportFormatError(file, f"image missing: source/{cat}/{n}.* or edited/{model}/{cat}/{n}.*", i)
    prompt = str(r[found["prompt"]]) if "prompt" in found else f"{cat} edit"
    extra = {k: float(r[found[k]]) for k in ("mos_quality", "mos_alignment", "mos_preservation") if k in found}
    return edit_row(f"{cat}-{n}-{model}", f"{cat}-{n}", cat, prompt, write(src_img, file=file, row=i, column=None),
                    model, write(ed_img, file=file, row=i, column=None),
                    split=SPLIT_NAMES.get(file.stem, file.stem), **extra)


def evaluate(folder: Path, preds: pd.DataFrame) -> dict:
    from edithf.metrics import evaluate_predictions

    metrics = evaluate_predictions(read_table(folder / "edits.parquet"), preds, split="test")
    # dimensions without a MOS have no SRCC (NaN): left out of the mean, NaN when none has one
    srccs = [metrics[f"srcc_{d}"] for d in ("quality", "alignment", "preservation")]
    finite = [v for v in srccs if np.isfinite(v)]
    metrics["srcc_mean"] = float(np.mean(finite)) if finite else float("nan")
    return metrics


BENCHMARK = Benchmark(
    name="edithf-1m", column="EditHF-1M test", headline="srcc_mean",
    importer=import_edithf1m, protocol=evaluate, import_options=("column_map",),
    summary="EditHF-1M release: MOS per dimension; SRCC/PLCC on the test split",
)
