"""The studio's SQLite job store with a fake job (tests/studio_fake_job.py): start, status,
logs, progress, stop, a FIFO queue, and a store restarted on the same file."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio.jobs import JobStore
from conftest import fake_job_command as fake_command, wait_for



def config(out: Path, steps=400, step_seconds=0.05) -> str:
    return f"output_dir: {out}\nsteps: {steps}\nstep_seconds: {step_seconds}\n"


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite", command=fake_command, stop_grace_s=3.0, monitor_interval_s=0.2)
    yield s
    for job in s.list():
        if job["status"] in ("running", "stopping", "queued"):
            s.stop(job["id"])
    s.close()


def test_start_logs_progress_stop(store, tmp_path):
    out = tmp_path / "run1"
    job = store.submit("train", config(out), out)
    assert store.status(job) == "running"
    wait_for(lambda: "step 3" in store.logs(job))
    wait_for(lambda: store.progress(job) > 0)
    assert 0 < store.progress(job) < 1
    assert store.metrics(job)[0]["step"] == 1
    assert store.stop(job) == "stopping"
    assert (out / "STOP").exists()
    wait_for(lambda: store.status(job) == "stopped", timeout=10)
    assert "STOP found" in store.logs(job)  # it stopped cooperatively, not by a kill


def test_finished_job_and_failed_job(store, tmp_path):
    ok = store.submit("train", config(tmp_path / "ok", steps=3, step_seconds=0.01), tmp_path / "ok")
    wait_for(lambda: store.status(ok) == "finished")
    assert store.progress(ok) == 1.0 and store.get(ok)["returncode"] == 0
    bad = store.submit("train", "output_dir: [unclosed\n", tmp_path / "bad")
    wait_for(lambda: store.status(bad) == "failed")
    assert store.get(bad)["returncode"] != 0
    assert "yaml" in store.logs(bad).lower()


def test_second_job_queues_fifo(store, tmp_path):
    first = store.submit("train", config(tmp_path / "a"), tmp_path / "a")
    second = store.submit("dpo", config(tmp_path / "b", steps=2, step_seconds=0.01), tmp_path / "b")
    third = store.submit("train", config(tmp_path / "c", steps=2, step_seconds=0.01), tmp_path / "c")
    assert [store.status(j) for j in (first, second, third)] == ["running", "queued", "queued"]
    assert (store.queue_position(second), store.queue_position(third)) == (1, 2)
    store.stop(third)  # a queued job is simply dropped
    assert store.status(third) == "stopped"
    store.stop(first)
    wait_for(lambda: store.status(second) in ("running", "finished"))
    wait_for(lambda: store.status(second) == "finished")
    assert store.status(third) == "stopped"


def test_restart_finds_and_reattaches_the_job(store, tmp_path):
    out = tmp_path / "run"
    job = store.submit("train", config(out), out)
    wait_for(lambda: store.progress(job) > 0)
    store.close()
    store._children.clear()  # what a new app process knows: the database only
    again = JobStore(tmp_path / "jobs.sqlite", command=fake_command, stop_grace_s=3.0, monitor_interval_s=0.2)
    try:
        assert again.status(job) == "running"
        before = again.progress(job)
        wait_for(lambda: again.progress(job) > before)  # the same process goes on
        again.stop(job)
        wait_for(lambda: again.status(job) == "stopped", timeout=10)
    finally:
        again.close()


def test_dead_process_is_marked_on_restart(tmp_path):
    db = tmp_path / "jobs.sqlite"
    first = JobStore(db, command=fake_command, monitor_interval_s=None)
    out = tmp_path / "run"
    job = first.submit("train", config(out), out)
    pid = first.get(job)["pid"]
    import os
    import signal

    os.killpg(pid, signal.SIGKILL)  # the machine "crashed": no exit code written
    first._children[pid].wait()
    first._children.clear()
    again = JobStore(db, command=fake_command, monitor_interval_s=None)
    assert again.status(job) == "failed"
    assert "without an exit code" in again.get(job)["message"]


def test_stubborn_job_is_killed_after_the_grace_period(tmp_path):
    def ignores_stop(kind, config_path):
        return [sys.executable, "-c", "import time; print('busy', flush=True); time.sleep(60)"]

    s = JobStore(tmp_path / "jobs.sqlite", command=ignores_stop, stop_grace_s=0.5, monitor_interval_s=0.1)
    try:
        job = s.submit("train", "output_dir: x\n", tmp_path / "x")
        wait_for(lambda: "busy" in s.logs(job))
        s.stop(job)
        wait_for(lambda: s.status(job) == "stopped", timeout=10)
    finally:
        s.close()


def test_finished_runs_are_offered_as_scorers(store, tmp_path):
    from studio.state import Settings, scorer_choices

    runs = tmp_path / "runs"
    job = store.submit("train", config(runs / "tiny", steps=2, step_seconds=0.01), runs / "tiny")
    wait_for(lambda: store.status(job) == "finished")
    choices = scorer_choices(Settings(runs_dir=runs, scorer="classic"))
    assert choices[0] == "classic" and f"edithf:{runs / 'tiny' / 'best'}" in choices and "dummy" in choices


def test_real_tiny_training_job_is_stopped_cooperatively(demo_dataset, tmp_path):
    """`edithf train` itself, through the store's default command: it logs, then honours STOP
    (saves a checkpoint and exits 0), so the job ends as stopped, not killed."""
    pytest.importorskip("edithf.training.edithf_trainer")
    from studio.jobs import default_command

    out = tmp_path / "tiny"
    cfg = (f"dataset: {demo_dataset}\noutput_dir: {out}\nbackbone: tiny:qwen2_vl\nstages: [pointwise]\n"
           "epochs: [50]\nbatch_size: 4\nlogging_steps: 1\neval_split: ''\nprogress_bar: false\n")
    s = JobStore(tmp_path / "jobs.sqlite", command=default_command, stop_grace_s=60, monitor_interval_s=0.2)
    try:
        job = s.submit("train", cfg, out)
        wait_for(lambda: any("train/loss" in r for r in s.metrics(job)) or s.status(job) == "failed", timeout=120)
        assert s.status(job) == "running", s.logs(job)[-2000:]
        assert 0 < s.progress(job) < 1
        s.stop(job)
        wait_for(lambda: s.status(job) == "stopped", timeout=60)
        assert list(out.glob("checkpoint-*")), "a stopped run leaves a checkpoint to resume from"
        assert s.get(job)["returncode"] == 0, s.logs(job)[-2000:]  # it exited by itself
    finally:
        s.close()
