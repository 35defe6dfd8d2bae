"""The shared body of the Train and DPO tabs: a form from the config dataclass, the resolved
YAML, launch into the job store's queue, live logs / progress / metrics plot, stop.

The page only reads the job store (polled by a gr.Timer); the job itself is a process, so a
closed tab or a restarted app loses nothing.
"""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from edithf.config import ConfigError, config_to_yaml, describe_fields
from studio.forms import build_form, values_to_config
from studio.jobs import ACTIVE

JOB_COLUMNS = ["id", "kind", "name", "status", "progress", "queue", "started", "message"]
POLL_S = 1.5


def resolve_config(ctx, kind: str, cls, names: list[str], values):
    """Form values -> config, with the studio's defaults filled in: an empty dataset is the
    studio's dataset; the dataclass's default output_dir becomes a fresh folder under the runs
    dir (otherwise `resume: auto` would continue an older run); paths made absolute because
    the job may outlive this app and its working directory."""
    cfg = values_to_config(cls, names, values)
    default_out = next(r["default"] for r in describe_fields(cls) if r["name"] == "output_dir")
    if getattr(cfg, "output_dir", None) in ("", default_out):
        cfg.output_dir = str(ctx.settings.runs_dir / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    cfg.output_dir = str(Path(cfg.output_dir).expanduser().resolve())
    if hasattr(cfg, "dataset") and not cfg.dataset and ctx.loader.ready and ctx.loader.path:
        cfg.dataset = str(Path(ctx.loader.path).resolve())
    return cfg


def jobs_table(store):
    import pandas as pd

    rows = []
    for job in store.list():
        started = time.strftime("%H:%M:%S", time.localtime(job["started"])) if job["started"] else ""
        rows.append({
            "id": job["id"], "kind": job["kind"], "name": job["name"], "status": job["status"],
            "progress": f"{store.progress(job['id']):.0%}" if job["status"] != "queued" else "",
            "queue": store.queue_position(job["id"]) or "", "started": started, "message": job["message"] or "",
        })
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def metrics_figure(rows: list[dict]):
    """One line per numeric metric (train/loss, eval/...) against the step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    keys = sorted({k for r in rows for k, v in r.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "epoch", "progress")})
    for key in keys:
        pts = [(r.get("step"), r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=key))
    fig.update_layout(xaxis_title="step", height=320, margin=dict(l=40, r=10, t=30, b=40),
                      title="metrics.jsonl" if keys else "no metrics yet")
    return fig


def job_view(store, kind: str, selected):
    """Everything the panel shows for the selected job (or this kind's latest job)."""
    jobs = store.list()
    ids = [j["id"] for j in jobs]
    if selected in (None, "") or int(selected) not in ids:
        mine = [j["id"] for j in jobs if j["kind"] == kind]
        selected = mine[0] if mine else None
    choices = [(f"#{j['id']} {j['kind']} {j['name']} ({j['status']})", j["id"]) for j in jobs]
    selector = gr.Dropdown(choices=choices, value=selected)
    if selected is None:
        return selector, {}, "no job yet", "", metrics_figure([]), jobs_table(store)
    job = store.get(int(selected))
    progress = store.progress(job["id"])
    info = {"id": job["id"], "kind": job["kind"], "status": job["status"], "progress": round(progress, 4),
            "queue_position": store.queue_position(job["id"]), "output_dir": job["output_dir"],
            "returncode": job["returncode"], "message": job["message"]}
    head = f"**job #{job['id']}** · {job['status']} · {progress:.0%}"
    if job["status"] == "queued":
        head += f" · waiting in the queue (position {store.queue_position(job['id'])})"
    return selector, info, head, store.logs(job["id"]), metrics_figure(store.metrics(job["id"])), jobs_table(store)


def build_jobs_panel(ctx, kind: str, cls) -> None:
    """Call inside a gr.Tab: the form, the YAML, the queue and the selected job's live view."""
    store = ctx.jobs
    names = [r["name"] for r in describe_fields(cls)]
    with gr.Row():
        with gr.Column(scale=1):
            form = build_form(cls)
            with gr.Row():
                preview_btn = gr.Button("Show resolved YAML", elem_id=f"{kind}-preview")
                launch_btn = gr.Button("Launch", variant="primary", elem_id=f"{kind}-launch")
        with gr.Column(scale=1):
            yaml_box = gr.Code(language="yaml", label="resolved config (what the job runs)", elem_id=f"{kind}-yaml")
            message = gr.Markdown(elem_id=f"{kind}-message")
            selector = gr.Dropdown(label="job", choices=[], allow_custom_value=True, elem_id=f"{kind}-job")
            head = gr.Markdown(elem_id=f"{kind}-progress")
            stop_btn = gr.Button("Stop job", variant="stop", elem_id=f"{kind}-stop")
            details = gr.JSON(label="job", elem_id=f"{kind}-details")
    logs = gr.Textbox(label="log (tail)", lines=12, max_lines=12, autoscroll=True, elem_id=f"{kind}-logs")
    plot = gr.Plot(label="metrics", elem_id=f"{kind}-plot")
    table = gr.Dataframe(headers=JOB_COLUMNS, label="jobs (one runs at a time; the others wait in order)",
                         interactive=False, elem_id=f"{kind}-jobs")
    inputs = [form[n] for n in names]

    def preview(*values):
        try:
            return config_to_yaml(resolve_config(ctx, kind, cls, names, values))
        except ConfigError as exc:
            raise gr.Error(f"config: {exc}") from exc

    def launch(*values):
        try:
            cfg = resolve_config(ctx, kind, cls, names, values)
        except ConfigError as exc:
            raise gr.Error(f"config: {exc}") from exc
        text = config_to_yaml(cfg)
        busy = [j for j in store.list() if j["status"] in ACTIVE]
        job_id = store.submit(kind, text, cfg.output_dir)
        if store.status(job_id) == "queued":
            msg = (f"Job #{job_id} queued (position {store.queue_position(job_id)}): job "
                   f"#{busy[0]['id'] if busy else '?'} is running; one job runs at a time.")
            gr.Warning(msg)
        else:
            msg = f"Job #{job_id} started: `{cfg.output_dir}`"
        return text, msg, job_id, *job_view(store, kind, job_id)

    def stop(followed):
        if followed in (None, ""):
            raise gr.Error("no job selected: pick one in the job list")
        status = store.stop(int(followed))
        msg = f"Job #{followed}: {status}" + (" (STOP flag written; the run saves and exits)" if status == "stopping" else "")
        return msg, *job_view(store, kind, followed)

    def status_api(job_id: int) -> dict:
        """Status, progress, queue position, the log tail and the metrics rows of one job."""
        try:
            job = store.get(int(job_id))
        except KeyError as exc:
            raise gr.Error(str(exc.args[0])) from exc
        return {**job_view(store, kind, job["id"])[1], "logs": store.logs(job["id"], 4000),
                "metrics": store.metrics(job["id"])[-50:]}

    def stop_api(job_id: int) -> str:
        """Stop a job (a queued one is dropped); returns its status."""
        return store.stop(int(job_id))

    # The page follows one job (gr.State, set by launch and by picking one in the list), so a
    # poll in flight cannot switch the view back to another job.
    followed = gr.State(None)
    view = [selector, details, head, logs, plot, table]
    preview_btn.click(preview, inputs, yaml_box, api_name=f"{kind}_preview")
    launch_btn.click(launch, inputs, [yaml_box, message, followed, *view], api_name=f"{kind}_launch")
    stop_btn.click(stop, followed, [message, *view], api_visibility="private")
    selector.input(lambda s: (s, *job_view(store, kind, s)), selector, [followed, *view], api_visibility="private")
    gr.Timer(POLL_S).tick(lambda f: job_view(store, kind, f), followed, view,
                          api_visibility="private", show_progress="hidden")
    gr.api(status_api, api_name=f"{kind}_status")
    gr.api(stop_api, api_name=f"{kind}_stop")
