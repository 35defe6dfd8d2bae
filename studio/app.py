"""The studio: six tabs over the `edithf` library, one module per tab in `studio/tabs/`.

    from studio.app import build_studio, launch_studio
    demo = build_studio()            # gr.Blocks; loads no model, imports no torch
    launch_studio(demo)              # theme/css/analytics as the studio wants them

`?tab=leaderboard` (any tab id) in the address selects that tab when the page opens.

Served files: only the loaded datasets' folders (`gr.set_static_paths`, read-only), this
studio's runs folder (the job database lies in the cache folder, `job_db_path`) and the files
Gradio itself keeps for uploads and outputs; nothing else under the temp folder or the working
directory.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr

from studio.jobs import JobStore
from studio.state import DatasetLoader, Settings, StudioContext, scorer_info

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
    jobs = jobs or JobStore(job_db_path(settings))
    ctx = StudioContext(settings=settings, loader=DatasetLoader(settings).start(), jobs=jobs)

    with gr.Blocks(title="EditHF Studio", analytics_enabled=False) as demo:
        gr.Markdown("# EditHF Studio\nScore text-guided image edits on **quality**, **alignment** and "
                    "**preservation**; rank models; train the evaluator; use it as a reward.")
        banner = gr.Markdown(no_evaluator_banner(ctx), elem_id="studio-banner")
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
        demo.load(lambda: no_evaluator_banner(ctx), None, banner, api_visibility="private")
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


def no_evaluator_banner(ctx) -> str:
    """The line at the top when no trained evaluator is at hand: the scores then come from a
    scorer that is not a learned judgement of the edit, and the user should know how to get one."""
    if any(n.startswith("edithf:") for n in ctx.scorers()):
        return ""
    try:
        trained = scorer_info(ctx.settings.scorer).needs_weights
    except KeyError:
        trained = False
    if trained:
        return ""
    # Names no scorer: the user may pick another one, and a banner naming the start-up scorer
    # would then be wrong.
    return ("**No trained evaluator yet.** The scorers offered are baselines (weight-free metrics), "
            "not a learned judgement of the edit (see the scorer card beside each result). Train one in "
            "the **Train** tab, or start the studio with `EDITHF_SCORER=edithf:runs/x/best` "
            "(a trained run folder or hub id).")


def parse_auth(text: str | None) -> list[tuple[str, str]] | None:
    """EDITHF_AUTH=`user:password[,user2:password2]` -> Gradio's `auth` list (None: no login)."""
    if not text or not text.strip():
        return None
    pairs = []
    for item in text.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError("EDITHF_AUTH must be user:password (several joined by commas); "
                             f"got an item without both: {user or '(empty)'!r}")
        pairs.append((user, password))
    return pairs


def job_db_path(settings: Settings) -> Path:
    """The job database: in the cache folder, one per runs folder, not in the served runs folder.
    Gradio lowercases a request and its blocklist before resolving symlinks, so a blocked file
    whose real path has a capital letter is reached through a symlink (/proc/self/cwd/runs/...)."""
    runs = settings.runs_dir.expanduser().resolve()
    key = hashlib.sha256(str(runs).encode()).hexdigest()[:12]
    return settings.cache_dir.expanduser().resolve() / "studio-jobs" / f"{runs.name}-{key}.sqlite"


def served_paths(ctx) -> tuple[list[str], list[str]]:
    """(allowed_paths, blocked_paths) for launch(): the start-up dataset and the runs folder;
    everything else is refused (403). The job database lies elsewhere (`job_db_path`); it is
    blocked too, for a database passed in or a cache folder inside the runs folder."""
    allowed = [ctx.settings.runs_dir.resolve()]
    if ctx.settings.dataset:
        allowed.append(Path(ctx.settings.dataset).expanduser().resolve())
    db = Path(ctx.jobs.db_path).resolve()
    blocked = [db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    return [str(p) for p in allowed], [str(p) for p in blocked]


def launch_studio(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs):
    """Launch with the studio's theme and css (Gradio 6 takes them in launch()), the served
    paths restricted (see the module docstring) and EDITHF_AUTH's login if set."""
    ctx = demo.studio_context
    host = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    auth = kwargs.pop("auth", None) or parse_auth(os.environ.get("EDITHF_AUTH"))
    if host not in ("127.0.0.1", "localhost") and auth is None:
        print(f"[edithf studio] serving {host} without a login: anyone who reaches it can use the studio "
              "and launch jobs; set EDITHF_AUTH=user:password", flush=True)
    warm_up(ctx)
    allowed, blocked = served_paths(ctx)
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port or (int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None),
        theme=THEME, css=CSS, show_error=True, allowed_paths=allowed, blocked_paths=blocked, auth=auth, **kwargs,
    )
