"""A tiny learnable dataset folder for the trainer tests (built in a second, no demo needed).

Each dimension's MOS is a different, visible property of the images, so a tiny model can fit
them and the three dimensions must come out different:
quality = brightness of the edit, alignment = its redness, preservation = closeness to the source.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from edithf.data.annotations import make_pairs
from edithf.data.schema import DIMENSIONS


def build_tiny_dataset(root: Path, n_groups: int = 6, per_group: int = 4, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    splits = ["train"] * (n_groups - 2) + ["val", "test"]
    for g in range(n_groups):
        src = rng.uniform(0.2, 0.8, size=(size, size, 3))
        Image.fromarray((src * 255).astype(np.uint8)).save(root / f"images/src{g}.png")
        for k in range(per_group):
            bright, red, change = rng.uniform(-0.2, 0.2), rng.uniform(0, 0.3), rng.uniform(0, 0.3)
            edit = src + bright + change * rng.normal(size=src.shape)
            edit[..., 0] += red
            edit = np.clip(edit, 0, 1)
            Image.fromarray((edit * 255).astype(np.uint8)).save(root / f"images/g{g}_e{k}.png")
            rows.append({"edit_id": f"g{g}_e{k}", "group_id": f"g{g}", "task": "tint", "model": f"m{k}",
                         "prompt": "make it a little redder", "source": f"images/src{g}.png",
                         "edited": f"images/g{g}_e{k}.png", "split": splits[g],
                         "mos_quality": 50 + 200 * bright, "mos_alignment": 100 * red / 0.3,
                         "mos_preservation": 100 - 100 * np.abs(edit - src).mean() / 0.3})
    edits = pd.DataFrame(rows)
    for d in DIMENSIONS:
        edits[f"mos_{d}"] = edits[f"mos_{d}"].clip(0, 100)
        edits[f"rank_{d}"] = edits.groupby("group_id")[f"mos_{d}"].rank(ascending=False)
    edits.to_parquet(root / "edits.parquet", index=False)
    make_pairs(edits).to_parquet(root / "pairs.parquet", index=False)
    return root
