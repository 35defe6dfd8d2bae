"""The synthetic demo benchmark: content, designed behaviour of the editing models, the
simulated panel against its known truth, determinism, the cache and the command."""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from edithf.demo import build as demo
from edithf.data.dataset import load_dataset
from edithf.demo.edits import DEMO_TASKS
from edithf.demo.editors import DEMO_MODELS, true_scores
from edithf.demo.panel import RANKERS_PER_GROUP, RATERS_PER_EDIT, RATERS_PER_TEST_EDIT
from edithf.data.schema import DIMENSIONS


@pytest.fixture(scope="module")
def ds(demo_dataset):
    return load_dataset(demo_dataset)


def mos_by_model(edits: pd.DataFrame) -> pd.DataFrame:
    table = edits.groupby("model")[[f"mos_{d}" for d in DIMENSIONS]].mean()
    table.columns = list(DIMENSIONS)
    table["overall"] = 0.3 * table["quality"] + 0.4 * table["alignment"] + 0.3 * table["preservation"]
    return table


def test_demo_is_a_valid_labelled_dataset(ds):
    meta = ds.meta
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["note"] and meta["name"] == "EditHF demo (synthetic)"
    assert len(DEMO_TASKS) >= 8 and len(DEMO_MODELS) >= 6
    edits = ds.edits
    assert edits["group_id"].nunique() == 12
    assert len(edits) == 12 * len(DEMO_MODELS)
    assert (edits.groupby("group_id")["model"].nunique() == len(DEMO_MODELS)).all()
    assert set(edits["task"]) == set(DEMO_TASKS)  # 12 groups cycle through all 9 tasks
    assert edits["prompt"].str.len().min() > 10 and edits["description"].notna().all()
    assert edits[[f"mos_{d}" for d in DIMENSIONS] + [f"rank_{d}" for d in DIMENSIONS]].notna().all().all()
    assert set(edits["split"]) == {"train", "val", "test"}
    # no photograph straddles splits (crops of one photo overlap)
    assert (edits.groupby("photo")["split"].nunique() == 1).all()
    # every source is traced back to a package and a name
    recorded = {f"{s['package']}:{s['name']}" for s in meta["sources"]}
    assert set(edits["photo"]) <= recorded
    assert {s["package"] for s in meta["sources"]} <= {"scikit-image", "gradio", "matplotlib"}
    assert ds.pairs is not None and len(ds.pairs) > 0
    for path in edits["edited"].iloc[:3]:
        assert ds.image_path(path).stat().st_size > 0


def test_raw_annotations_follow_the_protocol(ds):
    per_edit = ds.ratings.groupby(["edit_id", "dimension"])["annotator"].nunique()
    split = ds.edits.set_index("edit_id")["split"]
    expected = np.where(split.loc[per_edit.index.get_level_values(0)] == "test", RATERS_PER_TEST_EDIT, RATERS_PER_EDIT)
    assert (per_edit.to_numpy() == expected).all()
    assert ds.ratings["score"].between(1, 5).all()
    rankers = ds.rankings.groupby(["group_id", "dimension"])["annotator"].nunique()
    assert (rankers == RANKERS_PER_GROUP).all() and len(rankers) == 12 * 3
    ranks = ds.rankings.groupby(["group_id", "dimension", "annotator"])["rank"].apply(sorted)
    assert all(r == list(range(1, len(DEMO_MODELS) + 1)) for r in ranks)


def test_screening_removes_the_unreliable_raters(demo_dataset):
    meta = json.loads((Path(demo_dataset) / "dataset.json").read_text())
    report = json.loads((Path(demo_dataset) / "report.json").read_text())
    bad = {a["name"] for a in meta["panel"] if a["role"] == "rater" and a["kind"] != "reliable"}
    for dim in DIMENSIONS:
        part = report["mos"]["dimensions"][dim]
        removed = {a["annotator"] for a in part["rejected_annotators"]} | set(part["flat_annotators_removed"])
        assert bad <= removed, (dim, bad, removed)


def test_human_leaderboard_matches_the_designed_behaviour(ds):
    table = mos_by_model(ds.edits)
    assert table["overall"].idxmax() == "faithful"
    assert table["alignment"].idxmin() == "no_op"
    assert table["quality"].idxmin() == "artefact_prone"
    assert table["preservation"].nsmallest(3).index.isin(["over_editing", "hallucinating", "wrong_region"]).all()
    assert table.loc["no_op", "preservation"] > table.loc["over_editing", "preservation"] + 30

    from edithf.leaderboard import build_leaderboard

    board = build_leaderboard(ds, n_bootstrap=0).table.set_index("model")
    assert board.index[0] == "faithful"
    assert board["alignment"].idxmin() == "no_op"
    assert board["quality"].idxmin() == "artefact_prone"


