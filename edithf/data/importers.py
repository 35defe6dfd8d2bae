"""Bring public benchmark layouts into the interchange format (`edithf data import FORMAT SRC OUT`).

Each importer reads local files in the published layout (see README "Public benchmarks"; no hub
access at run time) and writes a dataset folder: `edits.parquet`, `images/`, `dataset.json`, and
for benchmarks judged on pairs a `comparisons.parquet` table:

    comparison_id, group_id, edit_a, edit_b, label, dimension, task, vote

`label` is +1 when the humans preferred `edit_a`, -1 for `edit_b`, 0 for a tie; `vote` keeps the
benchmark's own label (e.g. GenAI-Bench's `bothbad_vote`). Pointwise benchmarks write
`human.parquet` (`edit_id, human_score` and per-dimension columns where known).

Every error names the file, the row and the column (`ImportFormatError`).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from edithf.utils.io import write_table

COMPARISON_COLUMNS = ("comparison_id", "group_id", "edit_a", "edit_b", "label", "dimension", "task", "vote")


class ImportFormatError(ValueError):
    """A source file does not match the published layout; says file, row and column."""

    def __init__(self, file, message: str, row=None, column=None):
        where = str(file)
        if row is not None:
            where += f" row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.file, self.row, self.column = str(file), row, column


@dataclass
class Imported:
    """What an importer produced, before it is written out."""

    edits: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    human: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers
def _read_any_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".arrow", ".feather"):
            import pyarrow as pa
            import pyarrow.feather as feather

            try:
                return feather.read_table(path).to_pandas()
            except Exception:  # HF `datasets` writes arrow *stream* files
                with pa.memory_map(str(path)) as src:
                    return pa.ipc.open_stream(src).read_all().to_pandas()
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".jsonl", ".json"):
            try:
                return pd.read_json(path, lines=True)
            except ValueError:
                return pd.read_json(path)
    except ImportFormatError:
        raise
    except Exception as exc:  # pyarrow/pandas errors say little about which file
        raise ImportFormatError(path, f"cannot read the table ({exc.__class__.__name__}: {exc})") from exc
    raise ImportFormatError(path, "unsupported table format (use parquet, arrow, csv, tsv or jsonl)")


def _table_files(src: Path, patterns: tuple[str, ...]) -> list[Path]:
    if src.is_file():
        return [src]
    files = sorted({p for pat in patterns for p in src.glob(pat)})
    if not files:
        raise ImportFormatError(src, f"no table found (looked for {', '.join(patterns)})")
    return files


def _require_columns(df: pd.DataFrame, columns, file) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ImportFormatError(file, f"missing column(s) {missing}; present: {list(df.columns)}")


class ImageWriter:
    """Writes embedded or referenced images into OUT/images/, named by content hash (deduplicated)."""

    def __init__(self, root: Path, src_root: Path):
        self.root, self.src_root = root, src_root
        (root / "images").mkdir(parents=True, exist_ok=True)

    def __call__(self, value, *, file, row, column) -> str:
        data = self._bytes(value, file=file, row=row, column=column)
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                fmt = (im.format or "PNG").lower()
        except Exception as exc:
            raise ImportFormatError(file, f"the image does not decode ({exc})", row, column) from exc
        ext = {"jpeg": "jpg"}.get(fmt, fmt)
        rel = f"images/{hashlib.sha1(data).hexdigest()[:16]}.{ext}"
        target = self.root / rel
        if not target.exists():
            target.write_bytes(data)
        return rel

    def _bytes(self, value, *, file, row, column) -> bytes:
        if isinstance(value, dict):  # Hugging Face Image struct {bytes, path}
            if value.get("bytes"):
                return bytes(value["bytes"])
            path = value.get("path")
            if path and (self.src_root / path).is_file():
                return (self.src_root / path).read_bytes()
            raise ImportFormatError(file, f"image struct has no bytes and its path {path!r} is not under {self.src_root}", row, column)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str) and value:
            path = Path(value) if Path(value).is_absolute() else self.src_root / value
            if path.is_file():
                return path.read_bytes()
            raise ImportFormatError(file, f"image file {value!r} not found under {self.src_root}", row, column)
        raise ImportFormatError(file, f"no image in this cell (got {type(value).__name__})", row, column)


def _edit(edit_id, group_id, task, prompt, source, model, edited, **extra) -> dict:
    return dict(edit_id=edit_id, group_id=group_id, task=task or "unknown", prompt=prompt,
                source=source, model=model, edited=edited, **extra)


def _dedupe_edits(edits: list[dict]) -> list[dict]:
    seen, out = set(), []
    for e in edits:
        if e["edit_id"] not in seen:
            seen.add(e["edit_id"])
            out.append(e)
    return out


def _clean_prompt(text, file, row, column) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ImportFormatError(file, "empty instruction", row, column)
    return text.strip()


# ----------------------------------------------------------------------- GenAI-Bench
GENAI_VOTES = {"leftvote": 1, "rightvote": -1, "tievote": 0, "bothbad_vote": 0}


def import_genai_bench(src: Path, out: Path) -> Imported:
    """GenAI-Bench image editing: one row = a source, an instruction and a left/right battle."""
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    for file in _table_files(src, ("**/*image_edition*.parquet", "**/*.parquet")):
        df = _read_any_table(file)
        _require_columns(df, ("instruct_prompt", "source_image", "left_model", "left_output_image",
                              "right_model", "right_output_image", "vote_type"), file)
        for i, r in enumerate(df.itertuples(index=False)):
            vote = str(r.vote_type)
            if vote not in GENAI_VOTES:
                raise ImportFormatError(file, f"vote_type {vote!r} not one of {sorted(GENAI_VOTES)}", i, "vote_type")
            prompt = _clean_prompt(r.instruct_prompt, file, i, "instruct_prompt")
            source = write(r.source_image, file=file, row=i, column="source_image")
            gid = f"genai-{file.stem}-{i}"
            ids = []
            for side in ("left", "right"):
                edited = write(getattr(r, f"{side}_output_image"), file=file, row=i, column=f"{side}_output_image")
                eid = f"{gid}-{side}"
                ids.append(eid)
                result.edits.append(_edit(eid, gid, "genai_edit", prompt, source, str(getattr(r, f"{side}_model")), edited,
                                          description=str(getattr(r, "target_prompt", "") or "")))
            result.comparisons.append(dict(comparison_id=gid, group_id=gid, edit_a=ids[0], edit_b=ids[1],
                                           label=GENAI_VOTES[vote], dimension="overall", task="genai_edit", vote=vote))
    result.report["votes"] = pd.Series([c["vote"] for c in result.comparisons]).value_counts().to_dict()
    return result


# ---------------------------------------------------------- EditReward-Bench (TIGER-Lab)
_RANK_RE = re.compile(r"^\s*([AB])\s*([<>=])\s*([AB])\s*$")


def _ranking_label(text: str, file, row) -> int:
    m = _RANK_RE.match(str(text))
    if not m or m.group(1) == m.group(3):
        raise ImportFormatError(file, f"ranking {text!r} is not of the form A>B, B>A or A=B", row, "ranking")
    left, op, _ = m.groups()
    if op == "=":
        return 0
    a_better = (op == ">") == (left == "A")
    return 1 if a_better else -1


def import_editreward_bench(src: Path, out: Path) -> Imported:
    """TIGER-Lab EditReward-Bench: {2,3,4}pair parquet files; a row compares candidate_1 with
    candidate_2 of group `id.split('_')[0]`. Duplicate ids with conflicting rankings (a known
    defect of the 2pair split) are dropped and reported; exact duplicates are kept once."""
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    by_id: dict[tuple[str, str], dict] = {}
    conflicts: list[str] = []
    for file in _table_files(src, ("**/*pair*/**/*.parquet", "**/*pair*.parquet", "**/*.parquet")):
        df = _read_any_table(file)
        _require_columns(df, ("id", "instruction", "ranking", "source_image", "candidate_1", "candidate_2",
                              "model_1", "model_2"), file)
        k = re.search(r"([234])pair", str(file))
        split = f"{k.group(1)}pair" if k else file.parent.name
        for i, r in enumerate(df.itertuples(index=False)):
            label = _ranking_label(r.ranking, file, i)
            key = (split, str(r.id))
            if key in by_id:
                if by_id[key]["label"] != label:
                    conflicts.append(f"{split}:{r.id}")
                    by_id[key]["conflict"] = True
                continue
            group = f"{split}-{str(r.id).split('_')[0]}"
            prompt = _clean_prompt(r.instruction, file, i, "instruction")
            source = write(r.source_image, file=file, row=i, column="source_image")
            ids = []
            for j in (1, 2):
                edited = write(getattr(r, f"candidate_{j}"), file=file, row=i, column=f"candidate_{j}")
                eid = f"{group}-{Path(edited).stem[:10]}"
                ids.append(eid)
                result.edits.append(_edit(eid, group, str(getattr(r, "dataset", "") or "editreward"), prompt,
                                          source, str(getattr(r, f"model_{j}")), edited, bench_split=split))
            by_id[key] = dict(comparison_id=f"{split}:{r.id}", group_id=group, edit_a=ids[0], edit_b=ids[1],
                              label=label, dimension="overall", task=split, vote=str(r.ranking))
    result.comparisons = [c for c in by_id.values() if not c.pop("conflict", False)]
    result.edits = _dedupe_edits(result.edits)
    result.report["conflicting_ids_dropped"] = sorted(set(conflicts))
    result.report["comparisons"] = len(result.comparisons)
    return result


# --------------------------------------------------------- EditReward-Bench (EditScore)
EDITSCORE_DIMENSIONS = {"prompt_following": "alignment", "consistency": "preservation", "overall": "overall"}


def import_editscore_bench(src: Path, out: Path) -> Imported:
    """EditScore's EditReward-Bench: each row holds [preferred, rejected] outputs for one
    instruction, a task type (13) and a dimension (prompt_following, consistency, overall)."""
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    for file in _table_files(src, ("**/*.parquet", "**/*.arrow")):
        df = _read_any_table(file)
        _require_columns(df, ("instruction", "input_image", "output_images", "task_type", "dimension"), file)
        for i, r in enumerate(df.itertuples(index=False)):
            dim = str(r.dimension)
            if dim not in EDITSCORE_DIMENSIONS:
                raise ImportFormatError(file, f"dimension {dim!r} not one of {sorted(EDITSCORE_DIMENSIONS)}", i, "dimension")
            outputs = list(r.output_images) if r.output_images is not None else []
            if len(outputs) != 2:
                raise ImportFormatError(file, f"expected [preferred, rejected], got {len(outputs)} image(s)", i, "output_images")
            keys = list(getattr(r, "key", None) if getattr(r, "key", None) is not None else ["preferred", "rejected"])
            prompt = _clean_prompt(r.instruction, file, i, "instruction")
            source = write(r.input_image, file=file, row=i, column="input_image")
            gid = f"editscore-{file.stem}-{i}"
            ids = []
            for name, img in zip(("preferred", "rejected"), outputs):
                edited = write(img, file=file, row=i, column="output_images")
                eid = f"{gid}-{name}"
                ids.append(eid)
                result.edits.append(_edit(eid, gid, str(r.task_type), prompt, source, str(keys[len(ids) - 1]), edited))
            result.comparisons.append(dict(comparison_id=gid, group_id=gid, edit_a=ids[0], edit_b=ids[1], label=1,
                                           dimension=EDITSCORE_DIMENSIONS[dim], task=str(r.task_type), vote=dim))
    result.report["task_types"] = sorted({c["task"] for c in result.comparisons})
    return result


# ------------------------------------------------------------------------ ImagenHub
_CELL_RE = re.compile(r"^\s*\[\s*([0-9.]+)\s*,\s*([0-9.]+)\s*\]\s*$")


def _parse_cell(cell, file, row, column) -> tuple[float, float]:
    m = _CELL_RE.match(str(cell))
    if not m:
        raise ImportFormatError(file, f"cell {cell!r} is not '[SC, PQ]'", row, column)
    sc, pq = float(m.group(1)), float(m.group(2))
    if not (0 <= sc <= 1 and 0 <= pq <= 1):
        raise ImportFormatError(file, f"cell {cell!r} has values outside [0, 1]", row, column)
    return sc, pq


def import_imagenhub(src: Path, out: Path) -> Imported:
    """ImagenHub text-guided editing. SRC holds `*rater*.tsv` (uid + one column per model, cells
    "[SC, PQ]"), the inputs table (`img_id, turn_index, source_img, instruction`, parquet) and
    the model outputs as `outputs/<model>/<uid>`. Human score = sqrt(SC*PQ) averaged over raters;
    SC -> alignment, PQ -> quality. Outputs that are not on disk are skipped and reported."""
    result = Imported()
    write = ImageWriter(out, src)
    raters = sorted(src.glob("**/*rater*.tsv"))
    if not raters:
        raise ImportFormatError(src, "no rater TSV found (Text-Guided_IE_rater{1,2,3}.tsv)")
    cells = []
    for file in raters:
        df = _read_any_table(file)
        _require_columns(df, ("uid",), file)
        for i, r in df.iterrows():
            for model in df.columns.drop("uid"):
                sc, pq = _parse_cell(r[model], file, i, model)
                cells.append((str(r["uid"]), model, sc, pq))
    ratings = pd.DataFrame(cells, columns=["uid", "model", "sc", "pq"])
    ratings["overall"] = np.sqrt(ratings.sc * ratings.pq)
    mean = ratings.groupby(["uid", "model"], as_index=False)[["sc", "pq", "overall"]].mean()
    inputs_files = [p for p in src.glob("**/*.parquet")]
    if not inputs_files:
        raise ImportFormatError(src, "no inputs parquet found (img_id, turn_index, source_img, instruction)")
    inputs = pd.concat([_read_any_table(p).assign(_file=str(p)) for p in inputs_files], ignore_index=True)
    _require_columns(inputs, ("img_id", "turn_index", "source_img", "instruction"), inputs_files[0])
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
        result.edits.append(_edit(eid, f"imagenhub-{Path(r.uid).stem}", "text_guided_editing",
                                  _clean_prompt(row["instruction"], row["_file"], r.uid, "instruction"),
                                  source, r.model, write(str(out_path), file=out_path, row=None, column=None)))
        result.human.append(dict(edit_id=eid, human_score=float(r.overall), alignment=float(r.sc) * 100, quality=float(r.pq) * 100))
    result.report.update(raters=len(raters), rated_outputs=len(mean), skipped_missing=skipped)
    return result


# ------------------------------------------------------------------------ AURORA-Bench
def import_aurora(src: Path, out: Path) -> Imported:
    """AURORA-Bench: items (`input, instruction, task`, id optional) in a json/jsonl/parquet
    table, model outputs as `outputs/<model>/<item id>.<ext>`, and human ratings in a table
    `ratings.*` with columns `item_id, model, score` (the published JSON's schema is
    unverified: convert it to these three columns)."""
    result = Imported()
    write = ImageWriter(out, src)
    item_files = [p for p in src.glob("*") if p.suffix in (".json", ".jsonl", ".parquet") and not p.stem.startswith("ratings")]
    if not item_files:
        raise ImportFormatError(src, "no items table found (json/jsonl/parquet with input, instruction, task)")
    items = pd.concat([_read_any_table(p) for p in item_files], ignore_index=True)
    _require_columns(items, ("input", "instruction", "task"), item_files[0])
    if "id" not in items:
        items["id"] = [str(i) for i in range(len(items))]
    rating_files = list(src.glob("ratings.*"))
    if not rating_files:
        raise ImportFormatError(src, "no ratings table (ratings.csv/jsonl with item_id, model, score)")
    ratings = _read_any_table(rating_files[0])
    _require_columns(ratings, ("item_id", "model", "score"), rating_files[0])
    ratings = ratings.groupby(["item_id", "model"], as_index=False)["score"].mean()
    items = items.set_index(items["id"].astype(str))
    skipped = []
    for i, r in enumerate(ratings.itertuples(index=False)):
        iid = str(r.item_id)
        if iid not in items.index:
            raise ImportFormatError(rating_files[0], f"item_id {iid!r} is not in the items table", i, "item_id")
        found = sorted((src / "outputs" / str(r.model)).glob(f"{iid}.*"))
        if not found:
            skipped.append(f"outputs/{r.model}/{iid}.*")
            continue
        item = items.loc[iid]
        eid = f"aurora-{iid}-{r.model}"
        result.edits.append(_edit(eid, f"aurora-{iid}", str(item["task"]), _clean_prompt(item["instruction"], item_files[0], iid, "instruction"),
                                  write(item["input"], file=item_files[0], row=iid, column="input"), str(r.model),
                                  write(str(found[0]), file=found[0], row=None, column=None)))
        result.human.append(dict(edit_id=eid, human_score=float(r.score)))
    result.report.update(items=len(items), rated=len(ratings), skipped_missing=skipped)
    return result


# ------------------------------------------------------------------------ EditHF-1M
EDITHF1M_DEFAULT_COLUMNS = {
    # interchange name: candidate column names in the release CSVs (unverified; first match wins)
    "category": ["category", "task", "edit_type"],
    "index": ["id", "index", "image_id", "n", "name"],
    "model": ["model", "model_name", "editor"],
    "prompt": ["prompt", "instruction", "edit_prompt", "instruct_prompt"],
    "mos_quality": ["mos_quality", "quality", "visual_quality", "perceptual_quality"],
    "mos_alignment": ["mos_alignment", "alignment", "instruction_alignment", "editing_alignment"],
    "mos_preservation": ["mos_preservation", "preservation", "attribute_preservation", "consistency"],
}


def _map_columns(df: pd.DataFrame, mapping: dict[str, list[str]], file) -> tuple[dict[str, str], list[str]]:
    found, missing = {}, []
    for name, candidates in mapping.items():
        hit = next((c for c in candidates if c in df.columns), None)
        if hit is None:
            missing.append(name)
        else:
            found[name] = hit
    return found, missing


def import_edithf1m(src: Path, out: Path, column_map: dict[str, str] | None = None) -> Imported:
    """EditHF-1M release: `source/<category>/<n>.jpg`, `edited/<model>/<category>/<n>.jpg`,
    `scores/{train,validation,test}.csv` (MOS). Column names of the CSVs are unverified: pass
    `column_map` (interchange name -> CSV column) for anything the defaults do not find; what
    could not be mapped is reported (a needed column raises)."""
    result = Imported()
    write = ImageWriter(out, src)
    mapping = {k: ([column_map[k]] if column_map and k in column_map else v) for k, v in EDITHF1M_DEFAULT_COLUMNS.items()}
    split_names = {"train": "train", "validation": "val", "val": "val", "test": "test"}
    files = sorted((src / "scores").glob("*.csv"))
    if not files:
        raise ImportFormatError(src / "scores", "no score CSVs found (scores/{train,validation,test}.csv)")
    unmapped: dict[str, list[str]] = {}
    for file in files:
        df = _read_any_table(file)
        found, missing = _map_columns(df, mapping, file)
        needed = [m for m in ("category", "index", "model") if m in missing]
        if needed:
            raise ImportFormatError(file, f"cannot map {needed}; columns present: {list(df.columns)}; pass a column map, e.g. --map category=<col>")
        unmapped[file.name] = missing
        for i, r in df.iterrows():
            cat, n, model = str(r[found["category"]]), str(r[found["index"]]), str(r[found["model"]])
            src_img = next(iter(sorted((src / "source" / cat).glob(f"{n}.*"))), None)
            ed_img = next(iter(sorted((src / "edited" / model / cat).glob(f"{n}.*"))), None)
            if src_img is None or ed_img is None:
                raise ImportFormatError(file, f"image missing: source/{cat}/{n}.* or edited/{model}/{cat}/{n}.*", i)
            prompt = str(r[found["prompt"]]) if "prompt" in found else f"{cat} edit"
            extra = {k: float(r[found[k]]) for k in ("mos_quality", "mos_alignment", "mos_preservation") if k in found}
            result.edits.append(_edit(f"{cat}-{n}-{model}", f"{cat}-{n}", cat, prompt,
                                      write(str(src_img), file=file, row=i, column=None), model,
                                      write(str(ed_img), file=file, row=i, column=None),
                                      split=split_names.get(file.stem, file.stem), **extra))
    result.report["unmapped_columns"] = unmapped
    return result


IMPORTERS: dict[str, Callable[..., Imported]] = {
    "genai-bench": import_genai_bench,
    "editreward-bench": import_editreward_bench,
    "editscore-bench": import_editscore_bench,
    "imagenhub": import_imagenhub,
    "aurora": import_aurora,
    "edithf-1m": import_edithf1m,
}


def import_benchmark(fmt: str, src, out, **options) -> Path:
    """Import `src` (a file or folder in the published layout of `fmt`) into the dataset folder
    `out` (written atomically). Returns `out`. The report lands in `out/import_report.json`."""
    from edithf.utils.io import atomic_dir

    if fmt not in IMPORTERS:
        raise ValueError(f"unknown benchmark format {fmt!r}; choose from {', '.join(IMPORTERS)}")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"benchmark source not found: {src}")
    with atomic_dir(out) as tmp:
        result = IMPORTERS[fmt](src, tmp, **options)
        if not result.edits:
            raise ImportFormatError(src, "nothing to import: no edit had all its images")
        write_table(pd.DataFrame(result.edits), tmp / "edits.parquet")
        if result.comparisons:
            write_table(pd.DataFrame(result.comparisons, columns=list(COMPARISON_COLUMNS)), tmp / "comparisons.parquet")
        if result.human:
            write_table(pd.DataFrame(result.human), tmp / "human.parquet")
        meta = {"name": f"{fmt} (imported)", "source_format": fmt, "source": str(src), "synthetic": False}
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=2))
        report = {"format": fmt, "edits": len(result.edits), **result.report}
        (tmp / "import_report.json").write_text(json.dumps(report, indent=2, default=str))
    return out
