"""Leaderboard tab: per model and per task, by dimension and overall, Bradley-Terry ratings with
bootstrap CIs, charts, the human leaderboard beside a scorer's with their SRCC, CSV download.

All numbers come from `edithf.leaderboard.build_leaderboard` (human data, or a scorer's
predictions cached per dataset + scorer); this module filters and draws.
"""
from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import gradio as gr

from edithf.data.schema import DIMENSIONS
from studio.state import cached_predictions_if_any, dataset_stamp, load_dataset_cached, predictions_cached
from studio.tabs.common import refresh_scorers, scorer_dropdown, user_errors

KEYS = ("overall", *DIMENSIONS)
BT_COLUMNS = ["elo", "elo_low", "elo_high", "rank_ub"]
MODEL_COLUMNS = [*DIMENSIONS, "overall", *BT_COLUMNS, "n_groups", "n_edits"]
DEFAULT_COLUMNS = [*DIMENSIONS, "overall", "elo", "elo_low", "elo_high", "rank_ub"]


@lru_cache(maxsize=16)
def _cached_board(root: str, stamp: str, scorer: str | None, tasks: tuple, models: tuple,
                  n_bootstrap: int, cache_dir: str):
    from edithf.leaderboard import build_leaderboard

    ds = load_dataset_cached(root)
    edits = ds.edits
    if tasks:
        edits = edits[edits["task"].isin(tasks)]
    if models:
        edits = edits[edits["model"].isin(models)]
    if edits.empty:
        raise ValueError("no edits match the task and model filters: clear a filter")
    preds = predictions_cached(ds, scorer, Path(cache_dir)) if scorer else None
    return build_leaderboard(edits, preds, by="model", n_bootstrap=n_bootstrap, seed=0)


def board(ctx, scorer=None, tasks=(), models=()):
    """The leaderboard of the studio's dataset (human when scorer is None), cached."""
    root = ctx.dataset_path()
    return _cached_board(str(root), dataset_stamp(Path(root)), scorer or None, tuple(sorted(tasks or ())),
                         tuple(sorted(models or ())), ctx.settings.n_bootstrap, str(ctx.settings.cache_dir))


def view_table(lb, by: str, dim: str, search: str, columns):
    """The table shown: by model (ratings with the BT columns of `dim`) or by task."""
    if by == "task":
        table = lb.per_task.sort_values(["task", dim], ascending=[True, False])
        keep = ["task", "model", *[c for c in (*DIMENSIONS, "overall", "n_edits") if c in (columns or []) or c == dim]]
    else:
        table = lb.table.drop(columns=BT_COLUMNS).merge(lb.bt[dim][["model", *BT_COLUMNS]], on="model", how="left")
        table = table.sort_values(dim, ascending=False)
        keep = ["model", *[c for c in MODEL_COLUMNS if c in (columns or []) or c == dim]]
    if search and search.strip():
        table = table[table["model"].str.contains(search.strip(), case=False, regex=False)]
    table = table[keep].reset_index(drop=True)
    table.insert(0, "#", range(1, len(table) + 1))
    return table.round(2)


def bt_figure(lb, dim: str, title: str):
    import plotly.graph_objects as go

    bt = lb.bt[dim]
    fig = go.Figure(go.Bar(
        x=bt["model"], y=bt["elo"],
        error_y=dict(type="data", symmetric=False, array=bt["elo_high"] - bt["elo"], arrayminus=bt["elo"] - bt["elo_low"]),
        text=[f"UB rank {r}" for r in bt["rank_ub"]], hovertemplate="%{x}: %{y:.0f} (%{text})<extra></extra>",
    ))
    ci = int(round(100 * lb.meta.get("confidence", 0.95)))
    fig.update_layout(title=f"{title}: Bradley-Terry rating ({dim}), {ci}% bootstrap CI over groups",
                      yaxis_title="Elo scale", height=360, margin=dict(l=50, r=10, t=50, b=80))
    return fig


def heatmap_figure(lb, dim: str):
    import plotly.express as px

    if lb.per_task.empty:
        return px.imshow([[0]], title="no task column")
    grid = lb.per_task.pivot(index="task", columns="model", values=dim)
    fig = px.imshow(grid, text_auto=".1f", aspect="auto", color_continuous_scale="Viridis",
                    title=f"task × model: mean score ({dim})")
    fig.update_layout(height=360, margin=dict(l=50, r=10, t=50, b=80))
    return fig


def winrate_figure(lb, dim: str):
    import plotly.express as px

    rate = lb.win_rate[dim]
    order = list(lb.bt[dim]["model"])
    rate = rate.loc[[m for m in order if m in rate.index], [m for m in order if m in rate.columns]]
    fig = px.imshow(rate, text_auto=".2f", zmin=0, zmax=1, color_continuous_scale="RdBu", aspect="auto",
                    labels=dict(x="model B", y="model A", color="P(A beats B)"),
                    title=f"win rate of the row model over the column model ({dim})")
    fig.update_layout(height=380, margin=dict(l=50, r=10, t=50, b=80))
    return fig


def write_csv(table, name: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="edithf-leaderboard-"))
    path = folder / f"{name}.csv"
    table.to_csv(path, index=False)
    return str(path)


def human_view(ctx, by, tasks, models, dim, search, columns):
    """(table, BT chart, heatmap, win-rate matrix, CSV file) of the human leaderboard."""
    dim = dim if dim in KEYS else "overall"
    with user_errors("leaderboard"):
        lb = board(ctx, None, tasks, models)
    table = view_table(lb, by, dim, search, columns)
    return (table, bt_figure(lb, dim, "human"), heatmap_figure(lb, dim), winrate_figure(lb, dim),
            write_csv(table, f"leaderboard-human-by-{by}-{dim}"))


