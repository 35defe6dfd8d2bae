"""Loading images safely: every scorer, trainer and UI goes through `load_image`.

What it does with awkward input (documented behaviour, tested):
- a missing or unreadable/corrupt file -> `ImageLoadError` naming the file and the cause;
- an image above `max_pixels` (default 50 MP, env `EDITHF_MAX_PIXELS`) -> `ImageLoadError`
  *before* decoding, so a 20000x20000 file never fills memory;
- the EXIF orientation is applied (`ImageOps.exif_transpose`), so a phone photo stored
  sideways with an orientation tag is scored the way every viewer shows it;
- grayscale, palette, RGBA/LA (composited on white), CMYK, 16-bit (`I;16`, `I`) and float
  (`F`) images -> 8-bit RGB;
- `min_side` (default 1): an image narrower or lower than this -> `ImageLoadError` (`edithf
  score` asks for MIN_SCORE_SIDE: a few pixels hold no structure to compare).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

from PIL import Image, ImageOps, UnidentifiedImageError

ImageLike = Union[str, os.PathLike, bytes, Image.Image]

DEFAULT_MAX_PIXELS = 50_000_000
MIN_SCORE_SIDE = 8  # the smallest side `edithf score` accepts


class ImageLoadError(ValueError):
    """An image could not be used; the message says which one and what to do."""


def max_pixels() -> int:
    return int(os.environ.get("EDITHF_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def _describe(src: ImageLike) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, bytes):
        return f"<{len(src)} bytes>"
    return f"<in-memory {type(src).__name__}>"


def _open(src: ImageLike) -> Image.Image:
    if isinstance(src, Image.Image):
        return src
    try:
        if isinstance(src, bytes):
            return Image.open(io.BytesIO(src))
        path = Path(src)
        if not path.exists():
            raise ImageLoadError(f"image file not found: {path}")
        if path.is_dir():
            raise ImageLoadError(f"expected an image file, got a folder: {path}")
        return Image.open(path)
    except Image.DecompressionBombError as exc:  # PIL refuses > 2x its own limit while opening
        raise ImageLoadError(
            f"{_describe(src)} is too large to open safely ({exc}); resize it first"
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageLoadError(
            f"cannot read {_describe(src)} as an image ({exc.__class__.__name__}: {exc}); "
            "is it a PNG/JPEG/WebP file and complete?"
        ) from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB (alpha composited on white)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            top = 1.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype("uint8")
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(src: ImageLike, *, limit: int | None = None, min_side: int = 1) -> Image.Image:
    """Return `src` (a path, bytes or PIL image) as a decoded, upright 8-bit RGB PIL image."""
    limit = max_pixels() if limit is None else limit
    img = _open(src)
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageLoadError(f"{_describe(src)} has an empty size {width}x{height}")
    if min(width, height) < min_side:
        raise ImageLoadError(f"{_describe(src)} is {width}x{height}, too small to score: each side needs at "
                             f"least {min_side} pixels")
    if width * height > limit:
        raise ImageLoadError(
            f"{_describe(src)} is {width}x{height} ({width * height / 1e6:.0f} MP), above the "
            f"limit of {limit / 1e6:.0f} MP; resize it first, or raise EDITHF_MAX_PIXELS"
        )
    try:
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(
            f"cannot decode {_describe(src)} ({exc.__class__.__name__}: {exc}); the file looks "
            "truncated or corrupt"
        ) from exc
    return to_rgb(_upright(img))


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; images without one are returned as they are."""
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not make the image unusable
        return img
    return ImageOps.exif_transpose(img) if orientation not in (None, 1) else img
