"""Leaderboard tab: per model and per task, Bradley-Terry ratings with bootstrap CIs (Elo points),
charts, the human leaderboard and a scorer's one below it with their SRCC, CSV download.

All numbers come from `edithf.leaderboard.build_leaderboard` (human data, or a scorer's
predictions cached per dataset + scorer); this module filters and draws. Ratings are fitted on
every model of the selected tasks; the model filter only picks the rows and chart entries shown,
so one model is a valid view (its rating among all the others).
"""
from __future__ import annotations

import re
import tempfile
from functools import lru_cache
from pathlib import Path

import gradio as gr

from edithf.data.schema import DIMENSIONS
from edithf.leaderboard import build_leaderboard, compare_leaderboards
from studio.state import cached_predictions_if_any, dataset_stamp, load_dataset_cached, predictions_cached
from studio.tabs.common import (
    card_for, gradio_progress, is_missing, refresh_scorers, scorer_dropdown, short_scorer_name, user_errors,
)

KEYS = ("overall", *DIMENSIONS)
BT_COLUMNS = ["rank_ub", "model", "elo", "elo_low", "elo_high"]
EXTRA_COLUMNS = [*KEYS, "n_groups", "n_edits"]
DEFAULT_COLUMNS = [*KEYS]
CSV_FOLDER = Path(tempfile.mkdtemp(prefix="edithf-studio-csv-"))  # this studio's downloads only


@lru_cache(maxsize=16)
def _cached_board(root: str, stamp: str, scorer: str | None, tasks: tuple, n_bootstrap: int, cache_dir: str):
    ds = load_dataset_cached(root)
    edits = ds.edits[ds.edits["task"].isin(tasks)] if tasks else ds.edits
    if edits.empty:
        raise ValueError("no edits match the task filter: clear it or pick another task")
    preds = predictions_cached(ds, scorer, Path(cache_dir)) if scorer else None
    return build_leaderboard(edits, preds, by="model", n_bootstrap=n_bootstrap, seed=0)


def board(ctx, scorer=None, tasks=()):
    """The leaderboard of the studio's dataset (human when scorer is None), cached."""
    root = ctx.dataset_path()
    return _cached_board(str(root), dataset_stamp(Path(root)), scorer or None, tuple(sorted(tasks or ())),
                         ctx.settings.n_bootstrap, str(ctx.settings.cache_dir))


def na(table):
    """Ratings a scorer cannot give (a dimension it does not judge) read n/a, not a number."""
    return table.round(2).astype(object).where(table.notna(), "n/a")


def model_table(lb, dim: str, models, search: str, columns):
    """By model, one unit (Elo points): rank (UB), the rating on `dim` with its CI, sorted by
    that rating, then the ratings on the other dimensions picked in `columns`."""
    bt = lb.bt[dim][["model", "elo", "elo_low", "elo_high", "rank_ub"]]
    table = lb.table[["model", "n_groups", "n_edits"]].merge(bt, on="model", how="left")
    others = [k for k in KEYS if k != dim and k in (columns or [])]
    for k in others:
        table = table.merge(lb.bt[k][["model", "elo"]].rename(columns={"elo": k}), on="model", how="left")
    table = table.sort_values(["elo", "model"], ascending=[False, True], na_position="last")
    keep = [*BT_COLUMNS, *others, *[c for c in ("n_groups", "n_edits") if c in (columns or [])]]
    return shown_rows(table, models, search)[keep]


def task_table(lb, dim: str, models, search: str, columns):
    """By task, one unit (mean score per task: MOS for people, the scorer's score for a scorer)."""
    table = lb.per_task.sort_values(["task", dim], ascending=[True, False])
    keep = ["task", "model", dim, *[c for c in EXTRA_COLUMNS if c != dim and c in (columns or [])]]
    return shown_rows(table, models, search)[keep]


