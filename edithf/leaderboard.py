"""Leaderboards of editing models from human judgements or any scorer's predictions.

docs/design.md section 6:
- ranking score (paper Table 3 unit): inside each group, an edit's wins over the other edits
  (a tie counts one half), averaged per model; overall = weighted sum (0.3/0.4/0.3 default);
- per-task table: mean MOS (or mean predicted score) of each model on each task;
- Bradley-Terry ratings on the Elo scale with bootstrap CIs resampled over groups, "rank (UB)"
  from CI overlap, win-rate and battle-count matrices.

Battles are aggregated once into per-group win matrices; a bootstrap round is then a weighted
sum of those matrices (weights = how often each group was drawn), computed for all rounds in
one matrix product, followed by a batched Newton fit on an M x M matrix. See
docs/metrics_leaderboard.md for the scale, the CI method and the tie handling.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from edithf.data.schema import DIMENSIONS, judged_weights, normalize_weights
from edithf.metrics import model_level_srcc
from edithf.utils.io import atomic_write_text

ELO_BASE = 1000.0
ELO_SCALE = 400.0 / math.log(10.0)  # Elo points per unit of natural-log strength (FastChat's 400, base 10)
VIRTUAL_TIE = 0.01  # battles added between every pair only when the MLE does not exist
_CHUNK_CELLS = 1 << 22  # padded comparisons x dimensions per chunk: bounds memory at any scale


@dataclass
class Leaderboard:
    """Every view of one leaderboard. `table` is by model, sorted by `overall`."""

    table: pd.DataFrame
    per_task: pd.DataFrame
    bt: dict[str, pd.DataFrame]
    win_rate: dict[str, pd.DataFrame]
    battle_counts: dict[str, pd.DataFrame]
    by: str = "model"
    meta: dict = field(default_factory=dict)

    @property
    def primary(self) -> pd.DataFrame:
        """The table the exports write: by model, or the per-task table when by='task'."""
        return self.per_task if self.by == "task" else self.table

    def to_csv(self, path=None) -> str:
        text = self.primary.to_csv(index=False)
        if path is not None:
            atomic_write_text(path, text)
        return text

    def to_json(self, path=None) -> str:
        payload = {
            "meta": self.meta,
            "table": _records(self.table),
            "per_task": _records(self.per_task),
            "bt": {d: _records(df) for d, df in self.bt.items()},
            "win_rate": {d: _matrix(df) for d, df in self.win_rate.items()},
            "battle_counts": {d: _matrix(df) for d, df in self.battle_counts.items()},
        }
        text = json.dumps(payload, indent=1, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text)
        return text

    def to_markdown(self, path=None, digits: int = 3) -> str:
        text = markdown_table(self.primary, digits)
        if path is not None:
            atomic_write_text(path, text)
        return text


def _records(df: pd.DataFrame) -> list[dict]:
    clean = df.astype(object).where(df.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in clean.to_dict("records")]


def _matrix(df: pd.DataFrame) -> dict:
    values = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return {"models": list(df.index), "matrix": [[None if v is None else float(v) for v in row] for row in values]}


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table (floats rounded to `digits`)."""
    def cell(v):
        if v is None or v is pd.NA:
            return ""
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- ranking scores


def within_group_wins(scores, groups) -> np.ndarray:
    """Per edit: its wins over the other edits of its group (higher score wins, tie = 1/2).

    The average ascending rank inside the group minus one is exactly that count. NaN scores
    stay NaN and are not opponents; an edit with no opponent (a group of one) gets NaN, not 0,
    so it does not count in its model's average.
    """
    s = pd.Series(np.asarray(scores, dtype=float))
    by = s.groupby(np.asarray(groups))
    wins = by.rank(method="average") - 1.0
    return wins.where(by.transform("count") >= 2).to_numpy()


