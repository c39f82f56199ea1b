import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity

from ented_desktop.core.errors import ModelError
from training import metrics

SHARED_NIQE = Path(__file__).resolve().parents[2] / "shared" / "models" / "niqe_pris_params.npz"
needs_niqe_params = pytest.mark.skipif(not SHARED_NIQE.is_file(), reason=f"{SHARED_NIQE} is absent")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def niqe() -> metrics.NIQE:
    return metrics.NIQE(SHARED_NIQE)


def flat(rgb: tuple[int, int, int], size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), rgb, np.uint8)


def test_y_is_bt601_studio_swing() -> None:
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(metrics.rgb_to_y(px)[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])


def test_psnr_hand_values() -> None:
    a, b = flat((100, 100, 100)), flat((110, 110, 110))
    assert metrics.psnr(a, b, on="rgb") == pytest.approx(10 * math.log10(255**2 / 100))
    dy = 10 * 219 / 255  # the Y weights sum to 219/255
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / dy**2))
    assert metrics.psnr(a, a) == math.inf


def test_psnr_rgb_averages_all_channels() -> None:
    a, b = flat((0, 0, 0)), flat((30, 0, 0))
    assert metrics.psnr(a, b, on="rgb") == pytest.approx(10 * math.log10(255**2 / (900 / 3)))


def test_ssim_identical_is_one(astronaut: np.ndarray) -> None:
    assert metrics.ssim(astronaut, astronaut) == pytest.approx(1.0)
    assert metrics.ssim(astronaut, astronaut, on="rgb") == pytest.approx(1.0)


def test_ssim_of_flat_images_is_the_luminance_term() -> None:
    c1 = (0.01 * 255) ** 2
    a, b = flat((100, 100, 100)), flat((140, 140, 140))
    assert metrics.ssim(a, b, on="rgb") == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1))


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_ssim_matches_skimage(astronaut: np.ndarray, kind: str) -> None:
    if kind == "blur":
        other = cv2.GaussianBlur(astronaut, (0, 0), 2.0)
    else:
        noise = np.random.default_rng(0).normal(0, 20, astronaut.shape)
        other = np.clip(astronaut + noise, 0, 255).astype(np.uint8)
    opts = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}
    ref_y = structural_similarity(metrics.rgb_to_y(astronaut), metrics.rgb_to_y(other), **opts)
    ref_rgb = structural_similarity(astronaut, other, channel_axis=2, **opts)
    assert metrics.ssim(astronaut, other) == pytest.approx(ref_y, abs=1e-4)
    assert metrics.ssim(astronaut, other, on="rgb") == pytest.approx(ref_rgb, abs=1e-4)
    assert metrics.ssim(astronaut, other) < 0.95


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        metrics.psnr(flat((0, 0, 0), 32), flat((0, 0, 0), 16))
    with pytest.raises(ValueError, match="11 x 11"):
        metrics.ssim(flat((0, 0, 0), 8), flat((0, 0, 0), 8))
    with pytest.raises(ValueError, match="uint8"):
        metrics.psnr(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="'on'"):
        metrics.psnr(flat((0, 0, 0)), flat((0, 0, 0)), on="lab")


def test_bicubic_resize_reproduces_ramps_and_constants() -> None:
    ramp = np.tile(np.arange(64, dtype=np.float64), (16, 1))
    half = metrics.resize_bicubic(ramp, 8, 32)
    # Output column j sits at input position 2 j + 0.5; the kernel is exact on ramps away from the edges.
    np.testing.assert_allclose(half[:, 3:-3], (2 * np.arange(32) + 0.5)[None, 3:-3].repeat(8, 0), atol=1e-9)
    quad = metrics.resize_bicubic(ramp, 64, 256)
    expected = (np.arange(256) / 4 - 0.375)[None, 8:-8].repeat(64, 0)
    np.testing.assert_allclose(quad[:, 8:-8], expected, atol=1e-9)
    const = metrics.resize_bicubic(np.full((20, 30, 3), 7.0), 40, 15)
    assert const.shape == (40, 15, 3)
    np.testing.assert_allclose(const, 7.0)


def test_resize_for_niqe_rule() -> None:
    small = flat((10, 200, 30), 128)
    big = flat((10, 200, 30), 600)
    out = metrics.resize_for_niqe(small)
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert (out == small[0, 0]).all()
    assert metrics.resize_for_niqe(big) is big


def test_mscn_of_constant_image_is_zero() -> None:
    window = np.outer(cv2.getGaussianKernel(7, 7 / 6), cv2.getGaussianKernel(7, 7 / 6))
    np.testing.assert_allclose(metrics.mscn(np.full((40, 50), 123.0), window), 0.0, atol=1e-3)


def test_mscn_ignores_brightness_offset() -> None:
    window = np.outer(cv2.getGaussianKernel(7, 7 / 6), cv2.getGaussianKernel(7, 7 / 6))
    img = np.random.default_rng(1).integers(0, 200, (40, 50)).astype(np.float64)
    np.testing.assert_allclose(metrics.mscn(img + 50, window), metrics.mscn(img, window), atol=1e-4)


