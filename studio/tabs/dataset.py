"""Dataset tab: load a dataset folder (the studio's dataset by default), browse its groups:
source, prompt, edits side by side, human scores and the chosen scorer's predictions when
computed (columns named after the scorer; changing the scorer refreshes them).

A folder typed in the page is opened only under the studio's data roots and its errors never
list the folder (`studio.state.open_typed_dataset`)."""
from __future__ import annotations

import gradio as gr

from edithf.data.schema import DIMENSIONS
from studio.state import cached_predictions_if_any, open_typed_dataset, predictions_cached
from studio.tabs.common import (
    abs_image, card_for, gradio_progress, refresh_scorers, scorer_dropdown, short_scorer_name, shown, user_errors,
)

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


def open_dataset(ctx, path):
    """The dataset of a folder typed in the page; a folder that fails validation -> its
    DatasetError message in the page."""
    if not path or not str(path).strip():
        raise gr.Error("type the path of a dataset folder (with edits.parquet and images/)")
    with user_errors(f"cannot load {str(path).strip()}"):
        return open_typed_dataset(str(path).strip(), ctx.dataset_roots())


def open_folder(ctx, path):
    """(summary, group choices) of a dataset folder."""
    ds = open_dataset(ctx, path)
    groups = ds.edits.drop_duplicates("group_id")
    return summary(ds), [(f"{r['group_id']} · {r['task']}", r["group_id"]) for _, r in groups.iterrows()]


def load_folder(ctx, path):
    """The Load button: (summary, the group list with the first group selected)."""
    text, choices = open_folder(ctx, path)
    return text, gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)


def with_predictions(table, preds, scorer: str):
    """The group's rows with the scorer's predictions as `pred_<dim> (<scorer>)` columns."""
    name = short_scorer_name(scorer)
    cols = {d: f"pred_{d} ({name})" for d in (*DIMENSIONS, "overall")}
    table = table.merge(preds[["edit_id", *cols]].rename(columns=cols), on="edit_id", how="left")
    for col in cols.values():
        table[col] = [shown(v) for v in table[col]]
    # each prediction beside the human score of its dimension
    order = [c for c in ("edit_id", "model", "task") if c in table]
    for d in (*DIMENSIONS, "overall"):
        order += [c for c in (f"mos_{d}", f"rank_{d}", cols[d]) if c in table]
    return table[order]


def show_group(ctx, path, group_id, scorer):
    """(source, prompt, edits gallery, scores table, predictions note) of one group."""
    if not group_id:
        raise gr.Error("choose a group")
    ds = open_dataset(ctx, path)
    rows = ds.edits[ds.edits["group_id"] == group_id]
    if rows.empty:
        raise gr.Error(f"no group {group_id!r} in {path}")
    first = rows.iloc[0]
    keep = ["edit_id", "model", "task", *[c for c in HUMAN if c in rows]]
    table = rows[keep].round(2)
    with user_errors("scorer"):
        scorer = ctx.allowed_scorer(scorer)
    preds = cached_predictions_if_any(ds, scorer, ctx.settings.cache_dir) if scorer else None
    if preds is not None:
        table = with_predictions(table, preds, scorer)
        note = f"predictions of `{scorer}` (columns `pred_* ({short_scorer_name(scorer)})`)"
    else:
        note = (f"no predictions of `{scorer}` for this dataset yet: press **Compute predictions**"
                if scorer else "choose a scorer to see its predictions")
    gallery = [(abs_image(ds, r["edited"]), str(r["model"])) for _, r in rows.iterrows()]
    prompt = f"**prompt:** {first['prompt']}"
    if "description" in rows and isinstance(first.get("description"), str) and first["description"]:
        prompt += f"  \n**target description:** {first['description']}"
    return abs_image(ds, first["source"]), prompt, gallery, table, note + "\n\n" + card_for(scorer)


def compute_predictions(ctx, path, scorer, progress=gr.Progress()):
    """Score every edit of the folder with the scorer (resuming from the cache), with progress."""
    ds = open_dataset(ctx, path)
    with user_errors(f"predictions of {scorer}"):
        scorer = ctx.allowed_scorer(scorer)
        preds = predictions_cached(ds, scorer, ctx.settings.cache_dir,
                                   progress=gradio_progress(progress, f"scoring with {scorer}"))
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
        edits = gr.Gallery(label="edits", columns=4, height="auto", object_fit="contain", elem_id="dataset-gallery",
                           scale=3)
    table = gr.Dataframe(label="human scores (MOS 0–100, averaged rank 1 = best) and the scorer's predictions",
                         interactive=False, elem_id="dataset-table")
    note = gr.Markdown(elem_id="dataset-pred-note")

    view = [source, prompt, edits, table, note]

    def group_view(p, g, s):
        return show_group(ctx, p, g, s)

    def predict_all(p, s, progress=gr.Progress()):
        return compute_predictions(ctx, p, s, progress)

    load.click(lambda p: load_folder(ctx, p), path, [info, group], api_name="dataset_load").success(
        group_view, [path, group, scorer], view, api_visibility="private")
    group.input(group_view, [path, group, scorer], view, api_name="dataset_group")
    scorer.input(group_view, [path, group, scorer], view, api_visibility="private")
    predict.click(predict_all, [path, scorer], info, api_name="dataset_predict").success(
        group_view, [path, group, scorer], view, api_visibility="private")
    return {"path": path, "info": info, "group": group, "scorer": scorer, "view": view}


def on_load(ctx, parts):
    def load(current):
        with user_errors("dataset"):
            root = str(ctx.dataset_path())
        text, choices = open_folder(ctx, root)
        first = choices[0][1] if choices else None
        view = show_group(ctx, root, first, current or ctx.settings.scorer) if first else [gr.skip()] * 5
        return root, text, gr.Dropdown(choices=choices, value=first), refresh_scorers(ctx, current), *view

    outputs = [parts["path"], parts["info"], parts["group"], parts["scorer"], *parts["view"]]
    return load, [parts["scorer"]], outputs
