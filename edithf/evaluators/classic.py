"""Classic image-quality baselines: full-reference metrics between source and edit, and
no-reference statistics of the edit. No weights, no network: the scorer that always works.

This is a *classic baseline*, not a judge of edits. It cannot read the instruction, so it
cannot judge alignment: its `alignment` is NaN (and `overall` is the weighted mean of the two
dimensions it judges, docs/scorers_reward.md). `CLASSIC_METRICS` below is the one record of
each metric (what it is, which dimension it judges, its raw column, its normalisation); the
registry, `edithf scorers` and the scorer all read it.

- quality      <- no-reference statistics of the edit (`nr_quality`, below);
- preservation <- full-reference similarity of edit to source: the mean of the normalised
                  PSNR, SSIM, MS-SSIM, VIF and GMSD scores.

Geometry, as the references compute at scale: the edit is resized to the source's size
(bicubic) when they differ. PSNR compares the RGB pixels at that size. SSIM, MS-SSIM, VIF and
GMSD look at the BT.601 luma after Wang et al.'s downsampling (their `ssim.m`): a factor
f = max(1, round(short side / 256)), an f x f mean filter and every f-th pixel (a block mean),
so the short side is about 256 px whatever the input size. Images whose short side is below
176 px are first upscaled to 176 (MS-SSIM's five scales need it). Pairs of the same working
shape are stacked into one torch batch; separable Gaussian filters keep the filtering cheap.
The NR statistics look at the edit's own pixels, downscaled to at most 256 on the longer
side (never upscaled). Scores are cached per (source, edit) pixel content.

Definitions (the references, all on 0-255 luma):
- SSIM: Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004: Gaussian 11x11, sigma 1.5, K = (0.01,
  0.03), 'valid' filtering, mean of the SSIM map.
- MS-SSIM: Wang, Simoncelli, Bovik, Asilomar 2003: 5 scales, 2x2 mean downsampling, weights
  (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); negative contrast terms clipped at 0.
- VIF: Sheikh & Bovik, IEEE TIP 2006, the pixel-domain VIF-P of their `vifp_mscale.m`:
  4 scales, Gaussian windows N = 17, 9, 5, 3 with sigma N/5, sigma_n^2 = 2.
- GMSD: Xue, Zhang, Mou, Bovik, IEEE TIP 23(2), 2014, their MATLAB reference: 2x2 mean +
  downsample by 2, Prewitt gradients (/3, zero padding), c = 170, GMSD = std of the GMS map
  (n - 1). Lower is better; 0 for identical images.
- PSNR: 10 log10(1 / MSE) on RGB in [0, 1], capped at 100 dB (identical images).
- FSIM is not included: it needs phase congruency over a log-Gabor filter bank, which no
  importable package here provides.
- No-reference: Laplacian variance (sharpness), Hasler & Suesstrunk 2003 colourfulness,
  RMS contrast, histogram entropy (bits), Immerkaer 1996 fast noise-sigma estimate.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from PIL import Image

from edithf.evaluators.base import Evaluator

PSNR_CAP_DB = 100.0
MIN_SIZE = 176  # MS-SSIM with 5 scales and an 11-pixel window needs more than 160 pixels
WANG_SHORT_SIDE = 256  # the short side Wang et al.'s downsampling aims at
CACHE_ROWS = 100_000  # (source, edit) score rows kept per scorer (a few floats each)


# -- the one record per metric ----------------------------------------------------------------


@dataclass(frozen=True)
class ClassicMetric:
    """One classic metric: what it is, what it judges, its raw column and its [0, 100] score."""

    name: str
    description: str
    dimension: str  # the one dimension it judges
    raw_column: str
    raw_higher_is_better: bool
    normalise: Callable[[np.ndarray], np.ndarray]  # raw -> [0, 100], higher is better
    score_formula: str  # `normalise` in words, for the registry and the docs

    @property
    def full_reference(self) -> bool:
        return self.dimension == "preservation"


def _clip01(raw):
    return 100.0 * np.clip(raw, 0.0, 1.0)


CLASSIC_METRICS: dict[str, ClassicMetric] = {m.name: m for m in (
    ClassicMetric("psnr", "PSNR between source and edit (RGB at the source's size; capped at 100 dB)",
                  "preservation", "psnr", True, lambda raw: 100.0 * np.clip(raw / 50.0, 0.0, 1.0),
                  "100*clip(dB/50, 0, 1)"),
    ClassicMetric("ssim", "SSIM between source and edit (luma, Gaussian 11x11, Wang's downsampling to ~256 px)",
                  "preservation", "ssim", True, _clip01, "100*clip(SSIM, 0, 1)"),
    ClassicMetric("ms_ssim", "MS-SSIM between source and edit (luma, 5 scales, Wang's downsampling)",
                  "preservation", "ms_ssim", True, _clip01, "100*clip(MS-SSIM, 0, 1)"),
    ClassicMetric("vif", "VIF-P between source and edit (Sheikh & Bovik's vifp_mscale: luma, 4 scales, "
                  "sigma_n^2 = 2, Wang's downsampling)", "preservation", "vif", True, _clip01, "100*clip(VIF, 0, 1)"),
    # GMS lies in (0, 1], so its deviation is at most ~0.5
    ClassicMetric("gmsd", "GMSD between source and edit (Xue et al. 2014; raw: lower is better, 0 = identical)",
                  "preservation", "gmsd", False, lambda raw: 100.0 * (1.0 - np.clip(raw / 0.5, 0.0, 1.0)),
                  "100*(1 - clip(GMSD/0.5, 0, 1)), higher is better"),
    ClassicMetric("nr_stats", "No-reference statistics of the edit (sharpness, contrast, entropy, colourfulness, "
                  "noise) combined into [0, 100]; ignores the source", "quality", "nr_quality", True,
                  lambda raw: np.clip(raw, 0.0, 100.0), "nr_quality"),
)}
METRICS = tuple(CLASSIC_METRICS)
FR_METRICS = tuple(k for k, m in CLASSIC_METRICS.items() if m.full_reference)


def metric_record(metric: str) -> ClassicMetric:
    if metric not in CLASSIC_METRICS:
        raise ValueError(f"unknown classic metric {metric!r}; choose from {', '.join(METRICS)}")
    return CLASSIC_METRICS[metric]


def normalised(metric: str, raw):
    """A raw metric value -> [0, 100], higher is better (also the per-metric scorers' score)."""
    return metric_record(metric).normalise(np.asarray(raw, dtype=np.float64))


# -- geometry --------------------------------------------------------------------------------


def aligned_pair(source: Image.Image, edited: Image.Image, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Edit resized to the source's size, then both to size x size (None: kept); uint8 (H, W, 3)."""
    if edited.size != source.size:
        edited = edited.resize(source.size, Image.BICUBIC)
    if size is not None:
        source = source.resize((size, size), Image.BICUBIC)
        edited = edited.resize((size, size), Image.BICUBIC)
    return np.asarray(source, dtype=np.uint8), np.asarray(edited, dtype=np.uint8)


def at_least_min_size(image: Image.Image) -> Image.Image:
    """Upscaled (bicubic, aspect kept) so the short side is MIN_SIZE when it is smaller."""
    short = min(image.size)
    if short >= MIN_SIZE:
        return image
    w, h = image.size
    return image.resize((max(MIN_SIZE, round(w * MIN_SIZE / short)), max(MIN_SIZE, round(h * MIN_SIZE / short))),
                        Image.BICUBIC)


def wang_factor(height: int, width: int, short_side: int = WANG_SHORT_SIDE) -> int:
    """Wang et al.'s `f = max(1, round(min(M, N) / 256))` (MATLAB's round: halves away from 0)."""
    return max(1, int(math.floor(min(height, width) / short_side + 0.5)))


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


# -- amount of change (the dummy scorer's alignment heuristic) ------------------------------


def change_fraction(source: np.ndarray, edited: np.ndarray, threshold: float = 24.0) -> float:
    """Share of pixels whose largest channel difference exceeds `threshold` (0-255 scale)."""
    diff = np.abs(source.astype(np.int16) - edited.astype(np.int16)).max(axis=-1)
    return float((diff > threshold).mean())


def alignment_from_change(fraction: float, peak: float = 0.3, width: float = 0.25) -> float:
    """A bump over the changed fraction: 100 at `peak`, ~24 for no change, ~0 for all."""
    return 100.0 * math.exp(-(((fraction - peak) / width) ** 2))


# -- full-reference metrics (torch, batched, on (B, 1, H, W) luma in [0, 255]) --------------


@lru_cache(maxsize=64)
def gaussian_band(length: int, size: int, sigma: float, step: int = 1):
    """'Valid' filtering of a length-`length` axis by MATLAB's fspecial('gaussian', size, sigma)
    (its normalised 1-D factor) as a (length, out) matrix, keeping every `step`-th output.
    Separable filtering is then two matrix products: BLAS runs them far faster than conv2d
    runs an 11-tap depthwise kernel on CPU."""
    import torch

    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    g = g / g.sum()
    out = length - size + 1
    if out < 1:
        raise ValueError(f"an image side of {length} px is smaller than the {size}-px window")
    band = torch.zeros(length, out, dtype=torch.float64)
    cols = torch.arange(out)
    for i in range(size):
        band[cols + i, cols] = g[i]
    return band[:, ::step].to(torch.float32)


def filter_valid(images, size: int, sigma: float, step: int = 1):
    """(B, C, H, W) filtered by a size x size Gaussian ('valid'), every `step`-th pixel kept."""
    h, w = images.shape[-2:]
    return gaussian_band(h, size, sigma, step).T @ images @ gaussian_band(w, size, sigma, step)


def local_moments(x, y, size: int, sigma: float):
    """Local means, variances and covariance of x and y under the window ('valid')."""
    import torch

    mu_x, mu_y, xx, yy, xy = filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), size, sigma).unbind(1)
    return mu_x, mu_y, xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y


