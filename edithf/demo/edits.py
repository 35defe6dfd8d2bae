"""Editing tasks of the synthetic demo benchmark, and the image helpers they share.

Images are float32 arrays `(H, W, 3)` in [0, 1]. A task knows how to draw a random instruction
for a source image (`sample`) and how to carry it out with a given strength (`render`). The
"editing models" that carry tasks out well or badly, and the measured ground truth, are in
`edithf.demo.editors` (docs/demo.md).
"""
from __future__ import annotations

from colorsys import rgb_to_hsv
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter
from scipy.ndimage import binary_dilation, gaussian_filter, shift

Array = np.ndarray

# --------------------------------------------------------------------------------------------
# small image helpers


def luma(img: Array) -> Array:
    """(H, W, 3) -> (H, W) Rec. 601 luma."""
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_uint8(img: Array) -> Array:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def from_uint8(arr: Array) -> Array:
    return arr.astype(np.float32) / 255.0


def lerp(src: Array, full: Array, strength: float, where: Array | None = None) -> Array:
    """`src` moved `strength` of the way to `full` (beyond it when strength > 1), optionally
    only where the soft mask `where` (H, W) is set."""
    step = (full - src) * np.float32(strength)
    if where is not None:
        step = step * where[..., None]
    return np.clip(src + step, 0.0, 1.0).astype(np.float32)


def pil_filter(img: Array, filt) -> Array:
    return from_uint8(np.asarray(Image.fromarray(to_uint8(img)).filter(filt)))


def hsv_recolour(img: Array, hue: float, min_saturation: float = 0.55) -> Array:
    """The same image with every pixel's hue set to `hue` (in [0, 1)), brightness kept."""
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(img)
    hsv[..., 0] = hue
    hsv[..., 1] = np.maximum(hsv[..., 1], min_saturation)
    return hsv2rgb(hsv).astype(np.float32)


# Named colours used in prompts: name -> RGB.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.10), "orange": (0.95, 0.55, 0.10), "yellow": (0.95, 0.85, 0.15),
    "green": (0.15, 0.65, 0.20), "cyan": (0.10, 0.75, 0.80), "blue": (0.12, 0.30, 0.85),
    "purple": (0.55, 0.20, 0.70), "pink": (0.95, 0.45, 0.70),
}


