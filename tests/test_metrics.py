"""Metrics against scipy and brute-force counts on random data with ties and NaNs."""
from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from edithf import metrics as M
from edithf.data.schema import DIMENSIONS


def tied_data(rng, n=200, nan_frac=0.05):
    """Predictions and truths rounded so that ties occur, with some NaNs on either side."""
    true = np.round(rng.normal(50, 15, n) / 5) * 5
    pred = np.round(0.6 * true + rng.normal(0, 10, n))
    pred[rng.random(n) < nan_frac] = np.nan
    true[rng.random(n) < nan_frac] = np.nan
    return pred, true


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlations_match_scipy_with_ties_and_nans(seed):
    pred, true = tied_data(np.random.default_rng(seed))
    keep = ~np.isnan(pred) & ~np.isnan(true)
    p, t = pred[keep], true[keep]
    assert M.srcc(pred, true) == pytest.approx(stats.spearmanr(p, t)[0], abs=1e-12)
    assert M.plcc(pred, true) == pytest.approx(stats.pearsonr(p, t)[0], abs=1e-12)
    assert M.krcc(pred, true) == pytest.approx(stats.kendalltau(p, t)[0], abs=1e-12)
    assert M.rmse(pred, true) == pytest.approx(np.sqrt(sum((a - b) ** 2 for a, b in zip(p, t)) / len(p)))


def test_undefined_correlations_are_nan():
    assert np.isnan(M.srcc([1, 1, 1], [1, 2, 3]))
    assert np.isnan(M.plcc([1.0], [2.0]))
    assert np.isnan(M.krcc([np.nan, 1, 2], [1, np.nan, 3]))
    assert np.isnan(M.rmse([np.nan], [1.0]))
    with pytest.raises(ValueError, match="same length"):
        M.srcc([1, 2, 3], [1, 2])


def test_plcc_logistic_undoes_a_monotone_nonlinearity():
    rng = np.random.default_rng(0)
    pred = rng.uniform(-4, 4, 300)
    true = 20 + 60 / (1 + np.exp(-1.5 * (pred - 0.5))) + rng.normal(0, 2, 300)
    value, params = M.plcc_logistic(pred, true, return_fit=True)
    assert params is not None
    assert value > M.plcc(pred, true) + 0.02
    assert value == pytest.approx(stats.pearsonr(M.logistic4(pred, *params), true)[0])
    assert value > 0.98


def test_plcc_logistic_falls_back_to_raw_plcc_and_says_so(monkeypatch):
    def failing_fit(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(optimize, "curve_fit", failing_fit)
    pred, true = tied_data(np.random.default_rng(3), nan_frac=0)
    with pytest.warns(RuntimeWarning, match="raw PLCC"):
        value, params = M.plcc_logistic(pred, true, return_fit=True)
    assert params is None
    assert value == pytest.approx(M.plcc(pred, true))


def brute_group_srcc(pred, true, groups):
    values = []
    for g in pd.unique(groups):
        keep = (groups == g) & ~np.isnan(pred) & ~np.isnan(true)
        p, t = pred[keep], true[keep]
        if len(np.unique(t)) < 2:
            continue
        values.append(0.0 if len(np.unique(p)) < 2 else stats.spearmanr(p, t)[0])
    return float(np.mean(values)), len(values)


def test_group_srcc_matches_a_loop_of_scipy():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(40), 6)
    true = rng.integers(1, 5, groups.size).astype(float)       # many ties inside groups
    pred = np.round(true + rng.normal(0, 1.5, groups.size))
    true[groups == 7] = 3.0                                     # a constant human group: skipped
    pred[groups == 8] = 1.0                                     # a constant prediction: scores 0
    pred[rng.random(groups.size) < 0.05] = np.nan
    expected, n_used = brute_group_srcc(pred, true, groups)
    with pytest.warns(RuntimeWarning, match="skipped 1 group"):
        value, counts = M.group_srcc(pred, true, groups, return_counts=True)
    assert value == pytest.approx(expected, abs=1e-12)
    assert counts == {"used": n_used, "skipped_constant": 1}


def brute_outcome(h, m, mode, eps=0.0):
    """(correct, counted) for one pair, straight from the definitions in docs/design.md section 5."""
    model = 0 if abs(m) <= eps else (1 if m > 0 else -1)
    human = int(np.sign(h))
    if mode == "strict":
        return human != 0 and model == human, human != 0
    if mode == "no_ties":
        return human != 0 and model != 0 and model == human, human != 0 and model != 0
    return model == human, True