def ssim_and_cs(x, y, data_range: float = 255.0):
    """Mean SSIM and mean contrast-structure term per image, (B,) each (Wang et al. 2004).
    Both images are shifted by the reference's mean first (variances do not change; float32
    keeps more digits of them), and the means shifted back for the luminance term."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    shift = x.mean(dim=(1, 2, 3), keepdim=True)
    mu_x, mu_y, var_x, var_y, cov = local_moments(x - shift, y - shift, 11, 1.5)
    mu_x, mu_y = mu_x + shift[:, 0], mu_y + shift[:, 0]
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return ssim.flatten(1).mean(1), cs.flatten(1).mean(1)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ssim(x, y):
    return ssim_and_cs(x, y)[0]


def ms_ssim_and_ssim(x, y):
    """MS-SSIM (Wang et al. 2003: cs at the four finer scales, SSIM at the coarsest) and, for
    free, the SSIM of the finest scale (= `ssim(x, y)`)."""
    import torch
    import torch.nn.functional as F

    value, finest = 1.0, None
    for i, w in enumerate(MS_SSIM_WEIGHTS):
        s, cs = ssim_and_cs(x, y)
        finest = s if finest is None else finest
        last = i == len(MS_SSIM_WEIGHTS) - 1
        value = value * torch.relu(s if last else cs) ** w
        if not last:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value, finest


def ms_ssim(x, y):
    return ms_ssim_and_ssim(x, y)[0]


def vif_p(ref, dist, sigma_nsq: float = 2.0, eps: float = 1e-10):
    """VIF-P of Sheikh & Bovik's `vifp_mscale.m`, line by line, batched -> (B,)."""
    import torch

    num = den = 0.0
    shift = ref.mean(dim=(1, 2, 3), keepdim=True)  # variances only: float32 keeps more digits
    ref, dist = ref - shift, dist - shift
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        if scale > 1:  # the next scale's window filters, then every other pixel
            ref, dist = filter_valid(torch.cat([ref, dist], dim=1), n, n / 5.0, step=2).split(1, dim=1)
        _, _, s1, s2, s12 = local_moments(ref, dist, n, n / 5.0)
        s1, s2 = s1.clamp(min=0), s2.clamp(min=0)
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        flat_ref, flat_dist = s1 < eps, s2 < eps
        g = torch.where(flat_ref | flat_dist, 0.0, g)
        sv = torch.where(flat_ref, s2, sv)
        s1 = torch.where(flat_ref, 0.0, s1)
        sv = torch.where(flat_dist, 0.0, sv)
        sv = torch.where(g < 0, s2, sv)
        g = g.clamp(min=0)
        sv = sv.clamp(min=eps)
        num = num + torch.log10(1 + g**2 * s1 / (sv + sigma_nsq)).flatten(1).sum(1)
        den = den + torch.log10(1 + s1 / sigma_nsq).flatten(1).sum(1)
    return num / den


