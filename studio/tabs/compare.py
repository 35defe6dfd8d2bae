"""Compare tab: one source and prompt, N edits -> ranked per dimension and overall, side by side,
pairwise preferences with a tie margin, best-of-N highlighted, before/after with the best.

The ranking, best-of-N and the tie-margin pairs are the library's (`edithf.reward.selection`);
this module names the edits and draws."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from edithf.data.schema import DIMENSIONS
from edithf.reward.selection import best_of_n, preference_pairs, rank_candidates
from studio.state import load_dataset_cached
from studio.tabs.common import (
    NOT_AVAILABLE, ImageUpload, abs_image, card_for, clear_on_change, check_image_files, dataset_rows, evaluator,
    refresh_scorers, report_bad_upload, require_image, require_prompt, scorer_card, scorer_dropdown,
    shown, user_errors,
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


def rank_table(ranked, best: int | None, names: list[str]):
    """The library's ranking as the page shows it: n/a where the scorer cannot judge, the best
    of N starred only when it has an overall score."""
    import pandas as pd

    df = ranked.rename(columns={"candidate": "edit"})
    best_name = names[best] if best is not None else None
    df.insert(0, "best", ["★ best of N" if e == best_name else "" for e in df["edit"]])
    for d in SCORED:
        df[d] = [shown(v) for v in df[d]]
        df[f"rank_{d}"] = ["n/a" if pd.isna(v) else int(v) for v in df[f"rank_{d}"]]
    return df


def pairs_view(pairs):
    out = pairs.rename(columns={"candidate_a": "edit_a", "candidate_b": "edit_b"})
    out["difference"] = [shown(v) for v in out["difference"]]
    out["preferred"] = out["preferred"].fillna(NOT_AVAILABLE)
    return out[PAIR_COLUMNS]


def compare_figure(ranked):
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=d, x=ranked["candidate"], y=ranked[d]) for d in SCORED if ranked[d].notna().any()])
    fig.update_layout(barmode="group", height=340, margin=dict(l=40, r=10, t=30, b=60), title="scores per edit")
    return fig


def ranking_note(info, scores) -> str:
    """What the ranking rests on: said when it ignores the prompt or leaves dimensions out."""
    notes = []
    if not getattr(info, "reads_prompt", True):
        notes.append("this scorer does **not read the prompt**: the ranking ignores what was asked")
    missing = [d for d in DIMENSIONS if scores[d].isna().all()]
    if missing:
        notes.append(f"{', '.join(missing)}: n/a (this scorer cannot judge it), so no rank there")
    if scores["overall"].isna().all():
        notes.append("no overall score, so no best of N is starred")
    return ("**Note:** " + "; ".join(notes) + ".") if notes else ""


def compare_edits(source, prompt, files, names, scorer, margin, ctx=None):
    """The Rank button: (ranking, gallery, pairs, chart, before/after with the best edit, note, card)."""
    source = require_image(source, "source")
    prompt = require_prompt(prompt)
    paths = [str(getattr(f, "name", f)) for f in (files or [])]
    if len(paths) < 2:
        raise gr.Error("upload at least two edited images (or pick a group from the dataset) to compare")
    if len(paths) > MAX_EDITS:
        raise gr.Error(f"{len(paths)} edits: compare at most {MAX_EDITS} at a time")
    names = edit_names(paths, names if names and len(names) == len(paths) else None)
    ev, info = evaluator(scorer, ctx)
    with user_errors("cannot score these edits"):
        best, scores = best_of_n(ev, source, paths, prompt)
    # best is None when no edit has an overall score: an n/a overall is not the best of anything
    ranked = rank_candidates(scores, names)
    pairs = preference_pairs(ranked, float(margin or 0))
    table = rank_table(ranked, best, names)
    by_name = dict(zip(names, paths))
    gallery = [(by_name[r["edit"]], f"{'★' if r['best'] else ''}#{r['rank_overall']} {r['edit']} · "
                f"{'n/a' if isinstance(r['overall'], str) else format(r['overall'], '.1f')}")
               for _, r in table.iterrows()]
    pair = (source, paths[best]) if best is not None else None
    return (table, gallery, pairs_view(pairs), compare_figure(ranked), pair, ranking_note(info, scores),
            scorer_card(scorer, info))


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
    note = gr.Markdown(elem_id="compare-note")
    with gr.Row():
        with gr.Column(scale=3):
            table = gr.Dataframe(label="ranking (1 = best)", interactive=False, elem_id="compare-table")
        card = gr.Markdown(card_for(ctx.settings.scorer), elem_id="compare-card")
    gallery = gr.Gallery(label="side by side, best first", columns=4, height=660, object_fit="contain",
                         elem_id="compare-gallery")
    with gr.Row():
        plot = gr.Plot(label="scores", elem_id="compare-plot")
        slider = gr.ImageSlider(label="source / best edit", type="filepath", elem_id="compare-slider", max_height=340)
    pairs = gr.Dataframe(headers=PAIR_COLUMNS, label="pairwise preferences", interactive=False,
                         elem_id="compare-pairs", max_height=300)

    group.input(lambda g: pick_group(ctx, g), group, [source, prompt, files, names], api_name="compare_pick")
    report_bad_upload(source)

    def uploaded(new_files):
        check_image_files(new_files)
        return []  # uploads are named by file name

    files.upload(uploaded, files, names, api_visibility="private")
    scorer.change(card_for, scorer, card, api_visibility="private", show_progress="hidden")
    result = [table, gallery, pairs, plot, slider, note]
    clear_on_change((source.upload, source.clear, files.upload, files.clear, files.delete, prompt.input,
                     scorer.input, margin.input, group.input), result)
    def compare_here(source, prompt, files, names, scorer, margin):
        return compare_edits(source, prompt, files, names, scorer, margin, ctx)

    run.click(compare_here, [source, prompt, files, names, scorer, margin], [*result, card], api_name="compare")
    return {"group": group, "scorer": scorer}


def on_load(ctx, parts):
    def load(current):
        with user_errors("dataset"):
            ds = load_dataset_cached(ctx.dataset_path())
        firsts = ds.edits.drop_duplicates("group_id")
        choices = [(f"{r['group_id']} · {r['task']} · {r['prompt'][:60]}", r["group_id"]) for _, r in firsts.iterrows()]
        return gr.Dropdown(choices=choices), refresh_scorers(ctx, current)

    return load, [parts["scorer"]], [parts["group"], parts["scorer"]]