def _human_score(edits: pd.DataFrame, dim: str) -> pd.Series:
    """Higher-is-better human score: -averaged rank (the group annotation) if present, else MOS."""
    rank_col, mos_col = f"rank_{dim}", f"mos_{dim}"
    if rank_col in edits.columns and edits[rank_col].notna().any():
        return -edits[rank_col].astype(float)
    if mos_col in edits.columns and edits[mos_col].notna().any():
        return edits[mos_col].astype(float)
    raise ValueError(f"the edits have neither {rank_col} nor {mos_col}: cannot rank models on {dim!r}; "
                     f"pass dimensions= without it or add the column")


def _edit_frame(edits: pd.DataFrame, predictions: pd.DataFrame | None, dims) -> pd.DataFrame:
    """group_id, model, task + per dimension `abs_<dim>` (MOS or prediction, for the per-task
    means) and `win_<dim>` (within-group wins of a higher-is-better score)."""
    missing = {"group_id", "model"} - set(edits.columns)
    if missing:
        raise ValueError(f"the edits table lacks column(s) {sorted(missing)}")
    frame = edits[[c for c in ("edit_id", "group_id", "model", "task") if c in edits.columns]].copy()
    if predictions is not None:
        preds = _aligned_predictions(edits, predictions, dims)
    groups = pd.factorize(frame["group_id"])[0]
    for d in dims:
        if predictions is None:
            score = _human_score(edits, d).to_numpy()
            mos = f"mos_{d}"
            frame[f"abs_{d}"] = edits[mos].to_numpy(float) if mos in edits.columns else np.nan
        else:
            score = frame[f"abs_{d}"] = preds[d].to_numpy(float)
        frame[f"win_{d}"] = within_group_wins(score, groups)
    return frame


def _aligned_predictions(edits: pd.DataFrame, predictions: pd.DataFrame, dims) -> pd.DataFrame:
    need = {"edit_id", *dims} - set(predictions.columns)
    if need:
        raise ValueError(f"predictions lack column(s) {sorted(need)}; they need edit_id and {list(dims)}")
    if "edit_id" not in edits.columns:
        raise ValueError("the edits table needs an edit_id column to join predictions")
    if predictions["edit_id"].duplicated().any():
        dup = predictions.loc[predictions["edit_id"].duplicated(), "edit_id"].iloc[0]
        raise ValueError(f"predictions list edit_id {dup!r} more than once")
    preds = predictions.set_index("edit_id")
    aligned = preds.reindex(edits["edit_id"])
    n_missing = int(aligned[list(dims)].isna().all(axis=1).sum())
    if n_missing == len(edits):
        raise ValueError("no prediction matches an edit of the dataset (or all its values are NaN): "
                         "check the edit_id values")
    if n_missing:
        warnings.warn(f"{n_missing} of {len(edits)} edits have no prediction and are left out",
                      RuntimeWarning, stacklevel=3)
    return aligned.reset_index(drop=True)


def ranking_scores(frame: pd.DataFrame, dims, weights) -> pd.DataFrame:
    """Model x (dims, overall) mean within-group wins, plus n_groups and n_edits."""
    by = frame.groupby("model", sort=True)
    table = by[[f"win_{d}" for d in dims]].mean()
    table.columns = list(dims)
    table["overall"] = sum(w * table[d] for d, w in weights.items())
    scored = frame[frame[[f"win_{d}" for d in dims]].notna().any(axis=1)]
    table["n_groups"] = scored.groupby("model")["group_id"].nunique().reindex(table.index).fillna(0).astype(int)
    table["n_edits"] = scored.groupby("model").size().reindex(table.index).fillna(0).astype(int)
    return table


def per_task_table(frame: pd.DataFrame, dims, weights) -> pd.DataFrame:
    """Mean absolute score (MOS or prediction) of each model on each task; a dimension with no
    absolute score (rank-only data) falls back to the mean within-group wins."""
    if "task" not in frame.columns:
        return pd.DataFrame(columns=["task", "model", *dims, "overall", "n_edits"])
    cols = {d: (f"abs_{d}" if frame[f"abs_{d}"].notna().any() else f"win_{d}") for d in dims}
    by = frame.groupby(["task", "model"], sort=True)
    table = by[list(cols.values())].mean()
    table.columns = list(dims)
    table["overall"] = sum(w * table[d] for d, w in weights.items())
    table["n_edits"] = by.size()
    table = table.reset_index()
    return table.sort_values(["task", "overall"], ascending=[True, False], ignore_index=True)