def shown_rows(table, models, search: str):
    if models:
        table = table[table["model"].isin(models)]
    if search and search.strip():
        table = table[table["model"].str.contains(search.strip(), case=False, regex=False)]
    return table.reset_index(drop=True)


def unit_text(lb, by: str, dim: str, who: str, has_mos: bool = True) -> str:
    if by == "task":  # the library falls back to within-group wins where there is no MOS
        unit = (f"mean score of {who} per task" if who != "human" else
                "mean MOS per task (0–100)" if has_mos else "mean within-group wins per task (tie = ½)")
        return f"{who} leaderboard by task · unit: {unit}; sorted by {dim}"
    ci = int(round(100 * lb.meta.get("confidence", 0.95)))
    return (f"{who} leaderboard · unit: Elo points (Bradley-Terry; every rating column); sorted by the {dim} "
            f"rating, elo_low–elo_high its {ci}% bootstrap CI, rank_ub its rank (UB)")


def view_table(lb, by: str, dim: str, models, search: str, columns):
    make = task_table if by == "task" else model_table
    return na(make(lb, dim, models, search, columns))


def bt_figure(tables: dict, dim: str):
    """Chatbot-Arena style: each model's rating as a point with its CI as error bars, best first;
    one trace per leaderboard (human, and the scorer's when shown)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, bt in tables.items():
        bt = bt.dropna(subset=["elo"]).sort_values("elo", ascending=False)
        fig.add_trace(go.Scatter(
            x=bt["model"], y=bt["elo"], mode="markers", name=name, marker=dict(size=9),
            error_y=dict(type="data", symmetric=False, array=bt["elo_high"] - bt["elo"],
                         arrayminus=bt["elo"] - bt["elo_low"]),
            text=[f"rank (UB) {r}" for r in bt["rank_ub"]], hovertemplate="%{x}: %{y:.0f} Elo (%{text})<extra></extra>",
        ))
    fig.update_layout(title=f"Bradley-Terry rating ({dim}) with 95% bootstrap CI over groups",
                      yaxis_title="Elo points", height=380, margin=dict(l=60, r=10, t=50, b=90))
    return fig


def heatmap_figure(lb, dim: str, models):
    import plotly.express as px

    per_task = lb.per_task[lb.per_task["model"].isin(models)] if models else lb.per_task
    if per_task.empty:
        return px.imshow([[0]], title="no task column")
    grid = per_task.pivot(index="task", columns="model", values=dim)
    fig = px.imshow(grid, text_auto=".1f", aspect="auto", color_continuous_scale="Viridis",
                    title=f"task × model: mean human score ({dim})")
    fig.update_layout(height=360, margin=dict(l=50, r=10, t=50, b=80))
    return fig


def winrate_figure(lb, dim: str, models):
    import plotly.express as px

    rate = lb.win_rate[dim]
    order = [m for m in lb.bt[dim]["model"] if not models or m in models]
    rate = rate.loc[[m for m in order if m in rate.index], [m for m in order if m in rate.columns]]
    fig = px.imshow(rate, text_auto=".2f", zmin=0, zmax=1, color_continuous_scale="RdBu", aspect="auto",
                    labels=dict(x="model B", y="model A", color="P(A beats B)"),
                    title=f"human win rate of the row model over the column model ({dim})")
    fig.update_layout(height=380, margin=dict(l=50, r=10, t=50, b=80))
    return fig


def csv_name(by, tasks, models, dim, search, scorer) -> str:
    """The download's file name says what it holds: its filters and the scorer."""
    parts = [f"by-{by}", dim, f"tasks-{'+'.join(sorted(tasks)) if tasks else 'all'}",
             f"models-{'+'.join(sorted(models)) if models else 'all'}"]
    if search and search.strip():
        parts.append(f"search-{search.strip()}")
    if scorer:
        parts.append(f"scorer-{short_scorer_name(scorer)}")
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "_", "_".join(parts))
    return f"leaderboard_{name[:150]}.csv"


