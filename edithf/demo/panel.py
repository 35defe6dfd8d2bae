"""The simulated annotator panel of the demo benchmark: raw ratings and rankings.

Raters turn an edit's latent true score (in [0, 1]) into a rating on the 5-point continuous
scale [1, 5] through their own bias, range use and noise; a few are unreliable (uniformly random
ratings) and one "straight-liner" gives the same rating to everything. Rankers order a group's
edits by the latent score plus their own noise; one ranks at random. The output is the raw
interchange format (`ratings`, `rankings`), which the real annotation pipeline
(`edithf.data.annotations`) then screens and turns into MOS, averaged ranks and pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edithf.data.schema import DIMENSIONS

RATERS_PER_EDIT = 5          # paper section 3.3
RATERS_PER_TEST_EDIT = 15    # the paper's test set gets fifteen
RANKERS_PER_GROUP = 3


@dataclass(frozen=True)
class Annotator:
    name: str
    kind: str                # "reliable", "random" or "constant"
    bias: tuple              # per dimension, on the [0, 1] latent scale
    spread: float            # how much of the scale they use (1 = all of it)
    noise: float             # SD of their noise on the [0, 1] latent scale


def make_panel(seed: int, n_raters: int = 16, n_random: int = 2, n_constant: int = 1,
               n_rankers: int = 6, n_random_rankers: int = 1) -> tuple[list[Annotator], list[Annotator]]:
    """(raters, rankers): reliable ones with drawn bias / spread / noise, then the bad ones."""
    rng = np.random.default_rng([seed, 7001])

    def reliable(prefix, i, noise_range):
        return Annotator(f"{prefix}{i:02d}", "reliable", tuple(np.round(rng.normal(0, 0.06, 3), 4)),
                         float(np.round(rng.uniform(0.75, 1.2), 4)), float(np.round(rng.uniform(*noise_range), 4)))

    n_reliable = n_raters - n_random - n_constant
    raters = [reliable("rater", i + 1, (0.05, 0.11)) for i in range(n_reliable)]
    raters += [Annotator(f"rater{n_reliable + i + 1:02d}", "random", (0, 0, 0), 0.0, 0.0) for i in range(n_random)]
    raters += [Annotator(f"rater{n_raters - n_constant + i + 1:02d}", "constant", (0, 0, 0), 0.0, 0.0)
               for i in range(n_constant)]
    n_good = n_rankers - n_random_rankers
    rankers = [reliable("ranker", i + 1, (0.03, 0.06)) for i in range(n_good)]
    rankers += [Annotator(f"ranker{n_good + i + 1:02d}", "random", (0, 0, 0), 0.0, 0.0)
                for i in range(n_random_rankers)]
    return raters, rankers


def _rate(rater: Annotator, latent: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Ratings on [1, 5] of edits with these latent scores (one dimension)."""
    if rater.kind == "random":
        return rng.uniform(1.0, 5.0, len(latent))
    if rater.kind == "constant":
        return np.full(len(latent), 4.0)
    seen = 0.5 + rater.spread * (latent - 0.5) + rater.bias[dim] + rng.normal(0, rater.noise, len(latent))
    return np.clip(1.0 + 4.0 * seen, 1.0, 5.0)


def simulate_ratings(edits: pd.DataFrame, truth: pd.DataFrame, raters: list[Annotator], seed: int) -> pd.DataFrame:
    """Raw `ratings` (edit_id, annotator, dimension, score): RATERS_PER_EDIT raters drawn per edit
    (RATERS_PER_TEST_EDIT on test edits); each rates all three dimensions."""
    rng = np.random.default_rng([seed, 7002])
    latent = truth.set_index("edit_id").loc[edits["edit_id"], list(DIMENSIONS)].to_numpy()
    is_test = (edits["split"] == "test").to_numpy() if "split" in edits else np.zeros(len(edits), bool)
    # who rates what: a boolean (edit, rater) matrix
    chosen = np.zeros((len(edits), len(raters)), bool)
    for row, test in enumerate(is_test):
        k = min(RATERS_PER_TEST_EDIT if test else RATERS_PER_EDIT, len(raters))
        chosen[row, rng.choice(len(raters), k, replace=False)] = True
    parts = []
    for j, rater in enumerate(raters):
        rows = np.flatnonzero(chosen[:, j])
        for d, dim in enumerate(DIMENSIONS):
            parts.append(pd.DataFrame({
                "edit_id": edits["edit_id"].to_numpy()[rows], "annotator": rater.name, "dimension": dim,
                "score": np.round(_rate(rater, latent[rows, d], d, rng), 3)}))
    ratings = pd.concat(parts, ignore_index=True)
    order = {e: i for i, e in enumerate(edits["edit_id"])}
    key = ratings["edit_id"].map(order) * 10_000 + ratings["dimension"].map(DIMENSIONS.index) * 1000
    return ratings.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def simulate_rankings(edits: pd.DataFrame, truth: pd.DataFrame, rankers: list[Annotator], seed: int) -> pd.DataFrame:
    """Raw `rankings` (group_id, annotator, dimension, edit_id, rank): RANKERS_PER_GROUP rankers
    per group rank its edits (1 = best) on each dimension."""
    rng = np.random.default_rng([seed, 7003])
    latent = truth.set_index("edit_id").loc[edits["edit_id"], list(DIMENSIONS)].to_numpy()
    k = min(RANKERS_PER_GROUP, len(rankers))
    columns = {"group": [], "ranker": [], "dimension": [], "row": [], "rank": []}
    for g, members in enumerate(edits.groupby("group_id", sort=False).indices.values()):
        for j in rng.choice(len(rankers), k, replace=False):
            ranker = rankers[j]
            for d in range(len(DIMENSIONS)):
                if ranker.kind == "random":
                    perceived = rng.random(len(members))
                else:
                    perceived = latent[members, d] + rng.normal(0, ranker.noise, len(members))
                rank = np.empty(len(members), int)
                rank[np.argsort(-perceived, kind="stable")] = np.arange(1, len(members) + 1)
                for key, value in (("group", g), ("ranker", j), ("dimension", d)):
                    columns[key].append(np.full(len(members), value))
                columns["row"].append(members)
                columns["rank"].append(rank)
    c = {key: np.concatenate(parts) for key, parts in columns.items()}
    return pd.DataFrame({
        "group_id": edits["group_id"].to_numpy()[c["row"]],
        "annotator": np.array([r.name for r in rankers], dtype=object)[c["ranker"]],
        "dimension": np.array(DIMENSIONS, dtype=object)[c["dimension"]],
        "edit_id": edits["edit_id"].to_numpy()[c["row"]],
        "rank": c["rank"],
    })


def panel_table(raters: list[Annotator], rankers: list[Annotator]) -> list[dict]:
    """The panel as plain records (written into dataset.json so users can check the screening)."""
    return [{"name": a.name, "role": role, "kind": a.kind, "bias": list(a.bias), "spread": a.spread, "noise": a.noise}
            for role, group in (("rater", raters), ("ranker", rankers)) for a in group]
