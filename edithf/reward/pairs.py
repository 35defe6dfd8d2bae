"""DPO preference pairs (paper section 5.5): Global-DPO from human annotations, Self-DPO from
N seeds of one model scored by any scorer.

    pairs = global_pairs("edithf1m/", "pairs.parquet", dimension="overall", min_score=40)
    pairs = self_pairs("gens/generations.parquet", "classic", "pairs.parquet")

The pairs table is the contract with the DPO trainer: `source, prompt, chosen, rejected` are
required (image paths are written absolute), plus the provenance columns `pair_id,
instruction_id, group_id, task, chosen_score, rejected_score, chosen_seed, rejected_seed,
chosen_model, rejected_model, model, scorer`. `df.attrs["report"]` says what was dropped.

Global-DPO: inside each group (same source and prompt), chosen = the edit with the best
averaged rank, rejected = the worst; for `dimension="overall"` the key is the weighted average
of the three averaged ranks (weights 0.3/0.4/0.3 by default). Without rank columns the MOS
orders the edits instead. Groups whose best MOS is below `min_score` ("all edits low") and
groups without a strict preference are dropped.

Self-DPO: for each instruction (and model), chosen = the seed with the highest score,
rejected = the lowest; the score is the mean of the three dimensions by default, as in the
paper (`weights` changes it). Instructions whose best score is below `min_score` are dropped,
then inside each task only the better half of the pairs by chosen score is kept.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.data.schema import DIMENSIONS, normalize_weights
from edithf.utils.io import read_table, write_table

GENERATION_COLUMNS = ("instruction_id", "task", "prompt", "source", "seed", "edited", "model")
PAIR_COLUMNS = ("pair_id", "instruction_id", "group_id", "task", "prompt", "source", "chosen", "rejected",
                "chosen_score", "rejected_score", "chosen_seed", "rejected_seed", "chosen_model",
                "rejected_model", "model", "scorer")
DEFAULT_MIN_SCORE = 40.0
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
    pairs = pairs[[c for c in PAIR_COLUMNS if c in pairs] + [c for c in pairs if c not in PAIR_COLUMNS]]
    report["n_pairs"] = int(len(pairs))
    pairs.attrs["report"] = report
    if out_path is not None:
        write_table(pairs, out_path)
    return pairs


def _pair_frame(best: pd.DataFrame, worst: pd.DataFrame, score: str, extra: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "task": best["task"], "prompt": best["prompt"], "source": best["source"],
        "chosen": best["edited"], "rejected": worst["edited"],
        "chosen_score": best[score], "rejected_score": worst[score],
        "chosen_model": best["model"], "rejected_model": worst["model"], **extra,
    })


# -- Global-DPO -------------------------------------------------------------------------------


def global_pairs(dataset_dir, out_path=None, *, dimension: str = "overall", weights=None,
                 min_score: float | None = DEFAULT_MIN_SCORE, split: str | None = None) -> pd.DataFrame:
    """One pair per group of a human-annotated dataset: best-ranked vs worst-ranked edit."""
    from edithf.data.dataset import load_dataset

    if dimension not in (*DIMENSIONS, "overall"):
        raise ValueError(f"dimension must be one of {[*DIMENSIONS, 'overall']}, got {dimension!r}")
    ds = load_dataset(dataset_dir)
    if split:
        ds = ds.split(split)
    edits = ds.edits.copy()
    dims = list(DIMENSIONS) if dimension == "overall" else [dimension]
    w = normalize_weights(weights) if dimension == "overall" else {dimension: 1.0}
    has_ranks = all(f"rank_{d}" in edits for d in dims)
    has_mos = all(f"mos_{d}" in edits for d in dims)
    if not (has_ranks or has_mos):
        raise ValueError(f"{dataset_dir}: Global-DPO needs human ranks (rank_<dim>) or MOS (mos_<dim>) for "
                         f"{dims}; the edits table has {list(edits.columns)}. Run `edithf data process` first")
    edits["_score"] = sum(w[d] * edits[f"mos_{d}"] for d in dims) if has_mos else np.nan
    edits["_rank"] = sum(w[d] * edits[f"rank_{d}"] for d in dims) if has_ranks else -edits["_score"]
    edits = edits.dropna(subset=["_rank"])
    for col in ("source", "edited"):
        edits[col] = [str(ds.image_path(p)) for p in edits[col]]
    best, worst = _extremes(edits, ["group_id"], "_rank", higher_is_better=False)
    report = {"kind": "global", "dimension": dimension, "ordered_by": "averaged rank" if has_ranks else "MOS",
              "n_groups": int(edits["group_id"].nunique())}
    keep = best["_rank"] < worst["_rank"]  # a strict preference (also drops one-edit groups)
    report["dropped_no_preference"] = int((~keep).sum())
    if min_score is not None and has_mos:
        best_mos = best["group_id"].map(edits.groupby("group_id")["_score"].max())
        low = keep & (best_mos < float(min_score))
        report["dropped_all_low"] = int(low.sum())
        keep &= ~low
    else:
        report["dropped_all_low"] = None  # no MOS to judge "low" by
    best, worst = best[keep], worst[keep]
    scorer = f"human:{dimension}"
    pairs = _pair_frame(best, worst, "_score", {
        "group_id": best["group_id"], "instruction_id": best["group_id"], "chosen_rank": best["_rank"],
        "rejected_rank": worst["_rank"], "chosen_seed": pd.NA, "rejected_seed": pd.NA,
        "model": best["model"] + " vs " + worst["model"], "scorer": scorer,
    })
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


def self_pairs(generations, scorer, out_path=None, *, weights=EQUAL_WEIGHTS,
               min_score: float | None = DEFAULT_MIN_SCORE, batch_size: int = 8) -> pd.DataFrame:
    """Score N seeds per instruction with `scorer`; chosen = best, rejected = worst."""
    from edithf.reward.reward import as_reward

    table = read_generations(generations)
    reward = as_reward(scorer, weights=weights, batch_size=batch_size)
    table["_score"] = reward(table["source"].tolist(), table["edited"].tolist(), table["prompt"].tolist()).reward
    by = ["instruction_id", "model"]
    best, worst = _extremes(table, by, "_score", higher_is_better=True)
    report = {"kind": "self", "scorer": reward.name, "weights": reward.weights,
              "n_instructions": int(len(best))}
    keep = best["_score"] > worst["_score"]
    report["dropped_no_preference"] = int((~keep).sum())
    low = keep & (best["_score"] < float(min_score)) if min_score is not None else pd.Series(False, index=keep.index)
    report["dropped_all_low"] = int(low.sum())
    best, worst = best[keep & ~low], worst[keep & ~low]
    # the better half of each task by chosen score (ceil, so a task's only pair survives)
    order = best.groupby("task")["_score"].rank(method="first", ascending=False)
    half = order <= np.ceil(best.groupby("task")["_score"].transform("size") / 2)
    report["dropped_worse_half"] = int((~half).sum())
    best, worst = best[half], worst[half]
    pairs = _pair_frame(best, worst, "_score", {
        "instruction_id": best["instruction_id"], "group_id": best["instruction_id"], "chosen_seed": best["seed"],
        "rejected_seed": worst["seed"], "model": best["model"], "scorer": reward.name,
    })
    return _finish(pairs, report, out_path)


def generate_generations(pipeline, instructions: pd.DataFrame, seeds, out_dir, *, model: str | None = None,
                         **generate_kwargs) -> Path:
    """N seeds per instruction from a diffusers editing pipeline (`edithf.dpo.generate.
    generate_edits`), saved as `out_dir/images/*.png` with a generations table
    `out_dir/generations.parquet` (paths relative to it). `instructions` has
    `instruction_id, task, prompt, source`."""
    from edithf.dpo.generate import generate_edits
    from edithf.utils.io import atomic_path

    missing = [c for c in ("instruction_id", "task", "prompt", "source") if c not in instructions]
    if missing:
        raise ValueError(f"instructions lack column(s) {missing}; need instruction_id, task, prompt, source")
    seeds = [int(s) for s in seeds]
    rows = instructions.loc[instructions.index.repeat(len(seeds))].reset_index(drop=True)
    rows["seed"] = seeds * len(instructions)
    rows["source"] = [str(Path(p).absolute()) for p in rows["source"]]
    images = generate_edits(pipeline, rows["source"].tolist(), rows["prompt"].tolist(), rows["seed"].tolist(),
                            **generate_kwargs)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rows["edited"] = [f"images/{r.instruction_id}_seed{r.seed}.png" for r in rows.itertuples()]
    for image, rel in zip(images, rows["edited"]):
        with atomic_path(out_dir / rel) as tmp:
            image.save(tmp, format="PNG")
    rows["model"] = model or type(pipeline).__name__
    return write_table(rows[list(GENERATION_COLUMNS)], out_dir / "generations.parquet")


def self_pairs_from_pipeline(pipeline, instructions: pd.DataFrame, seeds, scorer, out_dir, *,
                             min_score: float | None = DEFAULT_MIN_SCORE, **generate_kwargs) -> pd.DataFrame:
    """Generate N seeds per instruction, then build Self-DPO pairs (`out_dir/pairs.parquet`)."""
    table = generate_generations(pipeline, instructions, seeds, out_dir, **generate_kwargs)
    return self_pairs(table, scorer, Path(out_dir) / "pairs.parquet", min_score=min_score)
