"""The studio: six tabs over the `edithf` library, one module per tab in `studio/tabs/`.

    from studio.app import build_studio, launch_studio
    demo = build_studio()            # gr.Blocks; loads no model, imports no torch
    launch_studio(demo)              # theme/css/analytics as the studio wants them

`?tab=leaderboard` (any tab id) in the address selects that tab when the page opens.
"""
from __future__ import annotations

import importlib
import os
import tempfile
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr

from studio.jobs import JobStore
from studio.state import DatasetLoader, Settings, StudioContext

# tab id -> (title, module under studio.tabs)
TABS = {
    "score": ("Score", "score"),
    "compare": ("Compare", "compare"),
    "leaderboard": ("Leaderboard", "leaderboard"),
    "dataset": ("Dataset", "dataset"),
    "train": ("Train", "train"),
    "dpo": ("DPO", "dpo"),
}
CSS = "#studio-status {font-size: 0.9em; opacity: 0.85} .best-row {font-weight: 600}"
THEME = "soft"


def _build_tab(ctx, tab_id: str, module_name: str):
    """Build one tab; a tab whose library part cannot be imported says so and the rest works."""
    try:
        module = importlib.import_module(f"studio.tabs.{module_name}")
        return module, module.build(ctx)
    except ImportError as exc:
        gr.Markdown(f"**This tab is not available:** `{exc}`. Install the missing part "
                    f"(`pip install -e .[all]`) and restart the studio.", elem_id=f"{tab_id}-unavailable")
        return None, None


def select_tab(request: gr.Request):
    """Deep link: ?tab=<id> selects a tab on page load."""
    wanted = (request.query_params.get("tab") or "").lower() if request else ""
    return gr.Tabs(selected=wanted) if wanted in TABS else gr.Tabs()


def build_studio(settings: Settings | None = None, jobs: JobStore | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or JobStore(settings.runs_dir / "studio-jobs.sqlite")
    ctx = StudioContext(settings=settings, loader=DatasetLoader(settings).start(), jobs=jobs)

    with gr.Blocks(title="EditHF Studio", analytics_enabled=False) as demo:
        gr.Markdown("# EditHF Studio\nScore text-guided image edits on **quality**, **alignment** and "
                    "**preservation**; rank models; train the evaluator; use it as a reward.")
        status = gr.Markdown(ctx.loader.status, elem_id="studio-status")
        loads = []
        with gr.Tabs(elem_id="studio-tabs") as tabs:
            for tab_id, (title, module_name) in TABS.items():
                with gr.Tab(title, id=tab_id, elem_id=f"tab-{tab_id}"):
                    module, parts = _build_tab(ctx, tab_id, module_name)
                    if module is not None and hasattr(module, "on_load"):
                        loads.append(module.on_load(ctx, parts))

        timer = gr.Timer(1.0)
        timer.tick(lambda: (ctx.loader.status, gr.Timer(active=not ctx.loader.ready)), None, [status, timer],
                   api_visibility="private", show_progress="hidden")
        demo.load(select_tab, None, tabs, api_visibility="private")
        for fn, inputs, outputs, *follow_ups in loads:
            event = demo.load(fn, inputs, outputs, api_visibility="private")
            for then_fn, then_inputs, then_outputs in follow_ups:
                event = event.success(then_fn, then_inputs, then_outputs, api_visibility="private")
    demo.studio_context = ctx  # for tests and the benchmark
    return demo


def warm_up(ctx) -> None:
    """Build the default scorer in the background once the dataset is there, so the first
    Score click does not pay for its imports (torch for classic) or its weights."""
    from studio.state import get_evaluator

    def run():
        ctx.loader.wait(None)
        try:
            get_evaluator(ctx.settings.scorer)
            print(f"[edithf studio] scorer {ctx.settings.scorer} ready", flush=True)
        except Exception as exc:  # the Score tab shows the same error when it is used
            print(f"[edithf studio] scorer {ctx.settings.scorer} failed to load: {exc}", flush=True)

    threading.Thread(target=run, daemon=True, name="edithf-warm-up").start()


def launch_studio(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs):
    """Launch with the studio's theme and css (Gradio 6 takes them in launch())."""
    ctx = demo.studio_context
    warm_up(ctx)
    roots = [ctx.settings.cache_dir, ctx.settings.runs_dir.resolve(), tempfile.gettempdir()]
    if ctx.settings.dataset:
        roots.append(ctx.settings.dataset)
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=port or (int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None),
        theme=THEME, css=CSS, show_error=True, allowed_paths=[str(r) for r in roots], **kwargs,
    )
