"""The shared body of the Train and DPO tabs: a preset (a YAML of configs/ or an upload) into a
form generated from the config dataclass, the resolved YAML, launch into the job store's
queue, live logs / progress / metrics plot, stop.

The page only reads the job store (polled by a gr.Timer); the job itself is a process, so a
closed tab or a restarted app loses nothing.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import gradio as gr
import yaml

from edithf.config import ConfigError, config_from_dict, config_to_yaml, describe_fields
from studio.forms import build_form, form_values, values_to_config
from studio.jobs import ACTIVE, OutputDirInUse
from studio.launch_checks import CONFIGS_DIR, READ_FIELDS, WRITE_FIELDS, RunPaths, check_inputs_exist

JOB_COLUMNS = ["id", "kind", "name", "status", "progress", "queue", "started", "message"]
POLL_S = 1.5
LOG_LINES = 20          # the log box shows this many last lines: the end of the log, always
SMOOTHING = 0.6         # exponential moving average of the loss curve, as TensorBoard's slider


def refusal(what: str, exc: Exception | str) -> gr.Error:
    """A user error: one line in the server log (no traceback), the message in the page."""
    text = f"{what}: {exc}"
    print(f"[edithf studio] refused: {text}", flush=True)
    return gr.Error(text, duration=None, print_exception=False)


# -- the config a launch runs ---------------------------------------------------------------
def run_paths(ctx) -> RunPaths:
    """Reads from where the Dataset tab opens datasets (studio.state.StudioContext.dataset_roots)
    and from the start-up dataset; writes into the runs folder only."""
    roots = [p for p in (ctx.loader.path, ctx.settings.dataset) if p]
    return RunPaths(ctx.settings.runs_dir, [*ctx.dataset_roots(), *roots])


def fresh_run_dir(ctx, kind: str) -> Path:
    """<runs>/<kind>-<date>-<n>, the first n no folder and no job has: the same name for the
    preview and the launch that follows it."""
    runs = run_paths(ctx).runs_dir
    used = {Path(j["output_dir"]) for j in ctx.jobs.list()}
    stem = f"{kind}-{time.strftime('%Y%m%d')}"
    n = 1
    while (runs / f"{stem}-{n}").exists() or runs / f"{stem}-{n}" in used:
        n += 1
    return runs / f"{stem}-{n}"


def resolve_config(ctx, kind: str, cls, names: list[str], values):
    """Form values -> the config the job runs: an empty dataset is the studio's dataset; the
    dataclass's default output_dir becomes a fresh folder under the runs dir (otherwise
    `resume: auto` would continue an older run); every path checked against the runs folder
    and made absolute (the job may outlive this app and its working directory)."""
    cfg = values_to_config(cls, names, values)
    default_out = next(r["default"] for r in describe_fields(cls) if r["name"] == "output_dir")
    paths = run_paths(ctx)
    if cfg.output_dir == default_out:
        cfg.output_dir = str(fresh_run_dir(ctx, kind))
    if hasattr(cfg, "dataset") and not cfg.dataset and ctx.loader.ready and ctx.loader.path:
        cfg.dataset = str(Path(ctx.loader.path).resolve())
    paths.apply(cfg)
    return cfg


# -- presets --------------------------------------------------------------------------------
def preset_choices(cls) -> list[str]:
    """The YAML files of configs/ that are configs of `cls` (a DPO file does not fit TrainConfig)."""
    found = []
    for path in sorted(CONFIGS_DIR.glob("*.y*ml")):
        try:
            preset_values(cls, path)
        except (ConfigError, OSError, yaml.YAMLError):
            continue
        found.append(path.name)
    return found


def preset_values(cls, path: Path) -> dict:
    """The mapping of a preset YAML, checked against `cls` as `edithf train/dpo FILE` would."""
    values = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError("it must hold a mapping of key: value")
    config_from_dict(cls, values)
    return values


def adapt_to_studio(ctx, values: dict) -> tuple[dict, list[str]]:
    """The configs' paths are written for `runs/` and `demo/` in the working directory: point
    them at this studio's runs folder and dataset. Returns the values and what was changed."""
    runs, out, notes = run_paths(ctx).runs_dir, dict(values), []
    for name in (*WRITE_FIELDS, *READ_FIELDS):
        value = str(out.get(name) or "")
        if value.startswith("runs/"):
            out[name] = str(runs / value.removeprefix("runs/"))
            notes.append(f"{name} → {out[name]}")
    if out.get("dataset") and not Path(str(out["dataset"])).exists():
        notes.append(f"dataset {out['dataset']!r} is not a folder here: the studio's dataset is used")
        out["dataset"] = ""
    return out, notes


