"""Leaderboards: ranking scores vs a brute-force loop, Bradley-Terry on simulations of known
strengths (order, invariance, CI coverage), win rates, exports and the command."""
from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from edithf import leaderboard as L
from edithf.data.schema import DIMENSIONS


def simulate(strengths, n_groups, rng, missing=0.0, round_to=None):
    """Edits whose per-dimension score is strength + standard Gumbel noise: the difference of
    two such scores is logistic, so every within-group pair follows Bradley-Terry exactly."""
    m = len(strengths)
    edits = pd.DataFrame({
        "edit_id": [f"e{i}" for i in range(n_groups * m)],
        "group_id": np.repeat([f"g{g}" for g in range(n_groups)], m),
        "model": np.tile([f"m{j}" for j in range(m)], n_groups),
        "task": np.repeat(rng.choice(["color", "remove", "style"], n_groups), m),
    })
    for d in DIMENSIONS:
        u = np.tile(strengths, n_groups) + rng.gumbel(size=n_groups * m)
        if round_to:
            u = np.round(u / round_to) * round_to                  # ties
        edits[f"mos_{d}"] = u
    if missing:
        edits = edits[rng.random(len(edits)) >= missing].reset_index(drop=True)
    return edits


def brute_ranking_scores(edits, column, higher_better=True):
    wins = {}
    for _, grp in edits.groupby("group_id"):
        grp = grp[grp[column].notna()]
        for _, row in grp.iterrows():
            others = grp[grp["edit_id"] != row["edit_id"]][column]
            better = (row[column] > others) if higher_better else (row[column] < others)
            w = better.sum() + 0.5 * (row[column] == others).sum()
            wins.setdefault(row["model"], []).append(w)
    return pd.Series({m: np.mean(v) for m, v in wins.items()})


def quiet_leaderboard(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return L.build_leaderboard(*args, **kwargs)


def test_ranking_scores_match_a_per_group_loop_with_ties_and_missing_edits():
    rng = np.random.default_rng(0)
    edits = simulate(np.array([0.0, 0.5, 1.0, 1.5]), 25, rng, missing=0.15, round_to=1.0)
    edits.loc[rng.random(len(edits)) < 0.05, "mos_quality"] = np.nan
    # averaged ranks (lower is better) take precedence over MOS for alignment
    edits["rank_alignment"] = edits.groupby("group_id")["mos_alignment"].rank(ascending=False) + 0.0
    edits.loc[edits.index[::7], "rank_alignment"] += 0.5
    board = L.build_leaderboard(edits, n_bootstrap=0)
    table = board.table.set_index("model")
    q = brute_ranking_scores(edits, "mos_quality")
    a = brute_ranking_scores(edits, "rank_alignment", higher_better=False)
    p = brute_ranking_scores(edits, "mos_preservation")
    pd.testing.assert_series_equal(table["quality"].sort_index(), q.sort_index(), check_names=False)
    pd.testing.assert_series_equal(table["alignment"].sort_index(), a.sort_index(), check_names=False)
    expected_overall = 0.3 * q + 0.4 * a + 0.3 * p
    pd.testing.assert_series_equal(table["overall"].sort_index(), expected_overall.sort_index(), check_names=False)
    assert list(board.table["overall"]) == sorted(board.table["overall"], reverse=True)


def test_an_edit_alone_in_its_group_does_not_count():
    edits = simulate(np.array([0.0, 1.0]), 6, np.random.default_rng(15))
    alone = edits.iloc[:1].assign(edit_id="solo", group_id="solo_group", model="solo_model")
    board = L.build_leaderboard(pd.concat([edits, alone], ignore_index=True), n_bootstrap=5)
    solo = board.table.set_index("model").loc["solo_model"]
    assert solo[["quality", "overall", "elo"]].isna().all() and solo["n_edits"] == 0
    assert "solo_model" not in set(board.bt["quality"]["model"])
    pd.testing.assert_frame_equal(board.table[board.table["model"] != "solo_model"],
                                  L.build_leaderboard(edits, n_bootstrap=5).table)


def test_weights_are_a_parameter():
    edits = simulate(np.array([0.0, 1.0, 2.0]), 20, np.random.default_rng(1))
    board = L.build_leaderboard(edits, n_bootstrap=0, weights=[1, 0, 0])
    t = board.table
    assert np.allclose(t["overall"], t["quality"])
    with pytest.raises(ValueError, match="weights"):
        L.build_leaderboard(edits, n_bootstrap=0, weights=[1, 2])


def test_group_win_matrices_match_a_brute_loop_across_chunks(monkeypatch):
    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 9, 60)                                # uneven groups, some singletons
    groups = np.repeat(np.arange(60), sizes)
    models = rng.integers(0, 5, groups.size)                      # a model may repeat in a group
    values = np.round(rng.normal(size=(groups.size, 2)), 1)
    values[rng.random(values.shape) < 0.1] = np.nan
    resample = rng.integers(0, 3, (4, 60)).astype(np.float32)
    monkeypatch.setattr(L, "_CHUNK_CELLS", 300)                 # force many small chunks
    got = L.group_win_matrices(groups, models, values, 60, 5, resample)
    expected = np.zeros((4, 2, 5, 5))
    for i in range(groups.size):
        for j in range(groups.size):
            if i != j and groups[i] == groups[j]:
                for d in range(2):
                    a, b = values[i, d], values[j, d]
                    win = 1.0 if a > b else 0.5 if a == b else 0.0
                    expected[:, d, models[i], models[j]] += resample[:, groups[i]] * win
    np.testing.assert_allclose(got, expected)


