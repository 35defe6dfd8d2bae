"""The run folder both trainers write (edithf.runs): metrics log, resume, STOP, warnings.

The trainers' own tests (tests/test_trainer.py, tests/test_dpo.py) run it end to end; these
check each rule on its own, without a model."""
from __future__ import annotations

import json

import pytest

from edithf.runs import (STOP_NAME, MetricsLog, RunConfig, RunFolder, TrainerState, checkpoint_to_resume,
                         list_checkpoints, read_metrics, read_progress, read_warnings, rotate_checkpoints,
                         write_warnings)


def make_checkpoint(out, step):
    folder = out / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    TrainerState(global_step=step).save(folder)
    return folder


def test_a_half_written_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    log.write({"step": 1, "train/loss": 0.5, "progress": 0.25})
    with open(path, "a") as f:
        f.write('{"step": 2, "train/lo')  # the writer was killed mid-line
    assert read_metrics(path) == [{"step": 1, "train/loss": 0.5, "progress": 0.25}]
    assert read_progress(path) == 0.25


def test_nan_and_inf_are_written_as_null(tmp_path):
    path = tmp_path / "metrics.jsonl"
    MetricsLog(path).write({"step": 1, "train/loss": float("nan"), "eval/srcc": float("inf"), "x": 1.5})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"step": 1, "train/loss": None, "eval/srcc": None, "x": 1.5}


def test_truncation_keeps_rows_up_to_the_resumed_step_and_none_on_a_fresh_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    for step in range(1, 7):
        log.write({"step": step, "train/loss": 1.0 / step})
    log.write({"step": 6, "event": "stopped"})
    with open(path, "a") as f:
        f.write('{"step": 7')
    log.truncate_after(4)
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4]
    log.truncate_after(0)
    assert read_metrics(path) == []


def test_resume_auto_never_and_path(tmp_path):
    assert checkpoint_to_resume(tmp_path, "auto") is None
    assert checkpoint_to_resume(tmp_path, "never") is None
    for step in (2, 10, 4):
        make_checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-12").mkdir()  # no trainer_state.json: incomplete, not a checkpoint
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-4", "checkpoint-10"]
    assert checkpoint_to_resume(tmp_path, "auto").name == "checkpoint-10"
    assert checkpoint_to_resume(tmp_path, str(tmp_path / "checkpoint-4")).name == "checkpoint-4"
    with pytest.raises(ValueError, match="resume=never but .* already holds checkpoint-10"):
        checkpoint_to_resume(tmp_path, "never")
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        checkpoint_to_resume(tmp_path, str(tmp_path / "checkpoint-12"))
    rotate_checkpoints(tmp_path, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-4", "checkpoint-10"]


def test_trainer_state_has_one_schema(tmp_path):
    state = TrainerState(global_step=7, max_steps=20, stage_index=1, epoch=2, batches_done=3, best_metric=0.5)
    state.save(tmp_path)
    assert TrainerState.load(tmp_path) == state
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 1, "lr": 3}))
    with pytest.raises(ValueError, match=r"keys \['lr'\]"):
        TrainerState.load(tmp_path)


def test_begin_clears_a_stale_stop_and_temporary_folders_start_writes_config(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / STOP_NAME).touch()
    for name in (".checkpoint-3.tmp", ".best.x1y2.tmp", ".best.old-123"):
        (out / name).mkdir()
    make_checkpoint(out, 2)
    folder = RunFolder(out)
    assert folder.begin("auto").name == "checkpoint-2"
    assert not folder.stop_requested() and sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]
    (out / STOP_NAME).touch()  # written after the run began: honoured
    assert folder.stop_requested()
    write_warnings(out, ["old"])
    folder.start(RunConfig(output_dir=str(out), lr=3e-4), step=2)
    assert "lr: 0.0003" in (out / "config.yaml").read_text() and read_warnings(out) == []


def test_warnings_round_trip(tmp_path):
    assert read_warnings(tmp_path) == []
    write_warnings(tmp_path, ["loss stayed at log 2"])
    assert read_warnings(tmp_path) == ["loss stayed at log 2"]
    (tmp_path / "warnings.json").write_text("[1, ")
    assert read_warnings(tmp_path) == []


def test_run_config_rules_and_warmup_steps():
    cfg = RunConfig(warmup=0.1)
    assert cfg.warmup_steps(50) == pytest.approx(5.0) and RunConfig(warmup=8).warmup_steps(5) == 5
    with pytest.raises(ValueError, match="output_dir is empty"):
        RunConfig(output_dir="")
    with pytest.raises(ValueError, match="grad_accum must be at least 1"):
        RunConfig(grad_accum=0)