def load_preset(ctx, cls, path: Path, shown_name: str):
    """A preset file -> (the form's values, a message); ConfigError names the file, not a temp path."""
    try:
        values = preset_values(cls, path)
    except (ConfigError, yaml.YAMLError, OSError) as exc:
        raise refusal(f"preset {shown_name}", exc) from exc
    values, notes = adapt_to_studio(ctx, values)
    message = f"Loaded **{shown_name}** ({len(values)} settings; the other fields are the defaults)."
    if notes:
        message += " Adapted to this studio: " + "; ".join(notes) + "."
    return [*form_values(cls, values), message]


# -- what the page shows --------------------------------------------------------------------
def status_text(store, job: dict) -> str:
    """The status as the user must read it: a finished run that did not learn says so."""
    if job["status"] == "finished":
        warnings = store.warnings(job["id"])
        if warnings:
            return "finished — did not learn: " + "; ".join(warnings)
    return job["status"]


def jobs_table(store, jobs: list[dict] | None = None):
    """The job list (`jobs`: store.list() when the caller has just read it)."""
    import pandas as pd

    rows = []
    for job in store.list() if jobs is None else jobs:
        started = time.strftime("%H:%M:%S", time.localtime(job["started"])) if job["started"] else ""
        status = status_text(store, job)
        rows.append({
            "id": job["id"], "kind": job["kind"], "name": job["name"],
            "status": "finished — did not learn" if status.startswith("finished —") else status,
            "progress": f"{store.progress(job['id']):.0%}" if job["status"] != "queued" else "",
            "queue": store.queue_position(job["id"]) or "", "started": started,
            "message": status.partition(": ")[2] if status.startswith("finished —") else job["message"] or "",
        })
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def _points(rows: list[dict], key: str, stage: str | None = None):
    pts = [(r["step"], r[key]) for r in rows
           if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) and "step" in r
           and math.isfinite(r[key]) and (stage is None or r.get("stage") == stage)]
    return [p[0] for p in pts], [p[1] for p in pts]


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Exponential moving average, debiased at the start (TensorBoard's smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def _loss_traces(fig, rows, row, col, key="train/loss"):
    stages = list(dict.fromkeys(r.get("stage") for r in rows if key in r))
    for i, stage in enumerate(stages):
        x, y = _points(rows, key, stage)
        color = f"hsl({(i * 110) % 360}, 65%, 45%)"
        label = f"{stage or 'train'} loss"
        fig.add_scatter(x=x, y=y, mode="lines", name=f"{label} (raw)", line=dict(color=color, width=1),
                        opacity=0.35, legendgroup=label, showlegend=False, row=row, col=col)
        fig.add_scatter(x=x, y=smoothed(y), mode="lines", name=label, line=dict(color=color, width=2),
                        legendgroup=label, row=row, col=col)


def _line(fig, rows, key, name, row, col):
    x, y = _points(rows, key)
    if x:
        fig.add_scatter(x=x, y=y, mode="lines+markers", name=name, marker=dict(size=4), row=row, col=col)


def _lr_axis(fig, row, col):
    """From 0, in powers of ten: a constant 1e-3 otherwise sits on an axis from -1 to 1 and reads as 0."""
    fig.update_yaxes(rangemode="tozero", exponentformat="power", row=row, col=col)


def _mark_empty_panels(fig, panels) -> None:
    """A panel with nothing logged yet says so instead of staying blank."""
    for row, col in panels:
        panel = fig.get_subplot(row, col)
        x, y = (a.plotly_name.replace("axis", "") for a in (panel.xaxis, panel.yaxis))
        if not any(t.yaxis == y for t in fig.data):  # the panel's own axes: "x domain" alone is panel 1's
            fig.add_annotation(text="not logged yet", x=0.5, y=0.5, xref=f"{x} domain", yref=f"{y} domain",
                               showarrow=False, font=dict(color="gray"))


def _train_figure(rows):
    from plotly.subplots import make_subplots

    from edithf.data.schema import DIMENSIONS

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.09,
                        subplot_titles=("train loss per stage (smoothed; raw faint)",
                                        "eval SRCC per dimension (eval split)", "learning rate"))
    _loss_traces(fig, rows, 1, 1)
    for dim in (*DIMENSIONS, "mean"):
        _line(fig, rows, f"eval/srcc_{dim}", f"SRCC {dim}", 2, 1)
    _line(fig, rows, "train/lr", "lr (LoRA)", 3, 1)
    _line(fig, rows, "train/head_lr", "lr (head)", 3, 1)
    _lr_axis(fig, 3, 1)
    _mark_empty_panels(fig, [(1, 1), (2, 1), (3, 1)])
    fig.update_layout(height=640)
    return fig


