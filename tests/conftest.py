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
