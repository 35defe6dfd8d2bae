"""Classic metrics against formulas and independent implementations; the dummy scorer."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edithf.data.schema import DIMENSIONS
from edithf.evaluators.classic import (
    CLASSIC_METRICS,
    ClassicEvaluator,
    alignment_from_change,
    full_reference,
    gmsd,
    ms_ssim,
    noise_sigma,
    nr_quality,
    nr_statistics,
    ssim,
    vif_p,
    wang_factor,
)
from edithf.evaluators.registry import create_evaluator, get_info, list_evaluators
from reward_fixtures import crop, photos

torch = pytest.importorskip("torch")
SIZE = 176


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photo_pair():
    """A photo's luma (0-255, SIZE x SIZE) and a noisy copy."""
    rgb = np.asarray(Image.fromarray(photos()[0]).resize((SIZE, SIZE)), dtype=np.float64)
    src = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    rng = np.random.default_rng(0)
    return src, np.clip(src + rng.normal(0, 12.0, src.shape), 0, 255)


def as_batch(*images):
    """(H, W) luma arrays -> (B, 1, H, W) float32."""
    return torch.tensor(np.stack(images), dtype=torch.float32)[:, None]


def gmsd_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """Xue et al.'s MATLAB GMSD, line by line, with scipy (0-255 luma, T = 170)."""
    from scipy.signal import convolve2d

    dx = np.array([[1, 0, -1]] * 3, dtype=np.float64) / 3.0
    maps = []
    for y in (ref, dist):
        y = convolve2d(y, np.ones((2, 2)) / 4.0, mode="full")[1:, 1:][::2, ::2]
        y = y[: ref.shape[0] // 2, : ref.shape[1] // 2]
        maps.append(np.hypot(convolve2d(y, dx, mode="same"), convolve2d(y, dx.T, mode="same")))
    quality_map = (2 * maps[0] * maps[1] + 170.0) / (maps[0] ** 2 + maps[1] ** 2 + 170.0)
    return float(quality_map.std(ddof=1))


def rgb_pair(src_luma, dist_luma):
    """Grey RGB uint8 arrays whose luma is the given one (for `full_reference`)."""
    def grey(y):
        return np.repeat(np.round(y).astype(np.uint8)[..., None], 3, axis=-1)
    return grey(src_luma), grey(dist_luma)


def test_psnr_matches_the_formula(photo_pair):
    src, dist = rgb_pair(*photo_pair)
    got = full_reference([(src, dist)], ("psnr",))["psnr"][0]
    mse = np.mean((src / 255.0 - dist / 255.0) ** 2)
    assert got == pytest.approx(10 * np.log10(1.0 / mse), abs=1e-9)


def test_identical_images_give_perfect_scores(photo_pair):
    src, _ = rgb_pair(*photo_pair)
    out = full_reference([(src, src)])
    assert out["ssim"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["ms_ssim"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["vif"][0] == pytest.approx(1.0, abs=1e-5)
    assert out["gmsd"][0] == pytest.approx(0.0, abs=1e-6)
    assert out["psnr"][0] == 100.0  # capped, not inf


def test_ssim_agrees_with_scikit_image(photo_pair):
    from skimage.metrics import structural_similarity

    src, dist = photo_pair
    ours = ssim(as_batch(src), as_batch(dist)).item()
    ref = structural_similarity(src, dist, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ours == pytest.approx(ref, abs=1e-4)


def test_ms_ssim_and_vif_agree_with_torchmetrics(photo_pair):
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as tm_ms_ssim,
        visual_information_fidelity as tm_vif,
    )

    src, dist = photo_pair
    x, y = as_batch(src), as_batch(dist)
    assert ms_ssim(x, y).item() == pytest.approx(tm_ms_ssim(y, x, data_range=255.0).item(), abs=2e-3)
    assert vif_p(x, y).item() == pytest.approx(tm_vif(y.double(), x.double()).item(), abs=1e-3)


def test_gmsd_matches_the_reference_and_grows_with_distortion(photo_pair):
    src, _ = photo_pair
    rng = np.random.default_rng(1)
    levels = [np.clip(src + rng.normal(0, s, src.shape), 0, 255) for s in (5.0, 15.0, 40.0)]
    ours = gmsd(as_batch(src, src, src).double(), as_batch(*levels).double()).numpy()
    ref = [gmsd_reference(src, d) for d in levels]
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
    assert ours[0] < ours[1] < ours[2]


def test_wang_downsampling_factor_and_any_size_input():
    assert [wang_factor(h, w) for h, w in ((192, 192), (383, 900), (384, 512), (640, 640), (1024, 768))] == [1, 1, 2, 3, 3]
    # sizes that need the 176-px upscale, an odd aspect and a large image all score; same shapes batch
    rng = np.random.default_rng(0)
    sizes = [(64, 48), (300, 200), (1100, 700), (300, 200)]
    imgs = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
    df = ClassicEvaluator().score(imgs, imgs, ["x"] * len(imgs))
    assert df["preservation"].to_numpy() == pytest.approx(100.0)


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
    ev = ClassicEvaluator(size=SIZE)
    df = ev.score([src] * 3, [src, bigger, noise], ["tint the centre red"] * 3)
    assert list(df.columns[:4]) == ["quality", "alignment", "preservation", "overall"]
    assert df["alignment"].isna().all()  # it cannot read the prompt: no alignment, not a copy
    assert df[["quality", "preservation"]].stack().between(0, 100).all()
    identity, edit, noisy = df.iloc[0], df.iloc[1], df.iloc[2]
    assert identity["preservation"] == pytest.approx(100.0) and identity["psnr"] == 100.0
    assert identity["preservation"] > edit["preservation"] > noisy["preservation"]
    assert noisy["quality"] < edit["quality"]
    # overall: the weights renormalised over the judged dimensions, and the table says which
    assert df["overall"].to_numpy() == pytest.approx((0.3 * df["quality"] + 0.3 * df["preservation"]) / 0.6)
    assert set(df["overall_dims"]) == {"quality,preservation"}
    again = ev.score([src] * 3, [src, bigger, noise], ["another prompt"] * 3)  # from the (source, edit) cache
    assert again.drop(columns="overall_dims").equals(df.drop(columns="overall_dims"))


def test_per_metric_scorers_judge_one_dimension_and_keep_the_raw_value():
    src = Image.fromarray(crop(photos()[2], 1))
    blurred = src.resize((16, 16)).resize((64, 64))
    ev = create_evaluator("gmsd", size=SIZE)
    assert ev.info.extra["raw_higher_is_better"] is False and ev.info.higher_is_better
    assert ev.info.dimensions == ("preservation",)
    row = ev.score_one(src, blurred, "blur it")
    assert row["preservation"] == row["overall"] == pytest.approx(100 * (1 - row["gmsd"] / 0.5))
    assert np.isnan(row["quality"]) and np.isnan(row["alignment"])
    assert get_info("nr_stats").extra["raw_column"] == "nr_quality" and get_info("nr_stats").dimensions == ("quality",)
    with pytest.raises(ValueError, match="unknown classic metric"):
        ClassicEvaluator(metric="fsim")


def test_registry_metadata_comes_from_the_metric_table():
    for name, record in CLASSIC_METRICS.items():
        info = get_info(name)
        assert info.dimensions == (record.dimension,) and record.score_formula in info.description
        assert info.extra["raw_column"] == record.raw_column
    for info in list_evaluators():
        assert info.meaning and set(info.dimensions) <= set(DIMENSIONS)
        assert info.reads_prompt == (info.name in ("edithf", "edithf-official", "judge"))
    assert "alignment" not in get_info("classic").dimensions


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