def pair_data(rng, n=300):
    human = rng.choice([1, -1, 0], n, p=[0.45, 0.4, 0.15]).astype(float)
    model = np.round(human * 0.8 + rng.normal(0, 1.2, n), 1)    # rounding: model ties and exact zeros
    return human, model


@pytest.mark.parametrize("mode", ["strict", "no_ties"])
def test_pairwise_accuracy_matches_brute_force(mode):
    human, model = pair_data(np.random.default_rng(5))
    outcomes = [brute_outcome(h, m, mode) for h, m in zip(human, model)]
    expected = sum(c for c, k in outcomes) / sum(k for c, k in outcomes)
    assert M.pairwise_accuracy(human, model, mode) == pytest.approx(expected)


def test_strict_counts_a_model_tie_as_wrong_and_no_ties_drops_it():
    human, model = np.array([1, 1, -1, 0]), np.array([2.0, 0.0, -1.0, 5.0])
    assert M.pairwise_accuracy(human, model, "strict") == pytest.approx(2 / 3)
    assert M.pairwise_accuracy(human, model, "no_ties") == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_tie_calibrated_accuracy_matches_an_exhaustive_sweep(seed):
    human, model = pair_data(np.random.default_rng(seed), n=150)
    best_acc, best_eps = -1.0, None
    for eps in sorted({0.0, *np.abs(model)}):                   # O(n^2): every threshold, every pair
        acc = np.mean([brute_outcome(h, m, "tie", eps)[0] for h, m in zip(human, model)])
        if acc > best_acc + 1e-15:
            best_acc, best_eps = acc, eps
    acc, eps = M.tie_calibrated_accuracy(human, model)
    assert acc == pytest.approx(best_acc)
    assert eps == pytest.approx(best_eps)


def test_tie_calibrated_accuracy_rewards_calling_small_differences_ties():
    human = np.array([1, -1, 0, 0])
    model = np.array([3.0, -3.0, 0.5, -0.2])
    assert M.tie_calibrated_accuracy(human, model) == (1.0, 0.5)
    assert M.pairwise_accuracy(human, model) == 1.0


def test_group_accuracy_by_hand():
    groups = ["a", "a", "a", "b", "b", "b", "c", "d"]
    human = [1, 1, 1, 1, -1, 1, 0, 1]
    model = [2, 1, 3, 1, -2, -1, 9, 0]
    # a: all right; b: one wrong; c: only a human tie (no counted pair, left out); d: model tie
    assert M.group_accuracy(groups, human, model) == pytest.approx(1 / 3)
    assert M.group_accuracy(groups, human, model, mode="no_ties") == pytest.approx(1 / 2)
    # ties counted, model tie when |m| <= 0.5: only a is right (c: human tie, |m| = 9;
    # d: human win, model tie)
    assert M.group_accuracy(groups, human, model, mode="tie", eps=0.5) == pytest.approx(1 / 4)
    assert M.group_accuracy(groups, human, model, mode="tie", eps=10) == pytest.approx(1 / 4)  # only c


def test_pair_accuracy_from_a_pairs_table():
    scores = pd.Series({"e1": 3.0, "e2": 1.0, "e3": 1.0, "e4": np.nan})
    pairs = pd.DataFrame({"preferred": ["e1", "e2", "e3", "e1", "e4"], "rejected": ["e2", "e3", "e1", "e5", "e1"]})
    # e1>e2 right; e2=e3 a model tie (wrong); e3<e1 wrong; e5 unknown and e4 NaN: left out
    assert M.pair_accuracy(scores, pairs) == pytest.approx(1 / 3)
    assert M.pair_accuracy(scores.to_dict(), pairs) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="rejected"):
        M.pair_accuracy(scores, pairs.drop(columns="rejected"))


def test_model_level_srcc_aligns_models_by_name():
    human = {"a": 10.0, "b": 5.0, "c": 1.0, "only_human": 0.0}
    pred = pd.Series({"c": 0.2, "b": 0.5, "a": 0.9})
    assert M.model_level_srcc(human, pred) == pytest.approx(1.0)
    assert M.model_level_srcc(human, -pred) == pytest.approx(-1.0)


