"""Dataset prediction (resumable), and the score / predict / scorers commands."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from edithf.cli import main
from edithf.evaluators.base import EvaluatorInfo
from edithf.evaluators.dummy import DummyEvaluator
from edithf.predict import partial_dir, predict_dataset
from reward_fixtures import make_dataset


class Killed(RuntimeError):
    pass


class CountingDummy(DummyEvaluator):
    """The dummy scorer that counts what it scores and can "die" after k batches."""

    def __init__(self, die_after: int | None = None):
        super().__init__()
        self.info = EvaluatorInfo(name="dummy", description="counting dummy")
        self.die_after, self.batches, self.scored = die_after, 0, 0

    def _score_batch(self, sources, edited, prompts):
        if self.die_after is not None and self.batches >= self.die_after:
            raise Killed("simulated kill")
        self.batches += 1
        self.scored += len(sources)
        return super()._score_batch(sources, edited, prompts)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("predict") / "ds", n_groups=6, n_models=4)


def test_predict_writes_the_predictions_table(dataset, tmp_path):
    out = tmp_path / "preds.csv"
    df = predict_dataset("dummy", dataset, out, batch_size=5, progress=False)
    edits = pd.read_parquet(dataset / "edits.parquet")
    assert df["edit_id"].tolist() == edits["edit_id"].tolist()
    assert list(df.columns[:5]) == ["edit_id", "quality", "alignment", "preservation", "overall"]
    pd.testing.assert_frame_equal(pd.read_csv(out).astype({"edit_id": str}), df, check_dtype=False)
    assert not partial_dir(out).exists()
    test_only = predict_dataset("dummy", dataset, tmp_path / "t.parquet", split="test", progress=False)
    assert set(test_only["edit_id"]) == set(edits.loc[edits["split"] == "test", "edit_id"])


def test_a_killed_run_resumes_where_it_stopped(dataset, tmp_path):
    reference = predict_dataset(CountingDummy(), dataset, tmp_path / "ref.parquet", batch_size=5, progress=False)
    out = tmp_path / "preds.parquet"
    with pytest.raises(Killed):
        predict_dataset(CountingDummy(die_after=2), dataset, out, batch_size=5, progress=False)
    assert not out.exists() and len(list(partial_dir(out).glob("batch-*.parquet"))) == 2
    again = CountingDummy()
    df = predict_dataset(again, dataset, out, batch_size=5, progress=False)
    assert again.scored == 24 - 10  # the two finished batches were skipped
    pd.testing.assert_frame_equal(df, reference)
    pd.testing.assert_frame_equal(pd.read_parquet(out), reference)


def test_resume_refuses_a_partial_run_of_another_scorer(dataset, tmp_path):
    out = tmp_path / "preds.parquet"
    with pytest.raises(Killed):
        predict_dataset(CountingDummy(die_after=1), dataset, out, batch_size=5, progress=False)
    other = CountingDummy()
    other.info = EvaluatorInfo(name="other", description="another scorer")
    with pytest.raises(ValueError, match="partial run"):
        predict_dataset(other, dataset, out, progress=False)
    df = predict_dataset(other, dataset, out, resume=False, progress=False)  # starts over
    assert other.scored == 24 and len(df) == 24


def test_bad_output_name_and_missing_dataset(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"\.parquet, \.csv or \.jsonl"):
        predict_dataset("dummy", dataset, tmp_path / "preds.xlsx", progress=False)
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        predict_dataset("dummy", tmp_path / "nope", tmp_path / "p.parquet", progress=False)


def test_commands_score_predict_scorers(dataset, tmp_path, capsys):
    edits = pd.read_parquet(dataset / "edits.parquet")
    src, ed = dataset / edits["source"][0], dataset / edits["edited"][0]
    assert main(["score", "--model", "dummy", "--source", str(src), "--edited", str(ed), "--prompt", "tint"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["scores"]) >= {"quality", "alignment", "preservation", "overall"}
    assert main(["predict", str(dataset), "--model", "dummy", "--out", str(tmp_path / "p.parquet"),
                 "--batch-size", "7", "--no-progress"]) == 0
    assert len(pd.read_parquet(tmp_path / "p.parquet")) == len(edits)
    capsys.readouterr()
    assert main(["scorers", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"dummy", "classic", "psnr", "ssim", "ms_ssim", "vif", "gmsd", "nr_stats"} <= names
    assert main(["score", "--model", "dummy", "--source", str(tmp_path / "missing.png"), "--edited", str(ed),
                 "--prompt", "tint"]) == 1
    assert "missing.png" in capsys.readouterr().err