# ---------------------------------------------------------------- battles


def group_win_matrices(group_codes, model_codes, values, n_groups: int, n_models: int, weights=None):
    """Win counts of every model over every other, summed over groups with per-group weights.

    values: (n_edits, D) higher-is-better scores (NaN = absent); weights: (R, n_groups) how many
    times each group counts in each of R resamples (None: once). Returns (R, D, M, M) float64
    with [r, d, a, b] = weighted wins of a over b (a tie gives 1/2 to each). Groups are padded
    to their own size class, so the work is sum over groups of size^2.
    """
    values = np.asarray(values, dtype=float).reshape(len(group_codes), -1)
    n_dims, mm = values.shape[1], n_models * n_models
    weights = np.ones((1, n_groups), np.float32) if weights is None else np.asarray(weights, np.float32)
    sizes = np.bincount(group_codes, minlength=n_groups)
    group_order = np.argsort(sizes, kind="stable")           # similar sizes share a padding
    rank_of_group = np.empty(n_groups, np.int64)
    rank_of_group[group_order] = np.arange(n_groups)
    edit_order = np.argsort(rank_of_group[group_codes], kind="stable")
    g_rank = rank_of_group[group_codes][edit_order]
    starts = np.r_[0, np.cumsum(sizes[group_order])]
    pos = np.arange(len(edit_order)) - starts[g_rank]        # position inside its group
    models_sorted, values_sorted = np.asarray(model_codes)[edit_order], values[edit_order]
    total = np.zeros((weights.shape[0], n_dims * mm), np.float64)
    lo = 0
    while lo < n_groups:
        hi = _chunk_end(sizes[group_order], lo, n_dims, mm)
        k = max(int(sizes[group_order[hi - 1]]), 1)            # the largest group of the chunk
        sel = slice(starts[lo], starts[hi])
        chunk = _chunk_wins(g_rank[sel] - lo, pos[sel], models_sorted[sel], values_sorted[sel],
                            hi - lo, k, n_models)                         # (n, D*M*M) float32
        total += weights[:, group_order[lo:hi]] @ chunk
        lo = hi
    return total.reshape(weights.shape[0], n_dims, n_models, n_models)