# ---------------------------------------------------------------- evaluate_predictions


def toy_benchmark(seed=0, n_groups=30, k=5):
    rng = np.random.default_rng(seed)
    n = n_groups * k
    edits = pd.DataFrame({
        "edit_id": [f"e{i}" for i in range(n)],
        "group_id": np.repeat([f"g{g}" for g in range(n_groups)], k),
        "model": np.tile([f"m{j}" for j in range(k)], n_groups),
        "task": np.repeat(rng.choice(["color", "remove"], n_groups), k),
        "split": np.repeat(rng.choice(["train", "test"], n_groups, p=[0.4, 0.6]), k),
    })
    for d in DIMENSIONS:
        mos = np.clip(rng.normal(50, 20, n), 0, 100)
        edits[f"mos_{d}"] = mos
        # averaged ranks from noisy MOS (the group annotation), ties kept
        noisy = pd.Series(np.round(mos + rng.normal(0, 8, n), -1))
        edits[f"rank_{d}"] = noisy.groupby(edits["group_id"]).rank(ascending=False, method="average")
    preds = pd.DataFrame({"edit_id": edits["edit_id"]})
    for d in DIMENSIONS:
        preds[d] = edits[f"mos_{d}"] + rng.normal(0, 10, n)
    return edits, preds


def brute_pairs(edits):
    rows = []
    for d in DIMENSIONS:
        for g, grp in edits.groupby("group_id"):
            for (_, a), (_, b) in itertools.permutations(grp.iterrows(), 2):
                if a[f"rank_{d}"] < b[f"rank_{d}"]:
                    rows.append((g, d, a["edit_id"], b["edit_id"], b[f"rank_{d}"] - a[f"rank_{d}"]))
    return pd.DataFrame(rows, columns=["group_id", "dimension", "preferred", "rejected", "rank_gap"])


