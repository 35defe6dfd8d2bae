"""Score tab: one source, one edit, one prompt -> three scores, overall, level words, a chart,
a before/after slider, and the scorer's card (what it reads, what its numbers mean)."""
from __future__ import annotations

import gradio as gr

from edithf.data.schema import DIMENSIONS
from studio.state import load_dataset_cached
from studio.tabs.common import (
    NOT_AVAILABLE, ImageUpload, abs_image, card_for, clear_on_change, dataset_rows, edit_label, evaluator, is_missing,
    refresh_scorers, report_bad_upload, require_image, require_prompt, score_range_text, scorer_card,
    scorer_dropdown, shown, user_errors,
)

SCORE_COLUMNS = ["dimension", "score", "range", "level"]


def score_figure(row: dict, score_range, title: str):
    """Bars of the judged dimensions; a dimension the scorer cannot judge is labelled n/a, not drawn."""
    import plotly.graph_objects as go

    names = [*DIMENSIONS, "overall"]
    values = [None if is_missing(row[n]) else float(row[n]) for n in names]
    fig = go.Figure(go.Bar(x=names, y=values, text=["" if v is None else f"{v:.1f}" for v in values],
                           textposition="outside", marker_color=["#4c78a8", "#f58518", "#54a24b", "#b279a2"]))
    for name, v in zip(names, values):
        if v is None:
            fig.add_annotation(x=name, y=score_range[0], text="n/a", showarrow=False, yshift=12)
    fig.update_layout(title=title, yaxis_range=list(score_range), height=320, margin=dict(l=40, r=10, t=40, b=30))
    return fig


def score_rows(row: dict, info) -> list[dict]:
    return [{"dimension": d, "score": shown(row[d]), "range": "" if is_missing(row[d]) else score_range_text(info),
             "level": row.get(f"level_{d}", "") or ""} for d in (*DIMENSIONS, "overall")]


def score_edit(source, edited, prompt, scorer, ctx=None):
    """The Score button: returns (table, overall text, chart, before/after pair, scorer card)."""
    import pandas as pd

    source, edited = require_image(source, "source"), require_image(edited, "edited")
    prompt = require_prompt(prompt)
    ev, info = evaluator(scorer, ctx)
    with user_errors("cannot score this edit"):
        row = ev.score_one(source, edited, prompt)
    columns = SCORE_COLUMNS if info.gives_levels else SCORE_COLUMNS[:-1]  # no empty level column
    table = pd.DataFrame(score_rows(row, info), columns=columns)
    hi = info.score_range[1]
    total = NOT_AVAILABLE if is_missing(row["overall"]) else f"{row['overall']:.1f} / {hi:g}"
    judged = [d for d in DIMENSIONS if d in info.dimensions]
    weights = ", ".join(f"{d} {ev.weights[d]:g}" for d in judged)
    overall = (f"### overall {total}  \n<small>scorer `{scorer}`; overall = weighted mean of {weights}"
               f"{' (the others are n/a)' if len(judged) < len(DIMENSIONS) else ''}</small>")
    return (table, overall, score_figure(row, info.score_range, f"{scorer}"), (source, edited),
            scorer_card(scorer, info))


def dataset_edits(ctx):
    """Choices of the 'pick an edit' dropdown: (label, edit_id) over the studio's dataset."""
    ds = load_dataset_cached(ctx.dataset_path())
    return [(edit_label(r), r["edit_id"]) for _, r in ds.edits.iterrows()]


def pick_edit(ctx, edit_id):
    """Fill source, edit and prompt from an edit of the studio's dataset."""
    if not edit_id:
        raise gr.Error("choose an edit from the list")
    with user_errors("dataset"):
        ds, rows = dataset_rows(ctx, "edit_id", edit_id)
        row = rows.iloc[0]
        return abs_image(ds, row["source"]), abs_image(ds, row["edited"]), row["prompt"]


def build(ctx):
    with gr.Row():
        source = ImageUpload(type="filepath", image_mode=None, label="source image", elem_id="score-source", height=300)
        edited = ImageUpload(type="filepath", image_mode=None, label="edited image", elem_id="score-edited", height=300)
    prompt = gr.Textbox(label="prompt (the editing instruction)", elem_id="score-prompt",
                        placeholder="e.g. make the sky pink")
    with gr.Row():
        pick = gr.Dropdown(label="or take an edit from the dataset", choices=[], allow_custom_value=True,
                           elem_id="score-pick", scale=2)
        scorer = scorer_dropdown(ctx, "score-scorer")
        run = gr.Button("Score", variant="primary", elem_id="score-run", scale=0)
    overall = gr.Markdown(elem_id="score-overall")
    with gr.Row():
        with gr.Column(scale=3):
            table = gr.Dataframe(headers=SCORE_COLUMNS, label="scores", interactive=False, elem_id="score-table")
        card = gr.Markdown(card_for(ctx.settings.scorer), elem_id="score-card")
    plot = gr.Plot(label="scores", elem_id="score-plot")
    slider = gr.ImageSlider(label="before / after", type="filepath", elem_id="score-slider", max_height=400)

    for image in (source, edited):
        report_bad_upload(image)
    pick.input(lambda e: pick_edit(ctx, e), pick, [source, edited, prompt], api_name="score_pick")
    scorer.change(card_for, scorer, card, api_visibility="private", show_progress="hidden")
    result = [table, overall, plot, slider]
    clear_on_change((source.upload, source.clear, edited.upload, edited.clear, prompt.input, scorer.input,
                     pick.input), result)
    def score_here(source, edited, prompt, scorer):
        return score_edit(source, edited, prompt, scorer, ctx)

    run.click(score_here, [source, edited, prompt, scorer], [*result, card], api_name="score")
    return {"pick": pick, "scorer": scorer}


def on_load(ctx, parts):
    """Page load: the dataset's edits in the picker, finished runs among the scorers."""
    def load(current):
        with user_errors("dataset"):
            choices = dataset_edits(ctx)
        return gr.Dropdown(choices=choices), refresh_scorers(ctx, current)

    return load, [parts["scorer"]], [parts["pick"], parts["scorer"]]
