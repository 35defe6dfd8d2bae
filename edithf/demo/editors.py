"""Programmatic "editing models" of the synthetic demo benchmark and the measured truth.

A model decides how it carries out a task (`edithf.demo.edits.DEMO_TASKS`): too weakly,
too strongly, in the wrong place, with artefacts ... `true_scores` measures what a model actually
did against the edit as asked, which is where the demo's latent "true" quality / alignment /
preservation come from (docs/demo.md).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from edithf.demo.edits import DEMO_TASKS, Array, from_uint8, luma, to_uint8

# editing models: (task, source, params, rng) -> (intended edit, delivered image).
# "intended" is what the model meant to output before its own output defects (JPEG blocks,
# low resolution); the gap between the two is the artefact energy that lowers quality.


def jpeg(img: Array, quality: int) -> Array:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, "JPEG", quality=int(quality))
    return from_uint8(np.asarray(Image.open(buf).convert("RGB")))


def faithful(task, src, params, rng):
    out = task.render(src, params, rng.normal(1.0, 0.04))
    return out, out


def under_editing(task, src, params, rng):
    out = task.render(src, params, rng.uniform(0.25, 0.45))
    return out, out


def over_editing(task, src, params, rng):
    out = task.render(src, params, rng.uniform(1.6, 2.0))
    # ... and it changes what it was not asked to: contrast and saturation everywhere
    grey = luma(out)[..., None]
    out = np.clip((grey + 1.35 * (out - grey) - 0.5) * 1.2 + 0.5, 0, 1).astype(np.float32)
    return out, out


def artefact_prone(task, src, params, rng):
    out = task.render(src, params, 1.0)
    banded = np.round(out * 12) / 12  # colour banding
    return out, jpeg(banded, rng.integers(5, 11))


def wrong_region(task, src, params, rng):
    out = task.render(src, task.misplace(src, params, rng), 1.0)
    return out, out


def no_op(task, src, params, rng):
    return src, src


def hallucinating(task, src, params, rng):
    """Half does the edit, then adds an edit nobody asked for (another task's)."""
    out = task.render(src, params, 0.5)
    others = [t for t in DEMO_TASKS.values() if t.level != "low-level" and t.name not in (task.name, "rotate")]
    other = others[rng.integers(len(others))]
    _, extra = other.sample(out, rng)
    out = other.render(out, extra, 1.0)
    return out, out


def low_resolution(task, src, params, rng):
    out = task.render(src, params, 1.0)
    h, w = out.shape[:2]
    small = Image.fromarray(to_uint8(out)).resize((w // 3, h // 3), Image.BILINEAR)
    return out, from_uint8(np.asarray(small.resize((w, h), Image.BILINEAR)))


@dataclass(frozen=True)
class DemoModel:
    name: str
    edit: Callable
    behaviour: str
    expected: str      # designed effect on (quality, alignment, preservation)


DEMO_MODELS: dict[str, DemoModel] = {m.name: m for m in (
    DemoModel("faithful", faithful, "does the edit as asked (strength 1 +- 0.04)", "high / high / high"),
    DemoModel("under_editing", under_editing, "does a quarter to half of the edit", "high / low / high"),
    DemoModel("over_editing", over_editing, "overshoots (strength 1.6-2) and boosts contrast and saturation everywhere",
              "medium / medium-high / low"),
    DemoModel("artefact_prone", artefact_prone, "does the edit, then colour banding and JPEG blocks (quality 5-10)",
              "lowest / high / medium-high"),
    DemoModel("wrong_region", wrong_region,
              "edits a shifted region (object tasks), half the image (global and low-level), or rotates the wrong way",
              "high / low / low"),
    DemoModel("no_op", no_op, "returns the source unchanged", "source quality / lowest / highest"),
    DemoModel("hallucinating", hallucinating, "does half the edit, then adds an unrequested edit of another task",
              "high / medium / lowest"),
    DemoModel("low_resolution", low_resolution, "does the edit at a third of the resolution, upsampled (blurry)",
              "low / high / medium-high"),
)}


# --------------------------------------------------------------------------------------------
# ground truth


def _rms(x: Array) -> float:
    return float(np.sqrt(np.vdot(x, x) / x.size))


def clipped_fraction(img: Array) -> float:
    """Share of pixels with a channel at 0 or 1 (channel by channel: a reduction over an axis of
    3 is slow in numpy)."""
    flags = (img <= 0.0) | (img >= 1.0)
    return float(np.count_nonzero(flags[..., 0] | flags[..., 1] | flags[..., 2])) / flags[..., 0].size


def detail(img: Array) -> float:
    """High-frequency energy: too little is blur, too much is noise or over-sharpening."""
    return _rms(img - gaussian_filter(img, (1.0, 1.0, 0.0)))


def true_scores(src: Array, ideal: Array, intended: Array, delivered: Array, clean: Array | None = None) -> dict:
    """Latent true quality / alignment / preservation in [0, 1] of one edit, measured.

    `ideal` is the edit as asked (`Task.ideal`), `intended` what the model meant to output,
    `delivered` what it did output, `clean` the undegraded photo of a low-level task.

    - alignment: how far the intended edit went along the requested change d = ideal - source
      (projection a = <e - s, d> / <d, d>); overshooting costs a little.
    - preservation: change the request did not ask for, the part of e - s outside min(a, 1) d,
      relative to the size of the requested change, plus half of the output defects.
    - quality: output defects (delivered - intended), degradation left on low-level tasks,
      and newly clipped pixels.
    """
    d = (ideal - src).ravel()
    change = (intended - src).ravel()
    floor = d.size * 0.01 ** 2  # a request that barely changes pixels still counts a little
    a = float(np.vdot(change, d) / max(float(np.vdot(d, d)), floor))
    alignment = np.clip(a, 0, 1) - 0.35 * np.clip(a - 1, 0, 1.5)
    defects = _rms(delivered - intended)
    unrequested = _rms(change - np.float32(np.clip(a, 0, 1)) * d) + 0.5 * defects
    preservation = np.exp(-1.3 * unrequested / (_rms(d) + 0.03))
    left = abs(detail(delivered) - detail(clean)) if clean is not None else 0.0
    clipped = clipped_fraction(delivered) - clipped_fraction(src)
    quality = 0.92 - 7.0 * defects - 6.0 * left - 0.5 * max(clipped, 0.0)
    return {"quality": float(np.clip(quality, 0, 1)), "alignment": float(np.clip(alignment, 0, 1)),
            "preservation": float(np.clip(preservation, 0, 1)), "projection": a}
