"""Small pieces the tabs share: the scorer dropdown, turning library errors into page messages,
the dataset's edits for the demo pickers."""
from __future__ import annotations

import contextlib
from pathlib import Path

import gradio as gr
from PIL import Image

from studio.state import get_evaluator, scorer_info


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


def evaluator(name: str):
    if not name or not str(name).strip():
        raise gr.Error("choose a scorer (classic works without weights)")
    with user_errors(f"scorer {name!r}"):
        info = scorer_info(name)
        return get_evaluator(str(name).strip()), info


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
    return str(Path(ds.image_path(rel)))


def dataset_rows(ctx, column: str, value):
    """(dataset, its edits rows where `column` == `value`) of the studio's dataset; a KeyError
    naming what was not found otherwise (shown in the page by `user_errors`)."""
    from studio.state import load_dataset_cached

    ds = load_dataset_cached(ctx.dataset_path())
    rows = ds.edits[ds.edits[column] == value]
    if rows.empty:
        raise KeyError(f"no {column.removesuffix('_id')} {value!r} in {ds.root}")
    return ds, rows
