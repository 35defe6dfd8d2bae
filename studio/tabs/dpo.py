"""DPO tab: `edithf dpo CONFIG.yaml` (Diffusion-/Flow-DPO of an editing pipeline) from a form over
DPOConfig, run in the same job store (and queue) as training; preference pairs built here
(toy pairs, or Global-DPO pairs of the studio's dataset); a finished run evaluated as a tuned
editor (base vs LoRA, `edithf.dpo.evaluate.evaluate_lora`)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import yaml

from studio.tabs.common import scorer_dropdown
from studio.tabs.jobs_panel import build_jobs_panel, refusal, run_paths

PAIR_DIMENSIONS = ["overall", "quality", "alignment", "preservation"]


def build(ctx) -> None:
    from edithf.dpo.dpo_config import DPOConfig

    gr.Markdown(
        "DPO fine-tuning of a diffusers editing pipeline on preference pairs. LoRA on the transformer; "
        "the adapter is saved where `pipe.load_lora_weights` reads it. It shares the queue with "
        "training: one job at a time. Start from a preset (e.g. `dpo_tiny_qwen_image_edit.yaml`, a tiny "
        "pipeline that runs on a CPU), build pairs below, launch."
    )
    with gr.Accordion("1 · preference pairs", open=True):
        with gr.Row():
            toy_btn = gr.Button("Toy pairs (brighter vs darker, for the tiny pipelines)", elem_id="dpo-toy-pairs")
            dimension = gr.Dropdown(PAIR_DIMENSIONS, value="overall", label="Global-DPO: rank by",
                                    elem_id="dpo-pairs-dimension")
            global_btn = gr.Button("Global-DPO pairs from the studio's dataset", elem_id="dpo-global-pairs")
        pairs_msg = gr.Markdown(elem_id="dpo-pairs-message")
    parts = build_jobs_panel(ctx, "dpo", DPOConfig)
    pairs_field = parts["form"]["pairs"]
    toy_btn.click(lambda: toy_pairs(ctx), None, [pairs_field, pairs_msg], api_name="dpo_toy_pairs")
    global_btn.click(lambda d: dataset_pairs(ctx, d), dimension, [pairs_field, pairs_msg], api_name="dpo_global_pairs")
    build_evaluation(ctx)


def toy_pairs(ctx):
    from edithf.dpo.toy_pairs import make_toy_pairs

    table = make_toy_pairs(Path(ctx.settings.runs_dir).resolve() / "toy_pairs")
    return str(table), f"Toy pairs written: `{table}` (the `pairs` field now names it)."


def dataset_pairs(ctx, dimension: str):
    from edithf.reward.pairs import global_pairs

    dataset = ctx.dataset_path()
    out = Path(ctx.settings.runs_dir).resolve() / "pairs" / f"global-{Path(dataset).name}-{dimension}.parquet"
    try:
        pairs = global_pairs(dataset, out, dimension=dimension)
    except (ValueError, OSError) as exc:
        raise refusal("Global-DPO pairs", exc) from exc
    report = pairs.attrs.get("report", {})
    dropped = ", ".join(f"{k.removeprefix('dropped_')}: {v}" for k, v in report.items()
                        if k.startswith("dropped_") and v)
    msg = (f"{len(pairs)} Global-DPO pairs from `{dataset}` ranked by **{dimension}** "
           f"({report.get('ordered_by', '')}; dropped {dropped or 'none'}): `{out}`")
    return str(out), msg


# -- evaluate a finished run as a tuned editor ---------------------------------------------
def finished_dpo_runs(runs_dir: Path) -> list[str]:
    """Run folders under runs_dir whose config is a DPO config and whose best/ LoRA exists."""
    runs = []
    for cfg_path in sorted(Path(runs_dir).glob("*/config.yaml"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        best = cfg_path.parent / "best"
        if isinstance(cfg, dict) and "pipeline" in cfg and "pairs" in cfg and best.is_dir() and any(best.iterdir()):
            runs.append(str(cfg_path.parent))
    return runs


def evaluate_run(ctx, run: str, scorer: str, n_instructions: int, steps: int, progress=None):
    """Base pipeline vs the run's LoRA on the first instructions of its own pairs table; the
    edits, scores and report go to <run>/evaluation/."""
    from edithf.config import ConfigError
    from edithf.dpo.evaluate import evaluate_lora
    from edithf.dpo.pairs_data import load_pairs

    if not run:
        raise refusal("evaluate", "pick a finished DPO run")
    try:
        run_dir = run_paths(ctx).written("run", run)  # it writes there: only a run of this studio
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (ConfigError, OSError, yaml.YAMLError) as exc:
        raise refusal("evaluate", exc) from exc
    if progress is not None:
        progress(0.1, desc="loading the pipeline and generating base and tuned edits")
    try:
        pairs = load_pairs(cfg["pairs"], cfg.get("on_size_mismatch", "resize"))
        instructions = pairs[["source", "prompt"]].drop_duplicates().head(int(n_instructions))
        side = int(cfg.get("resolution", 512))
        result = evaluate_lora(cfg["pipeline"], run_dir / "best", instructions, scorer=scorer,
                               num_inference_steps=int(steps), area=side * side,
                               out_dir=run_dir / "evaluation")
    except (ValueError, OSError, KeyError) as exc:
        raise refusal("evaluate", exc) from exc
    gallery = [(im, f"base · {i}") for i, im in enumerate(result.base_images)]
    gallery += [(im, f"tuned · {i}") for i, im in enumerate(result.tuned_images)]
    summary = (f"**{run_dir.name}**, scorer `{scorer}`, {len(instructions)} instructions of its pairs table "
               f"(written to `{run_dir / 'evaluation'}`)\n\n{result.to_markdown()}")
    return summary, gallery


def build_evaluation(ctx) -> None:
    with gr.Accordion("evaluate a finished run as an editor (base vs tuned)", open=False):
        with gr.Row():
            run = gr.Dropdown(choices=finished_dpo_runs(ctx.settings.runs_dir), label="finished DPO run",
                              allow_custom_value=False, elem_id="dpo-eval-run")
            refresh = gr.Button("Refresh runs", elem_id="dpo-eval-refresh", scale=0)
            scorer = scorer_dropdown(ctx, "dpo-eval-scorer")
            n_instructions = gr.Number(value=4, precision=0, minimum=1, label="instructions", elem_id="dpo-eval-n")
            steps = gr.Number(value=8, precision=0, minimum=1, label="inference steps", elem_id="dpo-eval-steps")
        run_btn = gr.Button("Evaluate", elem_id="dpo-eval-run-btn")
        summary = gr.Markdown(elem_id="dpo-eval-summary")
        gallery = gr.Gallery(label="edits: base, then tuned", columns=8, height=220, elem_id="dpo-eval-gallery")
    refresh.click(lambda: gr.Dropdown(choices=finished_dpo_runs(ctx.settings.runs_dir)), None, run,
                  api_visibility="private")

    def evaluate(run, scorer, n_instructions, steps, progress=gr.Progress()):
        return evaluate_run(ctx, run, scorer, n_instructions, steps, progress)

    run_btn.click(evaluate, [run, scorer, n_instructions, steps], [summary, gallery], api_name="dpo_evaluate")
