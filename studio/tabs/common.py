"""Small pieces the tabs share: the scorer dropdown and its card, turning library errors into
page messages, the dataset's edits for the demo pickers."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import gradio as gr
from PIL import Image

from studio.state import built_info, get_evaluator, scorer_info


class ImageUpload(gr.Image):
    """gr.Image whose unreadable upload (a text file, a truncated PNG) says so in the page
    instead of Gradio's generic 'Could not preprocess input component'."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError as exc:  # above ~179 MP PIL refuses even to open it
            raise gr.Error(f"{_upload_name(payload)} is too large ({exc}); resize it first", duration=None) from exc
        except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError is an OSError
            raise gr.Error(f"cannot read {_upload_name(payload)} as an image ({exc.__class__.__name__}); upload "
                           "a PNG, JPEG or WebP file", duration=None) from exc


def _upload_name(payload) -> str:
    return getattr(payload, "orig_name", None) or "the uploaded file"


def report_bad_upload(image: ImageUpload) -> None:
    """An unreadable upload is reported when it is uploaded, not at the next button click
    (the upload event runs the component's preprocess, which raises the message)."""
    image.upload(lambda _: None, image, None, api_visibility="private", show_progress="hidden")


def check_image_files(files) -> None:
    """Every file of a multi-file upload must open as an image; the first that does not is named."""
    for f in files or []:
        path = str(getattr(f, "name", f))
        try:
            with Image.open(path) as im:
                im.verify()
        except (OSError, ValueError, SyntaxError) as exc:
            raise gr.Error(f"cannot read {Path(path).name} as an image ({exc.__class__.__name__}); upload "
                           "PNG, JPEG or WebP files", duration=None) from exc


# -- numbers a scorer cannot give, and what its numbers mean -------------------------------------
NOT_AVAILABLE = "n/a (this scorer cannot judge it)"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def shown(value, digits: int = 2):
    """A score as the page shows it: rounded, or NOT_AVAILABLE for a dimension the scorer does
    not judge (NaN), never a made-up number."""
    return NOT_AVAILABLE if is_missing(value) else round(float(value), digits)


def score_range_text(info) -> str:
    lo, hi = info.score_range
    return f"{lo:g}–{hi:g} ({'higher' if info.higher_is_better else 'lower'} is better)"


def scorer_card(name: str, info) -> str:
    """What a scorer reads, what its numbers mean, their range and caveats (markdown), from its
    `EvaluatorInfo` (a built scorer's own, or the registry's)."""
    from edithf.data.schema import DIMENSIONS

    judged = [d for d in DIMENSIONS if d in info.dimensions]
    unjudged = [d for d in DIMENSIONS if d not in info.dimensions]
    reads_prompt = getattr(info, "reads_prompt", True)
    lines = [f"**Scorer card · `{name}`** — {info.description}",
             f"- reads the prompt: **{'yes' if reads_prompt else 'no'}**"
             + ("" if reads_prompt else " (it cannot tell whether the edit did what was asked)"),
             f"- judges: {', '.join(judged) or 'nothing'}"
             + (f"; not available: {', '.join(unjudged)} (shown as n/a)" if unjudged else ""),
             f"- range: {score_range_text(info)}"]
    meaning = getattr(info, "meaning", "")
    if meaning:
        lines.append(f"- its numbers: {meaning}")
    lines += [f"- caveat: {c}" for c in info.extra.get("caveats", ())]
    return "\n".join(lines)


def clear_on_change(triggers, result: list) -> None:
    """When the user changes an input of a result (an image, the prompt, the scorer, a pick from
    the dataset), the result shown was of the old inputs: it is emptied rather than left beside
    the new inputs and the new scorer's card (a stale number is worse than none). User events
    only (`.input`, `.upload`, ...), and unqueued, so that the emptying never lands after the
    next result."""
    for changed in triggers:
        changed(lambda: [None] * len(result), None, result, api_visibility="private", show_progress="hidden",
                queue=False)


