"""Speed of the leaderboard and metrics at EditHF-1M scale (prints figures; no asserts).

44.3K groups x 23 models (1.02M edits), 3 dimensions + overall, 200 bootstrap rounds of the
Bradley-Terry fit; metrics on a test split of 148K edits and 10M pairs.

    .venv/bin/python benchmarks/leaderboard_speed.py              # full scale
    .venv/bin/python benchmarks/leaderboard_speed.py --groups 5000 --bootstrap 100
"""
from __future__ import annotations

import argparse
import contextlib
import resource
import time
import warnings

import numpy as np
import pandas as pd

from edithf.data.schema import DIMENSIONS
from edithf.leaderboard import build_leaderboard
from edithf.metrics import evaluate_predictions, tie_calibrated_accuracy


def synthetic_edits(n_groups: int, n_models: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    strength = np.linspace(-1.5, 1.5, n_models)
    n = n_groups * n_models
    model = np.tile(np.arange(n_models), n_groups)
    edits = pd.DataFrame({
        "edit_id": np.char.add("e", np.arange(n).astype(str)),
        "group_id": np.repeat(np.char.add("g", np.arange(n_groups).astype(str)), n_models),
        "model": np.char.add("model_", model.astype(str)),
        "task": np.repeat(rng.integers(0, 43, n_groups), n_models).astype(str),
    })
    for d in DIMENSIONS:
        edits[f"mos_{d}"] = np.clip(50 + 12 * (strength[model] + rng.gumbel(size=n)), 0, 100)
        edits[f"rank_{d}"] = edits.groupby("group_id")[f"mos_{d}"].rank(ascending=False)
    return edits


@contextlib.contextmanager
def timed(label: str):
    """Print wall and CPU seconds (CPU sums all threads: on a busy shared machine it is the steadier figure)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    print(f"{label}: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=44_300)
    parser.add_argument("--models", type=int, default=23)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    edits = synthetic_edits(args.groups, args.models)
    print(f"{len(edits):,} edits, {args.groups:,} groups x {args.models} models")

    with timed(f"build_leaderboard (human, {args.bootstrap} bootstrap rounds)"):
        board = build_leaderboard(edits, n_bootstrap=args.bootstrap)
    preds = edits[["edit_id"]].assign(**{d: edits[f"mos_{d}"] + np.random.default_rng(1).normal(0, 8, len(edits))
                                         for d in DIMENSIONS})
    with timed("build_leaderboard (predictions)"):
        build_leaderboard(edits, preds, n_bootstrap=args.bootstrap)

    n_test_groups = max(1, round(args.groups * 148_000 / 1_018_900))   # the paper's 148K MOS edits
    test = edits[edits["group_id"].isin(edits["group_id"].unique()[:n_test_groups])].assign(split="test")
    with timed(f"evaluate_predictions on {len(test):,} edits (pairs derived from ranks)"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = evaluate_predictions(test, preds, split="test")
    print(f"  {res['n_pairs_quality']:,} pairs per dimension")
    rng = np.random.default_rng(2)
    human = rng.choice([1, -1, 0], 10_000_000)
    model = np.round(human + rng.normal(0, 1, human.size), 2)
    with timed(f"tie_calibrated_accuracy on {human.size:,} pairs"):
        tie_calibrated_accuracy(human, model)
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(board.table.head(3).to_string())


if __name__ == "__main__":
    main()
