"""Raw human annotations -> MOS, averaged ranks, agreement, preference pairs, splits, levels
(docs/design.md section 4, paper section 3.3).

Everything is vectorised with numpy: tables are turned into integer codes once
(`pd.factorize`) and statistics are `np.bincount` sums over those codes, so 1M edits and 29M
pairs take seconds and never a Python loop per edit, per group or per pair.

    mos, report = compute_mos(ratings)               # edit_id, mos_quality, ...
    ranks = average_ranks(rankings)                  # edit_id, rank_quality, ...
    agreement = group_agreement(rankings)            # Kendall's W per group and dimension
    pairs = make_pairs(edits)                        # group_id, dimension, preferred, rejected, rank_gap
    pairs, report = consistency_filter(pairs, edits) # drop pairs that MOS contradicts
    split, report = split_by_source(edits)           # train / val / test, 5:1:1 by source image
    ds, report = process_dataset(raw)                # all of the above
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.data.dataset import check_output, load_dataset
from edithf.data.report import render_report
from edithf.data.schema import DIMENSIONS, LEVELS, SCORE_RANGE, SPLITS
from edithf.data.validate import index_of

__all__ = [
    "compute_mos", "average_ranks", "group_agreement", "make_pairs", "consistency_filter",
    "split_by_source", "quality_levels", "level_names", "process_dataset", "process_folder",
    "render_report",
]


def _group_stats(codes: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None):
    """Per-code count, mean and sample standard deviation (ddof=1; NaN with fewer than 2),
    over the entries whose weight is 1. Two passes, so identical values give exactly 0."""
    w = np.ones(len(codes)) if weights is None else weights.astype(float)
    n = np.bincount(codes, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, w * values, minlength=len(n)) / n
        dev = values - mean[codes]
        var = np.bincount(codes, w * dev * dev, minlength=len(n)) / (n - 1)
    sd = np.sqrt(np.where(n > 1, var, np.nan))
    return n, mean, sd


# -- MOS (ITU-R BT.500 screening, z-scores, rescaling) ----------------------------------------

def compute_mos(ratings: pd.DataFrame, *, outlier_sigma: float = 2.0, max_outlier_fraction: float = 0.05,
                scale: tuple[float, float] = SCORE_RANGE, rescale: str = "minmax"):
    """MOS per edit and dimension from raw per-annotator ratings.

    Per dimension: (1) NaN scores are dropped; (2) a rating farther than `outlier_sigma`
    sample standard deviations from the mean of its image is an outlier; (3) an annotator with
    more than `max_outlier_fraction` outliers is removed; the outlier ratings of the others are
    dropped; (4) an annotator whose remaining ratings all have the same value (sigma 0) or who
    has a single rating is removed, since their z-score is undefined; (5) z_ij = (r_ij - mu_i) /
    sigma_i per annotator; (6) the z-MOS of an image is the mean of its z-scores; (7) it is mapped
    linearly onto `scale`: `rescale="minmax"` maps the smallest z-MOS of the dimension over the
    dataset to scale[0] and the largest to scale[1] (the report keeps z_min and z_max, so the map
    can be inverted); `rescale="z3"` uses the fixed map (z + 3) / 6, clipped, common in IQA.

    Note: with n ratings per image no rating can lie more than (n-1)/sqrt(n) standard deviations
    from the image mean, so the 2-sigma rule can only fire with 6 or more ratings per image;
    the report says so when that is the case.

    Returns (DataFrame edit_id + mos_<dim>, report dict).
    """
    if rescale not in ("minmax", "z3"):
        raise ValueError(f"rescale must be 'minmax' or 'z3', got {rescale!r}")
    nan = ratings["score"].isna().to_numpy()
    scored = ratings.loc[~nan, ["edit_id", "annotator", "dimension", "score"]]
    report = {"n_ratings": int(len(ratings)), "n_nan_dropped": int(nan.sum()),
              "outlier_sigma": outlier_sigma, "max_outlier_fraction": max_outlier_fraction,
              "scale": list(scale), "rescale": rescale, "dimensions": {}}
    columns = {}
    for dim in DIMENSIONS:
        part = scored[scored["dimension"] == dim]
        if len(part):
            columns[f"mos_{dim}"], report["dimensions"][dim] = _mos_one_dimension(
                part, outlier_sigma, max_outlier_fraction, scale, rescale)
    mos = pd.concat(columns.values(), axis=1, keys=columns.keys()) if columns else pd.DataFrame()
    return mos.rename_axis("edit_id").reset_index(), report


def _mos_one_dimension(part, outlier_sigma, max_outlier_fraction, scale, rescale):
    image, image_ids = pd.factorize(part["edit_id"])
    rater, raters = pd.factorize(part["annotator"])
    score = part["score"].to_numpy(dtype=float)

    n_img, img_mean, img_sd = _group_stats(image, score)
    with np.errstate(invalid="ignore"):
        outlier = np.abs(score - img_mean[image]) > outlier_sigma * img_sd[image]  # NaN sd -> False
    per_rater = np.bincount(rater, minlength=len(raters))
    fraction = np.bincount(rater, outlier, minlength=len(raters)) / per_rater
    rejected = fraction > max_outlier_fraction
    keep = ~rejected[rater] & ~outlier

    n_kept, mu, sigma = _group_stats(rater, score, keep)
    flat = ~rejected & (n_kept > 0) & ~(sigma > 0)  # sigma 0, or NaN with a single rating
    keep &= ~flat[rater]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(keep, (score - mu[rater]) / sigma[rater], 0.0)
        z_mos = np.bincount(image, z, minlength=len(image_ids)) / np.bincount(image, keep, minlength=len(image_ids))
    mos, z_min, z_max = _rescale(z_mos, scale, rescale)

    median_n = float(np.median(n_img))
    report = {
        "n_ratings": int(len(score)),
        "n_outlier_ratings_dropped": int((outlier & ~rejected[rater]).sum()),
        "rejected_annotators": [
            {"annotator": str(raters[i]), "outlier_fraction": round(float(fraction[i]), 4),
             "n_ratings": int(per_rater[i])} for i in np.flatnonzero(rejected)],
        "flat_annotators_removed": [str(raters[i]) for i in np.flatnonzero(flat)],
        "n_ratings_used": int(keep.sum()),
        "n_edits": int(len(image_ids)),
        "n_edits_without_mos": int(np.isnan(mos).sum()),
        "median_ratings_per_edit": median_n,
        "z_min": z_min, "z_max": z_max,
    }
    if (median_n - 1) / np.sqrt(median_n) <= outlier_sigma:
        report["screening_note"] = (
            f"with {median_n:g} ratings per edit (median) no rating can be more than "
            f"{(median_n - 1) / np.sqrt(median_n):.2f} SD from its edit's mean, so the "
            f"{outlier_sigma:g}-SD outlier rule cannot fire for most edits")
    return pd.Series(mos, index=pd.Index(image_ids.astype(str), name="edit_id")), report


def _rescale(z_mos: np.ndarray, scale, rescale):
    lo, hi = float(scale[0]), float(scale[1])
    finite = z_mos[np.isfinite(z_mos)]
    if rescale == "z3":
        return np.clip(lo + (hi - lo) * (z_mos + 3.0) / 6.0, lo, hi), -3.0, 3.0
    if not len(finite):
        return z_mos, None, None
    z_min, z_max = float(finite.min()), float(finite.max())
    if z_max == z_min:  # a single edit (or all equal): the middle of the scale
        return np.where(np.isfinite(z_mos), (lo + hi) / 2.0, np.nan), z_min, z_max
    # clipped: rounding must not put the maximum a hair above `hi`
    return np.clip(lo + (hi - lo) * (z_mos - z_min) / (z_max - z_min), lo, hi), z_min, z_max


# -- rankings ---------------------------------------------------------------------------------

def _dimension_codes(values: pd.Series) -> np.ndarray:
    """Index of each dimension in DIMENSIONS (validated beforehand)."""
    return index_of(values, pd.Series(DIMENSIONS))


def average_ranks(rankings: pd.DataFrame) -> pd.DataFrame:
    """Mean rank over annotators per edit and dimension: edit_id, rank_<dim> (1 = best)."""
    edit, edit_ids = pd.factorize(rankings["edit_id"])
    key = edit * len(DIMENSIONS) + _dimension_codes(rankings["dimension"])
    size = len(edit_ids) * len(DIMENSIONS)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(key, rankings["rank"].to_numpy(float), size) / np.bincount(key, minlength=size)
    table = mean.reshape(len(edit_ids), len(DIMENSIONS))
    out = pd.DataFrame({"edit_id": edit_ids})
    for j, dim in enumerate(DIMENSIONS):
        if not np.isnan(table[:, j]).all():
            out[f"rank_{dim}"] = table[:, j]
    return out


def group_agreement(rankings: pd.DataFrame, min_w: float = 0.5) -> pd.DataFrame:
    """Kendall's W of the annotators of each group on each dimension, with the tie correction:

        W = 12 S / (m^2 (n^3 - n) - m sum_j sum_ties (t^3 - t)),  S = sum_i (R_i - mean R)^2

    where R_i is the sum of the m annotators' ranks of edit i among n. `flagged` marks groups
    with W < `min_w` (to re-annotate, as the paper does). Groups of one edit are left out (W is
    undefined); with one annotator W is NaN and the group is not flagged.
    Columns: group_id, dimension, kendall_w, n_annotators, n_edits, flagged.
    """
    n_dims = len(DIMENSIONS)
    group, group_ids = pd.factorize(rankings["group_id"])
    edit, edit_ids = pd.factorize(rankings["edit_id"])
    dim = _dimension_codes(rankings["dimension"])
    cell = group.astype(np.int64) * n_dims + dim          # (group, dimension), dense codes
    n_cells = len(group_ids) * n_dims
    item = edit.astype(np.int64) * n_dims + dim           # (edit, dimension): an edit is in one group
    rank = rankings["rank"].to_numpy(float)

    rank_sum = np.bincount(item, rank, len(edit_ids) * n_dims)               # R_i
    present = np.flatnonzero(np.bincount(item, minlength=len(rank_sum)))
    item_cell = np.zeros(len(rank_sum), np.int64)
    item_cell[item] = cell
    item_cell, rank_sum = item_cell[present], rank_sum[present]
    n = np.bincount(item_cell, minlength=n_cells).astype(float)              # edits per cell
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.bincount(cell, minlength=n_cells) / n                          # complete rankings (validated)
        mean_r = np.bincount(item_cell, rank_sum, n_cells) / n
        s = np.bincount(item_cell, (rank_sum - mean_r[item_cell]) ** 2, n_cells)
        ties = _tie_sums(cell, pd.factorize(rankings["annotator"])[0], rank, n_cells)
        w = 12.0 * s / (m * m * (n ** 3 - n) - m * ties)
    cells = np.flatnonzero(n > 1)                         # a single edit has no agreement
    m, n, w = m[cells], n[cells], np.where(m[cells] > 1, w[cells], np.nan)
    out = pd.DataFrame({
        "group_id": group_ids[cells // len(DIMENSIONS)],
        "dimension": np.asarray(DIMENSIONS, dtype=object)[cells % len(DIMENSIONS)],
        "kendall_w": w, "n_annotators": m.round().astype(int), "n_edits": n.astype(int),
    })
    out["flagged"] = out["kendall_w"] < min_w
    return out


def _tie_sums(cell, annotator, rank, n_cells) -> np.ndarray:
    """sum over annotators and tied rank values of (t^3 - t), per cell, from the counts of
    (cell, annotator, rank value) keys: a dense bincount when the key space is small (integer
    ranks of a few annotators per group, as in EditHF-1M), a hash otherwise."""
    if len(rank) and np.array_equal(rank, np.round(rank)) and rank.min() >= 1:
        rank_code = rank.astype(np.int64) - 1
        n_values = int(rank_code.max()) + 1
    else:
        rank_code, values = pd.factorize(rank)
        n_values = len(values)
    n_annotators = int(annotator.max()) + 1 if len(annotator) else 1
    key = (cell.astype(np.int64) * n_annotators + annotator) * n_values + rank_code
    if n_cells * n_annotators * n_values <= 2 * len(key):
        t = np.bincount(key, minlength=n_cells * n_annotators * n_values)
        keys = np.flatnonzero(t)
        t = t[keys]
    else:
        tie, keys = pd.factorize(key)
        t = np.bincount(tie)
    t = t.astype(float)
    return np.bincount(keys // (n_annotators * n_values), t ** 3 - t, n_cells)


# -- preference pairs -------------------------------------------------------------------------

def _pairs_within_groups(group_codes: np.ndarray):
    """All position pairs (a, b), a < b, of rows sharing a group code: a self-join inside
    groups done once per distinct group size (np.triu_indices), not once per group."""
    order = np.argsort(group_codes, kind="stable").astype(np.int32)  # int32: half the memory traffic
    g = group_codes[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=np.int64)
    sizes = np.diff(np.r_[starts, len(g)])
    left, right = [], []
    for size in np.unique(sizes[sizes > 1]):
        first = starts[sizes == size][:, None].astype(np.int32)  # (groups of this size, 1)
        i, j = (x.astype(np.int32) for x in np.triu_indices(size, 1))  # (size*(size-1)/2,)
        left.append(order[(first + i).ravel()])
        right.append(order[(first + j).ravel()])
    if not left:
        return np.array([], dtype=np.int32), np.array([], dtype=np.int32)
    return np.concatenate(left), np.concatenate(right)


def make_pairs(edits: pd.DataFrame, dimensions=DIMENSIONS) -> pd.DataFrame:
    """Every pair of edits of a group whose averaged ranks (rank_<dim>) differ, per dimension.

    `preferred` has the lower (better) rank; `rank_gap` = |rank difference|; edits without a
    rank on a dimension take no part in it. The id columns are pandas categoricals
    (dictionary-encoded in parquet): 29M pairs fit in ~0.5 GB this way.
    """
    group, group_ids = pd.factorize(edits["group_id"])
    a, b = _pairs_within_groups(group)                  # candidate pairs, shared by the dimensions
    parts = []
    for dim in dimensions:
        if f"rank_{dim}" not in edits:
            continue
        ranks = edits[f"rank_{dim}"].to_numpy(float)
        ra, rb = ranks[a], ranks[b]
        first_better, second_better = ra < rb, rb < ra  # both False for a tie or a NaN
        keep = first_better | second_better
        first_better = first_better[keep]
        ka, kb = a[keep], b[keep]
        parts.append((np.full(len(ka), DIMENSIONS.index(dim), np.int8), np.where(first_better, ka, kb),
                      np.where(first_better, kb, ka), np.abs(ra[keep] - rb[keep]).astype(np.float32)))
    empty = (np.array([], np.int8), np.array([], np.int32), np.array([], np.int32), np.array([], np.float32))
    dim_code, preferred, rejected, gap = (np.concatenate(x) for x in zip(*parts)) if parts else empty
    ids = pd.CategoricalDtype(pd.Index(edits["edit_id"]))  # one dtype: categories checked once
    return pd.DataFrame({
        "group_id": pd.Categorical.from_codes(group[preferred], categories=group_ids),
        "dimension": pd.Categorical.from_codes(dim_code, categories=list(DIMENSIONS)),
        "preferred": pd.Categorical.from_codes(preferred, dtype=ids),
        "rejected": pd.Categorical.from_codes(rejected, dtype=ids),
        "rank_gap": gap,
    })


def consistency_filter(pairs: pd.DataFrame, edits: pd.DataFrame, tolerance: float = 10.0):
    """Drop the pairs whose MOS order contradicts their rank order by more than `tolerance`
    MOS points: mos(preferred) < mos(rejected) - tolerance, where both edits have a MOS on the
    pair's dimension. Returns (kept pairs, report)."""
    pos_p = index_of(pairs["preferred"], edits["edit_id"])
    pos_r = index_of(pairs["rejected"], edits["edit_id"])
    dim = _dimension_codes(pairs["dimension"])
    mos = np.column_stack([edits[f"mos_{d}"].to_numpy(float) if f"mos_{d}" in edits else
                           np.full(len(edits), np.nan) for d in DIMENSIONS])  # (edits, 3)
    # few edits have a MOS (49K of 1M in EditHF-1M): gather MOS only for pairs that can have one
    has_mos = ~np.isnan(mos).all(axis=1)
    candidates = np.flatnonzero(has_mos[pos_p] & has_mos[pos_r])
    mos_p = mos[pos_p[candidates], dim[candidates]]
    mos_r = mos[pos_r[candidates], dim[candidates]]
    checked = ~np.isnan(mos_p) & ~np.isnan(mos_r)
    dropped = candidates[checked & (mos_p < mos_r - tolerance)]
    dropped_dims = np.bincount(dim[dropped], minlength=len(DIMENSIONS))
    report = {"tolerance": tolerance, "n_pairs_checked": int(checked.sum()), "n_pairs_dropped": int(len(dropped)),
              "dropped_by_dimension": {d: int(dropped_dims[j]) for j, d in enumerate(DIMENSIONS)}}
    if not len(dropped):
        return pairs, report
    keep = np.ones(len(pairs), bool)
    keep[dropped] = False
    return pairs[keep].reset_index(drop=True), report