def test_evaluate_predictions_agrees_with_the_single_metrics():
    edits, preds = toy_benchmark()
    pairs = brute_pairs(edits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = M.evaluate_predictions((edits, pairs), preds, split="test")
        derived = M.evaluate_predictions(edits, preds, split="test")  # no pairs table: pairs from ranks
    test = edits[edits["split"] == "test"]
    for d in DIMENSIONS:
        p = test["edit_id"].map(preds.set_index("edit_id")[d]).to_numpy()
        t = test[f"mos_{d}"].to_numpy()
        assert res[f"srcc_{d}"] == pytest.approx(stats.spearmanr(p, t)[0])
        assert res[f"plcc_{d}"] == pytest.approx(stats.pearsonr(p, t)[0])
        assert res[f"krcc_{d}"] == pytest.approx(stats.kendalltau(p, t)[0])
        assert res[f"n_{d}"] == len(test)
        assert res[f"group_srcc_{d}"] == pytest.approx(brute_group_srcc(p, -test[f"rank_{d}"].to_numpy(),
                                                                         test["group_id"].to_numpy())[0])
        split_pairs = pairs[(pairs["dimension"] == d) & pairs["group_id"].isin(test["group_id"])]
        s = preds.set_index("edit_id")[d]
        right = [s[a] > s[b] for a, b in zip(split_pairs["preferred"], split_pairs["rejected"])]
        assert res[f"pair_acc_{d}"] == pytest.approx(np.mean(right))
        assert res[f"n_pairs_{d}"] == len(split_pairs)
        assert derived[f"pair_acc_{d}"] == pytest.approx(res[f"pair_acc_{d}"])
    assert set(res) >= {f"{m}_{d}" for m in M.METRICS for d in DIMENSIONS}
    table = M.metrics_table(res)
    assert list(table.index) == list(DIMENSIONS)
    assert list(table.columns) == [*M.METRICS, "n"]
    json.dumps(res)  # plain numbers only


def test_evaluate_predictions_accepts_an_edit_dataset(tmp_path):
    from edithf.data.dataset import EditDataset

    edits, preds = toy_benchmark(seed=1)
    pairs = brute_pairs(edits)
    ds = EditDataset(root=tmp_path, edits=edits, pairs=pairs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from_ds = M.evaluate_predictions(ds, preds, split="all")
        from_frames = M.evaluate_predictions((edits, pairs), preds, split=None)
    assert from_ds == pytest.approx(from_frames, nan_ok=True)
    assert from_ds["n_quality"] == len(edits)


def test_a_dimension_the_scorer_does_not_judge_is_skipped_with_a_note():
    edits, preds = toy_benchmark()
    preds["alignment"] = np.nan  # e.g. `classic`: it cannot read the instruction
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        res = M.evaluate_predictions(edits, preds, split="test")
    notes = [str(w.message) for w in caught]
    assert any(n.startswith("alignment: the predictions hold no value") for n in notes)
    assert not any("group_srcc" in n for n in notes)  # skipped, not computed on nothing
    assert res["n_alignment"] == 0 and all(np.isnan(res[f"{m}_alignment"]) for m in M.METRICS)
    full = M.evaluate_predictions(edits, toy_benchmark()[1], split="test")
    assert res["srcc_quality"] == full["srcc_quality"] and res["pair_acc_preservation"] == full["pair_acc_preservation"]
    assert M.metrics_table(res).loc["alignment", "n"] == 0


def test_evaluate_predictions_explains_bad_input():
    edits, preds = toy_benchmark()
    with pytest.raises(ValueError, match="no edits in split 'val'"):
        M.evaluate_predictions(edits, preds, split="val")
    with pytest.raises(ValueError, match="no column 'alignment'"):
        M.evaluate_predictions(edits, preds.drop(columns="alignment"), split="test")
    with pytest.raises(ValueError, match="more than once"):
        M.evaluate_predictions(edits, pd.concat([preds, preds.head(1)]), split="test")
    with pytest.raises(ValueError, match="no 'split' column"):
        M.evaluate_predictions(edits.drop(columns="split"), preds, split="test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        res = M.evaluate_predictions(edits, preds.iloc[::2], split="test")
    assert any("have no prediction" in str(w.message) for w in caught)
    assert res["n_quality"] < (edits["split"] == "test").sum()


def test_metrics_command(tmp_path, capsys):
    from edithf.cli import main

    edits, preds = toy_benchmark(seed=2)
    edits = edits.assign(prompt="make it blue", source=lambda df: "images/" + df["group_id"] + ".png",
                         edited=lambda df: "images/" + df["edit_id"] + ".png")
    edits.to_parquet(tmp_path / "edits.parquet")
    brute_pairs(edits).to_parquet(tmp_path / "pairs.parquet")
    preds.to_csv(tmp_path / "preds.csv", index=False)
    assert main(["metrics", str(tmp_path), str(tmp_path / "preds.csv"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = M.evaluate_predictions((edits, brute_pairs(edits)), preds, split="test")
    assert out["srcc_quality"] == pytest.approx(expected["srcc_quality"])
    assert main(["metrics", str(tmp_path), str(tmp_path / "preds.csv")]) == 0
    assert "group_srcc" in capsys.readouterr().out
    assert main(["metrics", str(tmp_path), str(tmp_path / "preds.csv"), "--split", "val"]) == 1
    assert "no edits in split 'val'" in capsys.readouterr().err
    preds.assign(alignment=np.nan).to_csv(tmp_path / "no_alignment.csv", index=False)  # e.g. classic
    assert main(["metrics", str(tmp_path), str(tmp_path / "no_alignment.csv"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)  # strict JSON: a metric not computed is null, not NaN
    assert out["srcc_alignment"] is None and out["srcc_quality"] == pytest.approx(expected["srcc_quality"])
    assert main(["metrics", str(tmp_path), str(tmp_path / "no_alignment.csv")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("alignment"))
    assert "n/a" in row and "nan" not in row.lower()


def test_demo_benchmark_with_its_own_mos_as_predictions(demo_dataset):
    from edithf.data.dataset import load_dataset

    ds = load_dataset(demo_dataset)
    e = ds.edits
    preds = e[["edit_id"]].assign(**{d: e[f"mos_{d}"] for d in DIMENSIONS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = M.evaluate_predictions(ds, preds, split="test")
    test = e[e["split"] == "test"]
    for d in DIMENSIONS:
        assert res[f"srcc_{d}"] == pytest.approx(1.0) and res[f"rmse_{d}"] == pytest.approx(0.0)
        assert res[f"n_{d}"] == test[f"mos_{d}"].notna().sum()
        test_pairs = ds.pairs[(ds.pairs["dimension"] == d) & ds.pairs["group_id"].isin(test["group_id"])]
        assert res[f"n_pairs_{d}"] == len(test_pairs) > 0
