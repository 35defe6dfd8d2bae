"""Best-of-N selection and dataset curation with a scorer as the reward.

    idx, scores = best_of_n(reward, source, candidates, "make the sky pink")
    ranked = rank_candidates(scores, names); pairs = preference_pairs(ranked, margin=2.0)
    picks, table = best_of_n_batch(reward, sources, candidates_per_source, prompts)
    report = curate("raw/", "clean/", "classic", top_percent=30, per="task")

Curation keeps the edits whose `reward_overall` is at or above a threshold and/or the top k%
inside each task (EditReward's recipe for cleaning an editing dataset), and writes the kept
subset as a dataset folder with `reward_quality, reward_alignment, reward_preservation,
reward_overall` columns attached and a `curation.json` report. Ratings/rankings/pairs follow
the kept edits (a pair survives only when both of its edits do, with its original rank gap).
Ranks (averaged `rank_<dim>` and raw rankings) are renumbered 1..k inside the kept part of
each group, keeping their order, so the subset is a valid dataset again.
"""
from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations

import numpy as np
import pandas as pd

from edithf.data.dataset import load_dataset
from edithf.data.schema import DIMENSIONS
from edithf.reward.reward import as_reward


def best_scored(rewards) -> int | None:
    """Index of the highest reward among those that are numbers (a NaN, a score the scorer could
    not compute, is never the best), first on ties; None when no candidate has a reward."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if np.isnan(rewards).all():
        return None
    return int(np.nanargmax(rewards))


def best_of_n(reward, source, candidates, prompt: str) -> tuple[int | None, pd.DataFrame]:
    """Index of the candidate with the highest reward (None when the scorer gave no candidate an
    overall score: nothing to pick), and every candidate's scores."""
    if len(candidates) == 0:
        raise ValueError("best_of_n needs at least one candidate image")
    out = as_reward(reward).group(source, candidates, prompt)  # source and instruction computed once
    return best_scored(out.reward), out.scores


def rank_candidates(scores: pd.DataFrame, names, dimensions=(*DIMENSIONS, "overall")) -> pd.DataFrame:
    """The N candidates' scores (best_of_n's table) with `rank_<dim>` per dimension: 1 = best,
    ties share the better rank, a dimension the scorer does not judge (NaN) gets no rank.
    Sorted best overall first (unranked last)."""
    table = scores[list(dimensions)].reset_index(drop=True).copy()
    table.insert(0, "candidate", list(names))
    for d in dimensions:
        table[f"rank_{d}"] = table[d].rank(ascending=False, method="min").astype("Int64")
    return table.sort_values(["rank_overall", "candidate"], na_position="last", ignore_index=True)


def preference_pairs(table: pd.DataFrame, margin: float = 0.0, dimensions=(*DIMENSIONS, "overall")) -> pd.DataFrame:
    """Every pair of candidates (rank_candidates' table) on every dimension: the preferred
    candidate, "tie" when the scores differ by at most `margin`, missing on a dimension not judged."""
    rows = []
    for (_, a), (_, b) in combinations(table.iterrows(), 2):
        for d in dimensions:
            diff = float(a[d] - b[d])
            preferred = None if np.isnan(diff) else "tie" if abs(diff) <= margin else (
                a["candidate"] if diff > 0 else b["candidate"])
            rows.append({"candidate_a": a["candidate"], "candidate_b": b["candidate"], "dimension": d,
                         "difference": diff, "preferred": preferred})
    return pd.DataFrame(rows, columns=["candidate_a", "candidate_b", "dimension", "difference", "preferred"])


def best_of_n_batch(reward, sources, candidates: list[list], prompts: list[str]) -> tuple[list[int | None], pd.DataFrame]:
    """Best-of-N for many instructions, each scored as one group. `candidates[i]` are the N_i edits
    of `sources[i]` under `prompts[i]`. Returns the best index per instruction (None where no
    candidate has an overall score) and a table with `instruction, candidate` and the scores of
    every candidate."""
    if not (len(sources) == len(candidates) == len(prompts)):
        raise ValueError("sources, candidates and prompts differ in length: "
                         f"{len(sources)}, {len(candidates)}, {len(prompts)}")
    empty = [i for i, c in enumerate(candidates) if len(c) == 0]
    if empty:
        raise ValueError(f"instruction(s) {empty[:10]} have no candidate images")
    owner = [i for i, c in enumerate(candidates) for _ in c]
    reward = as_reward(reward)
    table = pd.concat([reward.group(s, c, p).scores for s, c, p in zip(sources, candidates, prompts)],
                      ignore_index=True)  # one shared source prefix per instruction
    table.insert(0, "instruction", owner)
    table.insert(1, "candidate", [j for c in candidates for j in range(len(c))])
    best = [best_scored(group["overall"]) for _, group in table.groupby("instruction", sort=True)]
    return best, table


