"""Compare tab: one source and prompt, N edits -> ranked per dimension and overall, side by side,
pairwise preferences with a tie margin, best-of-N highlighted, before/after with the best."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import gradio as gr

from edithf.data.schema import DIMENSIONS
from studio.state import load_dataset_cached
from studio.tabs.common import (
    ImageUpload, abs_image, dataset_rows, evaluator, refresh_scorers, require_image, require_prompt,
    scorer_dropdown, user_errors,
)

SCORED = (*DIMENSIONS, "overall")
PAIR_COLUMNS = ["edit_a", "edit_b", "dimension", "difference", "preferred"]
MAX_EDITS = 32


def edit_names(paths: list[str], names: list[str] | None) -> list[str]:
    names = list(names or [Path(p).stem for p in paths])
    seen: dict[str, int] = {}
    out = []
    for n in names:  # two uploads called edit.png must stay apart
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def rank_table(scores, names: list[str]):
    """Scores per edit, with the rank per dimension (1 = best; ties share the better rank)."""
    df = scores[list(SCORED)].round(2).copy()
    df.insert(0, "edit", names)
    for d in SCORED:
        df[f"rank_{d}"] = df[d].rank(ascending=False, method="min").astype(int)
    df = df.sort_values(["rank_overall", "edit"]).reset_index(drop=True)
    df.insert(0, "best", ["★ best of N" if r == 1 else "" for r in df["rank_overall"]])
    return df


def pairwise(table, margin: float):
    """Every pair of edits on every dimension: who is preferred, or a tie within `margin`."""
    import pandas as pd

    rows = []
    for (_, a), (_, b) in combinations(table.iterrows(), 2):
        for d in SCORED:
            diff = float(a[d] - b[d])
            winner = "tie" if abs(diff) <= margin else (a["edit"] if diff > 0 else b["edit"])
            rows.append({"edit_a": a["edit"], "edit_b": b["edit"], "dimension": d,
                         "difference": round(diff, 2), "preferred": winner})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def compare_figure(table):
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=d, x=table["edit"], y=table[d]) for d in SCORED])
    fig.update_layout(barmode="group", height=340, margin=dict(l=40, r=10, t=30, b=60), title="scores per edit")
    return fig


def compare_edits(source, prompt, files, names, scorer, margin):
    """The Rank button: (ranking, gallery, pairs, chart, before/after with the best edit)."""
    source = require_image(source, "source")
    prompt = require_prompt(prompt)
    paths = [str(getattr(f, "name", f)) for f in (files or [])]
    if len(paths) < 2:
        raise gr.Error("upload at least two edited images (or pick a group from the dataset) to compare")
    if len(paths) > MAX_EDITS:
        raise gr.Error(f"{len(paths)} edits: compare at most {MAX_EDITS} at a time")
    names = edit_names(paths, names if names and len(names) == len(paths) else None)
    ev, _ = evaluator(scorer)
    with user_errors("cannot score these edits"):
        scores = ev.score([source] * len(paths), paths, [prompt] * len(paths))
    table = rank_table(scores, names)
    by_name = dict(zip(names, paths))
    gallery = [(by_name[r["edit"]], f"#{r['rank_overall']} {r['best']} {r['edit']} · overall {r['overall']:.1f}")
               for _, r in table.iterrows()]
    best = by_name[table.iloc[0]["edit"]]
    return table, gallery, pairwise(table, float(margin or 0)), compare_figure(table), (source, best)


def pick_group(ctx, group_id):
    """A group of the studio's dataset: its source, prompt, edits and the models' names."""
    if not group_id:
        raise gr.Error("choose a group from the list")
    with user_errors("dataset"):
        ds, rows = dataset_rows(ctx, "group_id", group_id)
        first = rows.iloc[0]
        files = [abs_image(ds, p) for p in rows["edited"]]
        return abs_image(ds, first["source"]), first["prompt"], files, list(rows["model"])


def build(ctx):
    names = gr.State([])
    with gr.Row():
        source = ImageUpload(type="filepath", image_mode=None, label="source image", elem_id="compare-source", height=260)
        files = gr.File(file_count="multiple", file_types=["image"], label="edited images (2 or more)",
                        elem_id="compare-edits")
    prompt = gr.Textbox(label="prompt (the editing instruction)", elem_id="compare-prompt")
    with gr.Row():
        group = gr.Dropdown(label="or take a group from the dataset", choices=[], allow_custom_value=True,
                            elem_id="compare-group", scale=2)
        scorer = scorer_dropdown(ctx, "compare-scorer")
        margin = gr.Slider(0, 20, value=2.0, step=0.5, label="tie margin (score points)", elem_id="compare-margin")
        run = gr.Button("Rank", variant="primary", elem_id="compare-run", scale=0)
    table = gr.Dataframe(label="ranking (1 = best)", interactive=False, elem_id="compare-table")
    gallery = gr.Gallery(label="side by side, best first", columns=4, height=320, elem_id="compare-gallery")
    with gr.Row():
        plot = gr.Plot(label="scores", elem_id="compare-plot")
        slider = gr.ImageSlider(label="source / best edit", type="filepath", elem_id="compare-slider", max_height=340)
    pairs = gr.Dataframe(headers=PAIR_COLUMNS, label="pairwise preferences", interactive=False,
                         elem_id="compare-pairs", max_height=300)

    group.input(lambda g: pick_group(ctx, g), group, [source, prompt, files, names], api_name="compare_pick")
    files.upload(lambda: [], None, names, api_visibility="private")  # uploads are named by file name
    run.click(compare_edits, [source, prompt, files, names, scorer, margin],
              [table, gallery, pairs, plot, slider], api_name="compare")
    return {"group": group, "scorer": scorer}


def on_load(ctx, parts):
    def load(current):
        with user_errors("dataset"):
            ds = load_dataset_cached(ctx.dataset_path())
        firsts = ds.edits.drop_duplicates("group_id")
        choices = [(f"{r['group_id']} · {r['task']} · {r['prompt'][:60]}", r["group_id"]) for _, r in firsts.iterrows()]
        return gr.Dropdown(choices=choices), refresh_scorers(ctx, current)

    return load, [parts["scorer"]], [parts["group"], parts["scorer"]]
