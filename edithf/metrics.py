"""Agreement between a scorer's predictions and human judgements (docs/design.md section 5).

Whole-split correlations (SRCC, PLCC raw and after the 4-parameter logistic map of IQA, KRCC,
RMSE), within-group SRCC, and pairwise accuracies named the way docs/design.md section 5 names
them. Everything is vectorised: a million edits and tens of millions of pairs stay in numpy.

Missing values: a (pred, true) pair with a NaN on either side is dropped before any metric;
a metric that is undefined on what is left (fewer than 2 values, a constant side) is NaN. A
dimension with no prediction at all (a scorer that does not judge it, e.g. `classic` on
alignment) is skipped with a warning: its metrics are NaN and its counts 0.
"""
from __future__ import annotations

import warnings
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from edithf.data.schema import DIMENSIONS

METRICS: tuple[str, ...] = ("srcc", "plcc", "plcc_logistic", "krcc", "rmse", "group_srcc", "pair_acc")
PAIR_MODES = ("strict", "no_ties", "tie")


def _paired(pred, true) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=float).ravel()
    true = np.asarray(true, dtype=float).ravel()
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same length, got {pred.size} and {true.size}")
    keep = np.isfinite(pred) & np.isfinite(true)
    return pred[keep], true[keep]


def _correlatable(pred: np.ndarray, true: np.ndarray) -> bool:
    return pred.size >= 2 and np.ptp(pred) > 0 and np.ptp(true) > 0


def srcc(pred, true) -> float:
    """Spearman rank correlation (scipy), NaN pairs dropped."""
    pred, true = _paired(pred, true)
    return float(stats.spearmanr(pred, true)[0]) if _correlatable(pred, true) else float("nan")


def plcc(pred, true) -> float:
    """Pearson linear correlation (scipy), NaN pairs dropped."""
    pred, true = _paired(pred, true)
    return float(stats.pearsonr(pred, true)[0]) if _correlatable(pred, true) else float("nan")


def krcc(pred, true) -> float:
    """Kendall's tau-b (scipy), NaN pairs dropped."""
    pred, true = _paired(pred, true)
    return float(stats.kendalltau(pred, true)[0]) if _correlatable(pred, true) else float("nan")


def rmse(pred, true) -> float:
    """Root mean squared error on the raw scale (no fitting), NaN pairs dropped."""
    pred, true = _paired(pred, true)
    return float(np.sqrt(np.mean((pred - true) ** 2))) if pred.size else float("nan")


def logistic4(x, b1, b2, b3, b4):
    """The 4-parameter logistic of VQEG/IQA practice: b2 + (b1 - b2) / (1 + exp(-(x - b3)/|b4|))."""
    z = np.clip(-(x - b3) / (np.abs(b4) + 1e-12), -500, 500)  # clip: no overflow warnings
    return b2 + (b1 - b2) / (1.0 + np.exp(z))


def plcc_logistic(pred, true, return_fit: bool = False):
    """PLCC after mapping `pred` through a fitted 4-parameter logistic (scipy curve_fit).

    If the fit fails (no convergence, non-finite parameters), a warning says so and the raw
    PLCC is returned. With `return_fit=True` the result is `(value, params)`, `params` being
    None on that fallback.
    """
    pred, true = _paired(pred, true)
    if not _correlatable(pred, true):
        return (float("nan"), None) if return_fit else float("nan")
    # Start at the identity-like curve through the data: the fit then rarely wanders.
    p0 = [true.max(), true.min(), float(np.mean(pred)), float(np.std(pred)) or 1.0]
    params = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            fitted, _ = optimize.curve_fit(logistic4, pred, true, p0=p0, maxfev=20000)
        mapped = logistic4(pred, *fitted)
        if np.all(np.isfinite(fitted)) and np.ptp(mapped) > 0:
            params = fitted
    except (RuntimeError, ValueError, TypeError):  # TypeError: fewer than 4 points for 4 parameters
        pass
    if params is None:
        warnings.warn("plcc_logistic: the 4-parameter logistic fit failed; reporting the raw PLCC",
                      RuntimeWarning, stacklevel=2)
        value = plcc(pred, true)
    else:
        value = float(stats.pearsonr(logistic4(pred, *params), true)[0])
    return (value, params) if return_fit else value