def _top_percent_mask(edits: pd.DataFrame, top_percent: float, per: str | None) -> pd.Series:
    """True for the ceil(k% of n) best `reward_overall` rows of each `per` group (ties: first)."""
    keys = edits[per] if per else pd.Series(0, index=edits.index)
    order = edits["reward_overall"].groupby(keys).rank(method="first", ascending=False)
    sizes = keys.map(keys.value_counts())
    return order <= np.ceil(sizes * top_percent / 100.0)


def select_edits(edits: pd.DataFrame, *, threshold=None, top_percent=None, per: str | None = "task") -> pd.Series:
    """The keep-mask of curation over an edits table that has `reward_overall`."""
    if threshold is None and top_percent is None:
        raise ValueError("give a threshold (keep reward_overall >= T) or top_percent (keep the top k% per task)")
    keep = pd.Series(True, index=edits.index)
    if threshold is not None:
        keep &= edits["reward_overall"] >= float(threshold)
    if top_percent is not None:
        if not 0 < float(top_percent) <= 100:
            raise ValueError(f"top_percent must lie in (0, 100], got {top_percent}")
        if per and per not in edits:
            raise ValueError(f"cannot curate per {per!r}: the edits table has no such column")
        keep &= _top_percent_mask(edits, float(top_percent), per)
    return keep


def _renumber(table: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """Ranks 1..k inside each group of what is left (order and ties kept)."""
    table = table.copy()
    for col in columns:
        table[col] = table.groupby(keys)[col].rank(method="min")
    return table


def curate(dataset_dir, out_dir, reward_or_scorer, *, threshold=None, top_percent=None, per: str | None = "task",
           split: str | None = None, weights=None, batch_size: int = 8) -> dict:
    """Score a dataset, keep the good edits, write them (with their scores) to `out_dir`."""
    ds = load_dataset(dataset_dir)
    if split:
        ds = ds.split(split)
    if ds.edits.empty:
        raise ValueError(f"{dataset_dir} has no edits to curate")
    reward = as_reward(reward_or_scorer, weights=weights, batch_size=batch_size)
    sources, edited, prompts = ds.triples()
    scores = reward(sources, edited, prompts).scores
    edits = ds.edits.copy()
    for d in (*DIMENSIONS, "overall"):
        edits[f"reward_{d}"] = scores[d].to_numpy()
    keep = select_edits(edits, threshold=threshold, top_percent=top_percent, per=per)
    kept = _renumber(edits[keep].reset_index(drop=True), ["group_id"], [c for c in edits if c.startswith("rank_")])
    if kept.empty:
        raise ValueError(f"no edit passes the curation (threshold={threshold}, top_percent={top_percent}); "
                         f"reward_overall ranges {edits['reward_overall'].min():.2f}-{edits['reward_overall'].max():.2f}")
    ids = set(kept["edit_id"])
    by_task = edits.assign(kept=keep).groupby("task")["kept"].agg(["size", "sum"]) if "task" in edits else None
    report = {
        "scorer": reward.name, "weights": reward.weights, "threshold": threshold, "top_percent": top_percent,
        "per": per, "split": split, "n_edits": int(len(edits)), "n_kept": int(len(kept)),
        "per_task": ({t: {"edits": int(r["size"]), "kept": int(r["sum"])} for t, r in by_task.iterrows()}
                     if by_task is not None else {}),
        "out_dir": str(out_dir),
    }
    meta = {**ds.meta, "curation": {k: v for k, v in report.items() if k not in ("per_task", "out_dir")}}
    subset = replace(
        ds, edits=kept, meta=meta,
        ratings=None if ds.ratings is None else ds.ratings[ds.ratings["edit_id"].isin(ids)].reset_index(drop=True),
        rankings=None if ds.rankings is None else _renumber(
            ds.rankings[ds.rankings["edit_id"].isin(ids)].reset_index(drop=True),
            ["group_id", "annotator", "dimension"], ["rank"]),
        pairs=None if ds.pairs is None else ds.pairs[ds.pairs["preferred"].isin(ids) & ds.pairs["rejected"].isin(ids)]
        .reset_index(drop=True),
    )
    subset.save(out_dir, extra_files={"curation.json": json.dumps(report, indent=2) + "\n"})
    return report