def evaluator_view(ctx, scorer, by, tasks, models, dim, search, columns, compute: bool = True):
    """(table, SRCC text) of the scorer's leaderboard beside the human one. With
    compute=False (page load) only predictions already cached are used: scoring a whole
    dataset is left to a click, not to every first visit."""
    import pandas as pd

    from edithf.leaderboard import compare_leaderboards

    if not scorer:
        raise gr.Error("choose a scorer for the evaluator leaderboard")
    dim = dim if dim in KEYS else "overall"
    if not compute:
        with user_errors("dataset"):
            ds = load_dataset_cached(ctx.dataset_path())
        if cached_predictions_if_any(ds, scorer, ctx.settings.cache_dir) is None:
            return pd.DataFrame(), (f"Press **Update** to score the {len(ds.edits)} edits with `{scorer}` "
                                    "(once; the predictions are cached) and rank the models by its scores.")
    with user_errors(f"leaderboard of {scorer}"):
        human, predicted = board(ctx, None, tasks, models), board(ctx, scorer, tasks, models)
    srcc = compare_leaderboards(human, predicted)
    cells = " · ".join(f"{k} **{v:.3f}**" for k, v in srcc.items())
    text = (f"Model-level SRCC between the human leaderboard and `{scorer}`'s "
            f"({len(predicted.table)} models): {cells}")
    return view_table(predicted, by, dim, search, columns), text


def build(ctx):
    with gr.Row():
        by = gr.Radio(["model", "task"], value="model", label="rows", elem_id="leaderboard-by")
        dim = gr.Dropdown(list(KEYS), value="overall", label="dimension (sort, ratings, charts)",
                          elem_id="leaderboard-dim")
        tasks = gr.Dropdown([], multiselect=True, label="tasks (empty = all)", allow_custom_value=True,
                            elem_id="leaderboard-tasks")
        models = gr.Dropdown([], multiselect=True, label="models (empty = all)", allow_custom_value=True,
                             elem_id="leaderboard-models")
    with gr.Row():
        search = gr.Textbox(label="search models", placeholder="part of a model name", elem_id="leaderboard-search")
        columns = gr.CheckboxGroup([*MODEL_COLUMNS], value=DEFAULT_COLUMNS, label="columns",
                                   elem_id="leaderboard-columns", scale=2)
    with gr.Row():
        scorer = scorer_dropdown(ctx, "leaderboard-scorer", label="evaluator leaderboard of")
        csv = gr.DownloadButton("Download CSV", elem_id="leaderboard-csv")
        update = gr.Button("Update", variant="primary", elem_id="leaderboard-update", scale=0)
    gr.Markdown("Ranking scores: mean within-group wins per dimension (a tie counts ½; the paper's unit). "
                "Ratings: Bradley-Terry on the Elo scale, CIs from resampling groups; "
                "`rank_ub` = 1 + models whose CI lies entirely above.")
    with gr.Row():
        human = gr.Dataframe(label="human leaderboard", interactive=False, elem_id="leaderboard-human")
        predicted = gr.Dataframe(label="evaluator leaderboard", interactive=False, elem_id="leaderboard-evaluator")
    srcc = gr.Markdown(elem_id="leaderboard-srcc")
    bt_plot = gr.Plot(label="ratings", elem_id="leaderboard-bt-plot")
    with gr.Row():
        heat = gr.Plot(label="task × model", elem_id="leaderboard-heatmap")
        win = gr.Plot(label="win rates", elem_id="leaderboard-winrate")

    filters = [by, tasks, models, dim, search, columns]

    def run_human(*args):
        return human_view(ctx, *args)

    def run_evaluator(*args):
        return evaluator_view(ctx, *args)

    def cached_evaluator(*args):
        return evaluator_view(ctx, *args, compute=False)

    human_out, eval_in, eval_out = [human, bt_plot, heat, win, csv], [scorer, *filters], [predicted, srcc]
    update.click(run_human, filters, human_out, api_name="leaderboard").success(
        run_evaluator, eval_in, eval_out, api_name="leaderboard_evaluator")
    for comp in (by, tasks, models, dim, columns):
        comp.input(run_human, filters, human_out, api_visibility="private").success(
            cached_evaluator, eval_in, eval_out, api_visibility="private")
    search.submit(run_human, filters, human_out, api_visibility="private").success(
        cached_evaluator, eval_in, eval_out, api_visibility="private")
    scorer.input(run_evaluator, eval_in, eval_out, api_visibility="private")
    return {"filters": filters, "tasks": tasks, "models": models, "scorer": scorer,
            "human_out": human_out, "cached_evaluator": cached_evaluator,
            "eval_in": eval_in, "eval_out": eval_out}


def on_load(ctx, parts):
    """Page load: filter choices from the dataset and the human leaderboard; the evaluator's
    follows when its predictions are cached (else the page says how to compute them)."""
    def load(current):
        with user_errors("dataset"):
            ds = load_dataset_cached(ctx.dataset_path())
        human = human_view(ctx, "model", [], [], "overall", "", DEFAULT_COLUMNS)
        return (gr.Dropdown(choices=sorted(ds.edits["task"].unique())),
                gr.Dropdown(choices=sorted(ds.edits["model"].unique())), refresh_scorers(ctx, current), *human)

    outputs = [parts["tasks"], parts["models"], parts["scorer"], *parts["human_out"]]
    return load, [parts["scorer"]], outputs, (parts["cached_evaluator"], parts["eval_in"], parts["eval_out"])
