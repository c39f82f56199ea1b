"""Image-quality metrics of the paper's Tables 1-3: PSNR, SSIM (full reference) and NIQE (no reference).

All three follow the definitions BasicSR uses for face restoration papers, so our figures are computed the
same way as the published ones. Images are ``H x W x 3`` uint8 RGB. "Y" is the ITU-R BT.601 studio-swing
luma ``16 + (65.481 R + 128.553 G + 24.966 B) / 255`` (range 16-235), MATLAB's ``rgb2ycbcr`` luma, unrounded.

NIQE and face crops: NIQE splits the image into 96 x 96 blocks (the whole blocks from the top-left corner; the
rest is dropped) and needs several blocks to estimate a covariance. A 128 x 128 crop has one block, whose
covariance is undefined: BasicSR's ``calculate_niqe`` fails on it (numpy: "SVD did not converge"). Our rule,
applied to every method we compare: a face crop smaller than :data:`NIQE_FACE_SIZE` (512, the paper's output
size) is first resized to 512 x 512 with MATLAB-style bicubic interpolation (:func:`resize_for_niqe`), which
gives 5 x 5 blocks per scale covering the top-left 480 x 480 pixels; larger images are scored as they are.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ented_desktop.core import paths
from ented_desktop.core.errors import ModelError

NIQE_PARAMS_FILE = "niqe_pris_params.npz"
NIQE_BLOCK = 96
NIQE_FACE_SIZE = 512
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    for img in (a, b):
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {img.dtype} {img.shape}")
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape} and {b.shape}")


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing luma of a uint8 RGB image, float64 in [16, 235], not rounded."""
    return rgb.astype(np.float64) @ _Y_WEIGHTS + 16.0


def _planes(rgb: np.ndarray, on: str) -> list[np.ndarray]:
    if on == "y":
        return [rgb_to_y(rgb)]
    if on == "rgb":
        return [rgb[..., c].astype(np.float64) for c in range(3)]
    raise ValueError(f"'on' must be 'y' or 'rgb', not {on!r}")


def psnr(a: np.ndarray, b: np.ndarray, *, on: str = "y") -> float:
    """Peak signal-to-noise ratio in dB with peak 255; ``inf`` for identical images.

    ``on="y"``: on the BT.601 studio-swing luma Y (BasicSR ``calculate_psnr(test_y_channel=True)``);
    ``on="rgb"``: one mean squared error over all three RGB channels.
    """
    _check_pair(a, b)
    mse = float(np.mean([np.mean((p - q) ** 2) for p, q in zip(_planes(a, on), _planes(b, on), strict=True)]))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


