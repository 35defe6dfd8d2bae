"""Edits from a diffusers editing pipeline: one image per (source, prompt, seed).

    edits = generate_edits(pipe, sources, prompts, seeds, num_inference_steps=28)

Used by the DPO evaluation (base vs tuned) and by Self-DPO pair building (N seeds per
instruction). Family quirks handled here, through the pipelines' own arguments:

- `area` (pixels; None = each pipeline's default) sets the working resolution, keeping the
  source's aspect ratio, rounded to the pipeline's multiple. Qwen-Image-Edit otherwise always
  resizes the source to about one megapixel: diffusers has no argument for that, so the
  module's `calculate_dimensions` is swapped for the duration of the call only (under a lock,
  restored in `finally`). FLUX.1 Kontext gets `max_area=area, _auto_resize=False` (instead of
  its preferred ~1 MP resolutions); InstructPix2Pix gets the source resized to `area`.
- Without `area`, Kontext edits keep the source's aspect ratio at about one megapixel, and
  InstructPix2Pix works at the source's size.
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import Callable, Sequence

_QWEN_LOCK = threading.Lock()


def fit_area(size: tuple[int, int], area: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the aspect ratio of `size` and about `area` pixels, both rounded to
    `multiple` (at least one multiple)."""
    w, h = size
    width = math.sqrt(area * w / h)
    height = width * h / w
    snap = lambda v: max(multiple, int(round(v / multiple)) * multiple)
    return snap(width), snap(height)


@contextlib.contextmanager
def qwen_condition_area(area: int):
    """Make QwenImageEditPipeline resize its condition image to `area` pixels (not 1024^2)."""
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as qwen_edit

    with _QWEN_LOCK:
        original = qwen_edit.calculate_dimensions
        qwen_edit.calculate_dimensions = lambda _area, ratio: original(area, ratio)
        try:
            yield
        finally:
            qwen_edit.calculate_dimensions = original


def _family(pipe) -> str:
    from edithf.dpo.adapters import adapter_class

    return adapter_class(pipe).family


def _prepare(pipe, family: str, image, area: int | None):
    """-> (image to pass, extra pipeline kwargs, context manager) for one source."""
    multiple = pipe.image_processor.config.vae_scale_factor
    if family == "qwen_image_edit":
        if area is None:
            return image, {}, contextlib.nullcontext()
        width, height = fit_area(image.size, area, 32)  # the pipeline's own rounding
        return image, {"height": height, "width": width}, qwen_condition_area(area)
    if family == "flux_kontext":
        if area is None:
            return image, {"height": image.height, "width": image.width}, contextlib.nullcontext()
        width, height = fit_area(image.size, area, multiple)
        kwargs = {"height": height, "width": width, "max_area": area, "_auto_resize": False}
        return image.resize((width, height)), kwargs, contextlib.nullcontext()
    if area is not None:  # InstructPix2Pix edits at the size of its input
        image = image.resize(fit_area(image.size, area, multiple))
    return image, {}, contextlib.nullcontext()


def generate_edits(
    pipeline,
    sources: Sequence,
    prompts: Sequence[str],
    seeds: Sequence[int],
    num_inference_steps: int = 28,
    *,
    area: int | None = None,
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **kwargs,
) -> list:
    """One PIL edit per (source, prompt, seed), in input order.

    `sources` are paths, bytes or PIL images; `kwargs` go to the pipeline call (e.g.
    `guidance_scale`, `true_cfg_scale`, `negative_prompt`). Consecutive items whose prepared
    sources have the same size run together, `batch_size` at a time."""
    import torch

    from edithf.data.images import load_image

    if not (len(sources) == len(prompts) == len(seeds)):
        raise ValueError(f"sources, prompts and seeds must have the same length; got "
                         f"{len(sources)}, {len(prompts)} and {len(seeds)}")
    family = _family(pipeline)
    if family == "qwen_image_edit" and "negative_prompt" not in kwargs:
        # True CFG needs a negative prompt; without one the pipeline ignores its default
        # true_cfg_scale=4 (and warns on every call): say so explicitly.
        kwargs.setdefault("true_cfg_scale", 1.0)
    prepared = [_prepare(pipeline, family, load_image(s), area) for s in sources]
    out: list = []
    start = 0
    while start < len(prepared):
        stop = start + 1
        while (stop < len(prepared) and stop - start < max(1, batch_size)
               and prepared[stop][0].size == prepared[start][0].size):
            stop += 1
        _, call_kwargs, context = prepared[start]
        generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds[start:stop]]
        with context:
            result = pipeline(
                image=[p[0] for p in prepared[start:stop]], prompt=list(prompts[start:stop]),
                generator=generators, num_inference_steps=num_inference_steps,
                **call_kwargs, **kwargs,
            )
        out.extend(result.images)
        start = stop
        if progress is not None:
            progress(len(out), len(prepared))
    return out