def write_csv(tables: dict, name: str) -> str:
    """One CSV with every table shown, a `leaderboard` column saying whose it is."""
    import pandas as pd

    frames = [t.assign(leaderboard=who)[["leaderboard", *t.columns]] for who, t in tables.items() if len(t)]
    path = CSV_FOLDER / name
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return str(path)


def filter_note(lb, models) -> str:
    unknown = sorted(set(models or ()) - set(lb.table["model"]))
    text = (f"Ratings fitted on the {len(lb.table)} models of the selected tasks; the model filter picks "
            f"the rows shown ({len(models) if models else 'all'}).")
    return text + (f" Not in the selected tasks: {', '.join(unknown)}." if unknown else "")


def human_view(ctx, by, tasks, models, dim, search, columns):
    """(table, ratings chart, heatmap, win-rate matrix, note) of the human leaderboard. A filter
    that selects nothing is said in the note (and the tables emptied), not raised as a toast that
    would stay once the filter is fixed."""
    dim = dim if dim in KEYS else "overall"
    try:
        lb = board(ctx, None, tasks)
    except ValueError as exc:
        return gr.Dataframe(visible=False), None, None, None, f"**Leaderboard:** {exc}"
    table = view_table(lb, by, dim, models, search, columns)
    chart = bt_figure({"human": shown_rows(lb.bt[dim], models, "")}, dim)
    edits = load_dataset_cached(ctx.dataset_path()).edits
    has_mos = all(f"mos_{d}" in edits for d in (DIMENSIONS if dim == "overall" else (dim,)))
    return (gr.Dataframe(value=table, label=unit_text(lb, by, dim, "human", has_mos), visible=True), chart,
            heatmap_figure(lb, dim, models), winrate_figure(lb, dim, models), filter_note(lb, models))


def evaluator_view(ctx, scorer, by, tasks, models, dim, search, columns, compute: bool = True, progress=None):
    """(table, SRCC text, CSV of both tables, ratings chart with both leaderboards) of the
    scorer's leaderboard below the human one (the chart is left as it is without predictions).
    With compute=False (page load, filter changes) only predictions already cached are used:
    scoring a whole dataset is left to a click, with its progress shown."""
    dim = dim if dim in KEYS else "overall"
    try:
        human = board(ctx, None, tasks)
    except ValueError as exc:
        return gr.Dataframe(visible=False), f"**Leaderboard:** {exc}", None, gr.skip()
    tables = {"human": view_table(human, by, dim, models, search, columns)}
    name = csv_name(by, tasks, models, dim, search, None)
    if not scorer:
        return (gr.Dataframe(visible=False), "Choose a scorer for the evaluator leaderboard.", write_csv(tables, name),
                gr.skip())
    with user_errors("dataset"):
        ds = load_dataset_cached(ctx.dataset_path())
    with user_errors("scorer"):
        scorer = ctx.allowed_scorer(scorer)
    if not compute and cached_predictions_if_any(ds, scorer, ctx.settings.cache_dir) is None:
        return (gr.Dataframe(visible=False), f"Press **Update** to score the {len(ds.edits)} edits with `{scorer}` "
                "(once, with progress; the predictions are cached and resumed if interrupted) and rank the models "
                f"by its scores.\n\n{card_for(scorer)}", write_csv(tables, name), gr.skip())
    with user_errors(f"leaderboard of {scorer}"):
        if compute:
            predictions_cached(ds, scorer, ctx.settings.cache_dir, progress=progress)
        predicted = board(ctx, scorer, tasks)
    srcc = compare_leaderboards(human, predicted)
    cells = " · ".join(f"{k} n/a" if is_missing(v) else f"{k} **{v:.3f}**" for k, v in srcc.items())
    text = (f"Model-level SRCC between the human leaderboard and `{scorer}`'s "
            f"({len(predicted.table)} models): {cells}\n\n{card_for(scorer)}")
    tables[scorer] = view_table(predicted, by, dim, models, search, columns)
    chart = bt_figure({"human": shown_rows(human.bt[dim], models, ""),
                       scorer: shown_rows(predicted.bt[dim], models, "")}, dim)
    return (gr.Dataframe(value=tables[scorer], label=unit_text(predicted, by, dim, f"scorer {scorer}"), visible=True),
            text, write_csv(tables, csv_name(by, tasks, models, dim, search, scorer)), chart)


