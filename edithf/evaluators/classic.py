"""Classic image-quality baselines: full-reference metrics between source and edit, and
no-reference statistics of the edit. No weights, no network: the scorer that always works.

This is a *classic baseline*, not a judge of edits. It cannot read the instruction, so it
cannot know whether the edit did what was asked; the mapping to the three dimensions is a
documented heuristic (the paper's Table 2 uses such metrics as baselines the same way):

- quality      <- no-reference statistics of the edit (`nr_quality`, below);
- preservation <- full-reference similarity of edit to source: the mean of the normalised
                  PSNR, SSIM, MS-SSIM, VIF and GMSD scores (`normalised`, below);
- alignment    <- amount of change (`alignment_from_change`): an edit should change some
                  of the image but not all of it, so the score peaks at ~30% changed pixels
                  and is low for "nothing changed" and "everything replaced".

Geometry: for the FR metrics and the amount of change, the edit is resized to the source's
size (bicubic) when they differ, then both are resized to a square working size (`size`,
default 256) so a batch stacks into one tensor; both images see the same transform. The NR
statistics look at the edit's own pixels, downscaled to at most `size` on the longer side
(never upscaled).

Definitions (the sources):
- PSNR, SSIM (Gaussian 11x11, sigma 1.5), MS-SSIM (5 scales, torchmetrics' "relu"
  normalisation): torchmetrics, RGB in [0, 1]. PSNR is capped at 100 dB (identical images).
- VIF: torchmetrics' pixel-domain VIF-P (`visual_information_fidelity`, after Sheikh & Bovik
  2006 via piq/sewar), per RGB channel on [0, 255] with sigma_n^2 = 2, averaged over channels.
  It differs from piq's `vif_p`, which works on luminance only.
- GMSD: Xue, Zhang, Mou, Bovik, "Gradient Magnitude Similarity Deviation: A Highly Efficient
  Perceptual Image Quality Index", IEEE TIP 23(2), 2014 (implemented below; torchmetrics
  lacks it). Lower is better; 0 for identical images.
- FSIM is not included: it needs phase congruency over a log-Gabor filter bank, which neither
  torchmetrics nor any importable package here provides (piq needs torchvision).
- No-reference: Laplacian variance (sharpness), Hasler & Suesstrunk 2003 colourfulness,
  RMS contrast, histogram entropy (bits), Immerkaer 1996 fast noise-sigma estimate.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np
from PIL import Image

from edithf.evaluators.base import Evaluator

METRICS = ("psnr", "ssim", "ms_ssim", "vif", "gmsd", "nr_stats")
FR_METRICS = ("psnr", "ssim", "ms_ssim", "vif", "gmsd")
PSNR_CAP_DB = 100.0
MIN_SIZE = 176  # MS-SSIM with 5 scales and an 11-pixel window needs more than 160 pixels

# -- geometry --------------------------------------------------------------------------------


def aligned_pair(source: Image.Image, edited: Image.Image, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Edit resized to the source's size, then both to size x size; uint8 (H, W, 3) arrays."""
    if edited.size != source.size:
        edited = edited.resize(source.size, Image.BICUBIC)
    if size is not None:
        source = source.resize((size, size), Image.BICUBIC)
        edited = edited.resize((size, size), Image.BICUBIC)
    return np.asarray(source, dtype=np.uint8), np.asarray(edited, dtype=np.uint8)


