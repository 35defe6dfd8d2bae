"""The names every part of EditHF agrees on: dimensions, columns, levels, weights.

See docs/design.md section 3 (the data contract). Validation of whole tables lives in
`edithf.data.validate`; this module only holds the vocabulary, so it imports nothing heavy.
"""
from __future__ import annotations

from typing import Sequence

# The three dimensions of the paper, in this order everywhere (tensors, columns, heads).
DIMENSIONS: tuple[str, ...] = ("quality", "alignment", "preservation")

# Overall = 0.3 quality + 0.4 alignment + 0.3 preservation (docs/design.md section 6).
DEFAULT_WEIGHTS: dict[str, float] = {"quality": 0.3, "alignment": 0.4, "preservation": 0.3}

# The five quality levels of the textual stage, worst first (Q-Align's words).
LEVELS: tuple[str, ...] = ("bad", "poor", "fair", "good", "excellent")

# MOS and predicted scores of EditHF live in [0, 100].
SCORE_RANGE: tuple[float, float] = (0.0, 100.0)

# Columns of the `edits` table.
EDIT_REQUIRED = ("edit_id", "group_id", "task", "prompt", "source", "model", "edited")
EDIT_OPTIONAL = (
    "description", "split",
    *(f"mos_{d}" for d in DIMENSIONS),
    *(f"rank_{d}" for d in DIMENSIONS),
)
RATINGS_COLUMNS = ("edit_id", "annotator", "dimension", "score")
RANKINGS_COLUMNS = ("group_id", "annotator", "dimension", "edit_id", "rank")
# Rank pairs (the evaluator's pairwise training data; not the DPO preference pairs of
# edithf/dpo/pairs_data.py): the edit `preferred` was ranked above `rejected` inside `group_id`.
PAIRS_COLUMNS = ("group_id", "dimension", "preferred", "rejected", "rank_gap")
# Predictions of any scorer.
PREDICTION_COLUMNS = ("edit_id", *DIMENSIONS, "overall")
SPLITS = ("train", "val", "test")


def normalize_weights(weights: dict[str, float] | Sequence[float] | None) -> dict[str, float]:
    """Weights for the overall score as a dict over DIMENSIONS that sums to 1.

    Accepts a dict, a 3-sequence in DIMENSIONS order, or None (the default 0.3/0.4/0.3).
    """
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, dict):
        weights = list(weights)
        if len(weights) != len(DIMENSIONS):
            raise ValueError(f"weights need {len(DIMENSIONS)} numbers ({', '.join(DIMENSIONS)}), got {weights}")
        weights = dict(zip(DIMENSIONS, weights))
    unknown = set(weights) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown dimension(s) in weights: {sorted(unknown)}; use {list(DIMENSIONS)}")
    values = {d: float(weights.get(d, 0.0)) for d in DIMENSIONS}
    if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
        raise ValueError(f"weights must be non-negative and not all zero, got {values}")
    total = sum(values.values())
    return {d: v / total for d, v in values.items()}


def overall_score(scores, weights=None, dimensions: Sequence[str] = DIMENSIONS):
    """Weighted overall from per-dimension scores.

    `scores` is a mapping (or DataFrame) with one entry (column) per dimension; numbers,
    numpy arrays and pandas Series all work. `dimensions`: the dimensions the scorer judges
    (`EvaluatorInfo.dimensions`); the weights are renormalised over them, so a scorer that
    cannot judge alignment gives the weighted mean of the others (docs/scorers_reward.md).
    """
    w = judged_weights(normalize_weights(weights), dimensions)
    return sum(w[d] * scores[d] for d in w)


def judged_weights(weights: dict[str, float], dimensions: Sequence[str]) -> dict[str, float]:
    """`weights` (a dict over dimensions) renormalised over the judged `dimensions`, in their
    order: the overall of a scorer (or leaderboard) that cannot judge every dimension."""
    total = sum(weights[d] for d in dimensions)
    if not dimensions or total <= 0:
        raise ValueError(f"the weights {weights} give no weight to the judged dimensions {list(dimensions)}")
    return {d: weights[d] / total for d in dimensions}