def gmsd(ref, dist, c: float = 170.0):
    """GMSD (Xue et al. 2014, their MATLAB reference) of luma in [0, 255] -> (B,)."""
    import torch
    import torch.nn.functional as F

    prewitt_x = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=ref.dtype) / 3.0
    kernels = torch.stack([prewitt_x, prewitt_x.T]).unsqueeze(1)  # (2, 1, 3, 3)

    def gradient_magnitude(y):
        g = F.conv2d(F.avg_pool2d(y, 2), kernels, padding=1)  # zero padding, as conv2(..., 'same')
        return g.pow(2).sum(1).sqrt()

    m_r, m_d = gradient_magnitude(ref), gradient_magnitude(dist)
    gms = (2 * m_r * m_d + c) / (m_r**2 + m_d**2 + c)
    return gms.flatten(1).std(dim=1, unbiased=True)


LUMA_METRICS = {"ssim": ssim, "ms_ssim": ms_ssim, "vif": vif_p, "gmsd": gmsd}


def working_luma(rgb: np.ndarray, short_side: int = WANG_SHORT_SIDE):
    """(H, W, 3) uint8 -> (1, 1, h, w) float32 luma after Wang's block-mean downsampling."""
    import torch
    import torch.nn.functional as F

    y = torch.from_numpy(luminance(rgb).astype(np.float32))[None, None]
    f = wang_factor(*rgb.shape[:2], short_side)
    return F.avg_pool2d(y, f) if f > 1 else y


