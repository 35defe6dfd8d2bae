"""Annotation processing at EditHF-1M scale: wall time and memory per stage.

Synthetic annotations shaped like the paper's (section 3.3): 44.3K groups x 23 models = 1.02M
edits, 3 dimensions, 3 rankers per group (9.2M ranking rows); MOS ratings for 49.4K edits
(2,148 whole groups) x 5 raters x 3 dimensions (741K rows). Stages: validation, MOS, averaged
ranks + Kendall's W, pairs (~29M), consistency filter, split, leaderboard with 200 bootstrap
rounds (edithf.leaderboard.build_leaderboard).

    .venv/bin/python benchmarks/annotations_scale.py            # full scale
    .venv/bin/python benchmarks/annotations_scale.py --scale 0.1

`cpu` is the process's CPU time in the stage: other processes sharing the cores inflate `wall`,
not `cpu`. Memory: `rss` is the resident size after the stage; `peak` is the process's peak resident
size so far (ru_maxrss), so a stage that raised the peak shows it there.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import psutil

from edithf.data.annotations import (
    average_ranks, compute_mos, consistency_filter, group_agreement, make_pairs, split_by_source,
)
from edithf.data.schema import DIMENSIONS
from edithf.data.validate import validate_tables

GROUPS, MODELS, RANKERS = 44_300, 23, 3
SCORED_EDITS, RATERS_PER_EDIT, RATER_POOL = 49_400, 5, 600
TASKS = 43


def _gib(n_bytes: float) -> float:
    return n_bytes / 2**30


class Stages:
    """Times each stage and records resident memory after it and the peak so far."""

    def __init__(self):
        self.rows = []
        self.process = psutil.Process()

    def run(self, name, fn, *args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn(*args, **kwargs)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        rss = _gib(self.process.memory_info().rss)
        peak = _gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # KiB on Linux
        self.rows.append((name, wall, cpu, rss, peak))
        print(f"{name:<28} {wall:7.2f} s wall {cpu:7.2f} s cpu   rss {rss:5.2f} GiB   peak {peak:5.2f} GiB",
              flush=True)
        return result


def synthesize(scale: float, seed: int = 0):
    """edits, ratings, rankings as a raw dataset would hold them (string ids)."""
    rng = np.random.default_rng(seed)
    n_groups = max(3, int(round(GROUPS * scale)))
    n_edits = n_groups * MODELS
    group = np.repeat(np.arange(n_groups), MODELS)
    model = np.tile(np.arange(MODELS), n_groups)
    edit_ids = pd.Series(np.arange(n_edits)).astype(str).radd("e")
    group_ids = pd.Series(np.arange(n_groups)).astype(str).radd("g")
    edits = pd.DataFrame({
        "edit_id": edit_ids, "group_id": group_ids.take(group).to_numpy(),
        "task": pd.Series([f"task{t}" for t in range(TASKS)]).take(rng.integers(0, TASKS, n_groups)[group]).to_numpy(),
        "prompt": "make it better", "source": group_ids.take(group).radd("images/src_").add(".jpg").to_numpy(),
        "model": pd.Series([f"model{m:02d}" for m in range(MODELS)]).take(model).to_numpy(),
    })
    edits["edited"] = "images/" + edits["edit_id"] + ".jpg"
    # true quality per edit and dimension: a model effect plus per-edit variation
    truth = rng.normal(0, 1, (MODELS, 3))[model] + rng.normal(0, 0.8, (n_edits, 3))  # (E, 3)
    return edits, _ratings(rng, edits, truth, n_groups), _rankings(rng, edits, truth, n_groups)


def _rankings(rng, edits, truth, n_groups):
    parts = []
    for d, dim in enumerate(DIMENSIONS):
        for a in range(RANKERS):
            noisy = (truth[:, d] + rng.normal(0, 0.7, len(edits))).reshape(n_groups, MODELS)
            rank = (-noisy).argsort(1).argsort(1) + 1                        # (G, 23): 1 = best
            parts.append(pd.DataFrame({"group_id": edits["group_id"], "annotator": f"ranker{a}",
                                       "dimension": dim, "edit_id": edits["edit_id"], "rank": rank.ravel()}))
    return pd.concat(parts, ignore_index=True)


def _ratings(rng, edits, truth, n_groups):
    scored_groups = rng.choice(n_groups, max(1, int(round(SCORED_EDITS * n_groups / GROUPS / MODELS))), replace=False)
    rows = (scored_groups[:, None] * MODELS + np.arange(MODELS)).ravel()          # whole groups
    n = len(rows) * RATERS_PER_EDIT
    slot = np.tile(np.arange(RATERS_PER_EDIT), len(rows))
    rater = (np.repeat(rng.integers(0, RATER_POOL, len(rows)), RATERS_PER_EDIT) + slot * 97) % RATER_POOL
    bias, noise = rng.normal(0, 0.3, RATER_POOL), np.where(np.arange(RATER_POOL) < 6, 1.5, 0.35)
    parts = []
    for d, dim in enumerate(DIMENSIONS):
        score = 3 + 0.8 * truth[np.repeat(rows, RATERS_PER_EDIT), d] + bias[rater] + rng.normal(0, 1, n) * noise[rater]
        parts.append(pd.DataFrame({"edit_id": edits["edit_id"].to_numpy()[np.repeat(rows, RATERS_PER_EDIT)],
                                   "annotator": pd.Series(rater).astype(str).radd("rater").to_numpy(),
                                   "dimension": dim, "score": np.clip(score, 1, 5)}))
    return pd.concat(parts, ignore_index=True)


def _set(edits, table, prefix):
    rows = pd.Index(table["edit_id"]).get_indexer(edits["edit_id"])
    for column in (c for c in table.columns if c.startswith(prefix)):
        edits[column] = np.where(rows >= 0, table[column].to_numpy(float)[rows], np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of EditHF-1M size (default 1.0)")
    parser.add_argument("--bootstrap", type=int, default=200, help="leaderboard bootstrap rounds (default 200)")
    args = parser.parse_args()
    stages = Stages()
    edits, ratings, rankings = stages.run("synthesize (not counted)", synthesize, args.scale)
    print(f"  {len(edits):,} edits, {len(ratings):,} ratings, {len(rankings):,} ranking rows")
    edits, ratings, rankings, _, _ = stages.run("validate tables", validate_tables, edits, ratings, rankings,
                                                check_images=False)
    mos, report = stages.run("MOS (BT.500, z-scores)", compute_mos, ratings)
    _set(edits, mos, "mos_")
    ranks = stages.run("averaged ranks", average_ranks, rankings)
    _set(edits, ranks, "rank_")
    agreement = stages.run("Kendall's W per group", group_agreement, rankings)
    pairs = stages.run("pairs", make_pairs, edits)
    print(f"  {len(pairs):,} pairs; {int(agreement['flagged'].sum()):,} flagged (group, dimension) cells")
    pairs, consistency = stages.run("consistency filter", consistency_filter, pairs, edits)
    print(f"  {consistency['n_pairs_checked']:,} pairs checked, {consistency['n_pairs_dropped']:,} dropped")
    edits["split"], split = stages.run("split by source", split_by_source, edits)
    print("  " + ", ".join(f"{s} {v['edits']:,}" for s, v in split["sizes"].items()))
    try:
        from edithf.leaderboard import build_leaderboard
    except ImportError as exc:  # helper B's module; the stage needs it
        print(f"leaderboard skipped: {exc}")
    else:
        board = stages.run(f"leaderboard ({args.bootstrap} bootstrap)", build_leaderboard, edits,
                           n_bootstrap=args.bootstrap)
        print(f"  top model {board.table['model'].iloc[0]}, {len(board.table)} models")
    counted = stages.rows[1:]
    print(f"total (without synthesis) {sum(r[1] for r in counted):.1f} s wall, {sum(r[2] for r in counted):.1f} s cpu; "
          f"peak resident {stages.rows[-1][4]:.2f} GiB")


if __name__ == "__main__":
    main()
