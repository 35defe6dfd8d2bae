"""A toy preference set with a known, learnable preference, for tests and the learning check.

Each source is a small image of coloured blocks; the instruction asks for a brighter, warmer
version. The chosen edit is the source brightened and pushed towards red, the rejected edit the
source darkened and pushed towards blue. A model that learns the preference moves its
edits towards bright and red (measured by `warmth`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

PROMPT = "make it brighter and warmer"


def _source(rng: np.random.Generator, size: int) -> np.ndarray:
    """A few random colour blocks on a random background: (size, size, 3) floats in [0, 255]."""
    img = np.empty((size, size, 3))
    img[:] = rng.uniform(60, 190, size=3)
    for _ in range(3):
        x0, y0 = rng.integers(0, size - size // 4, size=2)
        w, h = rng.integers(size // 4, size // 2 + 1, size=2)
        img[y0:y0 + h, x0:x0 + w] = rng.uniform(40, 215, size=3)
    return img


def shifted(img: np.ndarray, amount: float) -> np.ndarray:
    """Brighter and redder for amount > 0, darker and bluer for amount < 0."""
    out = img + amount * np.array([1.0, 0.5, -0.5]) * 60.0
    return np.clip(out, 0, 255)


def warmth(images) -> np.ndarray:
    """The property the toy preference rewards: mean brightness plus red minus blue, per image."""
    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float64) for im in images])
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    return ((r + g + b) / 3 + (r - b)).mean(axis=(1, 2))


def make_toy_pairs(folder: str | Path, n_sources: int = 6, size: int = 32, seed: int = 0,
                   table: str = "pairs.parquet") -> Path:
    """Write sources, chosen and rejected PNGs and the pairs table; returns the table path."""
    import pandas as pd
    from PIL import Image

    from edithf.utils.io import write_table

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_sources):
        src = _source(rng, size)
        names = {}
        for kind, img in (("source", src), ("chosen", shifted(src, 1.0)), ("rejected", shifted(src, -1.0))):
            names[kind] = f"images/{i:03d}_{kind}.png"
            Image.fromarray(img.round().astype(np.uint8)).save(folder / names[kind])
        rows.append({**names, "prompt": PROMPT})
    return write_table(pd.DataFrame(rows), folder / table)
