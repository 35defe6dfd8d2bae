"""Dataset prediction (resumable), and the score / predict / scorers commands."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from edithf.cli import main
from edithf.evaluators.base import EvaluatorInfo
from edithf.evaluators.dummy import DummyEvaluator
from edithf.predict import (
    cache_path,
    cached_predictions,
    cached_predictions_if_any,
    parts_dir,
    partial_dir,
    predict_dataset,
    shard_positions,
)
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


def test_the_prediction_cache_computes_once_and_reports_progress(dataset, tmp_path):
    from edithf.data.dataset import load_dataset

    ds = load_dataset(dataset)
    assert cached_predictions_if_any(ds, "dummy", tmp_path) is None
    seen = []
    first = cached_predictions(ds, "dummy", tmp_path, lambda done, total: seen.append((done, total)), batch_size=10)
    assert seen[0] == (0, 24) and seen[-1] == (24, 24)
    again = CountingDummy()
    pd.testing.assert_frame_equal(cached_predictions(dataset, "dummy", tmp_path, evaluator=again), first)
    assert again.scored == 0  # a dataset folder and its EditDataset share the key; nothing rescored
    pd.testing.assert_frame_equal(cached_predictions_if_any(ds, "dummy", tmp_path), first)
    assert cache_path(ds, "dummy", tmp_path) != cache_path(ds, "classic", tmp_path)
    assert cache_path(ds, "dummy", tmp_path) != cache_path(ds, DummyEvaluator(weights=(1, 1, 1)), tmp_path)


def test_shards_hold_whole_groups_and_merge_into_the_one_process_file(dataset, tmp_path, monkeypatch):
    import threading

    from edithf import predict as P

    edits = pd.read_parquet(dataset / "edits.parquet")
    shards = [shard_positions(edits["group_id"], r, 3) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(len(edits)))
    assert all(edits["group_id"].iloc[a].isin(edits["group_id"].iloc[b]).sum() == 0
               for a in shards for b in shards if a is not b)
    reference = predict_dataset("dummy", dataset, tmp_path / "one.parquet", batch_size=4, progress=False)
    barrier = threading.Barrier(2)  # two "processes" as threads, accelerate's barrier replaced
    monkeypatch.setattr(P, "wait_for_everyone", barrier.wait)
    out, results = tmp_path / "two.parquet", {}

    def process(rank):
        results[rank] = predict_dataset("dummy", dataset, out, batch_size=4, progress=False, shard=(rank, 2))

    threads = [threading.Thread(target=process, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pd.testing.assert_frame_equal(pd.read_parquet(out), reference)
    pd.testing.assert_frame_equal(results[1], reference)
    assert not parts_dir(out).exists() and not list(tmp_path.glob("*.partial"))


def test_predict_under_torchrun_with_two_cpu_processes(dataset, tmp_path):
    """`edithf predict` launched as 2 gloo processes writes the file one process writes."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed")
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    assert main(["predict", str(dataset), "--scorer", "dummy", "--out", str(one), "--no-progress"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "edithf", "predict",
                           str(dataset), "--scorer", "dummy", "--out", str(two), "--batch-size", "4", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(two), pd.read_parquet(one))
    assert done.stdout.count("wrote 24 predictions") == 1  # the main process reports, once


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
    assert main(["predict", str(dataset), "--scorer", "psnr", "--out", str(tmp_path / "psnr.parquet"),
                 "--no-progress"]) == 0
    assert "quality n/a (not judged), alignment n/a (not judged), preservation " in capsys.readouterr().out
    assert main(["scorers", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"dummy", "classic", "psnr", "ssim", "ms_ssim", "vif", "gmsd", "nr_stats"} <= names
    assert main(["scorers"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert lines["name"][1:3] == ["judges", "reads"]  # what each scorer judges and whether it reads the prompt
    assert lines["classic"][1:3] == ["quality,preservation", "no"]
    assert lines["psnr"][1:3] == ["preservation", "no"] and lines["edithf:<path>"][2] == "yes"
    assert main(["score", "--model", "dummy", "--source", str(tmp_path / "missing.png"), "--edited", str(ed),
                 "--prompt", "tint"]) == 1
    assert "missing.png" in capsys.readouterr().err
