"""Global-DPO and Self-DPO preference pairs against brute force."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edithf.cli import main
from edithf.data.schema import normalize_weights
from edithf.reward.pairs import global_pairs, read_generations, self_pairs
from edithf.reward.reward import EditReward
from edithf.dpo.pairs_data import PREFERENCE_COLUMNS
from reward_fixtures import make_dataset, make_generations


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("pairs") / "ds", n_groups=9, n_models=4, seed=5)


@pytest.fixture(scope="module")
def generations(tmp_path_factory):
    return make_generations(tmp_path_factory.mktemp("gens"), n_instructions=8, n_seeds=4)


def brute_force_global(edits: pd.DataFrame, dimension: str, min_score: float) -> dict:
    """group -> (chosen edit, rejected edit), one group at a time."""
    dims = ["quality", "alignment", "preservation"] if dimension == "overall" else [dimension]
    w = normalize_weights(None) if dimension == "overall" else {dimension: 1.0}
    out = {}
    for group, g in edits.groupby("group_id"):
        rank = sum(w[d] * g[f"rank_{d}"] for d in dims).to_numpy()
        mos = sum(w[d] * g[f"mos_{d}"] for d in dims).to_numpy()
        best, worst = int(np.argmin(rank)), int(np.argmax(rank))
        if rank[best] == rank[worst] or mos.max() < min_score:
            continue
        out[group] = (g["edited"].iloc[best], g["edited"].iloc[worst])
    return out


def relative_pairs(pairs, root) -> dict:
    return {r.group_id: (os.path.relpath(r.chosen, root), os.path.relpath(r.rejected, root)) for r in pairs.itertuples()}


@pytest.mark.parametrize("dimension, min_score", [("overall", 40.0), ("alignment", 0.0), ("quality", 70.0)])
def test_global_pairs_match_brute_force(dataset, dimension, min_score, tmp_path):
    out = tmp_path / "pairs.parquet"
    pairs = global_pairs(dataset, out, dimension=dimension, min_score=min_score, split="all", allow_test=True)
    edits = pd.read_parquet(dataset / "edits.parquet")
    assert relative_pairs(pairs, dataset) == brute_force_global(edits, dimension, min_score)
    written = pd.read_parquet(out)
    assert written["pair_id"].is_unique and tuple(written.columns) == PREFERENCE_COLUMNS
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in pairs["chosen"])
    assert pairs["chosen_editor"].str.startswith("model_").all() and (pairs["scorer"] == f"human:{dimension}").all()


def test_global_pairs_default_to_train_and_refuse_test(dataset, tmp_path):
    edits = pd.read_parquet(dataset / "edits.parquet")
    pairs = global_pairs(dataset, min_score=0)
    assert pairs.attrs["report"]["split"] == "train"
    assert relative_pairs(pairs, dataset) == brute_force_global(edits[edits["split"] == "train"], "overall", 0)
    for split in ("test", "all", None):
        with pytest.raises(ValueError, match="test split.*allow_test=True"):
            global_pairs(dataset, split=split)
    assert global_pairs(dataset, split="test", allow_test=True, min_score=0).attrs["report"]["split"] == "test"


def ranked_only(dataset, tmp_path, scored_groups) -> Path:
    """The dataset with MOS kept only for `scored_groups` (EditHF-1M: most groups ranked, few scored)."""
    import shutil

    copy = tmp_path / "ranked"
    shutil.copytree(dataset, copy)
    edits = pd.read_parquet(copy / "edits.parquet")
    for d in ("quality", "alignment", "preservation"):
        edits[f"mos_{d}"] = edits[f"mos_{d}"].where(edits["group_id"].isin(scored_groups))
    edits.to_parquet(copy / "edits.parquet", index=False)
    return copy


def test_global_low_filter_uses_the_scorer_when_mos_is_absent(dataset, tmp_path):
    edits = pd.read_parquet(dataset / "edits.parquet")
    edits = edits[edits["split"] == "train"]
    groups = sorted(edits["group_id"].unique())
    data = ranked_only(dataset, tmp_path, scored_groups=groups[:1])
    # without a scorer the unscored groups cannot be judged "low": kept, and counted
    plain = global_pairs(data, min_score=60)
    report = plain.attrs["report"]
    scored = edits[edits["group_id"] == groups[0]]
    mos_best = sum(w * scored[f"mos_{d}"] for d, w in normalize_weights(None).items()).max()
    assert report["dropped_low_mos"] == int(mos_best < 60) and report["low_not_judged"] == len(groups) - 1
    assert report["ordered_by_rank"] == len(groups) and report["dropped_low_scorer"] == 0
    # with a scorer, the humans' chosen edit of each unscored group is scored: brute force
    judged = global_pairs(data, min_score=60, scorer="dummy")
    report = judged.attrs["report"]
    reward = EditReward("dummy", weights=None)
    expected_low = 0
    for pair in plain.itertuples():
        if pair.group_id != groups[0]:
            expected_low += int(reward([pair.source], [pair.chosen], [pair.prompt]).reward[0] < 60)
    assert report["low_scorer"] == "dummy" and report["low_not_judged"] == 0
    assert report["dropped_low_scorer"] == expected_low > 0 and len(judged) == len(plain) - expected_low


def test_global_pairs_without_survivors_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(ValueError, match="no preference pairs survive"):
        global_pairs(dataset, tmp_path / "p.parquet", min_score=101)
    assert not (tmp_path / "p.parquet").exists()


def brute_force_self(table: pd.DataFrame, min_score: float, keep_fraction: float, overall_weights) -> set:
    """(group, chosen seed, rejected seed) of the Self-DPO rules, one instruction at a time."""
    dims = ["quality", "alignment", "preservation"]
    w = normalize_weights(overall_weights)
    survivors = []
    for inst, g in table.groupby("instruction_id"):
        mean = g[dims].mean(axis=1)
        best, worst = g.loc[mean.idxmax()], g.loc[mean.idxmin()]
        overall = sum(w[d] * best[d] for d in dims)
        if overall >= min_score and mean.max() > mean.min():
            survivors.append((inst, best["task"], overall, best["seed"], worst["seed"]))
    expected = set()
    for task in {s[1] for s in survivors}:
        in_task = sorted((s for s in survivors if s[1] == task), key=lambda s: -s[2])
        expected |= {(s[0], s[3], s[4]) for s in in_task[:math.ceil(len(in_task) * keep_fraction - 1e-9)]}
    return expected


@pytest.mark.parametrize("keep_fraction, overall_weights", [(0.5, None), (1.0, (1, 1, 1)), (0.25, None)])
def test_self_pairs_follow_the_rules(generations, tmp_path, keep_fraction, overall_weights):
    min_score = 45.0
    pairs = self_pairs(generations, "dummy", tmp_path / "self.parquet", min_score=min_score,
                       keep_fraction=keep_fraction, overall_weights=overall_weights)
    table = read_generations(generations)
    scores = EditReward("dummy")(table["source"], table["edited"], table["prompt"]).scores
    table = pd.concat([table, scores[["quality", "alignment", "preservation"]]], axis=1)
    expected = brute_force_self(table, min_score, keep_fraction, overall_weights)
    got = {(r.group_id, r.chosen_seed, r.rejected_seed) for r in pairs.itertuples()}
    assert got == expected
    assert (pairs["chosen_score"] > pairs["rejected_score"]).all()
    report = pairs.attrs["report"]
    assert report["dropped_low_scorer"] + report["dropped_no_preference"] + report["dropped_below_keep_fraction"] \
        + len(pairs) == 8


def test_self_pairs_bad_input(generations, tmp_path):
    table = pd.read_parquet(generations)
    broken = generations.parent / "broken.parquet"
    table.assign(edited=table["edited"].where(table.index != 3, "gen/missing.png")).to_parquet(broken)
    with pytest.raises(FileNotFoundError, match=r"row 3, column 'edited'.*missing\.png"):
        self_pairs(broken, "dummy")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['seed'\]"):
        self_pairs(table.drop(columns="seed"), "dummy")
    with pytest.raises(ValueError, match="empty"):
        self_pairs(table.iloc[:0], "dummy")
    with pytest.raises(ValueError, match="no preference pairs survive"):
        self_pairs(generations, "dummy", min_score=101)
    with pytest.raises(ValueError, match="keep_fraction"):
        self_pairs(generations, "dummy", keep_fraction=0)


def test_pairs_commands_write_the_trainer_contract(dataset, generations, tmp_path, capsys, monkeypatch):
    from edithf.dpo.pairs_data import load_pairs

    monkeypatch.delenv("EDITHF_SCORER", raising=False)
    assert main(["pairs", "global", str(dataset), "--out", str(tmp_path / "g.parquet"), "--min-score", "0"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "train" and "split 'train'" in captured.err
    assert main(["pairs", "global", str(dataset), "--out", str(tmp_path / "t.parquet"), "--split", "test"]) == 1
    assert "--allow-test" in capsys.readouterr().err
    assert main(["pairs", "self", "--generations", str(generations), "--scorer", "dummy",
                 "--out", str(tmp_path / "s.parquet"), "--min-score", "0"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_pairs"] >= 1 and "ignores the instruction" in captured.err
    for name in ("g.parquet", "s.parquet"):
        assert len(load_pairs(tmp_path / name)) == len(pd.read_parquet(tmp_path / name))


def test_pairs_self_needs_a_scorer_and_reads_edithf_scorer(generations, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EDITHF_SCORER", raising=False)
    args = ["pairs", "self", "--generations", str(generations), "--out", str(tmp_path / "s.parquet"), "--min-score", "0"]
    assert main(args) == 1
    assert "needs a scorer: --scorer edithf:" in capsys.readouterr().err
    monkeypatch.setenv("EDITHF_SCORER", "dummy")
    assert main(args) == 0  # the default is read when the parser is built
    assert json.loads(capsys.readouterr().out)["scorer"] == "dummy"
    assert main([*args, "--model", "classic", "--out", str(tmp_path / "c.parquet")]) == 0  # --model: the alias
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scorer"] == "classic" and "'classic' is weight-free" in captured.err