def aggd_samples(alpha: float, beta_l: float, beta_r: float, n: int, seed: int) -> np.ndarray:
    """Samples of the asymmetric generalised Gaussian: a side chosen in proportion to its scale, and
    |x| = beta * G^(1 / alpha) with G ~ Gamma(1 / alpha)."""
    rng = np.random.default_rng(seed)
    left = rng.random(n) < beta_l / (beta_l + beta_r)
    mag = rng.gamma(1 / alpha, 1.0, n) ** (1 / alpha)
    return np.where(left, -beta_l * mag, beta_r * mag)


def test_aggd_fit_on_gaussian_samples() -> None:
    x = np.random.default_rng(2).normal(0, 2.0, 200_000)
    alpha, beta_l, beta_r = metrics.aggd_fit(x)
    assert alpha == pytest.approx(2.0, abs=0.05)
    # For alpha = 2 the scale is sigma * sqrt(Gamma(1/2) / Gamma(3/2)) = sigma * sqrt(2).
    assert beta_l == pytest.approx(2 * math.sqrt(2), rel=0.02)
    assert beta_r == pytest.approx(2 * math.sqrt(2), rel=0.02)


def test_aggd_fit_on_laplace_samples() -> None:
    alpha, beta_l, beta_r = metrics.aggd_fit(np.random.default_rng(3).laplace(0, 1.5, 200_000))
    assert alpha == pytest.approx(1.0, abs=0.03)
    assert beta_l == pytest.approx(1.5, rel=0.03) and beta_r == pytest.approx(1.5, rel=0.03)


def test_aggd_fit_on_asymmetric_samples() -> None:
    alpha, beta_l, beta_r = metrics.aggd_fit(aggd_samples(0.8, 1.0, 2.0, 300_000, seed=4))
    assert alpha == pytest.approx(0.8, abs=0.03)
    assert beta_l == pytest.approx(1.0, rel=0.04) and beta_r == pytest.approx(2.0, rel=0.04)


def test_block_features_of_gaussian_noise() -> None:
    feats = metrics.block_features(np.random.default_rng(5).normal(0, 1, (96, 96)))
    assert len(feats) == 18
    assert feats[0] == pytest.approx(2.0, abs=0.3)  # shape of the coefficients
    assert feats[1] == pytest.approx(math.sqrt(2), rel=0.1)  # their scale, sigma * sqrt(2)
    assert abs(feats[3]) < 0.1  # neighbours of independent noise are uncorrelated: the products have mean 0


def test_mvg_distance_hand_values() -> None:
    eye = np.eye(2)
    origin, target = np.zeros(2), np.array([3.0, 4.0])
    assert metrics.mvg_distance(origin, eye, target, eye) == pytest.approx(5.0)
    assert metrics.mvg_distance(origin, np.zeros((2, 2)), target, 2 * eye) == pytest.approx(5.0)
    assert metrics.mvg_distance(origin, 4 * eye, target, 4 * eye) == pytest.approx(2.5)


@needs_niqe_params
def test_niqe_of_natural_photos_matches_reference(niqe: metrics.NIQE, astronaut: np.ndarray) -> None:
    value = niqe(astronaut)
    assert 3.0 <= value <= 6.0
    # BasicSR 1.4.2 calculate_niqe(img_bgr, 0) on the same images gave 3.06495, 4.11524 and 2.62552.
    assert value == pytest.approx(3.06495, abs=0.01)
    assert niqe(data.coffee()) == pytest.approx(4.11524, abs=0.01)
    assert niqe(data.chelsea()) == pytest.approx(2.62552, abs=0.01)


@needs_niqe_params
def test_niqe_blur_scores_worse(niqe: metrics.NIQE, astronaut: np.ndarray) -> None:
    assert niqe(cv2.GaussianBlur(astronaut, (0, 0), 3.0)) > niqe(astronaut) + 2.0


@needs_niqe_params
def test_niqe_crop_border_and_small_images(niqe: metrics.NIQE, astronaut: np.ndarray) -> None:
    assert niqe(astronaut, crop_border=4) != niqe(astronaut)
    face = cv2.resize(astronaut[30:230, 130:330], (128, 128), interpolation=cv2.INTER_AREA)
    with pytest.raises(ValueError, match="two 96 x 96 blocks"):
        niqe(face)
    assert math.isfinite(niqe(metrics.resize_for_niqe(face)))
    with pytest.raises(ValueError, match="flat image"):
        niqe(flat((90, 90, 90), 200))


def test_niqe_bad_parameter_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing or damaged"):
        metrics.NIQE(tmp_path / "absent.npz")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, mu_pris_param=np.zeros((1, 18)), cov_pris_param=np.eye(18), gaussian_window=np.eye(7))
    with pytest.raises(ModelError, match="36-feature"):
        metrics.NIQE(wrong)


def test_find_niqe_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert metrics.find_niqe_params(tmp_path) is None
    (tmp_path / "niqe_pris_params.npz").write_bytes(b"x")
    assert metrics.find_niqe_params(tmp_path) == tmp_path / "niqe_pris_params.npz"
    monkeypatch.setenv("ENTED_MODEL_DIR", str(tmp_path))
    assert metrics.find_niqe_params(None) == tmp_path / "niqe_pris_params.npz"
