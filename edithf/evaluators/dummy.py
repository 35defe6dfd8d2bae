"""`dummy`: a deterministic, cheap scorer from simple image statistics, for tests and demos.

It is NOT a judgement of edits. It ignores the prompt and looks at 64x64 thumbnails only:
- quality      <- no-reference statistics of the edit (contrast, sharpness, entropy,
                  colourfulness, noise; `classic.nr_quality`);
- alignment    <- the amount of change (`classic.alignment_from_change` of the share of
                  changed pixels: some change scores high, none or total change low);
- preservation <- 100 x the (non-negative) Pearson correlation of the two luma thumbnails.
All in [0, 100]; numpy only (no torch), so it runs anywhere in milliseconds.
"""
from __future__ import annotations

import numpy as np

from edithf.evaluators.base import Evaluator
from edithf.evaluators.classic import (
    aligned_pair,
    alignment_from_change,
    change_fraction,
    luminance,
    nr_quality,
    nr_statistics,
    nr_view,
)

THUMBNAIL = 64


def luma_correlation(source: np.ndarray, edited: np.ndarray) -> float:
    a, b = luminance(source).ravel(), luminance(edited).ravel()
    if a.std() == 0 or b.std() == 0:  # a flat image correlates with nothing
        return float(np.array_equal(a, b))
    return float(np.corrcoef(a, b)[0, 1])


class DummyEvaluator(Evaluator):
    default_batch_size = 32

    def __init__(self, weights=None):
        super().__init__(weights)
        from edithf.evaluators.registry import get_info

        self.info = get_info("dummy")

    def _score_batch(self, sources, edited, prompts):
        out: dict[str, list] = {"quality": [], "alignment": [], "preservation": []}
        for source, edit in zip(sources, edited):
            src, ed = aligned_pair(source, edit, THUMBNAIL)
            out["quality"].append(nr_quality(nr_statistics(nr_view(edit, THUMBNAIL))))
            out["alignment"].append(alignment_from_change(change_fraction(src, ed)))
            out["preservation"].append(100.0 * max(0.0, luma_correlation(src, ed)))
        return out
