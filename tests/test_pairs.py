"""Global-DPO and Self-DPO preference pairs against brute force."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from edithf.cli import main
from edithf.data.schema import normalize_weights
from edithf.reward.pairs import global_pairs, read_generations, self_pairs
from edithf.reward.reward import EditReward
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


@pytest.mark.parametrize("dimension, min_score", [("overall", 40.0), ("alignment", 0.0), ("quality", 70.0)])
def test_global_pairs_match_brute_force(dataset, dimension, min_score, tmp_path):
    out = tmp_path / "pairs.parquet"
    pairs = global_pairs(dataset, out, dimension=dimension, min_score=min_score)
    edits = pd.read_parquet(dataset / "edits.parquet")
    expected = brute_force_global(edits, dimension, min_score)
    got = {r.group_id: (os.path.relpath(r.chosen, dataset), os.path.relpath(r.rejected, dataset))
           for r in pairs.itertuples()}
    assert got == expected
    assert pd.read_parquet(out)["pair_id"].is_unique
    assert {"source", "prompt", "chosen", "rejected", "chosen_score", "scorer"} <= set(pairs)
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in pairs["chosen"])


def test_global_pairs_without_survivors_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(ValueError, match="no preference pairs survive"):
        global_pairs(dataset, tmp_path / "p.parquet", min_score=101)
    assert not (tmp_path / "p.parquet").exists()


def test_self_pairs_follow_the_rules(generations, tmp_path):
    min_score = 45.0
    pairs = self_pairs(generations, "dummy", tmp_path / "self.parquet", min_score=min_score)
    table = read_generations(generations)
    table["score"] = EditReward("dummy", weights=(1, 1, 1))(table["source"], table["edited"], table["prompt"]).reward
    survivors = []
    for inst, g in table.groupby("instruction_id"):
        best, worst = g.loc[g["score"].idxmax()], g.loc[g["score"].idxmin()]
        if best["score"] >= min_score and best["score"] > worst["score"]:
            survivors.append((inst, best["task"], best["score"], best["seed"], worst["seed"]))
    expected = set()
    for task in {s[1] for s in survivors}:
        in_task = sorted((s for s in survivors if s[1] == task), key=lambda s: -s[2])
        expected |= {(s[0], s[3], s[4]) for s in in_task[:math.ceil(len(in_task) / 2)]}
    got = {(r.instruction_id, r.chosen_seed, r.rejected_seed) for r in pairs.itertuples()}
    assert got == expected and len(got) < len(table["instruction_id"].unique())
    assert (pairs["chosen_score"] > pairs["rejected_score"]).all()
    report = pairs.attrs["report"]
    assert report["dropped_all_low"] + report["dropped_no_preference"] + report["dropped_worse_half"] + len(pairs) == 8


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


def test_pairs_commands_write_the_trainer_contract(dataset, generations, tmp_path, capsys):
    from edithf.dpo.pairs_data import load_pairs

    assert main(["pairs", "global", str(dataset), "--out", str(tmp_path / "g.parquet"), "--min-score", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "global"
    assert main(["pairs", "self", "--generations", str(generations), "--model", "dummy",
                 "--out", str(tmp_path / "s.parquet"), "--min-score", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["n_pairs"] >= 1
    for name in ("g.parquet", "s.parquet"):
        assert len(load_pairs(tmp_path / name)) == len(pd.read_parquet(tmp_path / name))


def test_self_pairs_from_a_pipeline(generations, tmp_path, monkeypatch):
    """The glue around `edithf.dpo.generate.generate_edits` (exercised with a tiny pipeline by
    the DPO tests): N seeds per instruction, saved, tabled, scored, paired."""
    from PIL import Image

    import edithf.dpo.generate as generate
    from edithf.reward.pairs import self_pairs_from_pipeline

    calls = []

    def fake_generate(pipeline, sources, prompts, seeds, **kwargs):
        calls.append((list(prompts), list(seeds), kwargs))
        rng = np.random.default_rng(0)
        return [Image.fromarray(np.clip(np.asarray(Image.open(s)) * (0.5 + 0.25 * seed), 0, 255).astype(np.uint8))
                if seed < 3 else Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
                for s, seed in zip(sources, seeds)]

    monkeypatch.setattr(generate, "generate_edits", fake_generate)
    instructions = read_generations(generations).drop_duplicates("instruction_id")[
        ["instruction_id", "task", "prompt", "source"]].head(3)
    pairs = self_pairs_from_pipeline(object(), instructions, [0, 1, 2, 3], "dummy", tmp_path / "run",
                                     min_score=0, num_inference_steps=2)
    prompts, seeds, kwargs = calls[0]
    assert seeds == [0, 1, 2, 3] * 3 and prompts[:4] == [instructions["prompt"].iloc[0]] * 4
    assert kwargs == {"num_inference_steps": 2}
    table = pd.read_parquet(tmp_path / "run" / "generations.parquet")
    assert len(table) == 12 and (tmp_path / "run" / table["edited"].iloc[0]).is_file()
    assert (tmp_path / "run" / "pairs.parquet").is_file() and (pairs["model"] == "object").all()
    assert (pairs["rejected_seed"] == 3).all()  # the noise image is the worst of every instruction
