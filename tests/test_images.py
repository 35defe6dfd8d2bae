"""Loading awkward images: EXIF orientation, tiny images, and `edithf score` JSON that stays
valid (null, never NaN)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from edithf.cli import main as cli
from edithf.data.images import ImageLoadError, load_image


def _upright() -> Image.Image:
    # smooth, asymmetric content: a wrong orientation is far from it, JPEG keeps it closely
    y, x = np.mgrid[0:64, 0:96]
    return Image.fromarray(np.stack([x * 2, y * 3, (x + y)], axis=-1).astype(np.uint8))


def _save_rotated_with_exif(img: Image.Image, path) -> None:
    """Pixels stored sideways (90 degrees counter-clockwise) with EXIF orientation 6 ("rotate
    90 clockwise to display"), as phones write them."""
    exif = Image.Exif()
    exif[0x0112] = 6
    img.transpose(Image.Transpose.ROTATE_90).save(path, format="JPEG", quality=100, subsampling=0, exif=exif)


def test_exif_orientation_is_applied_on_load(tmp_path):
    upright = _upright()
    upright.save(tmp_path / "upright.jpg", quality=100, subsampling=0)
    _save_rotated_with_exif(upright, tmp_path / "rotated.jpg")
    loaded = load_image(tmp_path / "rotated.jpg")
    assert loaded.size == upright.size
    diff = np.abs(np.asarray(loaded, float) - np.asarray(load_image(tmp_path / "upright.jpg"), float))
    assert diff.mean() < 2


@pytest.mark.parametrize("scorer", ["classic", "psnr"])
def test_rotated_jpeg_against_its_upright_copy_is_preserved(tmp_path, capsys, scorer):
    upright = _upright()
    upright.save(tmp_path / "upright.jpg", quality=100, subsampling=0)
    _save_rotated_with_exif(upright, tmp_path / "rotated.jpg")
    assert cli(["score", "--scorer", scorer, "--source", str(tmp_path / "upright.jpg"),
                "--edited", str(tmp_path / "rotated.jpg"), "--prompt", "nothing"]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert scores["preservation"] > 90  # was ~31 when the tag was ignored


def test_too_small_image_is_a_clear_error(tmp_path, capsys):
    Image.new("RGB", (1, 1), (9, 9, 9)).save(tmp_path / "dot.png")
    Image.new("RGB", (64, 64), (9, 9, 9)).save(tmp_path / "src.png")
    assert cli(["score", "--source", str(tmp_path / "src.png"), "--edited", str(tmp_path / "dot.png"),
                "--prompt", "x"]) == 1
    assert "1x1, too small to score" in capsys.readouterr().err
    with pytest.raises(ImageLoadError, match="at least 8 pixels"):
        load_image(tmp_path / "dot.png", min_side=8)


@pytest.mark.parametrize("scorer", ["classic", "ssim", "ms_ssim", "vif"])
def test_thin_edit_gives_valid_json(tmp_path, capsys, scorer):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (17, 300, 3), dtype=np.uint8)).save(tmp_path / "src.png")
    Image.fromarray(rng.integers(0, 255, (17, 300, 3), dtype=np.uint8)).save(tmp_path / "edit.png")
    assert cli(["score", "--scorer", scorer, "--source", str(tmp_path / "src.png"),
                "--edited", str(tmp_path / "edit.png"), "--prompt", "x"]) == 0
    text = capsys.readouterr().out
    result = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON output"))
    for key, value in result["scores"].items():
        assert value is None or not isinstance(value, float) or np.isfinite(value), key
    assert all(result["scores"][k] is None for k in result.get("unavailable", {}).get("scores", []))