def _dpo_figure(rows):
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, vertical_spacing=0.14,
                        subplot_titles=("DPO loss (dashed: log 2 = nothing learned)", "implicit accuracy",
                                        "implicit reward margin", "learning rate"))
    _loss_traces(fig, rows, 1, 1)
    fig.add_hline(y=math.log(2), line_dash="dash", line_color="gray", row=1, col=1)
    _line(fig, rows, "train/implicit_acc", "implicit accuracy", 1, 2)
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=2)
    _line(fig, rows, "train/reward_margin", "reward margin", 2, 1)
    _line(fig, rows, "train/lr", "lr", 2, 2)
    _lr_axis(fig, 2, 2)
    _mark_empty_panels(fig, [(1, 1), (1, 2), (2, 1), (2, 2)])
    fig.update_layout(height=560)
    return fig


def metrics_figure(rows: list[dict]):
    """What training UIs show, each on its own axis: loss per stage, eval metrics, learning rate
    (for DPO: loss vs log 2, implicit accuracy, reward margin, learning rate)."""
    import plotly.graph_objects as go

    if not any("step" in r for r in rows):
        fig = go.Figure()
        fig.update_layout(title="no metrics yet", height=160, xaxis_visible=False, yaxis_visible=False)
        return fig
    is_dpo = any(r.get("stage") == "dpo" or "train/implicit_acc" in r for r in rows)
    fig = _dpo_figure(rows) if is_dpo else _train_figure(rows)
    fig.update_xaxes(title_text="step", row=2 if is_dpo else 3)
    fig.update_layout(margin=dict(l=50, r=10, t=40, b=40), legend=dict(orientation="h", y=-0.12))
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
        return selector, {}, "no job yet", "", metrics_figure([]), jobs_table(store, jobs)
    job = next(j for j in jobs if j["id"] == int(selected))
    progress, queue = store.progress(job["id"]), store.queue_position(job["id"])
    status = status_text(store, job)
    info = {"id": job["id"], "kind": job["kind"], "status": job["status"], "progress": round(progress, 4),
            "queue_position": queue, "output_dir": job["output_dir"],
            "returncode": job["returncode"], "message": job["message"], "warnings": store.warnings(job["id"])}
    if status != job["status"]:
        head = f"**job #{job['id']}** · ⚠️ **{status}**"
    else:
        head = f"**job #{job['id']}** · {status} · {progress:.0%}"
    if job["status"] == "queued":
        head += f" · waiting in the queue (position {queue})"
    logs = store.logs(job["id"], max_lines=LOG_LINES)
    return selector, info, head, logs, metrics_figure(store.metrics(job["id"])), jobs_table(store, jobs)


