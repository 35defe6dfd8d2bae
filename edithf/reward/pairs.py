"""DPO preference pairs (paper section 5.5): Global-DPO from human annotations, Self-DPO from
N seeds of one editor scored by a scorer. The table's schema is `edithf.dpo.pairs_data`
(`PREFERENCE_COLUMNS`; image paths written absolute); `df.attrs["report"]` says what each rule
removed.

    pairs = global_pairs("edithf1m/", "pairs.parquet", split="train", min_score=40, scorer="edithf:runs/x/best")
    pairs = self_pairs("gens/edits.parquet", "edithf:runs/x/best", "pairs.parquet")

Global-DPO (one split, train by default; the test split only with `allow_test=True`): inside
each group (same source and prompt), chosen = the edit with the best averaged rank, rejected =
the worst; for `dimension="overall"` the key is the weighted average of the three averaged ranks
(0.3/0.4/0.3 by default). A group without complete ranks is ordered by its MOS instead.
"All edits low" (best overall below `min_score`) is judged by the group's MOS where it has MOS;
ranks alone cannot say it (they are relative inside the group), so for a group with ranks only
the `scorer` scores its chosen edit, the humans' best: below `min_score` means every edit is
low. Without a scorer such groups stay and the report counts them (`low_not_judged`).

Self-DPO: for each group (the seeds of one instruction and editor), chosen = the seed with the
best score under `weights` (equal by default: the paper's average of the three dimensions),
rejected = the worst. Groups whose chosen edit's overall score (`overall_weights`, 0.3/0.4/0.3
by default) is below `min_score` are dropped; then inside each task the pairs are ranked by that
overall score and the best `keep_fraction` (the paper: half) is kept.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.data.dataset import load_dataset
from edithf.data.schema import DIMENSIONS, normalize_weights, overall_score
from edithf.dpo.pairs_data import PREFERENCE_COLUMNS
from edithf.reward.reward import as_reward
from edithf.utils.io import read_table, write_table

GENERATION_COLUMNS = ("instruction_id", "task", "prompt", "source", "seed", "edited", "model")
DEFAULT_MIN_SCORE = 40.0
DEFAULT_KEEP_FRACTION = 0.5
EQUAL_WEIGHTS = (1.0, 1.0, 1.0)


def _extremes(table: pd.DataFrame, by: list[str], key: str, higher_is_better: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Best and worst row of each group by `key` (among ties, the first in table order); both
    frames list the groups in the same (sorted) order, row i of one matching row i of the other."""
    table = table.assign(_pos=np.arange(len(table)))

    def first(best: bool) -> pd.DataFrame:
        ascending = (not higher_is_better) if best else higher_is_better
        ordered = table.sort_values([*by, key, "_pos"], ascending=[*([True] * len(by)), ascending, True])
        return ordered.groupby(by, sort=True).head(1).reset_index(drop=True)

    return first(best=True), first(best=False)


def _finish(pairs: pd.DataFrame, report: dict, out_path) -> pd.DataFrame:
    if pairs.empty:
        raise ValueError(f"no preference pairs survive the rules: {report}; lower min_score or check the input")
    pairs = pairs.reset_index(drop=True)
    pairs.insert(0, "pair_id", [f"pair-{i:06d}" for i in range(len(pairs))])
    pairs = pairs[list(PREFERENCE_COLUMNS)]
    report["n_pairs"] = int(len(pairs))
    pairs.attrs["report"] = report
    if out_path is not None:
        write_table(pairs, out_path)
    return pairs