def build(ctx):
    with gr.Row():
        by = gr.Radio(["model", "task"], value="model", label="rows", elem_id="leaderboard-by")
        dim = gr.Dropdown(list(KEYS), value="overall", label="dimension (sort, ratings, charts)",
                          elem_id="leaderboard-dim")
        tasks = gr.Dropdown([], multiselect=True, label="tasks (empty = all)", allow_custom_value=True,
                            elem_id="leaderboard-tasks")
        models = gr.Dropdown([], multiselect=True, label="models shown (empty = all)", allow_custom_value=True,
                             elem_id="leaderboard-models")
    with gr.Row():
        search = gr.Textbox(label="search models", placeholder="part of a model name", elem_id="leaderboard-search")
        columns = gr.CheckboxGroup(EXTRA_COLUMNS, value=DEFAULT_COLUMNS, label="more columns (ratings on other "
                                   "dimensions, counts)", elem_id="leaderboard-columns", scale=2)
    with gr.Row():
        scorer = scorer_dropdown(ctx, "leaderboard-scorer", label="evaluator leaderboard of")
        csv = gr.DownloadButton("Download CSV (both tables)", elem_id="leaderboard-csv")
        update = gr.Button("Update", variant="primary", elem_id="leaderboard-update", scale=0)
    gr.Markdown("Ratings: Bradley-Terry fitted on within-group battles (a tie counts ½), on the Elo scale, "
                "CIs from resampling groups; `rank_ub` = 1 + models whose CI lies entirely above.")
    note = gr.Markdown(elem_id="leaderboard-note")
    human = gr.Dataframe(interactive=False, visible=False, elem_id="leaderboard-human")
    srcc = gr.Markdown(elem_id="leaderboard-srcc")
    predicted = gr.Dataframe(interactive=False, visible=False, elem_id="leaderboard-evaluator")
    bt_plot = gr.Plot(label="ratings", elem_id="leaderboard-bt-plot")
    with gr.Row():
        heat = gr.Plot(label="task × model", elem_id="leaderboard-heatmap")
        win = gr.Plot(label="win rates", elem_id="leaderboard-winrate")

    filters = [by, tasks, models, dim, search, columns]

    def run_human(*args):
        return human_view(ctx, *args)

    def run_evaluator(scorer, by, tasks, models, dim, search, columns, progress=gr.Progress()):
        # named parameters: Gradio finds its progress tracker only among positional ones
        return evaluator_view(ctx, scorer, by, tasks, models, dim, search, columns,
                              progress=gradio_progress(progress, f"scoring with {scorer}"))

    def cached_evaluator(*args):
        return evaluator_view(ctx, *args, compute=False)

    human_out, eval_in, eval_out = [human, bt_plot, heat, win, note], [scorer, *filters], [predicted, srcc, csv, bt_plot]
    update.click(run_human, filters, human_out, api_name="leaderboard").success(
        run_evaluator, eval_in, eval_out, api_name="leaderboard_evaluator")
    for comp in (by, tasks, models, dim, columns):
        comp.input(run_human, filters, human_out, api_visibility="private").success(
            cached_evaluator, eval_in, eval_out, api_visibility="private")
    search.submit(run_human, filters, human_out, api_visibility="private").success(
        cached_evaluator, eval_in, eval_out, api_visibility="private")
    scorer.input(cached_evaluator, eval_in, eval_out, api_visibility="private")
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
