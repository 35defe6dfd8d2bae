"""Tiny datasets built inside the tests of the scorers, predict, sanity, reward and pairs.

Independent of the demo builder, so these tests need nothing but numpy, PIL and scikit-image:
real photo crops (scikit-image ships them) edited by a few programmatic "models" of different
faithfulness, with MOS and averaged ranks drawn at random (their exact values only matter to
the brute-force comparisons, which read them back from the table).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

TASKS = ("color_change", "object_removal", "denoise")
SIZE = 64


def photos() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]


def crop(photo: np.ndarray, k: int) -> np.ndarray:
    h, w = photo.shape[:2]
    top, left = (k * 37) % (h - SIZE * 2), (k * 53) % (w - SIZE * 2)
    return np.asarray(Image.fromarray(photo[top:top + SIZE * 2, left:left + SIZE * 2]).resize((SIZE, SIZE)))


def edit_image(src: np.ndarray, model: int, rng) -> np.ndarray:
    """model 0: a tinted box (a local edit); 1: heavier tint + noise; 2: blur; 3: nothing."""
    out = src.astype(np.float64)
    if model in (0, 1):
        out[16:48, 16:48] = out[16:48, 16:48] * 0.4 + np.array([200.0, 40, 40]) * 0.6
    if model == 1:
        out += rng.normal(0, 25, out.shape)
    if model == 2:
        out = np.asarray(Image.fromarray(src).resize((16, 16)).resize((SIZE, SIZE)), dtype=np.float64)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_dataset(root, n_groups: int = 6, n_models: int = 4, seed: int = 0) -> Path:
    """A valid dataset folder: edits.parquet with MOS, averaged ranks and a split."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pics = photos()
    rows = []
    for g in range(n_groups):
        src = crop(pics[g % len(pics)], g)
        src_path = f"images/src_{g}.png"
        Image.fromarray(src).save(root / src_path)
        ranks = rng.permutation(n_models) + 1.0
        for m in range(n_models):
            path = f"images/g{g}_m{m}.png"
            Image.fromarray(edit_image(src, m, rng)).save(root / path)
            row = {"edit_id": f"e{g}_{m}", "group_id": f"g{g}", "task": TASKS[g % len(TASKS)],
                   "prompt": f"instruction {g}: tint the centre red", "source": src_path,
                   "model": f"model_{m}", "edited": path, "split": ("train", "val", "test")[g % 3]}
            for d in ("quality", "alignment", "preservation"):
                row[f"mos_{d}"] = float(rng.uniform(0, 100))
                row[f"rank_{d}"] = float(rng.permutation(ranks)[0]) if d != "alignment" else ranks[m]
            rows.append(row)
    pd.DataFrame(rows).to_parquet(root / "edits.parquet", index=False)
    return root


def make_generations(root, n_instructions: int = 6, n_seeds: int = 4, seed: int = 0) -> Path:
    """A Self-DPO generations table (paths relative to its folder)."""
    root = Path(root)
    (root / "gen").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pics = photos()
    rows = []
    for i in range(n_instructions):
        src = crop(pics[i % len(pics)], i + 7)
        Image.fromarray(src).save(root / f"gen/src_{i}.png")
        for s in range(n_seeds):
            Image.fromarray(edit_image(src, s % 4, rng)).save(root / f"gen/i{i}_s{s}.png")
            rows.append({"instruction_id": f"i{i}", "task": TASKS[i % len(TASKS)], "prompt": f"edit number {i}",
                         "source": f"gen/src_{i}.png", "seed": s, "edited": f"gen/i{i}_s{s}.png", "model": "tiny"})
    path = root / "generations.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path