def _pair_frame(best: pd.DataFrame, worst: pd.DataFrame, scorer: str, **columns) -> pd.DataFrame:
    """The preference columns of matched best/worst rows; `columns` are chosen_* / rejected_*
    values that only one kind of pairs has (NA otherwise)."""
    frame = pd.DataFrame({
        "group_id": best["group_id"].to_numpy(), "task": best["task"].to_numpy(),
        "source": best["source"].to_numpy(), "prompt": best["prompt"].to_numpy(),
        "chosen": best["edited"].to_numpy(), "rejected": worst["edited"].to_numpy(),
        "chosen_editor": best["model"].to_numpy(), "rejected_editor": worst["model"].to_numpy(),
        "scorer": scorer,
    })
    for name in ("chosen_score", "rejected_score", "chosen_rank", "rejected_rank", "chosen_seed", "rejected_seed"):
        value = columns.get(name)
        frame[name] = pd.NA if value is None else np.asarray(value)
    return frame


def judged_overall(scores: pd.DataFrame, weights) -> pd.Series:
    """The weighted overall over the dimensions the scorer judged (a weight-free scorer leaves
    alignment NaN: the weights are renormalised over the others, as `overall_score` does)."""
    judged = [d for d in DIMENSIONS if scores[d].notna().any()]
    if not judged:
        raise ValueError("the scorer judged no dimension (all scores are NaN): nothing to build pairs from")
    return overall_score(scores, weights, judged)


def _weighted(frame: pd.DataFrame, prefix: str, weights: dict) -> pd.Series:
    """The weighted sum of the `prefix<dim>` columns, or NaN when the table lacks one of them."""
    if all(f"{prefix}{d}" in frame for d in weights):
        return sum(weights[d] * frame[f"{prefix}{d}"] for d in weights).astype(float)
    return pd.Series(np.nan, index=frame.index)


# -- Global-DPO -------------------------------------------------------------------------------


def _global_edits(dataset_dir, split: str | None, allow_test: bool):
    """The dataset's edits of `split` ("all" or None = every split) with absolute image paths,
    refusing the test split unless asked."""
    ds = load_dataset(dataset_dir)
    split = None if split in (None, "all") else split
    has_split = "split" in ds.edits
    if split and not has_split:
        raise ValueError(f"{dataset_dir} has no 'split' column: run `edithf data process` to split it, or "
                         "pass split='all' (--split all) to use every edit")
    has_test = split == "test" or (split is None and has_split and (ds.edits["split"] == "test").any())
    if has_test and not allow_test:
        what = "the test split" if split == "test" else "every split, the test split included"
        raise ValueError(f"Global-DPO pairs from {what} would train the editor on the edits the evaluator "
                         "and the benchmarks are measured on; use split='train' (the default) or pass "
                         "allow_test=True (--allow-test) if that is really meant")
    edits = (ds.split(split) if split else ds).edits.copy()
    for col in ("source", "edited"):
        edits[col] = [str(ds.image_path(p)) for p in edits[col]]
    return edits, split or "all"