def _chunk_end(sorted_sizes, lo: int, n_dims: int, mm: int) -> int:
    """End of the chunk of groups starting at `lo` (sizes ascending) that fits the cell budget:
    each group costs its padded comparisons (k*k*D) or its output row (D*M*M), whichever is more."""
    def cost(hi):
        k = int(sorted_sizes[hi - 1])
        return (hi - lo) * n_dims * max(k * k, mm)

    n = max(1, _CHUNK_CELLS // cost(lo + 1))
    hi = min(lo + n, len(sorted_sizes))
    while hi - lo > 1 and cost(hi) > _CHUNK_CELLS:
        hi = lo + (hi - lo) // 2
    return hi


def _chunk_wins(rows, pos, models, values, n_rows: int, k: int, n_models: int) -> np.ndarray:
    n_dims, mm = values.shape[1], n_models * n_models
    scores = np.full((n_rows, k, n_dims), np.nan)
    scores[rows, pos] = values
    who = np.zeros((n_rows, k), np.int64)
    who[rows, pos] = models
    diff = scores[:, :, None, :] - scores[:, None, :, :]               # (n, k, k, D)
    wins = (diff > 0) + 0.5 * (diff == 0)                             # NaN compares False
    wins *= ~np.eye(k, dtype=bool)[None, :, :, None]                  # no battle with itself
    cell = (np.arange(n_rows)[:, None, None] * mm + who[:, :, None] * n_models + who[:, None, :]).ravel()
    out = np.empty((n_rows, n_dims * mm), np.float32)
    for d in range(n_dims):
        out[:, d * mm:(d + 1) * mm] = np.bincount(cell, wins[..., d].ravel(), n_rows * mm).reshape(n_rows, mm)
    return out


def wins_from_battles(model_a, model_b, outcome, models: Sequence[str] | None = None):
    """Win matrix from a list of battles: outcome 1 = a won, 0 = b won, 0.5 = tie.

    Returns (W, models) with W[i, j] = wins of models[i] over models[j].
    """
    a, b = pd.Series(model_a, dtype=object), pd.Series(model_b, dtype=object)
    outcome = np.asarray(outcome, dtype=float)
    if np.any((outcome < 0) | (outcome > 1)):
        raise ValueError("battle outcomes must lie in [0, 1]: 1 = a won, 0 = b won, 0.5 = tie")
    models = sorted(set(a) | set(b)) if models is None else list(models)
    unknown = (set(a) | set(b)) - set(models)
    if unknown:
        raise ValueError(f"battles name model(s) {sorted(unknown)[:5]} that are not in `models`")
    index = {m: i for i, m in enumerate(models)}
    ia, ib = a.map(index).to_numpy(int), b.map(index).to_numpy(int)
    m = len(models)
    wins = np.bincount(ia * m + ib, outcome, m * m) + np.bincount(ib * m + ia, 1 - outcome, m * m)
    return wins.reshape(m, m), models


# ---------------------------------------------------------------- Bradley-Terry


def fit_bradley_terry(wins, max_iter: int = 100, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood Bradley-Terry log-strengths, no penalty, batched.

    wins: (..., M, M), wins[a, b] = (possibly fractional) wins of a over b. The model is
    P(a beats b) = sigmoid(r_a - r_b). Returns (r centred to mean 0, needed_virtual_ties):
    when the MLE does not exist (the directed win graph is not strongly connected: a model
    won or lost all its battles), VIRTUAL_TIE battles tied half-half are added between every
    pair for that fit, which keeps it finite; the flag says which fits needed it.
    Newton's method with a backtracking line search on the concave log-likelihood.
    """
    wins = np.array(wins, dtype=float)
    m = wins.shape[-1]
    if m == 0:                                                          # nobody battled
        return np.zeros(wins.shape[:-1]), np.zeros(wins.shape[:-2], bool)
    eye = np.eye(m, dtype=bool)
    wins[..., eye] = 0.0
    virtual = ~_strongly_connected(wins)
    wins[virtual] += (VIRTUAL_TIE / 2) * ~eye
    games = wins + np.swapaxes(wins, -1, -2)
    r = np.zeros(wins.shape[:-1])
    ll = _bt_loglik(wins, r)
    for _ in range(max_iter):
        p = expit(r[..., :, None] - r[..., None, :])
        grad = (wins - games * p).sum(-1)                               # (..., M)
        h = games * p * (1 - p)
        lap = -h + np.eye(m) * h.sum(-1)[..., None] + 1.0 / m            # Laplacian + 11'/M: gauge fixed
        step = np.linalg.solve(lap, grad[..., None])[..., 0]
        t = np.ones(r.shape[:-1])
        for _ in range(40):                                             # backtracking, per fit
            new_ll = _bt_loglik(wins, r + t[..., None] * step)
            bad = new_ll < ll - 1e-12 * np.abs(ll)
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        r = r + t[..., None] * step
        ll = _bt_loglik(wins, r)
        if np.max(np.abs(t[..., None] * step), initial=0.0) < tol:
            break
    return r - r.mean(-1, keepdims=True), virtual


def _bt_loglik(wins, r):
    diff = r[..., :, None] - r[..., None, :]
    return -(wins * np.logaddexp(0.0, -diff)).sum((-1, -2))


def _strongly_connected(wins) -> np.ndarray:
    """Per matrix: is every model reachable from every other along 'a beat b' edges?"""
    m = wins.shape[-1]
    reach = ((wins > 0) | np.eye(m, dtype=bool)).astype(np.float64)
    for _ in range(max(1, math.ceil(math.log2(max(m, 2))))):          # paths of length <= 2^i
        reach = (reach @ reach > 0).astype(np.float64)
    return reach.all((-1, -2))


def to_elo(r, anchor_index: int | None = None) -> np.ndarray:
    """Log-strengths -> Elo scale: 1000 + 400 * log10-strength, the mean (or the anchor) at 1000."""
    r = np.asarray(r, dtype=float)
    if r.shape[-1] == 0:
        return r
    ref = r.mean(-1, keepdims=True) if anchor_index is None else r[..., anchor_index:anchor_index + 1]
    return ELO_BASE + ELO_SCALE * (r - ref)


def bt_table(point_elo, boot_elo, models, games, confidence: float) -> pd.DataFrame:
    """Rating, percentile-bootstrap CI, "rank (UB)" = 1 + number of models whose CI lies
    entirely above this one's (FastChat), and battles per model."""
    alpha = 1 - confidence
    low = np.quantile(boot_elo, alpha / 2, axis=0)
    high = np.quantile(boot_elo, 1 - alpha / 2, axis=0)
    rank_ub = 1 + (low[None, :] > high[:, None]).sum(1)
    out = pd.DataFrame({"model": models, "elo": point_elo, "elo_low": low, "elo_high": high,
                        "rank_ub": rank_ub, "n_battles": games.sum(1)})
    return out.sort_values("elo", ascending=False, ignore_index=True)


# ---------------------------------------------------------------- the leaderboard


def build_leaderboard(dataset_or_edits, predictions: pd.DataFrame | None = None, *, by: str = "model",
                      weights=None, n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95,
                      dimensions: Sequence[str] = DIMENSIONS, split: str | None = None,
                      anchor: str | None = None) -> Leaderboard:
    """Leaderboard from human data (`predictions=None`) or from a scorer's predictions.

    `dataset_or_edits`: an EditDataset or its edits DataFrame. Human scores: averaged ranks
    `rank_<dim>` (lower is better) when present, else `mos_<dim>`. `predictions`: edit_id +
    dimension columns, higher is better. `split`: restrict to one split (None = all edits).
    `anchor`: the model pinned at Elo 1000 (None: the mean rating is 1000).
    """
    if by not in ("model", "task"):
        raise ValueError(f"by must be 'model' or 'task', got {by!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    dims = tuple(dimensions)
    w = normalize_weights(weights)
    w = {d: w[d] for d in dims}
    edits = dataset_or_edits.edits if hasattr(dataset_or_edits, "edits") else dataset_or_edits
    if split is not None:
        if "split" not in edits.columns:
            raise ValueError(f"the edits have no 'split' column, so split={split!r} cannot be selected")
        edits = edits[edits["split"] == split]
    if edits.empty:
        raise ValueError("no edits to rank" + (f" in split {split!r}" if split else ""))
    if by == "task" and "task" not in edits.columns:
        raise ValueError("by='task' needs a 'task' column in the edits")
    edits = edits.reset_index(drop=True)
    frame = _edit_frame(edits, predictions, dims)
    not_judged = _not_judged(frame, predictions is not None, dims)
    w = judged_weights(w, [d for d in w if d not in not_judged])  # as `Evaluator.score`
    frame["win_overall"] = sum(v * frame[f"win_{d}"] for d, v in w.items())
    if frame[[f"win_{d}" for d in dims]].isna().all(axis=None):
        raise ValueError("no group holds two edits with scores, so there is nothing to compare: a leaderboard "
                         "needs groups (same source and prompt) edited by several models")
    scores = ranking_scores(frame, dims, w)
    judged = tuple(d for d in dims if d not in not_judged)
    bt, win_rate, battle_counts, n_virtual = _bradley_terry_all(frame, judged, n_bootstrap, seed, confidence, anchor)
    for d in not_judged:  # same keys for every dimension; nothing in them
        bt[d], n_virtual[d] = bt["overall"].iloc[0:0], 0
        win_rate[d], battle_counts[d] = win_rate["overall"] * np.nan, battle_counts["overall"] * 0
    overall = bt["overall"].set_index("model")[["elo", "elo_low", "elo_high", "rank_ub"]]
    table = scores[[*dims, "overall"]].join(overall).join(scores[["n_groups", "n_edits"]])
    table = table.rename_axis("model").reset_index().sort_values("overall", ascending=False, ignore_index=True)
    table["rank_ub"] = table["rank_ub"].astype("Int64")  # stays an integer beside models with no battle
    meta = {
        "source": "human" if predictions is None else "predictions",
        "unit": "mean within-group wins (tie = 1/2)",
        "weights": w, "dimensions": list(dims), "not_judged": not_judged,
        "n_groups": int(frame["group_id"].nunique()),
        "n_edits": int(len(frame)), "n_models": int(len(table)), "n_bootstrap": int(n_bootstrap),
        "seed": int(seed), "confidence": float(confidence), "anchor": anchor,
        "elo": "1000 + 400*log10 strength (P(a beats b) = 1/(1 + 10^((R_b - R_a)/400)))",
        "fits_with_virtual_ties": n_virtual,
    }
    return Leaderboard(table=table, per_task=per_task_table(frame, dims, w), bt=bt, win_rate=win_rate,
                       battle_counts=battle_counts, by=by, meta=meta)


def _not_judged(frame: pd.DataFrame, from_predictions: bool, dims) -> list[str]:
    """Dimensions the predictions hold no value for (a scorer that cannot judge them writes
    NaN): skipped with a warning, never ranked on."""
    if not from_predictions:
        return []
    skipped = [d for d in dims if frame[f"abs_{d}"].isna().all()]
    if skipped:
        warnings.warn(f"the predictions hold no value for {', '.join(skipped)} (a scorer that does not judge it): "
                      "not ranked on, and overall weights renormalised over the other dimensions",
                      RuntimeWarning, stacklevel=3)
    return skipped


def _bradley_terry_all(frame, dims, n_bootstrap, seed, confidence, anchor):
    keys = [*dims, "overall"]
    models = sorted(frame["model"].unique())
    if anchor is not None and anchor not in models:
        raise ValueError(f"anchor model {anchor!r} is not among the models {models}")
    values = frame[[f"win_{k}" for k in keys]]
    frame = frame[values.notna().any(axis=1).to_numpy()]  # only groups with a battle are resampled
    values = values.loc[frame.index].to_numpy(float)
    g_codes, g_uniques = pd.factorize(frame["group_id"], sort=True)  # resamples independent of row order
    m_codes = pd.Index(models).get_indexer(frame["model"])
    n_groups = len(g_uniques)
    rng = np.random.default_rng(seed)
    # Row 0 = the data itself; rows 1.. = bootstrap resamples of whole groups (with replacement).
    draws = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_bootstrap)
    counts = np.vstack([np.ones((1, n_groups)), draws]).astype(np.float32)
    wins = group_win_matrices(g_codes, m_codes, values, n_groups, len(models), counts)  # (1+B, K, M, M)
    bt, win_rate, battle_counts, n_virtual = {}, {}, {}, {}
    for i, key in enumerate(keys):
        point = wins[0, i]
        games = point + point.T
        active = games.sum(1) > 0            # a model with no battle has no rating
        sub = np.ix_(active, active)
        r, virtual = fit_bradley_terry(wins[:, i][(slice(None), *sub)])
        names = [m for m, a in zip(models, active) if a]
        anchor_index = names.index(anchor) if anchor in names else None
        elo = to_elo(r, anchor_index)
        boot = elo[1:] if n_bootstrap else elo[:1]
        bt[key] = bt_table(elo[0], boot, names, games[sub], confidence)
        n_virtual[key] = int(virtual.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(games > 0, point / games, np.nan)
        np.fill_diagonal(rate, np.nan)
        win_rate[key] = pd.DataFrame(rate, index=models, columns=models)
        battle_counts[key] = pd.DataFrame(games, index=models, columns=models)
    return bt, win_rate, battle_counts, n_virtual


def compare_leaderboards(human: Leaderboard, predicted: Leaderboard) -> dict[str, float]:
    """SRCC between the models' human and predicted ranking scores, per dimension and overall
    (and between the overall Elo ratings, key `elo`)."""
    h, p = human.table.set_index("model"), predicted.table.set_index("model")
    keys = [c for c in (*DIMENSIONS, "overall", "elo") if c in h.columns and c in p.columns]
    return {k: model_level_srcc(h[k], p[k]) for k in keys}