def group_srcc(pred, true, groups, return_counts: bool = False):
    """Mean over groups of the within-group SRCC.

    Groups whose human values have fewer than 2 distinct values are skipped (SRCC undefined)
    and counted; a group where the *prediction* is constant scores 0 rather than being
    skipped, so a scorer cannot gain by refusing to rank. With `return_counts=True` the result
    is `(value, {"used": n, "skipped_constant": n})`.
    """
    pred = np.asarray(pred, dtype=float).ravel()
    true = np.asarray(true, dtype=float).ravel()
    df = pd.DataFrame({"g": np.asarray(groups).ravel(), "p": pred, "t": true}).dropna()
    by = df.groupby("g", sort=False)
    # Spearman = Pearson of average ranks; one pass of grouped sums for all groups at once.
    df["rp"] = by["p"].rank(method="average")
    df["rt"] = by["t"].rank(method="average")
    df["rp"] -= df.groupby("g", sort=False)["rp"].transform("mean")
    df["rt"] -= df.groupby("g", sort=False)["rt"].transform("mean")
    sums = pd.DataFrame({"g": df["g"], "pt": df["rp"] * df["rt"], "pp": df["rp"] ** 2, "tt": df["rt"] ** 2})
    sums = sums.groupby("g", sort=False).sum()
    usable = sums["tt"] > 0
    denom = np.sqrt(sums["pp"] * sums["tt"])
    per_group = np.where(sums["pp"] > 0, sums["pt"] / denom.where(denom > 0, 1.0), 0.0)[usable.to_numpy()]
    skipped = int((~usable).sum())
    if skipped:
        warnings.warn(f"group_srcc: skipped {skipped} group(s) with fewer than 2 distinct human values",
                      RuntimeWarning, stacklevel=2)
    value = float(per_group.mean()) if per_group.size else float("nan")
    counts = {"used": int(per_group.size), "skipped_constant": skipped}
    return (value, counts) if return_counts else value


# ---------------------------------------------------------------- pairwise accuracies