# -- splits and levels ------------------------------------------------------------------------

def _annotated(edits: pd.DataFrame) -> np.ndarray:
    """Edits that have a MOS and an averaged rank on every dimension present."""
    columns = [c for c in edits.columns if c.startswith(("mos_", "rank_"))]
    kinds = {c.split("_")[0] for c in columns}
    if kinds != {"mos", "rank"}:
        return np.zeros(len(edits), dtype=bool)
    return edits[columns].notna().all(axis=1).to_numpy()


def split_by_source(edits: pd.DataFrame, ratios=(5, 1, 1), seed: int = 0, require_test_annotations: bool = True):
    """Assign train/val/test by source image (all edits of a source share one split, so no
    source leaks), with sizes close to `ratios` counted in edits. Test sources are drawn only
    from sources whose every edit has both a MOS and averaged ranks (paper section 5.1) unless
    `require_test_annotations=False`. Returns (Series of split names aligned to `edits`, report).
    """
    fractions = np.asarray(ratios, dtype=float) / float(sum(ratios))
    source, source_ids = pd.factorize(edits["source"])
    group, _ = pd.factorize(edits["group_id"])
    per_source = np.bincount(source, minlength=len(source_ids))
    eligible = np.ones(len(source_ids), bool)
    if require_test_annotations:
        eligible = np.bincount(source, ~_annotated(edits), minlength=len(source_ids)) == 0
    order = np.random.default_rng(seed).permutation(len(source_ids))
    label = np.full(len(source_ids), 0, np.int8)             # 0 train, 1 val, 2 test
    test_pool = order[eligible[order]]
    label[_take_nearest(test_pool, per_source, fractions[2] * len(edits))] = 2
    rest = order[label[order] == 0]
    label[_take_nearest(rest, per_source, fractions[1] * len(edits))] = 1
    split = pd.Series(np.asarray(SPLITS, dtype=object)[label[source]], index=edits.index, name="split")
    report = {"ratios": list(ratios), "seed": seed,
              "n_sources_eligible_for_test": int(eligible.sum()),
              "sizes": {s: {"edits": int((label[source] == k).sum()), "sources": int((label == k).sum()),
                            "groups": int(len(np.unique(group[label[source] == k])))}
                        for k, s in enumerate(SPLITS)}}
    if report["sizes"]["test"]["edits"] < 0.8 * fractions[2] * len(edits):
        report["test_note"] = ("fewer test edits than asked: too few sources have a MOS and ranks on every "
                               "edit" if require_test_annotations else "too few sources")
    return split, report


