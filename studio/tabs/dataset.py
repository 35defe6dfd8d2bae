"""Dataset tab: load a dataset folder (the studio's dataset by default), browse its groups:
source, prompt, edits side by side, human scores and a scorer's predictions when computed."""
from __future__ import annotations

import gradio as gr

from edithf.data.schema import DIMENSIONS
from studio.state import cached_predictions_if_any, load_dataset_cached, predictions_cached
from studio.tabs.common import abs_image, refresh_scorers, scorer_dropdown, user_errors

HUMAN = [c for d in DIMENSIONS for c in (f"mos_{d}", f"rank_{d}")]


def summary(ds) -> str:
    e = ds.edits
    tables = [n for n in ("ratings", "rankings", "pairs") if getattr(ds, n) is not None]
    name = ds.meta.get("name", ds.root.name)
    marked = ds.meta.get("synthetic") or "demo" in str(name).lower()
    synthetic = " · **synthetic data**" if marked and "synthetic" not in str(name).lower() else ""
    splits = e["split"].value_counts().to_dict() if "split" in e else {}
    return (f"**{name}**{synthetic} · `{ds.root}`  \n{len(e)} edits · {e['group_id'].nunique()} groups · "
            f"{e['model'].nunique()} models · {e['task'].nunique()} tasks · splits {splits or '—'} · "
            f"tables: edits{''.join(', ' + t for t in tables)}")


def open_folder(path):
    """(summary, group choices) of a dataset folder; a folder that fails validation -> its
    DatasetError message in the page."""
    if not path or not str(path).strip():
        raise gr.Error("type the path of a dataset folder (with edits.parquet and images/)")
    with user_errors(f"cannot load {str(path).strip()}"):
        ds = load_dataset_cached(str(path).strip())
    groups = ds.edits.drop_duplicates("group_id")
    return summary(ds), [(f"{r['group_id']} · {r['task']}", r["group_id"]) for _, r in groups.iterrows()]


def load_folder(path):
    """The Load button: (summary, the group list with the first group selected)."""
    text, choices = open_folder(path)
    return text, gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)


def show_group(ctx, path, group_id, scorer):
    """(source, prompt, edits gallery, scores table) of one group."""
    if not group_id:
        raise gr.Error("choose a group")
    with user_errors("dataset"):
        ds = load_dataset_cached(str(path).strip())
    rows = ds.edits[ds.edits["group_id"] == group_id]
    if rows.empty:
        raise gr.Error(f"no group {group_id!r} in {ds.root}")
    first = rows.iloc[0]
    keep = ["edit_id", "model", "task", *[c for c in HUMAN if c in rows]]
    table = rows[keep].copy()
    preds = cached_predictions_if_any(ds, scorer, ctx.settings.cache_dir) if scorer else None
    if preds is not None:
        cols = {d: f"pred_{d}" for d in (*DIMENSIONS, "overall")}
        table = table.merge(preds[["edit_id", *cols]].rename(columns=cols), on="edit_id", how="left")
    gallery = [(abs_image(ds, r["edited"]), f"{r['model']}") for _, r in rows.iterrows()]
    prompt = f"**prompt:** {first['prompt']}"
    if "description" in rows and isinstance(first.get("description"), str) and first["description"]:
        prompt += f"  \n**target description:** {first['description']}"
    return abs_image(ds, first["source"]), prompt, gallery, table.round(2)


def compute_predictions(ctx, path, scorer):
    with user_errors(f"predictions of {scorer}"):
        ds = load_dataset_cached(str(path).strip())
        preds = predictions_cached(ds, scorer, ctx.settings.cache_dir)
    return f"predictions of `{scorer}` for {len(preds)} edits computed and cached"


def build(ctx):
    with gr.Row():
        path = gr.Textbox(label="dataset folder", elem_id="dataset-path", scale=4,
                          placeholder="a folder with edits.parquet and images/ (the demo by default)")
        load = gr.Button("Load", variant="primary", elem_id="dataset-load", scale=0)
    info = gr.Markdown(elem_id="dataset-summary")
    with gr.Row():
        group = gr.Dropdown(label="group (same source and prompt)", choices=[], allow_custom_value=True,
                            elem_id="dataset-group")
        scorer = scorer_dropdown(ctx, "dataset-scorer", label="predicted scores of")
        predict = gr.Button("Compute predictions", elem_id="dataset-predict", scale=0)
    prompt = gr.Markdown(elem_id="dataset-prompt")
    with gr.Row():
        source = gr.Image(label="source", interactive=False, elem_id="dataset-source", height=280, scale=1)
        edits = gr.Gallery(label="edits", columns=4, height=280, elem_id="dataset-gallery", scale=3)
    table = gr.Dataframe(label="human scores (MOS 0–100, averaged rank 1 = best) and predictions",
                         interactive=False, elem_id="dataset-table")

    view = [source, prompt, edits, table]
    load.click(load_folder, path, [info, group], api_name="dataset_load").success(
        lambda p, g, s: show_group(ctx, p, g, s), [path, group, scorer], view, api_visibility="private")
    group.input(lambda p, g, s: show_group(ctx, p, g, s), [path, group, scorer], view, api_name="dataset_group")
    predict.click(lambda p, s: compute_predictions(ctx, p, s), [path, scorer], info, api_name="dataset_predict").success(
        lambda p, g, s: show_group(ctx, p, g, s), [path, group, scorer], view, api_visibility="private")
    return {"path": path, "info": info, "group": group, "scorer": scorer, "view": view}


def on_load(ctx, parts):
    def load(current):
        with user_errors("dataset"):
            root = str(ctx.dataset_path())
        text, choices = open_folder(root)
        first = choices[0][1] if choices else None
        view = show_group(ctx, root, first, current or ctx.settings.scorer) if first else [gr.skip()] * 4
        return root, text, gr.Dropdown(choices=choices, value=first), refresh_scorers(ctx, current), *view

    outputs = [parts["path"], parts["info"], parts["group"], parts["scorer"], *parts["view"]]
    return load, [parts["scorer"]], outputs