def nr_view(image: Image.Image, size: int) -> np.ndarray:
    """The image for no-reference statistics: its own pixels, downscaled (aspect kept) when its
    longer side exceeds `size`, never upscaled (upscaling would smooth noise away)."""
    if max(image.size) > size:
        image = image.copy()
        image.thumbnail((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


# -- no-reference statistics (numpy; also used by the dummy scorer) -------------------------


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in [0, 255], float64 (H, W)."""
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def laplacian_variance(gray: np.ndarray) -> float:
    from scipy.ndimage import laplace

    return float(laplace(gray, mode="reflect").var())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): std and mean of the opponent channels rg and yb."""
    rgb = rgb.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def entropy_bits(gray: np.ndarray) -> float:
    hist = np.bincount(np.clip(gray, 0, 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return max(0.0, float(-(p * np.log2(p)).sum()))


def noise_sigma(gray: np.ndarray) -> float:
    """Immerkaer (1996) "Fast noise variance estimation": a Laplacian-difference mask that
    cancels smooth structure; sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * M|."""
    from scipy.signal import convolve2d

    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    h, w = gray.shape
    if h < 3 or w < 3:
        return 0.0
    total = np.abs(convolve2d(gray, mask, mode="valid")).sum()
    return float(total * math.sqrt(math.pi / 2) / (6.0 * (w - 2) * (h - 2)))


def nr_statistics(rgb: np.ndarray) -> dict[str, float]:
    gray = luminance(rgb)
    return {
        "sharpness": laplacian_variance(gray),
        "colourfulness": colourfulness(rgb),
        "contrast": float(gray.std()),
        "entropy": entropy_bits(gray),
        "noise_sigma": noise_sigma(gray),
    }


def nr_quality(stats: dict[str, float]) -> float:
    """No-reference statistics -> [0, 100]: a weighted mean of saturating normalisations
    (sharpness, contrast, entropy, colourfulness), damped by estimated noise above sigma 5.
    A black or flat image scores 0; uniform noise scores near 0."""
    score = (
        0.3 * (1 - math.exp(-stats["sharpness"] / 500.0))
        + 0.25 * min(1.0, stats["contrast"] / 64.0)
        + 0.25 * stats["entropy"] / 8.0
        + 0.2 * (1 - math.exp(-stats["colourfulness"] / 50.0))
    )
    damping = math.exp(-max(0.0, stats["noise_sigma"] - 5.0) / 5.0)
    return 100.0 * score * damping


# -- amount of change -> alignment ----------------------------------------------------------


def change_fraction(source: np.ndarray, edited: np.ndarray, threshold: float = 24.0) -> float:
    """Share of pixels whose largest channel difference exceeds `threshold` (0-255 scale)."""
    diff = np.abs(source.astype(np.int16) - edited.astype(np.int16)).max(axis=-1)
    return float((diff > threshold).mean())


def alignment_from_change(fraction: float, peak: float = 0.3, width: float = 0.25) -> float:
    """A bump over the changed fraction: 100 at `peak`, ~24 for no change, ~0 for all."""
    return 100.0 * math.exp(-(((fraction - peak) / width) ** 2))


# -- full-reference metrics (torch, batched) ------------------------------------------------


def gmsd(reference, distorted, c: float = 170.0 / 255.0**2):
    """GMSD of (B, 3, H, W) images in [0, 1] -> (B,). Xue et al. 2014, their MATLAB reference:
    BT.601 luma, 2x2 average + downsample by 2, Prewitt gradients (/3, zero padding), gradient
    magnitude similarity GMS = (2 m_r m_d + c) / (m_r^2 + m_d^2 + c), GMSD = std(GMS) (n-1).
    c = 170 on 0-255 images (the paper's T), i.e. 170/255^2 on [0, 1] images."""
    import torch
    import torch.nn.functional as F

    weights = torch.tensor([0.299, 0.587, 0.114], dtype=reference.dtype).view(1, 3, 1, 1)
    prewitt_x = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=reference.dtype) / 3.0
    kernels = torch.stack([prewitt_x, prewitt_x.T]).unsqueeze(1)  # (2, 1, 3, 3)

    def gradient_magnitude(img):
        y = (img * weights).sum(1, keepdim=True)  # (B, 1, H, W)
        y = F.avg_pool2d(y, 2)  # (B, 1, H/2, W/2)
        g = F.conv2d(y, kernels, padding=1)  # zero padding, as conv2(..., 'same'): (B, 2, H/2, W/2)
        return g.pow(2).sum(1).sqrt()

    m_r, m_d = gradient_magnitude(reference), gradient_magnitude(distorted)
    gms = (2 * m_r * m_d + c) / (m_r**2 + m_d**2 + c)
    return gms.flatten(1).std(dim=1, unbiased=True)


def full_reference(source, edited, which=FR_METRICS) -> dict[str, np.ndarray]:
    """The FR metrics named in `which` of (B, 3, H, W) float images in [0, 1]; each -> (B,)."""
    import torch
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as ms_ssim,
        peak_signal_noise_ratio as psnr,
        structural_similarity_index_measure as ssim,
        visual_information_fidelity as vif,
    )

    metrics = {
        "psnr": lambda: psnr(edited, source, data_range=1.0, reduction="none", dim=(1, 2, 3)).clamp(max=PSNR_CAP_DB),
        "ssim": lambda: ssim(edited, source, data_range=1.0, reduction="none"),
        "ms_ssim": lambda: ms_ssim(edited, source, data_range=1.0, reduction="none"),
        "vif": lambda: vif(edited * 255.0, source * 255.0, reduction="none"),
        "gmsd": lambda: gmsd(source, edited),
    }
    with torch.inference_mode():
        return {k: metrics[k]().double().numpy() for k in which}


def normalised(metric: str, raw):
    """A raw metric value -> [0, 100], higher is better (also the per-metric scorers' score)."""
    raw = np.asarray(raw, dtype=np.float64)
    if metric == "psnr":
        return 100.0 * np.clip(raw / 50.0, 0.0, 1.0)
    if metric in ("ssim", "ms_ssim", "vif"):
        return 100.0 * np.clip(raw, 0.0, 1.0)
    if metric == "gmsd":  # GMS lies in (0, 1], so its deviation is at most ~0.5
        return 100.0 * (1.0 - np.clip(raw / 0.5, 0.0, 1.0))
    if metric == "nr_stats":
        return np.clip(raw, 0.0, 100.0)
    raise ValueError(f"unknown classic metric {metric!r}; choose from {', '.join(METRICS)}")


# -- the scorer ---------------------------------------------------------------------------------


class ClassicEvaluator(Evaluator):
    """`classic` (all metrics mapped to the three dimensions) or one metric (`metric="ssim"`:
    that metric's normalised value on all three dimensions, raw value as an extra column)."""

    default_batch_size = 8

    def __init__(self, metric: str | None = None, size: int = 256, weights=None):
        super().__init__(weights)
        from edithf.evaluators.registry import get_info

        if metric is not None and metric not in METRICS:
            raise ValueError(f"unknown classic metric {metric!r}; choose from {', '.join(METRICS)}")
        if size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} pixels (MS-SSIM needs it), got {size}")
        self.metric = metric
        self.size = int(size)
        self.info = get_info(metric or "classic")

    def _score_batch(self, sources, edited, prompts):
        columns: dict[str, list] = {}
        if self.metric in (None, "nr_stats"):
            for edit in edited:
                stats = nr_statistics(nr_view(edit, self.size))
                stats["nr_quality"] = nr_quality(stats)
                for k, v in stats.items():
                    columns.setdefault(k, []).append(v)
        pairs = []
        if self.metric != "nr_stats":
            pairs = [aligned_pair(s, e, self.size) for s, e in zip(sources, edited)]  # (S, S, 3) uint8 each
            columns.update(self._full_reference(pairs))
        if self.metric is not None:
            raw = columns["nr_quality" if self.metric == "nr_stats" else self.metric]
            score = normalised(self.metric, raw).tolist()
            return {"quality": score, "alignment": score, "preservation": score, **columns}
        columns["changed_fraction"] = [change_fraction(s, e) for s, e in pairs]
        similarity = np.mean([normalised(m, columns[m]) for m in FR_METRICS], axis=0)
        return {
            "quality": columns["nr_quality"],
            "alignment": [alignment_from_change(c) for c in columns["changed_fraction"]],
            "preservation": similarity.tolist(),
            **columns,
        }

    def _full_reference(self, pairs) -> dict[str, list]:
        import torch

        def batch(k):  # (B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1]
            return torch.from_numpy(np.stack([p[k] for p in pairs])).permute(0, 3, 1, 2).float() / 255.0

        which = FR_METRICS if self.metric is None else (self.metric,)
        return {k: v.tolist() for k, v in full_reference(batch(0), batch(1), which).items()}


# Registry targets for the per-metric scorers (`create_evaluator("ssim")`).
PSNREvaluator = partial(ClassicEvaluator, metric="psnr")
SSIMEvaluator = partial(ClassicEvaluator, metric="ssim")
MSSSIMEvaluator = partial(ClassicEvaluator, metric="ms_ssim")
VIFEvaluator = partial(ClassicEvaluator, metric="vif")
GMSDEvaluator = partial(ClassicEvaluator, metric="gmsd")
NRStatsEvaluator = partial(ClassicEvaluator, metric="nr_stats")