def _take_nearest(candidates: np.ndarray, per_source: np.ndarray, target: float) -> np.ndarray:
    """The prefix of `candidates` whose edit count is nearest to `target`; at least one source
    when the target is positive, so that small datasets still get a val and a test split."""
    totals = np.r_[0, np.cumsum(per_source[candidates])]
    count = int(np.argmin(np.abs(totals - target)))
    if target > 0 and count == 0 and len(candidates) > 1:
        count = 1
    return candidates[:count]


def quality_levels(mos, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Five equal-width bins of [lo, hi] (default: the min and max of `mos`), 0 = bad ...
    4 = excellent (schema.LEVELS). NaN MOS gives -1."""
    mos = np.asarray(mos, dtype=float)
    lo = float(np.nanmin(mos)) if lo is None else float(lo)
    hi = float(np.nanmax(mos)) if hi is None else float(hi)
    if not hi > lo:
        raise ValueError(f"quality levels need hi > lo, got lo={lo}, hi={hi}")
    with np.errstate(invalid="ignore"):
        levels = np.clip(np.floor((mos - lo) / (hi - lo) * len(LEVELS)), 0, len(LEVELS) - 1)
    return np.where(np.isnan(mos), -1, levels).astype(int)


def level_names(levels) -> np.ndarray:
    """Level words for `quality_levels` output; -1 (no MOS) gives None."""
    names = np.asarray([*LEVELS, None], dtype=object)
    return names[np.asarray(levels, dtype=int)]  # -1 picks the trailing None


# -- the whole pipeline -----------------------------------------------------------------------

def process_dataset(raw, **params):
    """Raw EditDataset -> (processed EditDataset, report): MOS from ratings, averaged ranks and
    agreement from rankings, pairs with the consistency filter, and the split (kept when the raw
    edits already have a complete one, unless `resplit`). Raw ratings/rankings are kept.

    Parameters (all keyword): outlier_sigma=2.0, max_outlier_fraction=0.05, scale=(0, 100),
    rescale="minmax" (see `compute_mos`), min_agreement=0.5 (Kendall's W below it flags a
    group), tolerance=10.0 (MOS points, see `consistency_filter`), ratios=(5, 1, 1), seed=0,
    resplit=False."""
    processed, report, _ = _process(raw, **params)
    return processed, report


def _process(raw, *, outlier_sigma: float = 2.0, max_outlier_fraction: float = 0.05,
             scale=SCORE_RANGE, rescale: str = "minmax", min_agreement: float = 0.5,
             tolerance: float = 10.0, ratios=(5, 1, 1), seed: int = 0, resplit: bool = False):
    edits = raw.edits.copy()
    report: dict = {"validation_notes": list(getattr(raw, "notes", []))}
    sizes = edits.groupby("group_id", sort=False).size()
    report["single_edit_groups"] = {"count": int((sizes == 1).sum()),
                                    "examples": [str(g) for g in sizes.index[sizes == 1][:20]],
                                    "note": "a group of one edit has no pairs and no agreement; skipped"}
    if raw.ratings is not None and len(raw.ratings):
        mos, report["mos"] = compute_mos(raw.ratings, outlier_sigma=outlier_sigma, scale=scale,
                                         max_outlier_fraction=max_outlier_fraction, rescale=rescale)
        edits = _set_columns(edits, mos, "mos_")
    agreement = None
    if raw.rankings is not None and len(raw.rankings):
        edits = _set_columns(edits, average_ranks(raw.rankings), "rank_")
        agreement = group_agreement(raw.rankings, min_w=min_agreement)
        report["agreement"] = _agreement_report(agreement, min_agreement)
    pairs = raw.pairs
    if any(c.startswith("rank_") for c in edits.columns):
        pairs = make_pairs(edits)
        n_all = len(pairs)
        pairs, report["consistency"] = consistency_filter(pairs, edits, tolerance)
        report["pairs"] = {"n_generated": n_all, "n_kept": len(pairs),
                           "by_dimension": {str(k): int(v) for k, v in pairs["dimension"].value_counts().items()}}
    if resplit or "split" not in edits or edits["split"].isna().any():
        edits["split"], report["split"] = split_by_source(edits, ratios, seed)
    else:
        report["split"] = {"kept": True, "sizes": {s: {"edits": int((edits["split"] == s).sum())} for s in SPLITS}}
    z_ranges = {d: [r["z_min"], r["z_max"]] for d, r in report.get("mos", {}).get("dimensions", {}).items()}
    meta = {**raw.meta, "processing": {
        "outlier_sigma": outlier_sigma, "max_outlier_fraction": max_outlier_fraction, "scale": list(scale),
        "rescale": rescale, "min_agreement": min_agreement, "tolerance": tolerance, "ratios": list(ratios),
        "seed": seed, "mos_z_range": z_ranges,
    }}
    return replace(raw, edits=edits, pairs=pairs, meta=meta, notes=[]), report, agreement


def _set_columns(edits: pd.DataFrame, table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Replace the `prefix*` columns of edits by those of `table` (matched on edit_id)."""
    edits = edits.drop(columns=[c for c in edits.columns if c.startswith(prefix)])
    rows = index_of(edits["edit_id"], table["edit_id"])
    for column in (c for c in table.columns if c.startswith(prefix)):
        values = table[column].to_numpy(float)
        edits[column] = np.where(rows >= 0, values[rows], np.nan)
    return edits


def _agreement_report(agreement: pd.DataFrame, min_agreement: float) -> dict:
    flagged = agreement[agreement["flagged"]]
    return {
        "statistic": "Kendall's W (tie-corrected)", "threshold": min_agreement,
        "n_groups_dimensions": int(len(agreement)),
        "mean_w": float(agreement["kendall_w"].mean()) if len(agreement) else None,
        "n_flagged": int(len(flagged)),
        "n_single_annotator": int((agreement["n_annotators"] < 2).sum()),
        "flagged": [{"group_id": str(g), "dimension": d, "kendall_w": round(float(w), 4)}
                    for g, d, w in flagged[["group_id", "dimension", "kendall_w"]].itertuples(index=False)],
    }


def process_folder(raw_dir, out_dir, **params) -> dict:
    """Process a raw dataset folder into `out_dir` (atomic): the processed tables, the images,
    `agreement.parquet`, `report.json` and a readable `report.md`. Returns the report.
    `out_dir` must not be or contain `raw_dir`, and an existing one is replaced only if EditHF
    wrote it (`edithf.data.dataset.check_output`)."""
    check_output(out_dir, raw_dir)
    processed, report, agreement = _process(load_dataset(raw_dir), **params)
    extra = {"report.json": json.dumps(report, indent=2, default=_json_default) + "\n",
             "report.md": render_report(report)}
    if agreement is not None:
        extra["agreement.parquet"] = agreement.to_parquet(index=False)
    processed.save(Path(out_dir), extra_files=extra, written_by="edithf data process")
    return report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