def scorer_dropdown(ctx, elem_id: str, label: str = "scorer") -> gr.Dropdown:
    """Registry scorers plus finished training runs; any registry name can be typed in
    (e.g. `edithf:ORG/MODEL` from the hub)."""
    return gr.Dropdown(
        choices=ctx.scorers(), value=ctx.settings.scorer, label=label, allow_custom_value=True,
        info="classic needs no weights; a trained run is edithf:<run>/best", elem_id=elem_id,
    )


def refresh_scorers(ctx, current):
    """On page load: finished runs appear in the list, the selection is kept."""
    return gr.Dropdown(choices=ctx.scorers(), value=current or ctx.settings.scorer)


@contextlib.contextmanager
def user_errors(what: str):
    """Library errors carry a message meant for the user (what was wrong, what to do): show it
    in the page (gr.Error) instead of a generic 'Error'."""
    try:
        yield
    except gr.Error:
        raise
    except (ValueError, KeyError, FileNotFoundError, TimeoutError, RuntimeError, OSError) as exc:
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise gr.Error(f"{what}: {text}", duration=None) from exc


def evaluator(name: str, ctx=None):
    """(the built scorer, its own info: a loaded run's dimensions, range and caveats); with the
    studio's `ctx`, a typed name is first checked against its folders (`allowed_scorer`)."""
    if not name or not str(name).strip():
        raise gr.Error("choose a scorer (classic works without weights)")
    with user_errors(f"scorer {name!r}"):
        if ctx is not None:
            name = ctx.allowed_scorer(name)
        scorer_info(name)  # an unknown or malformed name is refused before anything is built
        ev = get_evaluator(str(name).strip())
        return ev, ev.info


def short_scorer_name(name: str) -> str:
    """`edithf:/long/path/my-run/best` -> `edithf:my-run` (column headers stay readable)."""
    key, sep, arg = str(name).partition(":")
    if not sep:
        return key
    parts = [p for p in Path(arg).parts if p not in ("best", "/")]
    return f"{key}:{parts[-1] if parts else arg}"


def gradio_progress(progress, desc: str):
    """A library progress callback `(done, total)` drawn by Gradio's progress bar (edits done /
    total and the time left)."""
    def report(done: int, total: int) -> None:
        progress((int(done), int(total)), desc=desc, unit="edits")

    return report


def card_for(name) -> str:
    """The scorer card of a dropdown's value without building the scorer: the registry metadata,
    or the built scorer's own (a loaded run's caveats) when this studio has built it already;
    an unknown name says so instead."""
    if not name or not str(name).strip():
        return ""
    name = str(name).strip()
    try:
        return scorer_card(name, built_info(name) or scorer_info(name))
    except KeyError as exc:
        return f"**Scorer card:** {exc.args[0] if exc.args else exc}"


def require_image(path, which: str) -> str:
    if path in (None, ""):
        raise gr.Error(f"no {which} image: upload one (PNG, JPEG or WebP) or pick an edit from the dataset")
    return str(path)


def require_prompt(prompt) -> str:
    if not prompt or not str(prompt).strip():
        raise gr.Error("the prompt is empty: type the editing instruction the edit followed")
    return str(prompt)


def edit_label(row) -> str:
    return f"{row['group_id']} · {row['model']} · {row['task']}"


def abs_image(ds, rel: str) -> str:
    """The image's path, only if it really lies inside the dataset folder: Gradio copies a file
    under the working directory or the temp folder into its cache and serves it, so a symlinked
    image would hand any such file to the browser."""
    path = Path(ds.image_path(rel))
    if not path.resolve().is_relative_to(Path(ds.root).resolve()):
        raise gr.Error(f"image {rel} of {ds.root} is a link to a file outside the dataset folder: the "
                       "studio shows only files inside it; copy the image into the folder")
    return str(path)


def dataset_rows(ctx, column: str, value):
    """(dataset, its edits rows where `column` == `value`) of the studio's dataset; a KeyError
    naming what was not found otherwise (shown in the page by `user_errors`)."""
    from studio.state import load_dataset_cached

    ds = load_dataset_cached(ctx.dataset_path())
    rows = ds.edits[ds.edits[column] == value]
    if rows.empty:
        raise KeyError(f"no {column.removesuffix('_id')} {value!r} in {ds.root}")
    return ds, rows