_SSIM_WINDOW = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F) @ cv2.getGaussianKernel(11, 1.5, cv2.CV_64F).T


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        # Only the 'valid' part (5 px from every edge) is kept, so the border mode never matters.
        return cv2.filter2D(z, cv2.CV_64F, _SSIM_WINDOW, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def ssim(a: np.ndarray, b: np.ndarray, *, on: str = "y") -> float:
    """Structural similarity (Wang et al. 2004), the standard settings used by BasicSR and skimage.

    11 x 11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255; population (not sample)
    statistics; the SSIM map is averaged over the positions where the window lies inside the image.
    ``on="y"``: on the BT.601 studio-swing luma Y; ``on="rgb"``: the mean of the three per-channel SSIMs.
    Images must be at least 11 x 11.
    """
    _check_pair(a, b)
    if min(a.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11 x 11 pixels, got {a.shape[1]} x {a.shape[0]}")
    return float(np.mean([_ssim_plane(p, q) for p, q in zip(_planes(a, on), _planes(b, on), strict=True)]))


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as MATLAB's ``imresize``."""
    ax = np.abs(x)
    return np.where(
        ax <= 1,
        1.5 * ax**3 - 2.5 * ax**2 + 1,
        np.where(ax <= 2, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2, 0.0),
    )


def _resize_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights (both ``n_out x taps``) of MATLAB's bicubic ``imresize`` along one axis.

    Output pixel i (1-based) sits at input position ``i / s + (1 - 1 / s) / 2``; when shrinking, the kernel is
    stretched by ``1 / s`` to low-pass the input (antialiasing); taps outside the image are mirrored back with
    the edge pixel repeated.
    """
    s = n_out / n_in
    stretch = 1.0 / s if s < 1 else 1.0
    width = 4.0 * stretch
    centre = np.arange(1, n_out + 1) / s + 0.5 * (1 - 1 / s)
    taps = np.floor(centre - width / 2)[:, None] + np.arange(math.ceil(width) + 2)[None, :]
    w = _cubic((centre[:, None] - taps) / stretch) / stretch
    w /= w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
    return mirror[(taps.astype(np.int64) - 1) % (2 * n_in)], w


def _resize_rows(img: np.ndarray, n_out: int) -> np.ndarray:
    idx, w = _resize_taps(img.shape[0], n_out)
    return np.einsum("ot,ot...->o...", w, img[idx])


def resize_bicubic(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """MATLAB ``imresize(img, [height width], 'bicubic')`` of an H x W or H x W x C image, float64 out."""
    out = _resize_rows(img.astype(np.float64), height)
    return np.swapaxes(_resize_rows(np.swapaxes(out, 0, 1), width), 0, 1)


def resize_for_niqe(rgb: np.ndarray, size: int = NIQE_FACE_SIZE) -> np.ndarray:
    """The face-crop rule for NIQE: a crop smaller than ``size`` is resized to ``size x size`` (MATLAB
    bicubic, rounded to uint8); anything else is returned unchanged. Apply it to every method alike."""
    if min(rgb.shape[:2]) >= size:
        return rgb
    return np.clip(np.rint(resize_bicubic(rgb, size, size)), 0, 255).astype(np.uint8)


def mscn(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + 1)`` (Mittal et al., II.A).

    ``mu`` and ``sigma`` are the local mean and standard deviation under ``window``, with edge pixels repeated
    outside the image. A constant image gives all zeros. The result is float32 and the arithmetic after the
    filtering is done in float32, as in the reference implementation: NIQE is sensitive to rounding (float64
    moves the score of skimage's astronaut by 0.035), and we want the reference scores.
    """
    img = image.astype(np.float32)

    def local_mean(z: np.ndarray) -> np.ndarray:
        out = cv2.filter2D(z.astype(np.float64), cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE)
        return out.astype(np.float32)

    mu = local_mean(img)
    sigma = np.sqrt(np.abs(local_mean(img * img) - mu * mu))
    return (img - mu) / (sigma + np.float32(1.0))


_SHAPE_GRID = np.arange(0.2, 10.001, 0.001)
# E[|x|]^2 / E[x^2] of a generalised Gaussian with shape a: Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)).
_SHAPE_RATIO = np.exp([2 * math.lgamma(2 / a) - math.lgamma(1 / a) - math.lgamma(3 / a) for a in _SHAPE_GRID])


def aggd_fit(x: np.ndarray) -> tuple[float, float, float]:
    """Moment-matching fit of an asymmetric generalised Gaussian: ``(shape alpha, left scale, right scale)``.

    The density is proportional to ``exp(-(-x / beta_l)^alpha)`` for x < 0 and to
    ``exp(-(x / beta_r)^alpha)`` for x >= 0. alpha is picked from a 0.001 grid on [0.2, 10]; a symmetric
    sample gives the GGD fit with ``beta_l == beta_r``. A sample with no negative (or no positive) values has
    no fit: like the reference implementation we then return alpha = 0.2 and NaN for the missing scale, and
    NIQE drops the block from the covariance but keeps its finite features in the mean.
    """
    x = np.asarray(x, np.float64).ravel()
    left, right = x[x < 0], x[x > 0]
    if left.size == 0 or right.size == 0:
        alpha = float(_SHAPE_GRID[0])
        std_l = math.sqrt(float(np.mean(left**2))) if left.size else math.nan
        std_r = math.sqrt(float(np.mean(right**2))) if right.size else math.nan
    else:
        std_l, std_r = math.sqrt(float(np.mean(left**2))), math.sqrt(float(np.mean(right**2)))
        g = std_l / std_r
        r = float(np.mean(np.abs(x))) ** 2 / float(np.mean(x**2))
        r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
        alpha = float(_SHAPE_GRID[np.argmin((_SHAPE_RATIO - r_norm) ** 2)])
    to_scale = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, std_l * to_scale, std_r * to_scale


def block_features(block: np.ndarray) -> list[float]:
    """The 18 NIQE features of one block of MSCN coefficients.

    (alpha, mean of the two scales) of the coefficients themselves, then (alpha, mean, beta_l, beta_r) of
    their products with the horizontal, vertical and both diagonal neighbours (circular shifts, as the
    reference implementation).
    """
    alpha, beta_l, beta_r = aggd_fit(block)
    feats = [alpha, (beta_l + beta_r) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, beta_l, beta_r = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (beta_r - beta_l) * math.gamma(2 / alpha) / math.gamma(1 / alpha)
        feats += [alpha, mean, beta_l, beta_r]
    return feats


def mvg_distance(mu: np.ndarray, cov: np.ndarray, mu_ref: np.ndarray, cov_ref: np.ndarray) -> float:
    """NIQE's distance of two multivariate Gaussians: sqrt(d^T ((cov + cov_ref) / 2)^+ d), d = mu_ref - mu."""
    d = (np.asarray(mu_ref, np.float64) - np.asarray(mu, np.float64)).ravel()
    return float(math.sqrt(max(float(d @ np.linalg.pinv((cov + cov_ref) / 2) @ d), 0.0)))


class NIQE:
    """Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik 2012): lower is more natural.

    Computed as BasicSR's ``calculate_niqe``: Y channel rounded to integers, 96 x 96 blocks without overlap
    at full and half size (MATLAB bicubic with antialiasing), 18 features per block and scale, and the
    distance of their Gaussian fit to the pristine model in ``niqe_pris_params.npz``.
    """

    def __init__(self, params_path: Path) -> None:
        try:
            with np.load(params_path) as p:
                self.mu_pris = np.asarray(p["mu_pris_param"], np.float64)
                self.cov_pris = np.asarray(p["cov_pris_param"], np.float64)
                self.window = np.asarray(p["gaussian_window"], np.float64)
        except (OSError, KeyError, ValueError) as e:
            raise ModelError(f"The NIQE parameter file {params_path} is missing or damaged ({e}).") from e
        if self.mu_pris.shape != (1, 36) or self.cov_pris.shape != (36, 36) or self.window.shape != (7, 7):
            raise ModelError(f"The file {params_path} does not hold the 36-feature NIQE pristine model.")

    def __call__(self, rgb: np.ndarray, crop_border: int = 0) -> float:
        """NIQE of an RGB uint8 image; at least two 96 x 96 blocks must fit (see :func:`resize_for_niqe`)."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        y = rgb_to_y(rgb)
        if crop_border:
            y = y[crop_border:-crop_border, crop_border:-crop_border]
        rows, cols = y.shape[0] // NIQE_BLOCK, y.shape[1] // NIQE_BLOCK
        if rows * cols < 2:
            raise ValueError(
                f"NIQE needs at least two {NIQE_BLOCK} x {NIQE_BLOCK} blocks; the image is "
                f"{y.shape[1]} x {y.shape[0]} (see resize_for_niqe)"
            )
        # MATLAB rounds the luma to integers; the reference scores depend on it.
        img = np.round(y[: rows * NIQE_BLOCK, : cols * NIQE_BLOCK])
        per_scale = []
        for scale in (1, 2):
            coeffs = mscn(img, self.window)
            b = NIQE_BLOCK // scale
            blocks = [
                coeffs[i * b : (i + 1) * b, j * b : (j + 1) * b] for j in range(cols) for i in range(rows)
            ]
            per_scale.append([block_features(block) for block in blocks])
            if scale == 1:
                img = resize_bicubic(img, img.shape[0] // 2, img.shape[1] // 2)
        feats = np.concatenate([np.array(f) for f in per_scale], axis=1)
        complete = feats[~np.isnan(feats).any(axis=1)]
        if len(complete) < 2:
            raise ValueError("NIQE is undefined with fewer than two textured blocks (e.g. a flat image)")
        cov = np.cov(complete, rowvar=False)
        return mvg_distance(np.nanmean(feats, axis=0), cov, self.mu_pris, self.cov_pris)


def find_niqe_params(model_dir: Path | None) -> Path | None:
    """``niqe_pris_params.npz`` in ``model_dir``; when that is None, in the product's model directory and then
    among the shipped models (:mod:`ented_desktop.core.paths`). None when it is not there."""
    dirs = [model_dir] if model_dir is not None else [paths.model_dir(), paths.shipped_models_dir()]
    for d in dirs:
        candidate = Path(d) / NIQE_PARAMS_FILE
        if candidate.is_file():
            return candidate
    return None
