"""Annotation processing: MOS by hand, Kendall's W against scipy and a direct formula, pairs
against an itertools enumeration, split leakage, consistency, levels."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from edithf.data.annotations import (
    average_ranks, compute_mos, consistency_filter, group_agreement, level_names, make_pairs,
    quality_levels, split_by_source,
)


def _ratings(table: dict[str, tuple]) -> pd.DataFrame:
    """{annotator: (score of x, score of y, score of z)} on the quality dimension."""
    rows = [(edit, annotator, "quality", score)
            for annotator, scores in table.items() for edit, score in zip("xyz", scores)]
    return pd.DataFrame(rows, columns=["edit_id", "annotator", "dimension", "score"])


# Six consistent annotators (A-F), one who disagrees on x (H), one who gives 3 to everything (G).
HAND = {"A": (5, 4, 3), "B": (4, 3, 2), "C": (5, 3, 1), "D": (4, 4, 1), "E": (5, 4, 3), "F": (4, 3, 2),
        "H": (1, 5, 5), "G": (3, 3, 3)}


def test_mos_hand_worked_example_with_outlier_and_flat_annotator():
    ratings = pd.concat([_ratings(HAND), pd.DataFrame(
        [("y", "I", "quality", np.nan)], columns=["edit_id", "annotator", "dimension", "score"])])
    mos, report = compute_mos(ratings)
    # Image x: ratings 5,4,5,4,5,4,1,3 -> mean 3.875, SD sqrt(12.875/7) = 1.356; H's 1 is
    # 2.875 / 1.356 = 2.12 SD away: an outlier. On y (SD 0.744) H is 1.85 SD away, on z
    # (SD 1.309) 1.91: not outliers. H: 1 of 3 = 33% > 5% -> removed. G: sigma 0 -> removed.
    # z-scores: A, B, C, E, F give (1, 0, -1); D (4, 4, 1): mean 3, SD sqrt(3) -> (1, 1, -2)/sqrt(3).
    r3 = math.sqrt(3)
    z = {"x": (5 + 1 / r3) / 6, "y": (1 / r3) / 6, "z": (-5 - 2 / r3) / 6}
    # min-max onto [0, 100]: x -> 100, z -> 0, y -> 100 (y - z) / (x - z) = 100 (5 + sqrt3) / (10 + sqrt3)
    expected = {"x": 100.0, "y": 100 * (5 + r3) / (10 + r3), "z": 0.0}
    got = dict(zip(mos["edit_id"], mos["mos_quality"]))
    assert got == pytest.approx(expected, abs=1e-9)
    q = report["dimensions"]["quality"]
    assert [a["annotator"] for a in q["rejected_annotators"]] == ["H"]
    assert q["rejected_annotators"][0]["outlier_fraction"] == pytest.approx(1 / 3, abs=1e-4)
    assert q["flat_annotators_removed"] == ["G"]
    assert q["n_outlier_ratings_dropped"] == 0
    assert report["n_nan_dropped"] == 1
    assert (q["z_min"], q["z_max"]) == pytest.approx((z["z"], z["x"]))
    fixed, _ = compute_mos(_ratings(HAND), rescale="z3")
    assert fixed.set_index("edit_id")["mos_quality"]["x"] == pytest.approx(100 * (z["x"] + 3) / 6)


def test_mos_reports_when_screening_cannot_fire():
    few = _ratings({k: HAND[k] for k in "ABCDE"})  # 5 ratings per image: max deviation 1.79 SD
    _, report = compute_mos(few)
    assert "cannot fire" in report["dimensions"]["quality"]["screening_note"]


def test_mos_recovers_truth_in_simulation():
    rng = np.random.default_rng(0)
    truth = rng.uniform(1.5, 4.5, 300)
    rows = []
    for a in range(12):
        bias, gain = rng.normal(0, 0.4), rng.uniform(0.6, 1.2)
        noise = 2.5 if a == 11 else 0.25  # annotator 11 answers at random
        scores = np.clip(3 + gain * (truth - 3) + bias + rng.normal(0, noise, 300), 1, 5)
        rows += [(f"e{i}", f"a{a}", "alignment", s) for i, s in enumerate(scores)]
    mos, report = compute_mos(pd.DataFrame(rows, columns=["edit_id", "annotator", "dimension", "score"]))
    rejected = [r["annotator"] for r in report["dimensions"]["alignment"]["rejected_annotators"]]
    assert "a11" in rejected and len(rejected) <= 2
    srcc = spearmanr(mos["mos_alignment"], truth[mos["edit_id"].str[1:].astype(int)]).statistic
    assert srcc > 0.97
    assert mos["mos_alignment"].min() == 0 and mos["mos_alignment"].max() == 100


def _random_rankings(rng, n_groups, sizes, n_annotators, ties=False, method="average"):
    rows = []
    for g in range(n_groups):
        n = sizes[g]
        truth = rng.normal(size=n)
        for a in range(n_annotators):
            noisy = truth + rng.normal(0, rng.uniform(0.1, 2), n)
            ranks = rankdata(np.round(noisy) if ties else noisy, method=method)
            rows += [(f"g{g}", f"a{a}", "quality", f"g{g}e{i}", ranks[i]) for i in range(n)]
    return pd.DataFrame(rows, columns=["group_id", "annotator", "dimension", "edit_id", "rank"])


def test_kendall_w_matches_mean_spearman_without_ties():
    rng = np.random.default_rng(1)
    rankings = _random_rankings(rng, 20, [6] * 20, 4)
    got = group_agreement(rankings, min_w=0.5).set_index("group_id")
    for g, part in rankings.groupby("group_id"):
        matrix = part.pivot(index="annotator", columns="edit_id", values="rank").to_numpy()
        m = len(matrix)
        mean_rho = np.mean([spearmanr(matrix[i], matrix[j]).statistic for i, j in itertools.combinations(range(m), 2)])
        # Kendall's W and the mean pairwise Spearman: rho_mean = (m W - 1) / (m - 1)
        assert got.loc[g, "kendall_w"] == pytest.approx((mean_rho * (m - 1) + 1) / m)
        assert got.loc[g, "flagged"] == (got.loc[g, "kendall_w"] < 0.5)


@pytest.mark.parametrize("method", ["average", "min"])  # fractional midranks; integer tied ranks
def test_kendall_w_tie_correction_matches_direct_formula(method):
    rng = np.random.default_rng(2)
    rankings = _random_rankings(rng, 15, rng.integers(2, 7, 15), 3, ties=True, method=method)
    got = group_agreement(rankings).set_index("group_id")["kendall_w"]
    for g, part in rankings.groupby("group_id"):
        matrix = part.pivot(index="annotator", columns="edit_id", values="rank").to_numpy()
        m, n = matrix.shape
        s = ((matrix.sum(0) - matrix.sum(0).mean()) ** 2).sum()
        t = sum(c ** 3 - c for row in matrix for c in np.unique(row, return_counts=True)[1])
        assert got[g] == pytest.approx(12 * s / (m * m * (n ** 3 - n) - m * t))


def test_average_ranks_and_single_edit_groups_are_skipped():
    rankings = pd.DataFrame(
        [("g", "a", "quality", "e1", 1), ("g", "a", "quality", "e2", 2), ("g", "b", "quality", "e1", 2),
         ("g", "b", "quality", "e2", 1), ("g", "a", "alignment", "e1", 1), ("g", "a", "alignment", "e2", 2),
         ("solo", "a", "quality", "s1", 1)],
        columns=["group_id", "annotator", "dimension", "edit_id", "rank"])
    ranks = average_ranks(rankings).set_index("edit_id")
    assert ranks.loc["e1", "rank_quality"] == 1.5 and ranks.loc["e2", "rank_alignment"] == 2
    assert np.isnan(ranks.loc["s1", "rank_alignment"]) and "rank_preservation" not in ranks
    agreement = group_agreement(rankings)
    assert "solo" not in set(agreement["group_id"])
    single = agreement[agreement["dimension"] == "alignment"].iloc[0]
    assert single["n_annotators"] == 1 and np.isnan(single["kendall_w"]) and not single["flagged"]


def test_pairs_match_brute_force_enumeration_with_ties():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 8, 60)
    edits = pd.DataFrame({
        "edit_id": [f"g{g}_{i}" for g, n in enumerate(sizes) for i in range(n)],
        "group_id": [f"g{g}" for g, n in enumerate(sizes) for _ in range(n)],
    }).sample(frac=1, random_state=0).reset_index(drop=True)  # groups interleaved
    for dim in ("quality", "preservation"):
        ranks = rng.integers(1, 4, len(edits)) + rng.choice([0, 1 / 3], len(edits))  # many ties
        edits[f"rank_{dim}"] = np.where(rng.random(len(edits)) < 0.1, np.nan, ranks)
    pairs = make_pairs(edits)
    got = {(str(r.group_id), str(r.dimension), str(r.preferred), str(r.rejected), round(float(r.rank_gap), 5))
           for r in pairs.itertuples()}
    expected = set()
    for dim in ("quality", "preservation"):
        for g, part in edits.groupby("group_id"):
            for (_, a), (_, b) in itertools.combinations(part.iterrows(), 2):
                ra, rb = a[f"rank_{dim}"], b[f"rank_{dim}"]
                if np.isnan(ra) or np.isnan(rb) or ra == rb:
                    continue
                best, worst = (a, b) if ra < rb else (b, a)
                expected.add((g, dim, best.edit_id, worst.edit_id, round(abs(ra - rb), 5)))
    assert len(pairs) == len(got) == len(expected) > 100
    assert got == expected


def test_consistency_filter_drops_contradicting_pairs_beyond_tolerance():
    edits = pd.DataFrame({"edit_id": ["a", "b", "c", "d"], "group_id": "g",
                          "rank_quality": [1.0, 2.0, 3.0, 4.0], "mos_quality": [50.0, 55.0, 80.0, np.nan]})
    pairs = make_pairs(edits)
    kept, report = consistency_filter(pairs, edits, tolerance=10.0)
    # a>c (50 vs 80) and b>c (55 vs 80) contradict by 30 and 25 points; a>b by 5 (within 10).
    dropped = set(zip(pairs["preferred"], pairs["rejected"])) - set(zip(kept["preferred"], kept["rejected"]))
    assert dropped == {("a", "c"), ("b", "c")}
    assert report["n_pairs_checked"] == 3 and report["dropped_by_dimension"]["quality"] == 2


def test_split_by_source_no_leakage_ratios_and_annotated_test():
    rng = np.random.default_rng(4)
    n_sources = 700
    per_source = rng.integers(1, 4, n_sources)
    source = np.repeat([f"s{i}.png" for i in range(n_sources)], per_source)
    edits = pd.DataFrame({"source": source, "group_id": source, "edit_id": np.arange(len(source)).astype(str),
                          "mos_quality": 50.0, "rank_quality": 1.0})
    unscored = np.isin(source, [f"s{i}.png" for i in range(0, n_sources, 3)])
    edits.loc[unscored, "mos_quality"] = np.nan
    split, report = split_by_source(edits, ratios=(5, 1, 1), seed=0)
    assert (split.groupby(edits["source"]).nunique() == 1).all()  # no source in two splits
    shares = split.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(5 / 7, abs=0.02)
    assert shares["val"] == pytest.approx(1 / 7, abs=0.02) and shares["test"] == pytest.approx(1 / 7, abs=0.02)
    assert not (unscored & (split == "test").to_numpy()).any()
    assert report["sizes"]["test"]["edits"] == int((split == "test").sum())
    again, _ = split_by_source(edits, seed=0)
    assert again.equals(split)


def test_quality_levels_equal_width_bins():
    levels = quality_levels([0, 19.9, 20, 50, 99, 100, np.nan], lo=0, hi=100)
    assert levels.tolist() == [0, 0, 1, 2, 4, 4, -1]
    assert level_names(levels).tolist() == ["bad", "bad", "poor", "fair", "excellent", "excellent", None]
    assert quality_levels([10, 30]).tolist() == [0, 4]  # default range: the data's min and max