def _complete_per_group(edits: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row: does its group have every one of `columns` on every edit?"""
    if not all(c in edits for c in columns):
        return pd.Series(False, index=edits.index)
    return edits[columns].notna().all(axis=1).groupby(edits["group_id"]).transform("all")


def _order_groups(edits: pd.DataFrame, dims: list[str], w: dict, report: dict) -> pd.DataFrame:
    """The annotated groups with `_key` (lower is better): the averaged rank where the group has
    complete ranks, else minus its MOS; `_mos` is NaN for a group without complete MOS."""
    by_rank = _complete_per_group(edits, [f"rank_{d}" for d in dims])
    by_mos = _complete_per_group(edits, [f"mos_{d}" for d in dims])
    report["ordered_by_rank"] = int(edits.loc[by_rank, "group_id"].nunique())
    report["ordered_by_mos"] = int(edits.loc[~by_rank & by_mos, "group_id"].nunique())
    report["ordered_by"] = ", ".join(f"{what} ({report[key]} groups)" for what, key in
                                     (("averaged rank", "ordered_by_rank"), ("MOS", "ordered_by_mos")) if report[key])
    edits = edits.assign(_by_rank=by_rank, _mos=_weighted(edits, "mos_", w).where(by_mos),
                         _rank=_weighted(edits, "rank_", w))[by_rank | by_mos]
    report["dropped_no_annotation"] = report["n_groups"] - int(edits["group_id"].nunique())
    return edits.assign(_key=edits["_rank"].where(edits["_by_rank"], -edits["_mos"]))


def _low_groups(best: pd.DataFrame, best_mos: np.ndarray, candidates: np.ndarray, min_score: float, scorer,
                w: dict, batch_size: int, report: dict) -> np.ndarray:
    """Which candidate groups are "all edits low": by MOS where the group has it, else by the
    scorer's score of the chosen edit; groups neither can judge are counted, not dropped."""
    low_mos = candidates & (best_mos < min_score)
    unjudged = candidates & np.isnan(best_mos)
    low_scorer = np.zeros_like(candidates)
    judged_by = None
    if unjudged.any() and scorer is not None:
        reward = as_reward(scorer, weights=w, batch_size=batch_size)
        chosen = best[unjudged]
        scores = judged_overall(reward(chosen["source"].tolist(), chosen["edited"].tolist(),
                                       chosen["prompt"].tolist()).scores, w).to_numpy()
        low_scorer[np.flatnonzero(unjudged)] = scores < min_score
        judged_by, unjudged = reward.name, np.zeros_like(candidates)
    report.update(dropped_low_mos=int(low_mos.sum()), dropped_low_scorer=int(low_scorer.sum()),
                  low_scorer=judged_by, low_not_judged=int(unjudged.sum()))
    return low_mos | low_scorer


def global_pairs(dataset_dir, out_path=None, *, dimension: str = "overall", weights=None,
                 min_score: float | None = DEFAULT_MIN_SCORE, split: str | None = "train",
                 allow_test: bool = False, scorer=None, batch_size: int = 8) -> pd.DataFrame:
    """One pair per group of a human-annotated dataset: best-ranked vs worst-ranked edit."""
    if dimension not in (*DIMENSIONS, "overall"):
        raise ValueError(f"dimension must be one of {[*DIMENSIONS, 'overall']}, got {dimension!r}")
    edits, split = _global_edits(dataset_dir, split, allow_test)
    dims = list(DIMENSIONS) if dimension == "overall" else [dimension]
    w = normalize_weights(weights) if dimension == "overall" else {dimension: 1.0}
    report = {"kind": "global", "split": split, "dimension": dimension, "n_groups": int(edits["group_id"].nunique())}
    edits = _order_groups(edits, dims, w, report)
    if edits.empty:
        raise ValueError(f"{dataset_dir}: no group of split {split!r} has complete human ranks (rank_<dim>) or "
                         f"MOS (mos_<dim>) for {dims}; run `edithf data process` first")
    best, worst = _extremes(edits, ["group_id"], "_key", higher_is_better=False)
    keep = (best["_key"] < worst["_key"]).to_numpy().copy()  # a strict preference (also drops one-edit groups)
    report["dropped_no_preference"] = int((~keep).sum())
    if min_score is not None:
        best_mos = best["group_id"].map(edits.groupby("group_id")["_mos"].max()).to_numpy(dtype=float)
        keep &= ~_low_groups(best, best_mos, keep, float(min_score), scorer, w, batch_size, report)
    best, worst = best[keep], worst[keep]
    pairs = _pair_frame(best, worst, f"human:{dimension}", chosen_score=best["_mos"], rejected_score=worst["_mos"],
                        chosen_rank=best["_rank"].where(best["_by_rank"]),
                        rejected_rank=worst["_rank"].where(worst["_by_rank"]))
    return _finish(pairs, report, out_path)


# -- Self-DPO ---------------------------------------------------------------------------------


def read_generations(generations) -> pd.DataFrame:
    """A generations table (path or DataFrame) with absolute image paths; missing columns or
    image files raise an error naming them."""
    if isinstance(generations, pd.DataFrame):
        table, root = generations.copy(), Path.cwd()
    else:
        table, root = read_table(generations), Path(generations).absolute().parent
    missing = [c for c in GENERATION_COLUMNS if c not in table]
    if missing:
        raise ValueError(f"generations table lacks column(s) {missing}; it needs {list(GENERATION_COLUMNS)}")
    if table.empty:
        raise ValueError("the generations table is empty: nothing to build pairs from")
    for col in ("source", "edited"):
        table[col] = [p if os.path.isabs(p) else str(root / p) for p in table[col].astype(str)]
        absent = [i for i, p in enumerate(table[col]) if not os.path.isfile(p)]
        if absent:
            raise FileNotFoundError(f"generations row {absent[0]}, column '{col}': image not found: "
                                    f"{table[col].iloc[absent[0]]} ({len(absent)} missing in all); paths are "
                                    "read relative to the table's folder")
    return table


def self_pairs(generations, scorer, out_path=None, *, weights=EQUAL_WEIGHTS, overall_weights=None,
               min_score: float | None = DEFAULT_MIN_SCORE, keep_fraction: float = DEFAULT_KEEP_FRACTION,
               batch_size: int = 8) -> pd.DataFrame:
    """Score N seeds per instruction with `scorer`, then `pairs_from_scores`."""
    table = read_generations(generations)
    reward = as_reward(scorer, batch_size=batch_size)
    scores = reward(table["source"].tolist(), table["edited"].tolist(), table["prompt"].tolist()).scores
    for d in DIMENSIONS:
        table[d] = scores[d].to_numpy()
    return pairs_from_scores(table, reward.name, out_path, weights=weights, overall_weights=overall_weights,
                             min_score=min_score, keep_fraction=keep_fraction)


def pairs_from_scores(table: pd.DataFrame, scorer_name: str, out_path=None, *, weights=EQUAL_WEIGHTS,
                      overall_weights=None, min_score: float | None = DEFAULT_MIN_SCORE,
                      keep_fraction: float = DEFAULT_KEEP_FRACTION) -> pd.DataFrame:
    """Self-DPO pairs from a generations table that carries the three dimension scores."""
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1] (the paper keeps the better half: 0.5), got {keep_fraction}")
    select_w, overall_w = normalize_weights(weights), normalize_weights(overall_weights)
    table = table.assign(_score=judged_overall(table, select_w), _overall=judged_overall(table, overall_w))
    best, worst = _extremes(table, ["instruction_id", "model"], "_score", higher_is_better=True)
    best = best.assign(group_id=best["instruction_id"])  # a group: the seeds of one instruction
    report = {"kind": "self", "scorer": scorer_name, "dimensions": [d for d in DIMENSIONS if table[d].notna().any()],
              "weights": select_w, "overall_weights": overall_w,
              "keep_fraction": keep_fraction, "n_groups": int(len(best))}
    keep = best["_score"] > worst["_score"]
    report["dropped_no_preference"] = int((~keep).sum())
    low = keep & (best["_overall"] < float(min_score)) if min_score is not None else pd.Series(False, index=keep.index)
    report["dropped_low_scorer"] = int(low.sum())
    best, worst = best[keep & ~low], worst[keep & ~low]
    # the best keep_fraction of each task by the chosen edit's overall score (ceil, so a task's
    # only pair survives)
    order = best.groupby("task")["_overall"].rank(method="first", ascending=False)
    kept = order <= np.ceil(best.groupby("task")["_overall"].transform("size") * keep_fraction - 1e-9)
    report["dropped_below_keep_fraction"] = int((~kept).sum())
    best, worst = best[kept], worst[kept]
    pairs = _pair_frame(best, worst, scorer_name, chosen_score=best["_score"], rejected_score=worst["_score"],
                        chosen_seed=best["seed"], rejected_seed=worst["seed"])
    return _finish(pairs, report, out_path)
