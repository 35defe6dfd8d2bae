"""Preference pairs, the table a DPO run trains on: its schema (one module for every writer
and reader), reading and checking it, and the cache of encoded samples (each pair is encoded
once: condition embeddings + chosen/rejected latents).

"Preference pairs" (this table, written by `edithf pairs`, `edithf dpo toy-pairs`) are not the
"rank pairs" of a dataset folder (`pairs.parquet` there: `group_id, dimension, preferred,
rejected, rank_gap`, edit ids the evaluator trains on; edithf/data/schema.py).

Columns: `PREFERENCE_REQUIRED` (`source, prompt, chosen, rejected`; image paths relative to the
table's folder or absolute) is all the trainer reads. `edithf pairs` also writes the provenance
`PREFERENCE_PROVENANCE`, the same columns for Global- and Self-DPO (empty where one does not
apply): `pair_id, group_id, task, chosen_score, rejected_score, chosen_rank, rejected_rank,
chosen_seed, rejected_seed, chosen_editor, rejected_editor, scorer`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

PREFERENCE_REQUIRED = ("source", "prompt", "chosen", "rejected")
PREFERENCE_PROVENANCE = ("pair_id", "group_id", "task", "chosen_score", "rejected_score", "chosen_rank",
                         "rejected_rank", "chosen_seed", "rejected_seed", "chosen_editor", "rejected_editor",
                         "scorer")
# The order `edithf pairs` writes them in.
PREFERENCE_COLUMNS = ("pair_id", "group_id", "task", *PREFERENCE_REQUIRED, *PREFERENCE_PROVENANCE[3:])
IMAGE_COLUMNS = ("source", "chosen", "rejected")


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:  # reads the header only
        return img.size


def load_pairs(path: str | Path, on_size_mismatch: str = "resize"):
    """Read and check a preference-pairs table; returns its `PREFERENCE_REQUIRED` columns with
    absolute image paths.

    Raises FileNotFoundError / ValueError naming the table, row and column of the problem."""
    from edithf.utils.io import read_table

    if not str(path).strip():
        raise ValueError("no pairs table given: set pairs=<table.parquet> (build one with `edithf pairs`)")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs table not found: {path} (build one with `edithf pairs`)")
    df = read_table(path)
    missing = [c for c in PREFERENCE_REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"pairs table {path} lacks column(s) {missing}; it has {list(df.columns)} "
                         f"and needs {list(PREFERENCE_REQUIRED)}")
    if df.empty:
        raise ValueError(f"pairs table {path} has no rows; build pairs with `edithf pairs` first")
    df = df[list(PREFERENCE_REQUIRED)].reset_index(drop=True).copy()
    root = path.parent
    for col in IMAGE_COLUMNS:
        df[col] = [str(p if Path(p).is_absolute() else (root / p)) for p in df[col].astype(str)]
    for i, row in df.iterrows():
        _check_row(path, i, row, on_size_mismatch)
    return df


def _check_row(table: Path, i: int, row, on_size_mismatch: str) -> None:
    if not isinstance(row["prompt"], str) or not row["prompt"].strip():
        raise ValueError(f"pairs table {table}, row {i}: column 'prompt' is empty")
    for col in IMAGE_COLUMNS:
        if not Path(row[col]).is_file():
            raise FileNotFoundError(f"pairs table {table}, row {i}, column '{col}': image not found: {row[col]}")
    if on_size_mismatch == "error":
        chosen, rejected = _image_size(Path(row["chosen"])), _image_size(Path(row["rejected"]))
        if chosen != rejected:
            raise ValueError(
                f"pairs table {table}, row {i}: chosen is {chosen[0]}x{chosen[1]} but rejected is "
                f"{rejected[0]}x{rejected[1]}; fix the pair or set on_size_mismatch=resize"
            )


class EncodedPairs:
    """Encoded samples, computed on first use and kept in memory or in `cache_dir`.

    A sample is `{"cond": {name: tensor (1, ...)}, "chosen": x0 (1, ...), "rejected": x0 (1, ...)}`
    on the CPU. Disk entries are named by a hash of the row and the encoding settings, so a
    changed table or resolution never reuses a stale entry."""

    def __init__(self, pairs, adapter, cache_dir: str | Path | None = None):
        self.pairs, self.adapter = pairs, adapter
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._memory: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _key(self, i: int) -> str:
        row = self.pairs.iloc[i]
        a = self.adapter
        text = "|".join([*(str(row[c]) for c in PREFERENCE_REQUIRED), a.family, str(a.size), str(a.condition_size)])
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    def __getitem__(self, i: int) -> dict:
        if i in self._memory:
            return self._memory[i]
        sample = self._load(i) if self.cache_dir else None
        if sample is None:
            sample = self._encode(i)
            if self.cache_dir:
                self._save(i, sample)
        if not self.cache_dir:
            self._memory[i] = sample
        return sample

    def _encode(self, i: int) -> dict:
        import torch

        from edithf.data.images import load_image

        row = self.pairs.iloc[i]
        with torch.no_grad():
            cond = self.adapter.encode_condition(load_image(row["source"]), row["prompt"])
            chosen = self.adapter.encode_target(load_image(row["chosen"]))
            rejected = self.adapter.encode_target(load_image(row["rejected"]))
        cpu = lambda t: t.detach().to("cpu")
        return {"cond": {k: cpu(v) for k, v in cond.items()}, "chosen": cpu(chosen), "rejected": cpu(rejected)}

    def _file(self, i: int) -> Path:
        return self.cache_dir / f"{self._key(i)}.safetensors"

    def _save(self, i: int, sample: dict) -> None:
        from safetensors.torch import save_file

        from edithf.utils.io import atomic_path

        flat = {f"cond.{k}": v.contiguous() for k, v in sample["cond"].items()}
        flat.update(chosen=sample["chosen"].contiguous(), rejected=sample["rejected"].contiguous())
        with atomic_path(self._file(i)) as tmp:
            save_file(flat, str(tmp))

    def _load(self, i: int) -> dict | None:
        from safetensors.torch import load_file

        if not self._file(i).exists():
            return None
        flat = load_file(str(self._file(i)))
        cond = {k[len("cond."):]: v for k, v in flat.items() if k.startswith("cond.")}
        return {"cond": cond, "chosen": flat["chosen"], "rejected": flat["rejected"]}
