"""Train tab: `edithf train CONFIG.yaml` from a form over TrainConfig, run in the job store."""
from __future__ import annotations

import gradio as gr

from edithf.training.train_config import TrainConfig
from studio.tabs.jobs_panel import build_jobs_panel


def build(ctx) -> None:
    gr.Markdown(
        "Train an EditHF evaluator (textual → pointwise → pairwise stages). The run is a process of "
        "its own: it survives closing this page. A finished run appears as a scorer "
        "(`edithf:<run>/best`) in the Score, Compare and Leaderboard tabs after a page reload. "
        "An empty `dataset` means the studio's dataset. Start from a preset of `configs/` "
        "(`train_demo.yaml` learns on the demo) or upload a YAML; runs go under the runs folder."
    )
    build_jobs_panel(ctx, "train", TrainConfig)
