"""The reward API, best-of-N and curation, against brute force."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from edithf.cli import main
from edithf.data.dataset import load_dataset
from edithf.evaluators.dummy import DummyEvaluator
from edithf.reward.reward import EditReward
from edithf.reward.selection import best_of_n, best_of_n_batch, curate, select_edits
from reward_fixtures import crop, edit_image, make_dataset, photos


class ChunkSpy(DummyEvaluator):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def _score_batch(self, sources, edited, prompts):
        self.sizes.append(len(sources))
        return super()._score_batch(sources, edited, prompts)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    src = crop(photos()[0], 3)
    return src, [edit_image(src, m, rng) for m in range(4)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("reward") / "ds", n_groups=6, n_models=4, seed=3)


def test_reward_accepts_pil_paths_numpy_and_torch_batches(images, tmp_path):
    torch = pytest.importorskip("torch")
    src, edits = images
    reward = EditReward("dummy", batch_size=3)
    pil = reward([Image.fromarray(src)] * 4, [Image.fromarray(e) for e in edits], "tint").reward
    paths = []
    for i, e in enumerate(edits):
        Image.fromarray(e).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    from_paths = reward(Image.fromarray(src), paths, ["tint"] * 4).reward  # one source, repeated
    uint8 = reward(np.stack([src] * 4), np.stack(edits), "tint").reward  # (B, H, W, 3) uint8
    floats = torch.tensor(np.stack(edits), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0  # (B, 3, H, W)
    from_torch = reward(torch.tensor(np.stack([src] * 4)), floats, "tint").reward
    np.testing.assert_allclose(from_paths, pil)
    np.testing.assert_allclose(uint8, pil)
    np.testing.assert_allclose(from_torch, pil, atol=1e-9)


def test_reward_weights_chunks_and_errors(images):
    src, edits = images
    spy = ChunkSpy()
    out = EditReward(spy, weights=(1, 0, 0), batch_size=3)([src] * 4, np.stack(edits), "tint")
    assert spy.sizes == [3, 1]  # never more than batch_size decoded at once
    np.testing.assert_allclose(out.reward, out.scores["quality"])
    with pytest.raises(ValueError, match="same length"):
        EditReward("dummy")([src] * 3, np.stack(edits), "tint")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        EditReward("dummy")(src, np.stack(edits).astype(np.float32), "tint")
    with pytest.raises(ValueError, match="empty"):
        EditReward("dummy")([], [], [])


def test_best_of_n_picks_the_maximum(images):
    src, edits = images
    reward = EditReward("dummy")
    index, scores = best_of_n(reward, src, list(edits), "tint")
    brute = [reward([src], [e], ["tint"]).reward[0] for e in edits]
    assert index == int(np.argmax(brute))
    np.testing.assert_allclose(scores["overall"], brute)
    picks, table = best_of_n_batch(reward, [src, src], [list(edits), list(edits[:2])], ["tint", "tint"])
    assert picks == [index, int(np.argmax(brute[:2]))]
    assert table["instruction"].tolist() == [0] * 4 + [1] * 2
    with pytest.raises(ValueError, match="no candidate"):
        best_of_n_batch(reward, [src], [[]], ["tint"])


class NaNAt(DummyEvaluator):
    """The dummy scorer, with every dimension n/a (NaN) for the candidates at `positions` of
    each batch: a score the scorer could not compute."""

    def __init__(self, positions):
        super().__init__()
        self.positions = set(positions)

    def _score_batch(self, sources, edited, prompts):
        out = super()._score_batch(sources, edited, prompts)
        return {k: [math.nan if i in self.positions else v for i, v in enumerate(vals)] for k, vals in out.items()}


def test_best_of_n_never_picks_a_candidate_without_a_score(images):
    src, edits = images
    plain = EditReward("dummy")
    best = int(np.argmax([plain([src], [e], ["tint"]).reward[0] for e in edits]))
    others = [i for i in range(4) if i != best]
    index, scores = best_of_n(EditReward(NaNAt([others[0]])), src, list(edits), "tint")
    assert np.isnan(scores["overall"][others[0]]) and index == best  # a NaN first would stop a plain argmax
    index, _ = best_of_n(EditReward(NaNAt([best])), src, list(edits), "tint")
    assert index == max(others, key=lambda i: plain([src], [edits[i]], ["tint"]).reward[0])
    picks, table = best_of_n_batch(EditReward(NaNAt([best])), [src], [list(edits)], ["tint"])
    assert picks == [index] and table["overall"].isna().sum() == 1


def test_best_of_n_without_any_score_picks_nothing(images):
    src, edits = images
    none = EditReward(NaNAt(range(4)))
    index, scores = best_of_n(none, src, list(edits), "tint")
    assert index is None and scores["overall"].isna().all()
    picks, _ = best_of_n_batch(none, [src, src], [list(edits[:2]), list(edits[:2])], ["tint", "tint"])
    assert picks == [None, None]


def brute_force_keep(edits: pd.DataFrame, threshold=None, top_percent=None, per="task") -> set:
    kept = set(edits["edit_id"])
    if threshold is not None:
        kept &= {r.edit_id for r in edits.itertuples() if r.reward_overall >= threshold}
    if top_percent is not None:
        groups = edits.groupby(per) if per else [(None, edits)]
        top = set()
        for _, g in groups:
            g = g.iloc[np.argsort(-g["reward_overall"].to_numpy(), kind="stable")]
            top |= set(g["edit_id"].head(math.ceil(len(g) * top_percent / 100)))
        kept &= top
    return kept


@pytest.mark.parametrize("threshold, top_percent, per", [(50.0, None, "task"), (None, 30.0, "task"),
                                                         (None, 50.0, None), (40.0, 60.0, "model")])
def test_select_edits_matches_brute_force(threshold, top_percent, per):
    rng = np.random.default_rng(7)
    edits = pd.DataFrame({"edit_id": [f"e{i}" for i in range(40)], "task": rng.choice(["a", "b", "c"], 40),
                          "model": rng.choice(["m1", "m2"], 40),
                          "reward_overall": np.round(rng.uniform(0, 100, 40), 0)})  # rounded: ties happen
    keep = select_edits(edits, threshold=threshold, top_percent=top_percent, per=per)
    assert set(edits.loc[keep, "edit_id"]) == brute_force_keep(edits, threshold, top_percent, per)


def test_curate_writes_the_kept_subset_with_scores(dataset, tmp_path):
    out = tmp_path / "clean"
    report = curate(dataset, out, "dummy", top_percent=50)
    kept = load_dataset(out).edits
    scores = EditReward("dummy")(*load_dataset(dataset).triples()).scores
    full = load_dataset(dataset).edits.assign(reward_overall=scores["overall"])
    assert set(kept["edit_id"]) == brute_force_keep(full, top_percent=50)
    assert report["n_kept"] == len(kept) and report["n_edits"] == 24
    assert {"reward_quality", "reward_alignment", "reward_preservation", "reward_overall"} <= set(kept)
    assert json.loads((out / "curation.json").read_text())["top_percent"] == 50
    with pytest.raises(ValueError, match="no edit passes"):
        curate(dataset, tmp_path / "none", "dummy", threshold=101)
    assert not (tmp_path / "none").exists()


def test_reward_commands(dataset, tmp_path, capsys, images):
    src, edits = images
    paths = []
    for i, e in enumerate(edits):
        Image.fromarray(e).save(tmp_path / f"c{i}.png")
        paths.append(str(tmp_path / f"c{i}.png"))
    Image.fromarray(src).save(tmp_path / "src.png")
    assert main(["reward", "best-of-n", *paths, "--source", str(tmp_path / "src.png"), "--prompt", "tint",
                 "--scorer", "dummy"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"] == paths[out["best_index"]] and len(out["scores"]) == 4
    assert main(["reward", "best-of-n", *paths, "--source", str(tmp_path / "src.png"), "--prompt", "tint",
                 "--scorer", "classic"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert all(row["alignment"] is None for row in out["scores"])  # not judged: null, never NaN
    assert main(["reward", "curate", str(dataset), str(tmp_path / "cur"), "--scorer", "dummy", "--threshold", "30"]) == 0
    assert json.loads(capsys.readouterr().out)["threshold"] == 30.0