def pair_outcomes(human, model_diff, mode: str = "strict", eps: float = 0.0):
    """Per-pair (correct, counted) boolean arrays.

    `human` is the human label of each pair (> 0: first better, < 0: second, 0: tie; only the
    sign is used), `model_diff` the model's score of the first minus the second.
    - strict:  human ties not counted; correct iff the model's sign agrees (a model tie is wrong).
    - no_ties: human ties and model ties (|m| <= eps) not counted; correct iff the signs agree.
    - tie:     every pair counted; the model says tie when |m| <= eps; correct iff the labels
               agree (a human tie needs a model tie). This is one ε of the tie-calibrated accuracy.
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"mode must be one of {PAIR_MODES}, got {mode!r}")
    h = np.sign(np.asarray(human, dtype=float).ravel())
    m = np.asarray(model_diff, dtype=float).ravel()
    if h.shape != m.shape:
        raise ValueError(f"human and model_diff must have the same length, got {h.size} and {m.size}")
    valid = np.isfinite(h) & np.isfinite(m)
    model_label = np.where(np.abs(m) <= eps, 0.0, np.sign(m))
    correct = valid & (model_label == h)
    if mode == "strict":
        counted = valid & (h != 0)
    elif mode == "no_ties":
        counted = valid & (h != 0) & (model_label != 0)
    else:
        counted = valid
    return correct & counted, counted


def pairwise_accuracy(human_diff, model_diff, mode: str = "strict") -> float:
    """Accuracy over pairs: `strict` (model tie = wrong, human ties excluded) or `no_ties`
    (human and model ties both excluded). See `pair_outcomes`."""
    if mode not in ("strict", "no_ties"):
        raise ValueError(f"pairwise_accuracy mode must be 'strict' or 'no_ties', got {mode!r}; "
                         "use tie_calibrated_accuracy for ties")
    correct, counted = pair_outcomes(human_diff, model_diff, mode)
    n = counted.sum()
    return float(correct.sum() / n) if n else float("nan")


def tie_calibrated_accuracy(human_label, model_diff) -> tuple[float, float]:
    """Tie-calibrated pairwise accuracy of Deutsch et al. (2023), as EditReward reports it.

    For a threshold ε a pair is a model tie when |m| <= ε; accuracy(ε) =
    (C + T_hm) / (C + D + T_h + T_m + T_hm), i.e. the share of pairs whose model label
    (1, -1 or tie) equals the human label. ε is swept over 0 and every |m|; returns
    `(best accuracy, smallest ε reaching it)`. ε is tuned on the data it is scored on:
    report it beside the strict accuracy, never alone. O(n log n).
    """
    h = np.sign(np.asarray(human_label, dtype=float).ravel())
    m = np.asarray(model_diff, dtype=float).ravel()
    keep = np.isfinite(h) & np.isfinite(m)
    h, m = h[keep], m[keep]
    if not h.size:
        return float("nan"), float("nan")
    order = np.argsort(np.abs(m))  # order inside a run of equal |m| does not matter
    a, h, m = np.abs(m)[order], h[order], m[order]
    tie_right = np.cumsum(h == 0)                 # pairs tied by ε that the human also tied
    sign_right = np.cumsum(np.sign(m) == h)       # pairs whose sign the model got right
    # Thresholds sit at the last pair of each run of equal |m| (ε = that |m| ties them all).
    last = np.flatnonzero(np.r_[a[1:] != a[:-1], True])
    correct = tie_right[last] + sign_right[-1] - sign_right[last]
    eps = np.r_[0.0, a[last]]
    correct = np.r_[sign_right[-1], correct]      # ε = 0 with no |m| = 0: no model ties
    best = int(np.argmax(correct))                # first maximum = smallest ε
    return float(correct[best] / h.size), float(eps[best])


def group_accuracy(groups, human_diff, model_diff, mode: str = "strict", eps: float = 0.0) -> float:
    """K-way group accuracy: a group is correct only if every counted pair in it is correct.

    Pairs are judged by `pair_outcomes(mode, eps)`; groups with no counted pair are left out.
    """
    correct, counted = pair_outcomes(human_diff, model_diff, mode, eps)
    g = pd.Series(np.asarray(groups).ravel())
    frame = pd.DataFrame({"g": g, "wrong": counted & ~correct, "counted": counted})
    per_group = frame.groupby("g", sort=False)[["wrong", "counted"]].sum()
    per_group = per_group[per_group["counted"] > 0]
    return float((per_group["wrong"] == 0).mean()) if len(per_group) else float("nan")


def pair_accuracy(scores_by_edit, pairs: pd.DataFrame) -> float:
    """Strict accuracy of per-edit scores on a pairs table (`preferred`, `rejected` edit ids).

    A pair is correct iff score(preferred) > score(rejected); pairs with an edit that has no
    score are left out (the caller reports coverage).
    """
    return _pair_accuracy_counts(scores_by_edit, pairs)[0]


def _pair_accuracy_counts(scores_by_edit, pairs: pd.DataFrame) -> tuple[float, int]:
    missing = {"preferred", "rejected"} - set(pairs.columns)
    if missing:
        raise ValueError(f"pairs table lacks column(s) {sorted(missing)}; it needs preferred and rejected")
    scores = scores_by_edit if isinstance(scores_by_edit, pd.Series) else pd.Series(scores_by_edit)
    if not scores.index.is_unique:
        raise ValueError("scores_by_edit has duplicated edit ids")
    # Positions, not a string map: one hash lookup per id keeps 10M pairs fast.
    values = np.r_[scores.to_numpy(float), np.nan]                  # position -1 (unknown id) -> NaN
    diff = values[scores.index.get_indexer(pairs["preferred"])] - values[scores.index.get_indexer(pairs["rejected"])]
    return _strict_counts(diff)


def _strict_counts(diff: np.ndarray) -> tuple[float, int]:
    correct, counted = pair_outcomes(np.ones_like(diff), diff, "strict")
    n = int(counted.sum())
    return (float(correct.sum() / n) if n else float("nan")), n


def model_level_srcc(human_scores_by_model, predicted_scores_by_model) -> float:
    """SRCC between models' human ranking scores and predicted ranking scores (paper Table 3,
    last row); mappings or Series keyed by model, aligned on the models both have."""
    human = pd.Series(human_scores_by_model, dtype=float)
    pred = pd.Series(predicted_scores_by_model, dtype=float)
    common = human.index.intersection(pred.index)
    return srcc(pred[common].to_numpy(), human[common].to_numpy())


# ---------------------------------------------------------------- whole-dataset evaluation


def _edits_and_pairs(dataset, pairs):
    if hasattr(dataset, "edits"):  # an EditDataset
        return dataset.edits, dataset.pairs if pairs is None else pairs
    if isinstance(dataset, tuple) and len(dataset) == 2:
        return dataset
    if isinstance(dataset, pd.DataFrame):
        return dataset, pairs
    raise ValueError("dataset must be an EditDataset, an edits DataFrame, or a tuple (edits, pairs)")


def _member(values, pool) -> np.ndarray:
    """values.isin(pool) through a hash index (Series.isin on arrow strings loops in Python)."""
    pool = pool if isinstance(pool, pd.Index) else pd.Index(pool)
    return pool.unique().get_indexer(values) >= 0


def _select_split(edits: pd.DataFrame, split: str | None) -> pd.DataFrame:
    if split in (None, "all"):
        return edits
    if "split" not in edits.columns:
        raise ValueError(f"the edits have no 'split' column, so split={split!r} cannot be selected; "
                         "use split='all' to evaluate every edit")
    chosen = edits[edits["split"] == split]
    if chosen.empty:
        found = sorted(edits["split"].dropna().unique().tolist())
        raise ValueError(f"no edits in split {split!r}; the dataset has splits {found}")
    return chosen


def _within_group_truth(edits: pd.DataFrame, dim: str) -> pd.Series | None:
    """Human truth inside groups, higher = better: -averaged rank when ranked, else MOS."""
    rank_col, mos_col = f"rank_{dim}", f"mos_{dim}"
    if rank_col in edits.columns and edits[rank_col].notna().any():
        return -edits[rank_col].astype(float)
    if mos_col in edits.columns:
        return edits[mos_col].astype(float)
    return None


def _derived_pair_counts(groups, truth, pred) -> tuple[float, int]:
    """Strict accuracy over every within-group pair whose human truth differs (no pairs table)."""
    codes = pd.factorize(pd.Series(groups))[0]
    side = pd.DataFrame({"g": codes, "t": np.asarray(truth, float), "p": np.asarray(pred, float)})
    side = side[np.isfinite(side["t"])]
    both = side.merge(side, on="g", suffixes=("_w", "_l"))          # (sum of size^2) rows, all numeric
    both = both[both["t_w"] > both["t_l"]]
    return _strict_counts((both["p_w"] - both["p_l"]).to_numpy())


def evaluate_predictions(dataset, predictions: pd.DataFrame, split: str | None = "test",
                         dimensions: Sequence[str] = DIMENSIONS, *, pairs: pd.DataFrame | None = None) -> dict:
    """All metrics of one scorer on one split, per dimension.

    `dataset`: an EditDataset, an edits DataFrame (pairs via `pairs=`), or `(edits, pairs)`.
    `predictions`: `edit_id` + one column per dimension (higher is better).
    Returns `{f"{metric}_{dim}": value}` for metric in METRICS, plus `n_<dim>` (edits with a
    MOS and a prediction), `n_groups_<dim>` (groups used by group_srcc) and `n_pairs_<dim>`.
    Pointwise metrics use `mos_<dim>`; group SRCC uses the averaged ranks when present (the
    group annotation), else MOS; pair accuracy uses the dataset's pairs of that split and
    dimension, or, with no pairs table, every within-group pair whose human truth differs.
    """
    edits, all_pairs = _edits_and_pairs(dataset, pairs)
    if "edit_id" not in predictions.columns:
        raise ValueError("predictions need an 'edit_id' column (and one column per dimension)")
    if predictions["edit_id"].duplicated().any():
        dup = predictions.loc[predictions["edit_id"].duplicated(), "edit_id"].iloc[0]
        raise ValueError(f"predictions list edit_id {dup!r} more than once")
    edits = _select_split(edits, split)
    preds = predictions.set_index("edit_id")
    matched = _member(edits["edit_id"], preds.index)
    if not matched.any():
        raise ValueError(f"no prediction matches an edit of split {split!r}: check the edit_id values")
    if not matched.all():
        warnings.warn(f"{int((~matched).sum())} of {len(edits)} edits of split {split!r} have no prediction; "
                      "they are left out", RuntimeWarning, stacklevel=2)
    results: dict = {}
    for dim in dimensions:
        if dim not in preds.columns:
            raise ValueError(f"predictions have no column {dim!r}; columns: {list(predictions.columns)}")
        pred = preds[dim].reindex(edits["edit_id"])
        if pred.isna().all():  # a scorer that cannot judge this dimension writes NaN there
            warnings.warn(f"{dim}: the predictions hold no value (a scorer that does not judge {dim}); "
                          "its metrics are not computed (NaN; n/a in tables)", RuntimeWarning, stacklevel=2)
            results.update(_not_judged(dim))
            continue
        results.update(_evaluate_dimension(edits, preds[dim], all_pairs, dim))
    return results


def _not_judged(dim: str) -> dict:
    return {f"n_{dim}": 0, f"n_groups_{dim}": 0, f"n_pairs_{dim}": 0,
            **{f"{m}_{dim}": float("nan") for m in METRICS}}


def _evaluate_dimension(edits: pd.DataFrame, pred_by_edit: pd.Series, pairs, dim: str) -> dict:
    pred = pred_by_edit.reindex(edits["edit_id"]).to_numpy(float)
    mos_col = f"mos_{dim}"
    true = edits[mos_col].to_numpy(float) if mos_col in edits.columns else np.full(len(edits), np.nan)
    n = int((np.isfinite(pred) & np.isfinite(true)).sum())
    out = {f"n_{dim}": n}
    if n:
        out.update({f"srcc_{dim}": srcc(pred, true), f"plcc_{dim}": plcc(pred, true),
                    f"plcc_logistic_{dim}": plcc_logistic(pred, true), f"krcc_{dim}": krcc(pred, true),
                    f"rmse_{dim}": rmse(pred, true)})
    else:
        out.update({f"{m}_{dim}": float("nan") for m in ("srcc", "plcc", "plcc_logistic", "krcc", "rmse")})
    truth = _within_group_truth(edits, dim)
    if truth is None:
        out.update({f"group_srcc_{dim}": float("nan"), f"n_groups_{dim}": 0,
                    f"pair_acc_{dim}": float("nan"), f"n_pairs_{dim}": 0})
        return out
    value, counts = group_srcc(pred, truth.to_numpy(), edits["group_id"].to_numpy(), return_counts=True)
    out[f"group_srcc_{dim}"], out[f"n_groups_{dim}"] = value, counts["used"]
    if pairs is not None:
        split_pairs = pairs[(pairs["dimension"] == dim).to_numpy() & _member(pairs["preferred"], edits["edit_id"])]
        out[f"pair_acc_{dim}"], out[f"n_pairs_{dim}"] = _pair_accuracy_counts(pred_by_edit, split_pairs)
    else:
        out[f"pair_acc_{dim}"], out[f"n_pairs_{dim}"] = _derived_pair_counts(edits["group_id"], truth, pred)
    return out


def metrics_table(results: Mapping[str, float], metrics: Iterable[str] = METRICS) -> pd.DataFrame:
    """`evaluate_predictions` output as a table: one row per dimension, one column per metric
    (plus `n`)."""
    metrics = list(metrics)
    dims = [k[len("n_"):] for k in results if k.startswith("n_") and not k.startswith(("n_groups_", "n_pairs_"))]
    rows = {d: {m: results.get(f"{m}_{d}", float("nan")) for m in metrics} | {"n": results[f"n_{d}"]}
            for d in dims}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[*metrics, "n"])
    table.index.name = "dimension"
    return table