def test_mos_tracks_the_known_truth(ds):
    truth = pd.read_parquet(ds.root / "truth.parquet").set_index("edit_id").loc[ds.edits["edit_id"]]
    for dim in DIMENSIONS:
        srcc = spearmanr(ds.edits[f"mos_{dim}"], truth[f"latent_{dim}"]).statistic
        assert srcc > 0.85, (dim, srcc)
    # the truth is measured from the images, not a lookup of the model: it varies inside a model
    spread = truth.assign(model=ds.edits["model"].to_numpy()).groupby("model")["true_quality"].std()
    assert (spread.drop("no_op") > 0.01).all()


def test_truth_of_designed_behaviours_on_one_photo():
    photo = demo.demo_photos()[0].image
    task = DEMO_TASKS["region_recolor"]
    src, params = task.sample(photo, np.random.default_rng(3))
    ideal = task.ideal(src, params)
    scores = {}
    for i, model in enumerate(DEMO_MODELS.values()):
        intended, delivered = model.edit(task, src, params, np.random.default_rng(i))
        scores[model.name] = true_scores(src, ideal, intended, delivered)
    assert scores["no_op"]["alignment"] == 0 and scores["no_op"]["preservation"] == 1
    assert scores["faithful"]["alignment"] > 0.9 and scores["faithful"]["preservation"] > 0.9
    assert 0.15 < scores["under_editing"]["alignment"] < 0.6
    assert scores["wrong_region"]["alignment"] < 0.5 and scores["wrong_region"]["preservation"] < 0.8
    assert scores["over_editing"]["preservation"] < 0.6
    assert scores["artefact_prone"]["quality"] < scores["faithful"]["quality"] - 0.2


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    seen = []
    a = demo.build_demo(tmp_path / "a", seed=5, n_groups=2, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert all(isinstance(m, str) and m for _, m in seen)
    b = demo.build_demo(tmp_path / "b", seed=5, n_groups=2)
    c = demo.build_raw_demo(tmp_path / "c", seed=6, n_groups=2)
    digests = _digests(a)
    assert digests == _digests(b)
    assert {"edits.parquet", "ratings.parquet", "rankings.parquet", "pairs.parquet"} <= set(digests)
    assert (a / "ratings.parquet").read_bytes() != (c / "ratings.parquet").read_bytes()


def test_ensure_demo_builds_once_under_concurrency(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_GROUPS", 1)
    calls = []
    real_build = demo.build_demo
    monkeypatch.setattr(demo, "build_demo", lambda *a, **k: calls.append(1) or real_build(*a, **k))
    results = []
    threads = [threading.Thread(target=lambda: results.append(demo.ensure_demo(tmp_path / "cache"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and results == [tmp_path / "cache"] * 2
    assert demo.ensure_demo(tmp_path / "cache") == tmp_path / "cache" and calls == [1]
    monkeypatch.setenv("EDITHF_DEMO_DIR", str(tmp_path / "cache"))
    assert demo.ensure_demo() == tmp_path / "cache" and calls == [1]


def test_command_builds_and_rejects_bad_sizes(tmp_path, capsys):
    from edithf.cli import main

    assert main(["demo", "build", str(tmp_path / "d"), "--groups", "1", "--seed", "2", "--quiet"]) == 0
    assert "1 groups, 8 edits" in capsys.readouterr().out
    assert load_dataset(tmp_path / "d").meta["seed"] == 2
    assert main(["demo", "build", str(tmp_path / "e"), "--groups", "0"]) == 1
    assert "--groups must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
    # rebuilding over a demo is fine; over anything else it refuses instead of deleting it
    assert main(["demo", "build", str(tmp_path / "d"), "--groups", "1", "--quiet"]) == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "build", str(tmp_path / "mine"), "--groups", "1"]) == 1
    assert "already holds files that EditHF did not write" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_docs_describe_every_task_and_model():
    text = (Path(__file__).parents[1] / "docs" / "demo.md").read_text()
    for name in [*DEMO_TASKS, *DEMO_MODELS]:
        assert f"`{name}`" in text, name