def psnr(source: np.ndarray, edited: np.ndarray) -> float:
    mse = np.mean((source.astype(np.float64) / 255.0 - edited.astype(np.float64) / 255.0) ** 2)
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, float(10.0 * np.log10(1.0 / mse)))


def full_reference(pairs: list[tuple[np.ndarray, np.ndarray]], which=FR_METRICS,
                   short_side: int = WANG_SHORT_SIDE) -> dict[str, list[float]]:
    """The FR metrics named in `which` for (source, edit) uint8 RGB arrays of equal shape per
    pair; pairs of one working shape are scored as one batch."""
    import torch

    out = {k: [math.nan] * len(pairs) for k in which}
    if "psnr" in which:
        out["psnr"] = [psnr(s, e) for s, e in pairs]
    luma = [k for k in which if k != "psnr"]
    if not luma:
        return out
    views = [(working_luma(s, short_side), working_luma(e, short_side)) for s, e in pairs]
    by_shape: dict[tuple, list[int]] = {}
    for i, (v, _) in enumerate(views):
        by_shape.setdefault(tuple(v.shape), []).append(i)
    with torch.inference_mode():
        for rows in by_shape.values():
            ref = torch.cat([views[i][0] for i in rows])
            dist = torch.cat([views[i][1] for i in rows])
            values = {}
            if "ms_ssim" in luma:  # its finest scale is the SSIM: one pass gives both
                values["ms_ssim"], values["ssim"] = ms_ssim_and_ssim(ref, dist)
            for k in luma:
                for i, v in zip(rows, (values[k] if k in values else LUMA_METRICS[k](ref, dist)).tolist()):
                    out[k][i] = v
    return out


# -- the scorer ---------------------------------------------------------------------------------


def pixel_key(image: Image.Image) -> str:
    """A digest of an image's size and pixels: the cache key (paths can change, pixels not)."""
    digest = hashlib.blake2b(repr(image.size).encode(), digest_size=16)
    digest.update(image.tobytes())
    return digest.hexdigest()


class ClassicEvaluator(Evaluator):
    """`classic` (quality from NR statistics, preservation from the FR metrics, alignment NaN)
    or one metric (`metric="ssim"`: its normalised value on the dimension it judges, the raw
    value as an extra column)."""

    default_batch_size = 16

    def __init__(self, metric: str | None = None, size: int = WANG_SHORT_SIDE, weights=None):
        super().__init__(weights)
        from edithf.evaluators.registry import get_info

        if metric is not None:
            metric_record(metric)
        if size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} pixels (MS-SSIM needs it), got {size}")
        self.metric = metric
        self.size = int(size)
        self.info = get_info(metric or "classic")
        self._cache: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def _score_batch(self, sources, edited, prompts):
        keys = [(pixel_key(s), pixel_key(e)) for s, e in zip(sources, edited)]
        found = {k: self._cache[k] for k in keys if k in self._cache}
        todo = [i for i, k in enumerate(keys) if k not in found]
        for i, row in zip(todo, self._score_rows([sources[i] for i in todo], [edited[i] for i in todo])):
            found[keys[i]] = row
        for key, row in found.items():
            self._remember(key, row)
        rows = [found[k] for k in keys]
        return {c: [r[c] for r in rows] for c in rows[0]} if rows else {}

    def _remember(self, key, row: dict) -> None:
        """Least recently used rows leave first once CACHE_ROWS are kept."""
        self._cache[key] = row
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ROWS:
            self._cache.popitem(last=False)

    def _score_rows(self, sources, edited) -> list[dict]:
        if not edited:
            return []
        columns: dict[str, list] = {}
        if self.metric in (None, "nr_stats"):
            for edit in edited:
                stats = nr_statistics(nr_view(edit, self.size))
                stats["nr_quality"] = nr_quality(stats)
                for k, v in stats.items():
                    columns.setdefault(k, []).append(v)
        if self.metric != "nr_stats":
            pairs = [aligned_pair(at_least_min_size(s), e, None) for s, e in zip(sources, edited)]
            columns.update(full_reference(pairs, FR_METRICS if self.metric is None else (self.metric,), self.size))
            if self.metric is None:
                columns["changed_fraction"] = [change_fraction(s, e) for s, e in pairs]
        if self.metric is not None:
            record = CLASSIC_METRICS[self.metric]
            columns[record.dimension] = record.normalise(np.asarray(columns[record.raw_column])).tolist()
        else:
            columns["quality"] = columns["nr_quality"]
            columns["preservation"] = np.mean([normalised(m, columns[m]) for m in FR_METRICS], axis=0).tolist()
        return [dict(zip(columns, values)) for values in zip(*columns.values())]

