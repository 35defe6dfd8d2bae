"""A scorer as a reward for RL loops, best-of-N and curation.

    reward = EditReward("classic", weights=(0.3, 0.4, 0.3), batch_size=8)
    out = reward(sources, edited, prompts)
    out.reward        # np.ndarray (N,): the weighted overall, one number per edit
    out.scores        # DataFrame: quality, alignment, preservation, overall (+ scorer extras)

Inputs as RL loops produce them: lists of PIL images or paths, or image batches
(numpy/torch `(B, H, W, 3)` uint8, or `(B, 3, H, W)` float in [0, 1]). A single prompt string
or a single source image is repeated for the whole batch; a single source with a single prompt
(N candidates of one source) goes through the scorer's shared-source path (`EditReward.group`). No gradients are kept
(`torch.inference_mode` when torch is loaded) and at most `batch_size` decoded images are
alive at a time.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from edithf.data.schema import normalize_weights, overall_score
from edithf.evaluators.base import Evaluator
from edithf.predict import resolve_evaluator


@dataclass
class RewardOutput:
    reward: np.ndarray  # (N,) weighted overall
    scores: pd.DataFrame  # one row per edit: the dimensions, overall, extras


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _tensor_to_numpy(t) -> np.ndarray:
    t = t.detach().cpu()
    return (t.float() if t.is_floating_point() else t).numpy()


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    """One image (H, W, 3) uint8 or (3, H, W) float in [0, 1] -> PIL RGB."""
    if arr.ndim != 3:
        raise ValueError(f"an image array must be (H, W, 3) or (3, H, W); got shape {arr.shape}")
    if arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)  # (3, H, W) -> (H, W, 3)
    if arr.dtype != np.uint8:
        if arr.size and (np.nanmin(arr) < -1e-3 or np.nanmax(arr) > 1 + 1e-3):
            raise ValueError("float image arrays must lie in [0, 1]; got values in "
                             f"[{np.nanmin(arr):.3g}, {np.nanmax(arr):.3g}] (pass uint8 for 0-255 images)")
        arr = np.clip(np.nan_to_num(arr.astype(np.float64)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return Image.fromarray(arr, mode="RGB")


class _Images:
    """A lazy, sliceable view over a list / array / tensor batch of images: only the slice
    being scored is converted to PIL."""

    def __init__(self, images, n: int | None = None, name: str = "images"):
        if _is_tensor(images):
            images = _tensor_to_numpy(images)
        single = isinstance(images, (str, Image.Image)) or (isinstance(images, np.ndarray) and images.ndim == 3)
        self.single = single
        if single:
            if n is None:
                raise ValueError(f"{name}: a single image needs a batch of the other inputs to repeat for")
            images = [images] * n
        elif isinstance(images, np.ndarray) and images.ndim != 4:
            raise ValueError(f"{name}: an image batch must be 4-D (B, H, W, 3) or (B, 3, H, W); got {images.shape}")
        self.items = images
        self.name = name

    def __len__(self) -> int:
        return len(self.items)

    def slice(self, start: int, stop: int) -> list:
        out = []
        for item in self.items[start:stop]:
            if _is_tensor(item):
                item = _tensor_to_numpy(item)
            out.append(_array_to_pil(item) if isinstance(item, np.ndarray) else item)
        return out


def _no_grad():
    if "torch" in sys.modules:
        import torch

        return torch.inference_mode()
    return contextlib.nullcontext()


class EditReward:
    """Callable reward over (sources, edited, prompts) from any scorer."""

    def __init__(self, evaluator_or_name: str | Evaluator, weights=None, batch_size: int = 8, **scorer_kwargs):
        self.evaluator = resolve_evaluator(evaluator_or_name, **scorer_kwargs)
        self.weights = normalize_weights(weights)
        self.batch_size = max(1, int(batch_size))

    @property
    def name(self) -> str:
        return self.evaluator.info.name

    def __call__(self, sources, edited, prompts, *, progress=False) -> RewardOutput:
        edits = _Images(edited, name="edited")
        n = len(edits)
        srcs = _Images(sources, n, name="sources")
        if srcs.single and isinstance(prompts, str):  # N candidates of one source: the shared path
            return self.group(srcs.items[0], edits, prompts, progress=progress)
        prompts = [prompts] * n if isinstance(prompts, str) else list(prompts)
        if len(srcs) != n or len(prompts) != n:
            raise ValueError("sources, edited and prompts must have the same length; "
                             f"got {len(srcs)}, {n}, {len(prompts)}")
        return self._run(n, lambda a, b: self.evaluator.score(
            srcs.slice(a, b), edits.slice(a, b), prompts[a:b], batch_size=self.batch_size), progress)

    def group(self, source, candidates, prompt: str, *, progress=False) -> RewardOutput:
        """The reward of N candidate edits of one source under one instruction (best-of-N, the
        seeds of one instruction, one RL group): the scorer computes what they share (the
        source, the instruction) once per batch where it can (`Evaluator.score_group`)."""
        edits = candidates if isinstance(candidates, _Images) else _Images(candidates, name="candidates")
        source = _Images(source, 1, name="source").slice(0, 1)[0]
        return self._run(len(edits), lambda a, b: self.evaluator.score_group(
            source, edits.slice(a, b), prompt, batch_size=self.batch_size), progress)

    def _run(self, n: int, score_slice, progress) -> RewardOutput:
        """Score [0, n) in slices of `batch_size` (at most that many decoded images alive)."""
        if n == 0:
            raise ValueError("nothing to score: the batch of edited images is empty")
        frames = []
        with _no_grad():
            for start in range(0, n, self.batch_size):
                stop = min(n, start + self.batch_size)
                frames.append(score_slice(start, stop))
                if callable(progress):
                    progress(stop, n)
        scores = pd.concat(frames, ignore_index=True)
        scores["overall"] = overall_score(scores, self.weights, self.evaluator.info.dimensions)  # judged ones only
        return RewardOutput(reward=scores["overall"].to_numpy(dtype=np.float64), scores=scores)


def as_reward(reward_or_scorer, weights=None, batch_size: int = 8) -> EditReward:
    """An EditReward from an EditReward, an Evaluator or a registry name."""
    if isinstance(reward_or_scorer, EditReward):
        return reward_or_scorer
    return EditReward(reward_or_scorer, weights=weights, batch_size=batch_size)
