"""The one interface every scorer implements.

A scorer takes a batch of (source image, edited image, prompt) triples and returns one row per
triple with a score per dimension and the weighted `overall`:

    ev = create_evaluator("classic")
    df = ev.score(sources, edits, prompts)      # DataFrame: quality, alignment, preservation, overall
    ev.score_one(src, edit, "make the sky pink")  # dict

Subclasses implement `_score_batch` only; batching, input checks, progress and the overall
score are done here once. A scorer that can compute the part N edits of one source under one
instruction share once also overrides `_score_group`: `score_group` calls it, and so does `score`
for a batch whose rows are one group (one source, one instruction).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from edithf.data.images import ImageLike, load_image
from edithf.data.schema import DIMENSIONS, SCORE_RANGE, normalize_weights, overall_score

MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class EvaluatorInfo:
    """What a scorer is, known without building it (pyiqa-style metadata).

    `dimensions`: the dimensions it really judges; it returns NaN for the others and its
    `overall` is the weighted mean over these only. `reads_prompt`: whether the instruction
    changes its scores. `meaning`: what its numbers mean, in one line."""

    name: str
    description: str
    dimensions: tuple[str, ...] = DIMENSIONS
    score_range: tuple[float, float] = SCORE_RANGE
    higher_is_better: bool = True
    needs_weights: bool = False
    needs_gpu: bool = False
    gives_levels: bool = False
    takes_argument: bool = False  # "edithf:<folder or hub id>" style names
    reads_prompt: bool = False
    meaning: str = ""
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
            ed = [load_image(e) for e in edited[start:stop]]
            pr = [clip_prompt(p) for p in prompts[start:stop]]
            if self._one_group(sources[start:stop], pr):  # e.g. a dataset group of 8 in a batch of 8
                out = self._score_group(load_image(sources[start]), ed, pr[0], bs)
            else:
                out = self._score_batch([load_image(s) for s in sources[start:stop]], ed, pr)
            for key, values in out.items():
                columns.setdefault(key, []).extend(list(values))
            if bar is not None:
                bar.update(stop - start)
            elif callable(progress):
                progress(stop, n)
        if bar is not None:
            bar.close()
        return self._table(columns)

    def score_group(self, source: ImageLike, edited: Sequence[ImageLike], prompt: str, *,
                    batch_size: int | None = None):
        """The rows of `score([source] * N, edited, [prompt] * N)` for N edits of one source under
        one instruction (a group, best-of-N candidates, the seeds of one instruction); scorers
        that can compute what the N edits share once override `_score_group`."""
        check_batch([source] * len(edited), edited, [prompt] * len(edited))
        if len(edited) == 0:
            return self._table({})
        bs = max(1, int(batch_size or self.default_batch_size))
        out = self._score_group(load_image(source), [load_image(e) for e in edited], clip_prompt(prompt), bs)
        return self._table(out)

    def _one_group(self, sources: Sequence, prompts: list[str]) -> bool:
        """True when this scorer shares work within a group (overrides `_score_group`) and the
        batch is one: one source (the same path or the same image object) and one instruction."""
        if type(self)._score_group is Evaluator._score_group or len(sources) < 2:
            return False
        first = sources[0]
        same = all(s is first or (isinstance(s, (str, os.PathLike)) and s == first) for s in sources)
        return same and len(set(prompts)) == 1

    def _score_group(self, source, edited: list, prompt: str, batch_size: int) -> dict[str, list]:
        columns: dict[str, list] = {}
        for start in range(0, len(edited), batch_size):
            chunk = edited[start:start + batch_size]
            for key, values in self._score_batch([source] * len(chunk), chunk, [prompt] * len(chunk)).items():
                columns.setdefault(key, []).extend(list(values))
        return columns

    def _table(self, columns: dict[str, list]):
        """Scorer columns -> the DataFrame of `score`: every dimension, the weighted overall, extras."""
        import pandas as pd

        df = pd.DataFrame(columns)
        judged = self.info.dimensions
        for d in DIMENSIONS:
            if d not in df or d not in judged:  # a dimension it cannot judge is NaN, never a copy
                df[d] = float("nan")
        df["overall"] = overall_score(df, self.weights, judged)
        if tuple(judged) != DIMENSIONS:  # says which dimensions this overall is the weighted mean of
            df["overall_dims"] = ",".join(judged)
        return df[[*DIMENSIONS, "overall", *[c for c in df.columns if c not in (*DIMENSIONS, "overall")]]]

    __call__ = score

    def score_one(self, source: ImageLike, edited: ImageLike, prompt: str) -> dict:
        return self.score([source], [edited], [prompt]).iloc[0].to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.info.name!r})"
