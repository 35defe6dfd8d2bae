"""Shared test set-up: everything offline, deterministic, no GPU.

Fixtures here are shared by many test files; area-specific fixtures live in the test files.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory):
    """A small processed demo benchmark (built once per test session).

    Returns the folder; load it with `edithf.data.dataset.load_dataset(path)`.
    """
    from edithf.demo import build_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    return build_demo(out, seed=0, n_groups=12)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread while a module runs: on 2 shared cores, several threads per process
    only spin against the other test processes. Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def wait_for(predicate, timeout=20.0, interval=0.1):
    """Retry until `predicate()` is truthy and return its value (jobs and servers are other
    processes: no fixed sleeps)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate}")


FAKE_JOB = Path(__file__).with_name("studio_fake_job.py")


def fake_job_command(kind, config_path):
    """The job store's command for a fake job that follows the run contract (no real training)."""
    return [sys.executable, str(FAKE_JOB), kind, str(config_path)]


@contextlib.contextmanager
def running_studio(dataset, tmp: Path, command=fake_job_command):
    """The studio on `dataset` with the dummy scorer and fake jobs (or real ones:
    command=studio.jobs.default_command), launched in-process on a free port; yields (blocks,
    url, job store) and closes everything, stopping live jobs, afterwards."""
    from studio.app import build_studio, launch_studio
    from studio.jobs import JobStore
    from studio.state import Settings

    (tmp / "data").mkdir(exist_ok=True)  # where tests put folders typed in the Dataset tab
    settings = Settings(dataset=str(dataset), scorer="dummy", runs_dir=tmp / "runs", cache_dir=tmp / "cache",
                        n_bootstrap=20, data_roots=(tmp / "data",))
    jobs = JobStore(tmp / "runs" / "jobs.sqlite", command=command, stop_grace_s=3.0, monitor_interval_s=0.2)
    demo = build_studio(settings, jobs)
    _, url, _ = launch_studio(demo, port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield demo, url.rstrip("/"), jobs
    finally:
        for job in jobs.list():
            if job["status"] in ("running", "stopping", "queued"):
                jobs.stop(job["id"])
        jobs.close()
        demo.close()