def colour_name(rgb) -> str:
    """A plain English name for an RGB colour in [0, 1]."""
    h, s, v = rgb_to_hsv(*(float(c) for c in rgb))
    if v < 0.2:
        return "black"
    if s < 0.2:
        return "white" if v > 0.8 else "grey"
    deg = h * 360
    for limit, name in ((15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (200, "cyan"),
                        (260, "blue"), (290, "purple"), (345, "pink"), (361, "red")):
        if deg < limit:
            return "brown" if name in ("orange", "red") and v < 0.55 else name
    return "red"


def place_name(cy: float, cx: float) -> str:
    """Where a point (fractions of height, width) is, in words: 'top left', 'centre' ..."""
    row = ("top", "", "bottom")[min(int(cy * 3), 2)]
    col = ("left", "", "right")[min(int(cx * 3), 2)]
    return f"{row} {col}".strip() or "centre"


def half_mask(shape, rng: np.random.Generator) -> Array:
    """A soft mask over a random half of the image (left, right, top or bottom)."""
    h, w = shape
    ramp_x = np.clip((np.arange(w) - w / 2) / (w / 16), -1, 1) * 0.5 + 0.5
    ramp_y = np.clip((np.arange(h) - h / 2) / (h / 16), -1, 1) * 0.5 + 0.5
    side = rng.integers(4)
    ramp = [ramp_x, 1 - ramp_x, ramp_y, 1 - ramp_y][side]
    mask = np.broadcast_to(ramp[None, :] if side < 2 else ramp[:, None], (h, w))
    return mask.astype(np.float32)


def soften(mask: Array, sigma: float = 1.5) -> Array:
    return np.clip(gaussian_filter(mask.astype(np.float32), sigma), 0, 1)


def shift_mask(mask: Array, rng: np.random.Generator) -> Array:
    """The mask moved by most of its own size towards the image centre (a misplaced edit)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask > 0.5)
    if len(ys) == 0:
        return mask
    cy, cx = ys.mean(), xs.mean()
    size = max(np.ptp(ys), np.ptp(xs), 8) * rng.uniform(0.6, 0.9)
    dy = size if cy < h / 2 else -size
    dx = size if cx < w / 2 else -size
    dy, dx = (dy, 0.0) if rng.random() < 0.5 else (0.0, dx)
    return np.clip(shift(mask, (dy, dx), order=1, mode="constant"), 0, 1).astype(np.float32)


def pick_region(img: Array, rng: np.random.Generator) -> dict:
    """A soft mask over one plausible "object" of the photo: a SLIC superpixel of moderate size,
    with its colour and place in words."""
    from skimage.segmentation import slic

    h, w = img.shape[:2]
    labels = slic(img, n_segments=16, compactness=20, start_label=0)
    sizes = np.bincount(labels.ravel()) / labels.size
    candidates = np.flatnonzero((sizes > 0.03) & (sizes < 0.25))
    if len(candidates) == 0:
        candidates = np.argsort(np.abs(sizes - 0.1))[:1]
    label = int(rng.choice(candidates))
    binary = labels == label
    ys, xs = np.nonzero(binary)
    return {
        "mask": soften(binary),
        "colour": colour_name(img[binary].mean(axis=0)),
        "place": place_name(ys.mean() / h, xs.mean() / w),
    }


# --------------------------------------------------------------------------------------------
# tasks


@dataclass
class Task:
    """One editing task. Subclasses draw parameters and render the edit."""

    name: str
    level: str          # "global", "object" or "low-level" (the paper's task families)
    summary: str

    # `sample` returns (source image the annotators see, params). Low-level tasks degrade the
    # photo first and keep the clean one in params["clean"]: what the quality truth compares to.
    def sample(self, photo: Array, rng: np.random.Generator) -> tuple[Array, dict]:
        raise NotImplementedError

    def render(self, src: Array, params: dict, strength: float = 1.0) -> Array:
        """The edit carried out with `strength` (1 = as asked). A params["extent"] mask limits a
        global edit to part of the image (how the wrong-region model fails on global tasks)."""
        out = self._render(src, params, strength)
        if "extent" in params:
            out = lerp(src, out, 1.0, params["extent"])
        return out

    def _render(self, src, params, strength):
        raise NotImplementedError

    def ideal(self, src: Array, params: dict) -> Array:
        """The edit as asked. On low-level tasks this is the restorer at full strength, not the
        clean photo (which no restorer reaches); how far from clean it stays counts as quality."""
        return self.render(src, params, 1.0)

    def misplace(self, src: Array, params: dict, rng: np.random.Generator) -> dict:
        """Params of the same edit in the wrong place: by default over a random half only."""
        return {**params, "extent": half_mask(src.shape[:2], rng)}


class ColourTint(Task):
    def sample(self, photo, rng):
        name = str(rng.choice(list(PALETTE)))
        return photo, {"colour": name, "instruction": f"Give the whole photo a {name} tint.",
                       "description": f"The same photo with a strong {name} colour cast over everything."}

    def _render(self, src, params, strength):
        tint = np.array(PALETTE[params["colour"]], dtype=np.float32)
        tinted = luma(src)[..., None] * tint / max(float(luma(tint[None, None])[0, 0]), 0.25)
        return lerp(src, np.clip(tinted, 0, 1), 0.7 * strength)


class Brightness(Task):
    def sample(self, photo, rng):
        up = bool(luma(photo).mean() < 0.45 or rng.random() < 0.5)
        word = "brighter" if up else "darker"
        return photo, {"up": up, "instruction": f"Make the image {word}.",
                       "description": f"A noticeably {word} version of the same photo."}

    def _render(self, src, params, strength):
        gamma = 2.0 ** ((-1.0 if params["up"] else 1.0) * 0.9 * strength)
        return np.clip(src, 0, 1) ** np.float32(gamma)


def sketch(img: Array) -> Array:
    from skimage.filters import gaussian, sobel

    edges = sobel(gaussian(luma(img), 1.0))
    grey = np.clip(1.0 - edges * 5.0, 0, 1) * 0.85 + 0.15 * luma(img)
    return np.repeat(grey[..., None], 3, axis=2).astype(np.float32)


def poster(img: Array) -> Array:
    from skimage.filters import gaussian

    return (np.round(gaussian(img, 1.0, channel_axis=-1) * 3) / 3).astype(np.float32)


def oil(img: Array) -> Array:
    return pil_filter(pil_filter(img, ImageFilter.ModeFilter(7)), ImageFilter.SMOOTH_MORE)


STYLES: dict[str, tuple[Callable[[Array], Array], str, str]] = {
    "sketch": (sketch, "Turn the photo into a pencil sketch.", "A black-and-white pencil sketch of the scene."),
    "poster": (poster, "Make it look like a poster with a few flat colours.", "A flat-colour poster of the scene."),
    "oil": (oil, "Make it look like an oil painting.", "An oil painting of the scene with thick brush strokes."),
}


class Style(Task):
    def sample(self, photo, rng):
        style = str(rng.choice(list(STYLES)))
        draw, instruction, description = STYLES[style]
        # the styled image is drawn once: every model blends towards it with its own strength
        return photo, {"style": style, "full": draw(photo), "instruction": instruction, "description": description}

    def _render(self, src, params, strength):
        return lerp(src, params["full"], strength)


ROTATIONS = {-90: "90 degrees clockwise", 90: "90 degrees counter-clockwise", 180: "upside down (180 degrees)"}


class Rotate(Task):
    def sample(self, photo, rng):
        angle = int(rng.choice(list(ROTATIONS)))
        return photo, {"angle": angle, "instruction": f"Rotate the image {ROTATIONS[angle]}.",
                       "description": f"The same photo, rotated {ROTATIONS[angle]}."}

    def _render(self, src, params, strength):
        # a right angle is a right angle: small strength jitter does not tilt the photo
        angle = params["angle"] * (1.0 if abs(strength - 1) < 0.1 else strength)
        if abs(angle % 90) < 1e-6:
            return np.ascontiguousarray(np.rot90(src, int(round(angle / 90)) % 4))
        from skimage.transform import rotate

        return rotate(src, angle, mode="reflect").astype(np.float32)

    def misplace(self, src, params, rng):
        return {**params, "angle": -params["angle"] if params["angle"] != 180 else 90}


class RegionRecolour(Task):
    def sample(self, photo, rng):
        region = pick_region(photo, rng)
        target = str(rng.choice([c for c in PALETTE if c != region["colour"]]))
        where = f"the {region['colour']} area at the {region['place']}"
        hue = rgb_to_hsv(*PALETTE[target])[0]
        return photo, {**region, "target": target, "full": hsv_recolour(photo, hue),
                       "instruction": f"Change the colour of {where} to {target}.",
                       "description": f"The same photo in which {where} is now {target}."}

    def _render(self, src, params, strength):
        return lerp(src, params["full"], strength, params["mask"])

    def misplace(self, src, params, rng):
        return {**params, "mask": shift_mask(params["mask"], rng)}


class ObjectRemoval(Task):
    def sample(self, photo, rng):
        region = pick_region(photo, rng)
        what = f"the {region['colour']} object at the {region['place']}"
        return photo, {**region, **self.fill(photo, region["mask"]), "instruction": f"Remove {what}.",
                       "description": f"The same scene without {what}, the background filled in naturally."}

    @staticmethod
    def fill(photo: Array, mask: Array) -> dict:
        """The photo with the (slightly grown) region inpainted, and the soft mask of the hole."""
        from skimage.restoration import inpaint_biharmonic

        hole = binary_dilation(mask > 0.2, iterations=2)
        filled = inpaint_biharmonic(photo, hole, channel_axis=-1).astype(np.float32)
        return {"full": filled, "hole": soften(hole, 1.0)}

    def _render(self, src, params, strength):
        return lerp(src, params["full"], strength, params["hole"])

    def misplace(self, src, params, rng):
        mask = shift_mask(params["mask"], rng)
        return {**params, "mask": mask, **self.fill(src, mask)}


SHAPES = ("circle", "square")


class ObjectAddition(Task):
    def sample(self, photo, rng):
        colour = str(rng.choice(list(PALETTE)))
        shape = str(rng.choice(SHAPES))
        cy, cx = rng.uniform(0.2, 0.8, size=2)
        place = place_name(cy, cx)
        return photo, {"colour": colour, "shape": shape, "centre": (float(cy), float(cx)),
                       "radius": float(rng.uniform(0.09, 0.15)),
                       "instruction": f"Add a {colour} {shape} at the {place}.",
                       "description": f"The same photo with a {colour} {shape} at the {place}."}

    def _render(self, src, params, strength):
        h, w = src.shape[:2]
        cy, cx = params["centre"]
        # a stronger edit paints a bigger, opaque object; a weaker one a faint one
        radius = params["radius"] * (1 + 0.6 * max(strength - 1, 0)) * min(h, w)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dy, dx = yy - cy * h, xx - cx * w
        dist = np.hypot(dy, dx) if params["shape"] == "circle" else np.maximum(abs(dy), abs(dx))
        mask = np.clip(radius - dist + 0.5, 0, 1)
        shade = 1.0 - 0.35 * np.clip((dy + dx) / (2 * radius), -1, 1) * 0.5  # lit from the top left
        obj = np.array(PALETTE[params["colour"]], dtype=np.float32) * shade[..., None]
        return lerp(src, np.clip(obj, 0, 1), min(strength, 1.0), mask)

    def misplace(self, src, params, rng):
        """The object beside where it was asked for: 2.4 radii away, towards the centre."""
        cy, cx = params["centre"]
        step = 2.4 * params["radius"]
        if rng.random() < 0.5:
            cy += step if cy < 0.5 else -step
        else:
            cx += step if cx < 0.5 else -step
        return {**params, "centre": (cy, cx)}


class Denoise(Task):
    def sample(self, photo, rng):
        noisy = np.clip(photo + rng.normal(0, 0.08, photo.shape).astype(np.float32), 0, 1)
        return noisy, {"clean": photo, "instruction": "Remove the noise from this photo.",
                       "description": "A clean, noise-free version of the same photo."}

    def _render(self, src, params, strength):
        from skimage.restoration import denoise_tv_chambolle

        if strength <= 0:
            return src
        return denoise_tv_chambolle(src, weight=0.09 * strength, channel_axis=-1).astype(np.float32)


class Deblur(Task):
    def sample(self, photo, rng):
        from skimage.filters import gaussian

        blurry = gaussian(photo, 1.6, channel_axis=-1).astype(np.float32)
        return blurry, {"clean": photo, "instruction": "Make this blurry photo sharp.",
                        "description": "A sharp, in-focus version of the same photo."}

    def _render(self, src, params, strength):
        # unsharp masking written out: skimage's unsharp_mask (0.26, per-channel slices) gave
        # sporadic NaNs here
        blurred = gaussian_filter(src.astype(np.float64), (2.0, 2.0, 0.0), mode="reflect")
        return np.clip(src + 2.2 * strength * (src - blurred), 0, 1).astype(np.float32)


# name -> task, in the order groups cycle through them
DEMO_TASKS: dict[str, Task] = {t.name: t for t in (
    ColourTint("color_change", "global", "tint the whole photo with a named colour"),
    Brightness("brightness", "global", "make the photo brighter or darker (gamma)"),
    Style("style_transfer", "global", "pencil sketch, flat-colour poster or oil painting"),
    Rotate("rotate", "global", "rotate by 90 degrees either way or 180 degrees"),
    RegionRecolour("region_recolor", "object", "recolour one region (a superpixel) named by colour and place"),
    ObjectRemoval("object_removal", "object", "remove one region, filled in by biharmonic inpainting"),
    ObjectAddition("object_addition", "object", "add a coloured circle or square at a named place"),
    Denoise("denoise", "low-level", "source has Gaussian noise (sigma 0.08); remove it (TV denoising)"),
    Deblur("deblur", "low-level", "source is blurred (sigma 1.6); sharpen it (unsharp mask)"),
)}
