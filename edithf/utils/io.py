"""Atomic writes: a reader never sees a half-written file or dataset folder.

Everything is written next to its target under a temporary name and moved into place with
`os.replace`, which is atomic on one file system.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces `path`, on error it is removed.

    For writers that want a file name (pandas, safetensors, PIL): `with atomic_path(p) as tmp:
    df.to_parquet(tmp)`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_table(df, path: str | os.PathLike) -> Path:
    """Write a DataFrame atomically; the format follows the suffix (.parquet, .csv, .jsonl)."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix in (".jsonl", ".json"):
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            raise ValueError(f"cannot write a table to {path}: use .parquet, .csv or .jsonl")
    return path


def read_table(path: str | os.PathLike):
    """Read a table written by `write_table` (or any parquet/csv/jsonl file)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"table not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, orient="records", lines=True)
    raise ValueError(f"cannot read a table from {path}: use .parquet, .csv or .jsonl")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a whole folder under a temporary name; on success it replaces `path`.

    An existing `path` is moved aside first and removed only after the new one is in place,
    so a crash leaves either the old folder or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def json_safe(value):
    """`value` with every non-finite float (NaN, inf) replaced by None and numpy scalars made
    plain, recursively through dicts and lists: JSON has no NaN, and a reader must see "no
    value" (null), never an invalid file."""
    import math

    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
