"""DPO tab: `edithf dpo CONFIG.yaml` (Diffusion-/Flow-DPO of an editing pipeline) from a form over
DPOConfig, run in the same job store (and queue) as training."""
from __future__ import annotations

import gradio as gr

from studio.tabs.jobs_panel import build_jobs_panel


def build(ctx) -> None:
    from edithf.dpo.dpo_config import DPOConfig

    gr.Markdown(
        "DPO fine-tuning of a diffusers editing pipeline on preference pairs (`edithf pairs` builds "
        "them). LoRA on the transformer; the adapter is saved where `pipe.load_lora_weights` reads it. "
        "It shares the queue with training: one job at a time."
    )
    build_jobs_panel(ctx, "dpo", DPOConfig)
