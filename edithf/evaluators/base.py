"""The one interface every scorer implements.

A scorer takes a batch of (source image, edited image, prompt) triples and returns one row per
triple with a score per dimension and the weighted `overall`:

    ev = create_evaluator("classic")
    df = ev.score(sources, edits, prompts)      # DataFrame: quality, alignment, preservation, overall
    ev.score_one(src, edit, "make the sky pink")  # dict

Subclasses implement `_score_batch` only; batching, input checks, progress and the overall
score are done here once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from edithf.data.images import ImageLike, load_image
from edithf.data.schema import DIMENSIONS, SCORE_RANGE, normalize_weights

MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class EvaluatorInfo:
    """What a scorer is, known without building it (pyiqa-style metadata)."""

    name: str
    description: str
    dimensions: tuple[str, ...] = DIMENSIONS
    score_range: tuple[float, float] = SCORE_RANGE
    higher_is_better: bool = True
    needs_weights: bool = False
    needs_gpu: bool = False
    gives_levels: bool = False
    takes_argument: bool = False  # "edithf:<folder or hub id>" style names
    extra: dict = field(default_factory=dict)


class InputError(ValueError):
    """A batch that cannot be scored; the message says what was wrong and what to do."""


def check_batch(sources: Sequence, edited: Sequence, prompts: Sequence[str]) -> None:
    n = len(sources)
    if len(edited) != n or len(prompts) != n:
        raise InputError(
            f"sources, edited images and prompts must have the same length; got "
            f"{len(sources)}, {len(edited)} and {len(prompts)}"
        )
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise InputError(f"prompt {i} is empty: every edit needs the instruction it followed")


def clip_prompt(prompt: str, limit: int = MAX_PROMPT_CHARS) -> str:
    """Long prompts are cut to `limit` characters (documented; a 10,000-character prompt
    would otherwise blow the context window of the backbone)."""
    prompt = prompt.strip()
    return prompt if len(prompt) <= limit else prompt[:limit]


class Evaluator:
    """Base class of all scorers. Subclasses set `info` and implement `_score_batch`."""

    info: EvaluatorInfo
    default_batch_size: int = 8

    def __init__(self, weights=None):
        self.weights = normalize_weights(weights)

    # -- to implement --------------------------------------------------------------------
    def _score_batch(self, sources: list, edited: list, prompts: list[str]) -> dict[str, list]:
        """Score one batch of decoded RGB PIL images; return {dimension: [float, ...]} and
        optionally extra columns (e.g. `level_quality`)."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------
    def score(
        self,
        sources: Sequence[ImageLike],
        edited: Sequence[ImageLike],
        prompts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool | Callable[[int, int], None] = False,
    ):
        """Score N triples; returns a DataFrame with one row per triple, in input order."""
        import pandas as pd

        check_batch(sources, edited, prompts)
        n = len(sources)
        bs = max(1, int(batch_size or self.default_batch_size))
        columns: dict[str, list] = {}
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=f"scoring with {self.info.name}", unit="edit")
        for start in range(0, n, bs):
            stop = min(n, start + bs)
            src = [load_image(s) for s in sources[start:stop]]
            ed = [load_image(e) for e in edited[start:stop]]
            pr = [clip_prompt(p) for p in prompts[start:stop]]
            out = self._score_batch(src, ed, pr)
            for key, values in out.items():
                columns.setdefault(key, []).extend(list(values))
            if bar is not None:
                bar.update(stop - start)
            elif callable(progress):
                progress(stop, n)
        if bar is not None:
            bar.close()
        df = pd.DataFrame(columns)
        for d in DIMENSIONS:
            if d not in df:
                df[d] = float("nan")
        df["overall"] = sum(self.weights[d] * df[d] for d in DIMENSIONS)
        return df[[*DIMENSIONS, "overall", *[c for c in df.columns if c not in (*DIMENSIONS, "overall")]]]

    __call__ = score

    def score_one(self, source: ImageLike, edited: ImageLike, prompt: str) -> dict:
        return self.score([source], [edited], [prompt]).iloc[0].to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.info.name!r})"
