"""A dataset folder in the interchange format (docs/design.md section 3), in memory.

    ds = load_dataset("demo/")        # validated; DatasetError names table, row and column
    ds.split("test").triples()        # absolute source paths, edited paths, prompts
    ds.save("out/")                   # atomic: the folder appears complete or not at all

Replacing a folder is guarded (`check_output`): a command writes OUT only when OUT is new, empty
or was written by EditHF (it holds `OUTPUT_MARKER`), never when OUT is or contains its input;
the replaced folder keeps its permissions.

Tables are read from `.parquet`, `.csv` or `.jsonl` (the first found, in that order) and always
written as parquet.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from edithf.data.schema import SPLITS
from edithf.data.validate import DatasetError, validate_tables
from edithf.utils.io import atomic_dir, read_table

__all__ = ["EditDataset", "DatasetError", "load_dataset", "TABLES", "check_output", "OUTPUT_MARKER",
           "OutputFolderError"]

TABLES = ("edits", "ratings", "rankings", "pairs")
TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl")
# Written into every folder EditHF writes; only such a folder may be replaced wholesale.
OUTPUT_MARKER = ".edithf-output.json"


class OutputFolderError(ValueError):
    """An output folder that must not be replaced; the message says why and what to do."""


def check_output(out, *inputs) -> None:
    """Refuse to replace `out` when it is, or contains, one of `inputs`, or when it is a folder
    with content that EditHF did not write (no OUTPUT_MARKER)."""
    out_path = Path(out).resolve()
    for item in inputs:
        item_path = Path(item).resolve()
        if item_path == out_path or out_path in item_path.parents:
            raise OutputFolderError(f"output {out} {'is' if item_path == out_path else 'contains'} the input "
                                    f"{item}; writing it would delete the input. Choose another output folder")
    if out_path.is_file():
        raise OutputFolderError(f"output {out} is a file; give a folder path")
    if out_path.is_dir() and any(out_path.iterdir()) and not (out_path / OUTPUT_MARKER).is_file():
        raise OutputFolderError(f"output {out} already holds files that EditHF did not write (no {OUTPUT_MARKER}); "
                                "it is not replaced. Choose a new folder, or empty or delete this one yourself")


def write_output_marker(folder: Path, written_by: str, final: Path) -> None:
    """Mark `folder` as written by EditHF, and give it the permissions of the folder it
    replaces (a new one gets the umask's): the temporary folder was created private (0700)."""
    (folder / OUTPUT_MARKER).write_text(json.dumps({"written_by": written_by}) + "\n")
    mode = final.stat().st_mode & 0o7777 if final.is_dir() else 0o777 & ~_umask()
    os.chmod(folder, mode)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it, which
    would race with threads creating files meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def find_table(root: Path, name: str) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        path = root / f"{name}{suffix}"
        if path.exists():
            return path
    return None


@dataclass
class EditDataset:
    """The tables of one dataset folder; image paths in them are relative to `root`."""

    root: Path
    edits: pd.DataFrame
    ratings: pd.DataFrame | None = None
    rankings: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list, repr=False)  # what validation reported

    @classmethod
    def load(cls, path, validate: bool = True, check_images: bool = True) -> "EditDataset":
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"dataset folder not found: {root}")
        files = {name: find_table(root, name) for name in TABLES}
        if files["edits"] is None:
            present = sorted(p.name for p in root.iterdir())
            raise FileNotFoundError(f"{root} has no edits.parquet / edits.csv / edits.jsonl (it holds "
                                    f"{present[:20]}); is it a dataset folder?")
        tables = {name: (read_table(p) if p is not None else None) for name, p in files.items()}
        meta = _read_meta(root)
        notes: list[str] = []
        if validate:
            names = {name: p.name for name, p in files.items() if p is not None}
            *checked, notes = validate_tables(*(tables[n] for n in TABLES), root=root, meta=meta,
                                              names=names, check_images=check_images)
            tables = dict(zip(TABLES, checked))
        return cls(root=root, meta=meta, notes=notes, **tables)

    # -- access -----------------------------------------------------------------------------
    def image_path(self, rel: str) -> Path:
        return (self.root / rel).absolute()

    def split(self, name: str) -> "EditDataset":
        """The dataset restricted to one split; ratings, rankings and pairs follow its edits."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {list(SPLITS)}")
        if "split" not in self.edits:
            raise ValueError(f"{self.root} has no 'split' column; run `edithf data process` first")
        edits = self.edits[self.edits["split"] == name].reset_index(drop=True)
        ids, groups = edits["edit_id"], edits["group_id"]
        return replace(
            self,
            edits=edits,
            ratings=_keep(self.ratings, "edit_id", ids),
            rankings=_keep(self.rankings, "edit_id", ids),
            pairs=_keep(self.pairs, "group_id", groups),
        )

    def triples(self) -> tuple[list[str], list[str], list[str]]:
        """(absolute source paths, absolute edited paths, prompts) in the order of `edits`."""
        prefix = str(self.root.absolute()) + "/"
        sources = (prefix + self.edits["source"].astype(str)).tolist()
        edited = (prefix + self.edits["edited"].astype(str)).tolist()
        return sources, edited, self.edits["prompt"].tolist()

    # -- writing ----------------------------------------------------------------------------
    def save(self, path, extra_files: dict[str, str | bytes] | None = None,
             written_by: str = "edithf") -> Path:
        """Write the folder atomically: tables as parquet, dataset.json, the images (hard-linked
        where the file system allows, copied otherwise), `extra_files` (name -> content) and the
        output marker. Callers replacing a user's folder check it first (`check_output`)."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            write_output_marker(tmp, written_by, path)
            for name in TABLES:
                table = getattr(self, name)
                if table is not None:
                    table.to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / "dataset.json").write_text(json.dumps(self.meta, indent=2, default=str) + "\n")
            for name, content in (extra_files or {}).items():
                target = tmp / name
                target.write_bytes(content.encode() if isinstance(content, str) else content)
            self._place_images(tmp)
        return path

    def _place_images(self, target_root: Path) -> None:
        rel_paths = pd.unique(pd.concat([self.edits["source"], self.edits["edited"]], ignore_index=True))
        for folder in pd.Series(rel_paths).str.rpartition("/")[0].unique():
            (target_root / folder).mkdir(parents=True, exist_ok=True)
        for rel in rel_paths:
            src, dst = self.root / rel, target_root / rel
            try:
                os.link(src, dst)  # same file system: free and instant
            except OSError:
                shutil.copy2(src, dst)


def _keep(table: pd.DataFrame | None, column: str, values: pd.Series) -> pd.DataFrame | None:
    if table is None:
        return None
    return table[table[column].isin(values)].reset_index(drop=True)


def _read_meta(root: Path) -> dict:
    path = root / "dataset.json"
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                           table=str(path.name)) from exc
    if not isinstance(meta, dict):
        raise DatasetError("must hold a JSON object (name, version, rating_scale ...)", table="dataset.json")
    return meta


def load_dataset(path, **kwargs) -> EditDataset:
    """`EditDataset.load(path, validate=True, check_images=True)`."""
    return EditDataset.load(path, **kwargs)
