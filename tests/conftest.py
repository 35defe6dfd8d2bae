"""Shared test set-up: everything offline, deterministic, no GPU.

Fixtures here are shared by many test files; area-specific fixtures live in the test files.
"""
from __future__ import annotations

import os

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
    from edithf.data.demo import build_demo

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
