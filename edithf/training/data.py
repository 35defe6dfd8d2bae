"""What the trainer feeds the model: torch Datasets of edits and of preference pairs, the
rank-gap curriculum sampler, and the collate functions.

Workers only decode images (`load_image`); the model's processor runs in the main process
(`EditHFModel.prepare`), so the batches a DataLoader yields hold PIL images plus the targets:

    edit batch: {"index": (B,) long, "edit_ids": [str], "sources": [PIL], "edited": [PIL],
                 "prompts": [str], "mos": (B, D) float MOS with NaN where missing,
                 "levels": (B, D) long, IGNORE_LEVEL where missing}
    pair batch: {"sources": [PIL], "preferred": [PIL], "rejected": [PIL], "prompts": [str],
                 "dims": (P,) long index of the pair's dimension, "rank_gap": (P,) float,
                 "mos": (2P, D) MOS of the preferred edits then the rejected ones, NaN where missing}
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from edithf.data.images import load_image
from edithf.data.schema import DIMENSIONS
from edithf.training.losses import IGNORE_LEVEL

MOS_COLUMNS = [f"mos_{d}" for d in DIMENSIONS]


class EditItems(Dataset):
    """One item per edit: the two images, the prompt, MOS / 100 and the level of each dimension."""

    def __init__(self, dataset, edits: pd.DataFrame, levels: np.ndarray | None = None):
        self.dataset = dataset
        self.edits = edits.reset_index(drop=True)
        self.mos = self.edits.reindex(columns=MOS_COLUMNS).to_numpy(dtype=np.float32)  # (N, D), NaN where missing
        self.levels = levels if levels is not None else np.full(self.mos.shape, IGNORE_LEVEL, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.edits)

    def __getitem__(self, i: int) -> dict:
        row = self.edits.iloc[i]
        return {
            "index": i,
            "edit_id": row["edit_id"],
            "source": load_image(self.dataset.image_path(row["source"])),
            "edited": load_image(self.dataset.image_path(row["edited"])),
            "prompt": row["prompt"],
            "mos": self.mos[i],
            "levels": self.levels[i],
        }


class PairItems(Dataset):
    """One item per preference pair: the shared source and prompt, both edits, the dimension."""

    def __init__(self, dataset, pairs: pd.DataFrame, edits: pd.DataFrame):
        self.dataset = dataset
        self.pairs = pairs.reset_index(drop=True)
        self.by_id = edits.set_index("edit_id")
        missing = sorted(set(self.pairs["preferred"]).union(self.pairs["rejected"]) - set(self.by_id.index))
        if missing:
            raise ValueError(f"pairs name edits that are not in the edits table (or not in this split): "
                             f"{missing[:5]}{' ...' if len(missing) > 5 else ''}")
        unknown = sorted(set(self.pairs["dimension"]) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"pairs.parquet: unknown dimension(s) {unknown}; use {list(DIMENSIONS)}")
        self.dims = self.pairs["dimension"].map(DIMENSIONS.index).to_numpy(np.int64)
        self.gaps = self.pairs["rank_gap"].to_numpy(np.float32)
        self.mos = self.by_id.reindex(columns=MOS_COLUMNS).astype(np.float32)  # per edit id, NaN where missing

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        pair = self.pairs.iloc[i]
        win, lose = self.by_id.loc[pair["preferred"]], self.by_id.loc[pair["rejected"]]
        return {
            "source": load_image(self.dataset.image_path(win["source"])),  # same group: same source
            "preferred": load_image(self.dataset.image_path(win["edited"])),
            "rejected": load_image(self.dataset.image_path(lose["edited"])),
            "prompt": win["prompt"],
            "dim": self.dims[i],
            "rank_gap": self.gaps[i],
            "mos": self.mos.loc[[pair["preferred"], pair["rejected"]]].to_numpy(),  # (2, D)
        }


def collate_edits(items: list[dict]) -> dict:
    return {
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),  # (B,) rows of the dataset
        "edit_ids": [it["edit_id"] for it in items],
        "sources": [it["source"] for it in items],
        "edited": [it["edited"] for it in items],
        "prompts": [it["prompt"] for it in items],
        "mos": torch.from_numpy(np.stack([it["mos"] for it in items])),  # (B, D)
        "levels": torch.from_numpy(np.stack([it["levels"] for it in items])),  # (B, D)
    }


def collate_pairs(items: list[dict]) -> dict:
    return {
        "sources": [it["source"] for it in items],
        "preferred": [it["preferred"] for it in items],
        "rejected": [it["rejected"] for it in items],
        "prompts": [it["prompt"] for it in items],
        "dims": torch.tensor([int(it["dim"]) for it in items], dtype=torch.long),  # (P,)
        "rank_gap": torch.tensor([float(it["rank_gap"]) for it in items]),  # (P,)
        # (2P, D): the preferred edits' MOS, then the rejected edits' (the order of the forward pass)
        "mos": torch.from_numpy(np.concatenate([np.stack([it["mos"][k] for it in items]) for k in (0, 1)])),
    }


def curriculum_order(gaps: np.ndarray, mode: str, buckets: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the pairs in the order one epoch visits them.

    sorted: rank gap large -> small (ties in random order); buckets: the sorted order cut into
    `buckets` equal parts, shuffled inside each part (coarse to fine, but not a fixed order);
    none: a plain shuffle.
    """
    n = len(gaps)
    if mode == "none":
        return rng.permutation(n)
    by_gap = np.lexsort((rng.random(n), -np.asarray(gaps, dtype=np.float64)))  # primary: -gap
    if mode == "sorted":
        return by_gap
    if mode == "buckets":
        parts = np.array_split(by_gap, min(buckets, max(n, 1)))
        return np.concatenate([rng.permutation(p) for p in parts]) if n else by_gap
    raise ValueError(f"unknown curriculum {mode!r}: use sorted, buckets or none")


class EpochSampler(Sampler):
    """A deterministic order per (seed, epoch): a shuffle, or the rank-gap curriculum.

    Every process of a multi-GPU run builds the same order (accelerate then shards the batches),
    and a resumed run rebuilds exactly the order it was interrupted in.
    """

    def __init__(self, n: int, seed: int, gaps: np.ndarray | None = None, mode: str = "none", buckets: int = 3,
                 per_epoch: int = 0):
        self.n, self.seed, self.gaps, self.mode, self.buckets = n, seed, gaps, mode, buckets
        self.per_epoch = min(per_epoch, n) if per_epoch else n  # a fresh random subset each epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        chosen = rng.choice(self.n, self.per_epoch, replace=False) if self.per_epoch < self.n else np.arange(self.n)
        if self.gaps is None:
            return iter(rng.permutation(chosen).tolist())
        return iter(chosen[curriculum_order(self.gaps[chosen], self.mode, self.buckets, rng)].tolist())