def neg_loglik(r, wins):
    diff = r[:, None] - r[None, :]
    return float((wins * np.logaddexp(0, -diff)).sum())


def test_bradley_terry_is_the_unpenalised_maximum_likelihood():
    rng = np.random.default_rng(3)
    wins = rng.integers(0, 30, (6, 6)).astype(float)
    np.fill_diagonal(wins, 0)
    r, virtual = L.fit_bradley_terry(wins)
    assert not virtual
    ref = optimize.minimize(neg_loglik, np.zeros(6), args=(wins,), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(r, ref - ref.mean(), atol=1e-5)
    # first-order condition of the MLE: expected wins = observed wins for every model
    p = 1 / (1 + np.exp(-(r[:, None] - r[None, :])))
    np.testing.assert_allclose(((wins + wins.T) * p).sum(1), wins.sum(1), rtol=1e-8)


def test_bradley_terry_ignores_the_order_within_a_battle():
    rng = np.random.default_rng(4)
    a = rng.choice(["x", "y", "z", "w"], 300)
    b = rng.choice(["x", "y", "z", "w"], 300)
    keep = a != b
    a, b = a[keep], b[keep]
    outcome = rng.choice([0.0, 0.5, 1.0], keep.sum())
    w1, models = L.wins_from_battles(a, b, outcome)
    w2, _ = L.wins_from_battles(b, a, 1 - outcome, models)
    np.testing.assert_allclose(w1, w2)
    np.testing.assert_allclose(L.fit_bradley_terry(w1)[0], L.fit_bradley_terry(w2)[0])
    # and whole leaderboards do not depend on the order of the edits in the table
    edits = simulate(np.array([0.0, 0.7, 1.4]), 30, rng, round_to=0.5)
    one = L.build_leaderboard(edits, n_bootstrap=20, seed=5)
    two = L.build_leaderboard(edits.sample(frac=1, random_state=1), n_bootstrap=20, seed=5)
    pd.testing.assert_frame_equal(one.bt["quality"], two.bt["quality"])


def test_bradley_terry_recovers_known_strengths_on_the_elo_scale():
    truth = np.array([-1.0, -0.3, 0.2, 0.9, 1.6])
    edits = simulate(truth, 600, np.random.default_rng(6))
    board = L.build_leaderboard(edits, n_bootstrap=50)
    bt = board.bt["quality"].set_index("model").loc[[f"m{j}" for j in range(5)]]
    assert list(board.bt["quality"]["model"]) == ["m4", "m3", "m2", "m1", "m0"]
    expected = L.ELO_BASE + 400 / np.log(10) * (truth - truth.mean())
    assert np.abs(bt["elo"].to_numpy() - expected).max() < 25     # ~ 3 bootstrap SE
    anchored = L.build_leaderboard(edits, n_bootstrap=0, anchor="m2").bt["quality"].set_index("model")
    assert anchored.loc["m2", "elo"] == pytest.approx(1000.0)
    assert anchored.loc["m4", "elo"] - anchored.loc["m0", "elo"] == pytest.approx(
        bt.loc["m4", "elo"] - bt.loc["m0", "elo"])


def test_bootstrap_intervals_cover_the_truth_at_about_the_nominal_rate():
    truth = np.array([-0.8, -0.2, 0.0, 0.5, 1.0])
    expected = L.ELO_BASE + 400 / np.log(10) * (truth - truth.mean())
    rng = np.random.default_rng(7)
    covered = []
    for i in range(40):
        edits = simulate(truth, 60, rng)
        bt = L.build_leaderboard(edits, n_bootstrap=100, seed=i, confidence=0.9,
                                 dimensions=("quality",)).bt["quality"].set_index("model")
        bt = bt.loc[[f"m{j}" for j in range(5)]]
        covered.extend((bt["elo_low"] <= expected) & (expected <= bt["elo_high"]))
    coverage = np.mean(covered)
    print(f"coverage {coverage:.3f}")
    assert 0.8 <= coverage <= 0.97, coverage                       # nominal 0.90, 200 intervals


def test_a_model_that_never_loses_gets_a_finite_top_rating():
    edits = simulate(np.array([0.0, 0.3, 0.6]), 15, np.random.default_rng(8))
    edits.loc[edits["model"] == "m0", [f"mos_{d}" for d in DIMENSIONS]] = 100.0
    board = L.build_leaderboard(edits, n_bootstrap=10)
    top = board.bt["quality"].iloc[0]
    assert top["model"] == "m0" and np.isfinite(top["elo"]) and top["rank_ub"] == 1
    assert board.meta["fits_with_virtual_ties"]["quality"] == 11  # the data and all 10 resamples


def test_rank_ub_counts_models_significantly_better():
    boot = np.array([[1100, 1090, 1000, 900], [1120, 1105, 1010, 905], [1110, 1095, 990, 880]], float)
    table = L.bt_table(boot.mean(0), boot, ["a", "b", "c", "d"], np.ones((4, 4)), confidence=0.95)
    assert dict(zip(table["model"], table["rank_ub"])) == {"a": 1, "b": 1, "c": 3, "d": 4}


def test_win_rate_and_battle_counts():
    edits = simulate(np.array([0.0, 0.5, 1.0, 1.5]), 40, np.random.default_rng(9), missing=0.2, round_to=1.0)
    board = L.build_leaderboard(edits, n_bootstrap=0)
    for key in (*DIMENSIONS, "overall"):
        w, n = board.win_rate[key].to_numpy(), board.battle_counts[key].to_numpy()
        off = ~np.eye(len(w), dtype=bool)
        np.testing.assert_allclose((w + w.T)[off], 1.0)
        np.testing.assert_allclose(n, n.T)
        assert np.isnan(np.diag(w)).all()
    # battle counts = pairs of edits of two models inside the same group
    pair_count = edits.merge(edits, on="group_id").query("model_x == 'm0' and model_y == 'm1'").shape[0]
    assert board.battle_counts["quality"].loc["m0", "m1"] == pair_count


def test_predictions_leaderboard_and_comparison_with_humans():
    edits = simulate(np.array([0.0, 0.4, 0.8, 1.2, 1.6]), 30, np.random.default_rng(10))
    preds = edits[["edit_id"]].assign(**{d: edits[f"mos_{d}"] for d in DIMENSIONS})
    human = L.build_leaderboard(edits, n_bootstrap=0)
    same = L.build_leaderboard(edits[["edit_id", "group_id", "model", "task"]], preds, n_bootstrap=0)
    pd.testing.assert_frame_equal(human.table, same.table)
    assert same.meta["source"] == "predictions"
    reverse = L.build_leaderboard(edits, preds.assign(**{d: -preds[d] for d in DIMENSIONS}), n_bootstrap=0)
    agreement = L.compare_leaderboards(human, same)
    assert agreement == {k: pytest.approx(1.0) for k in (*DIMENSIONS, "overall", "elo")}
    assert L.compare_leaderboards(human, reverse)["overall"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="lack column"):
        L.build_leaderboard(edits, preds.drop(columns="quality"))
    with pytest.warns(RuntimeWarning, match="have no prediction"):
        L.build_leaderboard(edits, preds.iloc[5:], n_bootstrap=0)


def test_a_dimension_the_scorer_does_not_judge_is_skipped_with_a_note():
    edits = simulate(np.array([0.0, 0.5, 1.0, 1.5]), 25, np.random.default_rng(3))
    preds = edits[["edit_id"]].assign(**{d: edits[f"mos_{d}"] for d in DIMENSIONS})
    with pytest.warns(RuntimeWarning, match="no value for alignment"):
        lb = L.build_leaderboard(edits, preds.assign(alignment=np.nan), n_bootstrap=20)
    two = L.build_leaderboard(edits, preds, n_bootstrap=20, dimensions=("quality", "preservation"))
    assert lb.meta["not_judged"] == ["alignment"]
    assert lb.meta["weights"] == pytest.approx({"quality": 0.5, "preservation": 0.5})
    assert lb.table["alignment"].isna().all()  # shown blank, never a copy of another dimension
    table = lb.table.set_index("model")
    expected = two.table.set_index("model").loc[table.index]
    assert table["overall"].to_numpy() == pytest.approx(expected["overall"].to_numpy())
    assert table["elo"].to_numpy() == pytest.approx(expected["elo"].to_numpy())
    assert lb.bt["alignment"].empty and lb.win_rate["alignment"].isna().all(axis=None)
    assert np.isnan(L.compare_leaderboards(L.build_leaderboard(edits, n_bootstrap=0), lb)["alignment"])
    with pytest.raises(ValueError, match="all its values are NaN"):
        L.build_leaderboard(edits, preds.assign(**{d: np.nan for d in DIMENSIONS}))


def test_per_task_table_is_the_mean_score_per_model_and_task():
    edits = simulate(np.array([0.0, 1.0, 2.0]), 30, np.random.default_rng(11))
    board = L.build_leaderboard(edits, by="task", n_bootstrap=0)
    expected = edits.groupby(["task", "model"])[[f"mos_{d}" for d in DIMENSIONS]].mean()
    got = board.per_task.set_index(["task", "model"]).loc[expected.index]
    for d in DIMENSIONS:
        np.testing.assert_allclose(got[d], expected[f"mos_{d}"])
    np.testing.assert_allclose(got["overall"], 0.3 * got["quality"] + 0.4 * got["alignment"]
                               + 0.3 * got["preservation"])
    assert board.primary is board.per_task
    assert list(pd.read_csv(io.StringIO(board.to_csv())).columns[:2]) == ["task", "model"]


def test_exports_and_columns(tmp_path):
    edits = simulate(np.array([0.0, 1.0, 2.0]), 20, np.random.default_rng(12))
    board = L.build_leaderboard(edits, n_bootstrap=20)
    csv = pd.read_csv(io.StringIO(board.to_csv(tmp_path / "lb.csv")))
    assert list(csv.columns[:5]) == ["model", "quality", "alignment", "preservation", "overall"]
    assert {"elo", "elo_low", "elo_high", "rank_ub"} <= set(csv.columns)
    assert (tmp_path / "lb.csv").read_text() == board.to_csv()
    payload = json.loads(board.to_json())
    assert payload["table"][0]["model"] == board.table["model"].iloc[0]
    assert set(payload["win_rate"]) == {*DIMENSIONS, "overall"}
    md = board.to_markdown()
    assert md.splitlines()[0].startswith("| model | quality | alignment | preservation | overall |")
    assert len(md.splitlines()) == 2 + len(board.table)


def test_bad_input_is_explained():
    edits = simulate(np.array([0.0, 1.0]), 5, np.random.default_rng(13))
    with pytest.raises(ValueError, match="neither rank_quality nor mos_quality"):
        L.build_leaderboard(edits.drop(columns="mos_quality"))
    with pytest.raises(ValueError, match="lacks column"):
        L.build_leaderboard(edits.drop(columns="model"))
    with pytest.raises(ValueError, match="anchor model 'nope'"):
        L.build_leaderboard(edits, anchor="nope", n_bootstrap=0)
    with pytest.raises(ValueError, match="nothing to compare"):
        L.build_leaderboard(edits.drop_duplicates("group_id"))
    with pytest.raises(ValueError, match="by must be"):
        L.build_leaderboard(edits, by="dimension")


def test_leaderboard_command(tmp_path, capsys):
    from edithf.cli import main

    rng = np.random.default_rng(14)
    edits = simulate(np.array([0.0, 0.5, 1.0]), 20, rng)
    for d in DIMENSIONS:                                          # MOS must lie in [0, 100] on disk
        edits[f"mos_{d}"] = np.clip(50 + 10 * edits[f"mos_{d}"], 0, 100)
    edits = edits.assign(prompt="make it blue", source=lambda df: "images/" + df["group_id"] + ".png",
                         edited=lambda df: "images/" + df["edit_id"] + ".png")
    edits.to_parquet(tmp_path / "edits.parquet")
    out = tmp_path / "board.csv"
    assert main(["leaderboard", str(tmp_path), "--out", str(out), "--bootstrap", "10"]) == 0
    expected = L.build_leaderboard(edits, n_bootstrap=10)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(io.StringIO(expected.to_csv())))
    preds = edits[["edit_id"]].assign(**{d: rng.random(len(edits)) for d in DIMENSIONS})
    preds.to_csv(tmp_path / "preds.csv", index=False)
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path), "--predictions", str(tmp_path / "preds.csv"), "--by", "task",
                 "--format", "json", "--bootstrap", "5", "--weights", "1,1,1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["meta"]["source"] == "predictions"
    assert payload["meta"]["weights"]["alignment"] == pytest.approx(1 / 3)
    assert main(["leaderboard", str(tmp_path), "--weights", "1,2"]) == 1


def test_demo_benchmark_leaderboard(demo_dataset, capsys):
    from edithf.cli import main
    from edithf.data.dataset import load_dataset

    ds = load_dataset(demo_dataset)
    board = L.build_leaderboard(ds, n_bootstrap=20)
    sizes = ds.edits.groupby("group_id").size()
    if (sizes == sizes.max()).all() and not ds.edits.duplicated(["group_id", "model"]).any():
        m = ds.edits["model"].nunique()                       # full groups: the wins of a group sum to m(m-1)/2
        for d in DIMENSIONS:
            assert board.table[d].sum() == pytest.approx(m * (m - 1) / 2)
    assert set(board.table["model"]) == set(ds.edits["model"])
    assert main(["leaderboard", str(demo_dataset), "--bootstrap", "10", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert all(f"| {model} |" in out for model in ds.edits["model"].unique())
