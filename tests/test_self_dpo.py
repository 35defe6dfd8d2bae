"""Self-DPO as the paper runs it: N seeds per instruction through a (tiny) diffusers pipeline,
scored, paired; a killed run continues from what it generated and scored."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import edithf.dpo.generate as generate
from edithf.cli import main
from edithf.dpo.self_dpo import run_self_dpo
from reward_fixtures import crop, photos

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PIPELINE = "tiny:instruct_pix2pix"
GEN = dict(num_inference_steps=2, area=32 * 32)
REAL_GENERATE = generate.generate_edits


class Killed(Exception):
    """Stands for the process being killed in the middle of a run."""


@pytest.fixture(scope="module")
def instructions(tmp_path_factory):
    root = tmp_path_factory.mktemp("instructions")
    rows = []
    for i, photo in enumerate(photos()[:3]):
        Image.fromarray(crop(photo, i)).resize((32, 32)).save(root / f"src{i}.png")
        rows.append({"instruction_id": f"inst{i}", "task": ("recolor", "recolor", "remove")[i],
                     "source": f"src{i}.png", "prompt": f"make object {i} red"})
    pd.DataFrame(rows).to_csv(root / "instructions.csv", index=False)
    return root / "instructions.csv"


def counting_generate(monkeypatch, fail_on_call: int | None = None) -> list:
    """Wrap generate_edits: record the seeds of each call; raise on call `fail_on_call` (a kill)."""
    calls = []

    def wrapped(pipeline, sources, prompts, seeds, **kwargs):
        calls.append(list(seeds))
        if fail_on_call is not None and len(calls) == fail_on_call:
            raise Killed
        return REAL_GENERATE(pipeline, sources, prompts, seeds, **kwargs)

    monkeypatch.setattr(generate, "generate_edits", wrapped)
    return calls


def run(instructions, out, **kw):
    return run_self_dpo(PIPELINE, instructions, out, "dummy", n_seeds=3, min_score=0, progress=False, **kw, **GEN)


def test_self_dpo_generates_scores_and_pairs(instructions, tmp_path):
    pairs = run(instructions, tmp_path / "run", keep_fraction=1.0)
    edits = pd.read_parquet(tmp_path / "run" / "edits.parquet")
    assert len(edits) == 9 and sorted(set(edits["seed"])) == [0, 1, 2]
    scores = pd.read_parquet(tmp_path / "run" / "scores" / "dummy.parquet").set_index("edit_id")
    for pair in pairs.itertuples():  # chosen / rejected are the best / worst mean score of the seeds
        mean = scores.loc[[f"{pair.group_id}_seed{s}" for s in range(3)], ["quality", "alignment", "preservation"]].mean(axis=1)
        assert (pair.chosen_seed, pair.rejected_seed) == (int(mean.values.argmax()), int(mean.values.argmin()))
    assert set(pairs["group_id"]) == {"inst0", "inst1", "inst2"}
    assert pd.read_parquet(tmp_path / "run" / "pairs.parquet")["chosen"].map(lambda p: Image.open(p).size == (32, 32)).all()
    # the keep fraction is per task: recolor keeps 1 of 2, remove its only pair
    assert sorted(run(instructions, tmp_path / "run", keep_fraction=0.5)["group_id"].str[:4]) == ["inst", "inst"]


def test_a_killed_self_dpo_run_continues(instructions, tmp_path, monkeypatch):
    reference = run(instructions, tmp_path / "whole")
    calls = counting_generate(monkeypatch, fail_on_call=2)
    with pytest.raises(Killed):
        run(instructions, tmp_path / "killed")
    assert len(list((tmp_path / "killed" / "images").glob("*.png"))) == 3  # the first instruction's seeds
    calls = counting_generate(monkeypatch)
    resumed = run(instructions, tmp_path / "killed")
    assert len(calls) == 2  # only the two instructions left
    columns = ["group_id", "chosen_seed", "rejected_seed", "chosen_score", "rejected_score"]
    pd.testing.assert_frame_equal(resumed[columns], reference[columns])
    # a finished run is reused as it is: nothing generated, nothing scored again
    calls = counting_generate(monkeypatch, fail_on_call=1)
    monkeypatch.setattr("edithf.predict.predict_dataset", lambda *a, **k: pytest.fail("scored again"))
    pd.testing.assert_frame_equal(run(instructions, tmp_path / "killed")[columns], reference[columns])
    assert calls == []


def test_self_dpo_refuses_to_mix_runs(instructions, tmp_path):
    run(instructions, tmp_path / "run")
    with pytest.raises(ValueError, match="holds a Self-DPO run"):
        run_self_dpo(PIPELINE, instructions, tmp_path / "run", "dummy", n_seeds=4, min_score=0, progress=False, **GEN)
    with pytest.raises(ValueError, match="two distinct seeds"):
        run_self_dpo(PIPELINE, instructions, tmp_path / "other", "dummy", n_seeds=1, progress=False, **GEN)
    restarted = run_self_dpo(PIPELINE, instructions, tmp_path / "run", "dummy", n_seeds=4, min_score=0,
                             progress=False, resume=False, **GEN)
    assert len(pd.read_parquet(tmp_path / "run" / "edits.parquet")) == 12 and len(restarted) >= 1


def test_pairs_self_command_with_a_pipeline(instructions, tmp_path, capsys):
    args = ["pairs", "self", "--pipeline", PIPELINE, "--instructions", str(instructions), "--run-dir",
            str(tmp_path / "run"), "--seeds", "3", "--steps", "2", "--area", "1024", "--scorer", "dummy",
            "--min-score", "0", "--keep-fraction", "1", "--overall-weights", "1,1,1"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_pairs"] == 3 and report["keep_fraction"] == 1.0
    assert report["out"].endswith("pairs.parquet") and np.isclose(report["overall_weights"]["quality"], 1 / 3)
    assert main(["pairs", "self", "--pipeline", PIPELINE, "--scorer", "dummy"]) == 1
    assert "needs --instructions" in capsys.readouterr().err


def test_a_run_killed_while_scoring_scores_only_the_rest(instructions, tmp_path, monkeypatch):
    from edithf.evaluators.dummy import DummyEvaluator

    reference = run(instructions, tmp_path / "whole")
    real, scored = DummyEvaluator._score_batch, []

    def killed_after_one_batch(self, sources, edited, prompts):
        if scored:
            raise Killed
        scored.append(len(edited))
        return real(self, sources, edited, prompts)

    monkeypatch.setattr(DummyEvaluator, "_score_batch", killed_after_one_batch)
    with pytest.raises(Killed):
        run(instructions, tmp_path / "killed", batch_size=4)
    counted = []
    monkeypatch.setattr(DummyEvaluator, "_score_batch",
                        lambda self, s, e, p: counted.append(len(e)) or real(self, s, e, p))
    resumed = run(instructions, tmp_path / "killed", batch_size=4)
    assert scored == [4] and sum(counted) == 9 - 4  # the finished batch is not scored again
    columns = ["group_id", "chosen_seed", "rejected_seed", "chosen_score", "rejected_score"]
    pd.testing.assert_frame_equal(resumed[columns], reference[columns])
