"""Classic metrics against formulas and independent implementations; the dummy scorer."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edithf.evaluators.classic import (
    ClassicEvaluator,
    alignment_from_change,
    full_reference,
    gmsd,
    noise_sigma,
    nr_quality,
    nr_statistics,
)
from edithf.evaluators.registry import create_evaluator, get_info
from reward_fixtures import crop, photos

torch = pytest.importorskip("torch")
SIZE = 176


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photo_pair():
    src = np.asarray(Image.fromarray(photos()[0]).resize((SIZE, SIZE)), dtype=np.float64) / 255.0
    rng = np.random.default_rng(0)
    dist = np.clip(src + rng.normal(0, 0.05, src.shape), 0, 1)
    return src, dist


def as_batch(*images):
    return torch.tensor(np.stack(images), dtype=torch.float32).permute(0, 3, 1, 2)


def gmsd_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """Xue et al.'s MATLAB GMSD, line by line, with scipy (0-255 luma, T = 170)."""
    from scipy.signal import convolve2d

    def luma(x):
        return 255.0 * (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])

    dx = np.array([[1, 0, -1]] * 3, dtype=np.float64) / 3.0
    maps = []
    for img in (ref, dist):
        y = convolve2d(luma(img), np.ones((2, 2)) / 4.0, mode="full")[1:, 1:][::2, ::2]
        y = y[: img.shape[0] // 2, : img.shape[1] // 2]
        maps.append(np.hypot(convolve2d(y, dx, mode="same"), convolve2d(y, dx.T, mode="same")))
    quality_map = (2 * maps[0] * maps[1] + 170.0) / (maps[0] ** 2 + maps[1] ** 2 + 170.0)
    return float(quality_map.std(ddof=1))


def test_psnr_matches_the_formula(photo_pair):
    src, dist = photo_pair
    got = full_reference(as_batch(src), as_batch(dist), ("psnr",))["psnr"][0]
    mse = np.mean((src.astype(np.float32) - dist.astype(np.float32)) ** 2)
    assert got == pytest.approx(10 * np.log10(1.0 / mse), abs=1e-3)


def test_identical_images_give_perfect_scores(photo_pair):
    src, _ = photo_pair
    out = full_reference(as_batch(src), as_batch(src))
    assert out["ssim"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["ms_ssim"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["vif"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["gmsd"][0] == pytest.approx(0.0, abs=1e-6)
    assert out["psnr"][0] == 100.0  # capped, not inf


def test_ssim_agrees_with_scikit_image(photo_pair):
    from skimage.metrics import structural_similarity

    src, dist = photo_pair
    ours = full_reference(as_batch(src), as_batch(dist), ("ssim",))["ssim"][0]
    ref = structural_similarity(src, dist, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False)
    assert ours == pytest.approx(ref, abs=0.02)


def test_gmsd_matches_the_reference_and_grows_with_distortion(photo_pair):
    src, _ = photo_pair
    rng = np.random.default_rng(1)
    levels = [np.clip(src + rng.normal(0, s, src.shape), 0, 1) for s in (0.02, 0.06, 0.15)]
    ours = gmsd(as_batch(src, src, src).double(), as_batch(*levels).double()).numpy()
    ref = [gmsd_reference(src, d) for d in levels]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
    assert ours[0] < ours[1] < ours[2]


def test_noise_estimate_recovers_a_known_sigma():
    rng = np.random.default_rng(0)
    flat = np.full((200, 200), 128.0) + rng.normal(0, 10.0, (200, 200))
    assert noise_sigma(flat) == pytest.approx(10.0, rel=0.05)


def test_nr_quality_and_alignment_mapping():
    black = np.zeros((64, 64, 3), np.uint8)
    assert nr_quality(nr_statistics(black)) == 0.0
    assert alignment_from_change(0.3) == pytest.approx(100.0)
    assert alignment_from_change(0.0) < 30 and alignment_from_change(1.0) < 1


def test_classic_scorer_end_to_end():
    src = Image.fromarray(crop(photos()[1], 0))
    tinted = np.asarray(src).copy()
    tinted[16:48, 16:48] = [220, 30, 30]
    bigger = Image.fromarray(tinted).resize((96, 80))  # a different size: resized to the source's
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    df = ClassicEvaluator(size=SIZE).score([src] * 3, [src, bigger, noise], ["tint the centre red"] * 3)
    assert list(df.columns[:4]) == ["quality", "alignment", "preservation", "overall"]
    assert df[["quality", "alignment", "preservation"]].stack().between(0, 100).all()
    identity, edit, noisy = df.iloc[0], df.iloc[1], df.iloc[2]
    assert identity["preservation"] == pytest.approx(100.0) and identity["psnr"] == 100.0
    assert edit["alignment"] > identity["alignment"] > noisy["alignment"]
    assert identity["preservation"] > edit["preservation"] > noisy["preservation"]
    assert noisy["quality"] < edit["quality"]


def test_per_metric_scorers_normalise_and_keep_the_raw_value():
    src = Image.fromarray(crop(photos()[2], 1))
    blurred = src.resize((16, 16)).resize((64, 64))
    ev = create_evaluator("gmsd", size=SIZE)
    assert ev.info.extra["raw_higher_is_better"] is False and ev.info.higher_is_better
    row = ev.score_one(src, blurred, "blur it")
    assert row["quality"] == row["alignment"] == row["preservation"] == pytest.approx(100 * (1 - row["gmsd"] / 0.5))
    assert get_info("nr_stats").extra["raw_column"] == "nr_quality"
    with pytest.raises(ValueError, match="unknown classic metric"):
        ClassicEvaluator(metric="fsim")


def test_dummy_is_deterministic_bounded_and_torch_free():
    import subprocess
    import sys

    src = Image.fromarray(crop(photos()[0], 2))
    black = Image.new("RGB", (64, 64))
    ev = create_evaluator("dummy")
    a = ev.score([src, src], [src, black], ["x", "x"])
    b = ev.score([src, src], [src, black], ["x", "x"])
    assert a.equals(b)
    assert a[["quality", "alignment", "preservation"]].stack().between(0, 100).all()
    assert a["quality"][1] == 0.0 and a["preservation"][0] == pytest.approx(100.0)
    code = ("import sys; from edithf.evaluators.registry import create_evaluator; from PIL import Image; "
            "im = Image.new('RGB', (8, 8)); create_evaluator('dummy').score_one(im, im, 'x'); "
            "assert 'torch' not in sys.modules, 'dummy imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
