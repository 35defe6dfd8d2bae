"""What every public-benchmark record shares: the record itself, the import result, the
error type, and the readers/writers the importers use.

An importer turns the benchmark's published files into a dataset folder: `edits.parquet`,
`images/`, `dataset.json`, and for benchmarks judged on pairs a `comparisons.parquet` table

    comparison_id, group_id, edit_a, edit_b, label, dimension, task, vote

(`label` +1 when the humans preferred `edit_a`, -1 for `edit_b`, 0 for a tie; `vote` keeps the
benchmark's own label), for pointwise benchmarks a `human.parquet` (`edit_id, human_score`, and
per-dimension columns where known). Every error names the file, the row and the column.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from edithf.data.images import ImageLoadError, load_image

COMPARISON_COLUMNS = ("comparison_id", "group_id", "edit_a", "edit_b", "label", "dimension", "task", "vote")


@dataclass(frozen=True)
class Benchmark:
    """One public benchmark: how to import it, how to score a scorer on it, and which of the
    protocol's metrics is its headline (the number placed beside the published Table 5)."""

    name: str
    column: str                      # the Table 5 column the headline belongs to
    headline: str                    # key of the headline metric in the protocol's result
    importer: Callable[..., "Imported"]
    protocol: Callable[..., dict]    # protocol(folder, predictions, **options) -> metrics
    options: tuple[str, ...] = ()    # protocol options it accepts (tie_margin, ...)
    import_options: tuple[str, ...] = ()  # importer options it accepts (column_map)
    summary: str = ""


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


# ----------------------------------------------------------------------------- reading
def read_any_table(path: Path, *, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table in any of the layouts the benchmarks ship (parquet, HF arrow, csv, tsv, json,
    jsonl). `text_columns` are read as strings (ids must not turn into floats)."""
    suffix = path.suffix.lower()
    try:
        table = _read(path, suffix, text_columns)
    except ImportFormatError:
        raise
    except Exception as exc:  # pyarrow/pandas errors say little about which file
        raise ImportFormatError(path, f"cannot read the table ({exc.__class__.__name__}: {exc})") from exc
    for column in text_columns:
        if column in table:
            table[column] = pd.Series([None if _missing(v) else _as_text(v) for v in table[column]],
                                      index=table.index, dtype=object)
    return table.infer_objects() if suffix in (".json", ".jsonl") else table


def _read(path: Path, suffix: str, text_columns: tuple[str, ...]) -> pd.DataFrame:
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
        return pd.read_csv(path, dtype={c: str for c in text_columns})
    if suffix in (".jsonl", ".json"):
        return _read_json_records(path)
    raise ImportFormatError(path, "unsupported table format (use parquet, arrow, csv, tsv, json or jsonl)")


def _read_json_records(path: Path) -> pd.DataFrame:
    """JSON (a list of objects) or JSON lines, values kept as written: pandas' own reader
    would turn a column of ids with gaps into floats ("31" -> 31.0)."""
    import json

    text = path.read_text(encoding="utf-8")
    try:
        records = json.loads(text)
    except json.JSONDecodeError:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ImportFormatError(path, "expected a list of JSON objects (one per row)")
    return pd.DataFrame(records, dtype=object)  # numbers typed later, once ids are strings


def _as_text(value) -> str:
    # an id stored as a float (a numeric column with gaps) is written as the integer it was
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def table_files(src: Path, patterns: tuple[str, ...]) -> list[Path]:
    if src.is_file():
        return [src]
    files = sorted({p for pat in patterns for p in src.glob(pat)})
    if not files:
        raise ImportFormatError(src, f"no table found (looked for {', '.join(patterns)})")
    return files


def require_columns(df: pd.DataFrame, columns, file) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ImportFormatError(file, f"missing column(s) {missing}; present: {list(df.columns)}")


def clean_prompt(text, file, row, column) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ImportFormatError(file, "empty instruction", row, column)
    return text.strip()


# ----------------------------------------------------------------------------- writing
class ImageWriter:
    """Writes embedded or referenced images into OUT/images/, named by content hash
    (deduplicated). Every image goes through `load_image`, so an import refuses exactly
    what `edithf score` refuses (truncated bytes, images above the pixel limit)."""

    def __init__(self, root: Path, src_root: Path):
        self.root, self.src_root = root, src_root
        (root / "images").mkdir(parents=True, exist_ok=True)

    def __call__(self, value, *, file, row, column) -> str:
        data = self._bytes(value, file=file, row=row, column=column)
        try:
            load_image(data)  # decodes fully: truncated or oversized images fail here
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                fmt = (im.format or "PNG").lower()
        except (ImageLoadError, OSError) as exc:
            raise ImportFormatError(file, f"the image cannot be used: {exc}", row, column) from exc
        ext = {"jpeg": "jpg"}.get(fmt, fmt)
        rel = f"images/{hashlib.sha1(data).hexdigest()[:16]}.{ext}"
        target = self.root / rel
        if not target.exists():
            target.write_bytes(data)
        return rel

    def _bytes(self, value, *, file, row, column) -> bytes:
        if isinstance(value, Path):
            return value.read_bytes()
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


def edit_row(edit_id, group_id, task, prompt, source, model, edited, **extra) -> dict:
    return dict(edit_id=edit_id, group_id=group_id, task=task or "unknown", prompt=prompt,
                source=source, model=model, edited=edited, **extra)


def dedupe_edits(edits: list[dict]) -> list[dict]:
    seen, out = set(), []
    for e in edits:
        if e["edit_id"] not in seen:
            seen.add(e["edit_id"])
            out.append(e)
    return out


def vote_counts(comparisons: list[dict]) -> dict:
    return pd.Series([c["vote"] for c in comparisons], dtype=object).value_counts().to_dict()