# -- the panel ------------------------------------------------------------------------------
def build_jobs_panel(ctx, kind: str, cls) -> dict:
    """Call inside a gr.Tab: the presets, the form, the YAML, the queue and the selected job's
    live view. Returns {"form": {name: component}, "message": gr.Markdown}."""
    store = ctx.jobs
    names = [r["name"] for r in describe_fields(cls)]
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                preset = gr.Dropdown(choices=preset_choices(cls), value=None, label="preset (configs/)",
                                     info="fills the form from the file; fields it does not set get their defaults",
                                     elem_id=f"{kind}-preset")
                upload = gr.UploadButton("or upload a config YAML", file_types=[".yaml", ".yml"], scale=0,
                                         elem_id=f"{kind}-preset-upload")
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
    logs = gr.Textbox(label=f"log (last {LOG_LINES} lines)", lines=LOG_LINES, max_lines=LOG_LINES,
                      autoscroll=True, elem_id=f"{kind}-logs")
    plot = gr.Plot(label="metrics", elem_id=f"{kind}-plot")
    table = gr.Dataframe(headers=JOB_COLUMNS, label="jobs (one runs at a time; the others wait in order)",
                         interactive=False, elem_id=f"{kind}-jobs")
    inputs = [form[n] for n in names]

    def resolved(values):
        try:
            return resolve_config(ctx, kind, cls, names, values)
        except ConfigError as exc:
            raise refusal("config", exc) from exc

    def preview(*values):
        return config_to_yaml(resolved(values))

    def launch(*values):
        cfg = resolved(values)
        try:
            check_inputs_exist(cfg)
        except ConfigError as exc:
            raise refusal("config", exc) from exc
        text = config_to_yaml(cfg)
        busy = [j for j in store.list() if j["status"] in ACTIVE]
        try:
            job_id = store.submit(kind, text, cfg.output_dir)
        except OutputDirInUse as exc:
            raise refusal("output_dir", exc) from exc
        if store.status(job_id) == "queued":
            msg = (f"Job #{job_id} queued (position {store.queue_position(job_id)}): job "
                   f"#{busy[0]['id'] if busy else '?'} is running; one job runs at a time.")
            gr.Warning(msg)
        else:
            msg = f"Job #{job_id} started: `{cfg.output_dir}`"
        return text, msg, job_id, *job_view(store, kind, job_id)

    def stop(followed):
        if followed in (None, ""):
            raise refusal("stop", "no job selected: pick one in the job list")
        status = store.stop(int(followed))
        msg = f"Job #{followed}: {status}" + (" (STOP flag written; the run saves and exits)" if status == "stopping" else "")
        return msg, *job_view(store, kind, followed)

    def status_api(job_id: int) -> dict:
        """Status, progress, queue position, warnings, the log tail and the metrics rows of one job."""
        try:
            job = store.get(int(job_id))
        except KeyError as exc:
            raise refusal("status", exc.args[0]) from exc
        return {**job_view(store, kind, job["id"])[1], "status_text": status_text(store, job),
                "logs": store.logs(job["id"], 4000), "metrics": store.metrics(job["id"])[-50:]}

    def stop_api(job_id: int) -> str:
        """Stop a job (a queued one is dropped); returns its status."""
        return store.stop(int(job_id))

    def from_configs(name):
        if not name:
            return [gr.skip()] * len(inputs) + [gr.skip()]
        return load_preset(ctx, cls, CONFIGS_DIR / name, f"configs/{name}")

    def from_upload(path):
        if not path:
            return [gr.skip()] * len(inputs) + [gr.skip()]
        return load_preset(ctx, cls, Path(path), Path(path).name)

    # The page follows one job (gr.State, set by launch and by picking one in the list), so a
    # poll in flight cannot switch the view back to another job.
    followed = gr.State(None)
    view = [selector, details, head, logs, plot, table]
    preset.input(from_configs, preset, [*inputs, message], api_visibility="private")
    upload.upload(from_upload, upload, [*inputs, message], api_visibility="private")
    preview_btn.click(preview, inputs, yaml_box, api_name=f"{kind}_preview")
    launch_btn.click(launch, inputs, [yaml_box, message, followed, *view], api_name=f"{kind}_launch")
    stop_btn.click(stop, followed, [message, *view], api_visibility="private")
    selector.input(lambda s: (s, *job_view(store, kind, s)), selector, [followed, *view], api_visibility="private")
    gr.Timer(POLL_S).tick(lambda f: job_view(store, kind, f), followed, view,
                          api_visibility="private", show_progress="hidden")
    gr.api(status_api, api_name=f"{kind}_status")
    gr.api(stop_api, api_name=f"{kind}_stop")
    return {"form": form, "message": message}
