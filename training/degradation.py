"""Synthetic degradation of high-quality faces into training and test inputs.

The paper (section 4.1) uses the degradation model of GFP-GAN (Wang et al. 2021):

    I_LQ = { [ (I_HQ * k_sigma) down_r + n_delta ]_JPEG_q } up_r

a Gaussian blur k_sigma (isotropic, 41x41 kernel), bilinear down-sampling by r, additive Gaussian noise
n_delta (colour, sigma on the 0-255 scale), JPEG compression at quality q, and a bilinear resize back to the
input size so that input and ground truth stay pixel aligned. Bilinear is GFP-GAN's choice for both resizes;
we keep it rather than bicubic so that the up-sampling adds no ringing the network would have to learn.
GFP-GAN's released training options draw blur 0.1-10, down-sampling 0.8-8, noise 0-20 and JPEG 60-100, and
also jitter colour and make some inputs grey. We keep its blur and JPEG ranges, draw the down-sampling from
1 (the ground truth is never enlarged) and the noise up to 15 (this project's specification), and leave out
the colour changes, which the ENTED paper does not mention.

RestoreFormer++'s extending degradation model (EDM) is available as three independent options, each applied
with its own probability:

* haze: before the camera degradations the face is blended toward an atmospheric light A (a grey level) with
  a constant transmission t, ``t * I + (1 - t) * A`` (the usual single-scattering haze model);
* uneven degradation: a second blur sigma and noise sigma are drawn and mixed with the first through a random
  smooth mask (a 4x4 grid of uniform values, bicubically enlarged), so the blur and the noise strength vary
  across the face;
* misalignment: the input is rotated by a few degrees and shifted by a few percent of its width before it is
  degraded, so the network does not learn that input and ground truth are always perfectly registered.

All values are in pixels of the image being degraded. The paper's ranges were set for 512x512 faces; on 128
px crops the same ranges are relatively four times harsher (a factor-8 down-sampling leaves 16 px).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ented_desktop.core.atomic import write_text_atomic
from ented_desktop.core.errors import ImageReadError, UserError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import read_image_rgb8

BLUR_KERNEL_SIZE = 41
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_MASK_GRID = 4


@dataclass(frozen=True)
class DegradationRanges:
    """Where each degradation value is drawn from (uniformly); the defaults are the paper's model, EDM off."""

    blur_sigma: tuple[float, float] = (0.1, 10.0)
    downscale: tuple[float, float] = (1.0, 8.0)
    noise_sigma: tuple[float, float] = (0.0, 15.0)
    jpeg_quality: tuple[int, int] = (60, 100)
    haze_prob: float = 0.0
    haze_transmission: tuple[float, float] = (0.55, 0.9)
    haze_light: tuple[float, float] = (0.6, 1.0)
    uneven_prob: float = 0.0
    misalign_prob: float = 0.0
    misalign_shift: float = 0.03
    """Largest shift along each axis, as a fraction of the image width/height."""
    misalign_angle: float = 3.0
    """Largest rotation, in degrees."""

    def __post_init__(self) -> None:
        ranged = ("blur_sigma", "downscale", "noise_sigma", "jpeg_quality", "haze_transmission", "haze_light")
        for name in ranged:
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name} range {lo}..{hi} is empty")
        if self.blur_sigma[0] <= 0:
            raise ValueError("blur_sigma must be positive")
        if self.downscale[0] < 1:
            raise ValueError("downscale must be at least 1")
        if self.noise_sigma[0] < 0:
            raise ValueError("noise_sigma must be non-negative")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("jpeg_quality must lie in 1..100")
        if not 0 < self.haze_transmission[0] <= self.haze_transmission[1] <= 1:
            raise ValueError("haze_transmission must lie in (0, 1]")
        if not 0 <= self.haze_light[0] <= self.haze_light[1] <= 1:
            raise ValueError("haze_light must lie in [0, 1]")
        for name in ("haze_prob", "uneven_prob", "misalign_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability")
        if self.misalign_shift < 0 or self.misalign_angle < 0:
            raise ValueError("misalignment limits must be non-negative")


LEVELS: dict[str, DegradationRanges] = {
    # The paper's training model (the ranges of the module docstring), EDM off.
    "paper": DegradationRanges(),
    # The paper's model for 128 px faces. Its blur range was set for 512 px faces; at 128 px a sigma near 10
    # (a 41 px kernel over a 128 px face) leaves no eyes or mouth to restore, and training time spent on
    # such inputs teaches a small network to paint an average face over inputs that still had detail.
    # The range stops at 5, above both evaluation levels; down-sampling, noise and JPEG are the paper's.
    "paper128": DegradationRanges(blur_sigma=(0.1, 5.0)),
    # paper128 with down-sampling to 12x: more inputs that have lost what a reference still shows.
    "paper128-heavy": DegradationRanges(blur_sigma=(0.1, 5.0), downscale=(1.0, 12.0)),
    # Around the 4x super-resolution of Table 1: down-sampling 3.5-4.5, anti-aliasing-to-defocus blur,
    # moderate noise and JPEG, so that the factor dominates rather than the other degradations.
    "4x": DegradationRanges(
        blur_sigma=(0.5, 3.0), downscale=(3.5, 4.5), noise_sigma=(0.0, 10.0), jpeg_quality=(70, 95)
    ),
    # Around 8x: a small face in a group photo. The blur starts at 1 because a bilinear factor-8 reduction
    # of an unblurred face aliases in a way real optics do not.
    "8x": DegradationRanges(
        blur_sigma=(1.0, 4.0), downscale=(7.5, 8.5), noise_sigma=(0.0, 10.0), jpeg_quality=(70, 95)
    ),
    # The paper's model plus RestoreFormer++'s EDM (our probabilities; that paper does not give them here).
    "edm": DegradationRanges(haze_prob=0.2, uneven_prob=0.3, misalign_prob=0.5),
}



def training_level(resolution: int) -> str:
    """The level of :data:`LEVELS` a model of ``resolution`` px faces is trained (and fine-tuned) with."""
    return "paper128" if resolution <= 128 else "paper"

@dataclass(frozen=True)
class DegradationParams:
    """The values drawn for one image. ``None`` means the optional degradation is not applied."""

    blur_sigma: float
    downscale: float
    noise_sigma: float
    jpeg_quality: int
    haze_transmission: float | None = None
    haze_light: float = 1.0
    uneven_blur_sigma: float | None = None
    uneven_noise_sigma: float | None = None
    shift_x: float = 0.0
    """Fraction of the width."""
    shift_y: float = 0.0
    """Fraction of the height."""
    rotation: float = 0.0
    """Degrees, counter-clockwise."""

    def __post_init__(self) -> None:
        if (self.uneven_blur_sigma is None) != (self.uneven_noise_sigma is None):
            raise ValueError("uneven_blur_sigma and uneven_noise_sigma are set together")

    def to_dict(self) -> dict[str, float | int | None]:
        return dataclasses.asdict(self)


def sample_params(rng: np.random.Generator, ranges: DegradationRanges) -> DegradationParams:
    """Draw one set of degradation values, each uniform in its range (JPEG quality an integer)."""
    blur = float(rng.uniform(*ranges.blur_sigma))
    down = float(rng.uniform(*ranges.downscale))
    noise = float(rng.uniform(*ranges.noise_sigma))
    quality = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    extra: dict[str, float] = {}
    if ranges.haze_prob > 0 and rng.random() < ranges.haze_prob:
        extra["haze_transmission"] = float(rng.uniform(*ranges.haze_transmission))
        extra["haze_light"] = float(rng.uniform(*ranges.haze_light))
    if ranges.uneven_prob > 0 and rng.random() < ranges.uneven_prob:
        extra["uneven_blur_sigma"] = float(rng.uniform(*ranges.blur_sigma))
        extra["uneven_noise_sigma"] = float(rng.uniform(*ranges.noise_sigma))
    if ranges.misalign_prob > 0 and rng.random() < ranges.misalign_prob:
        extra["shift_x"] = float(rng.uniform(-ranges.misalign_shift, ranges.misalign_shift))
        extra["shift_y"] = float(rng.uniform(-ranges.misalign_shift, ranges.misalign_shift))
        extra["rotation"] = float(rng.uniform(-ranges.misalign_angle, ranges.misalign_angle))
    return DegradationParams(
        blur_sigma=blur, downscale=down, noise_sigma=noise, jpeg_quality=quality, **extra
    )


def smooth_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random field in [0, 1] that varies smoothly over the image (float32 HxW)."""
    grid = rng.random((_MASK_GRID, _MASK_GRID), dtype=np.float32)
    mask = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(mask, 0.0, 1.0)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur with GFP-GAN's 41x41 kernel, borders mirrored."""
    return cv2.GaussianBlur(img, (BLUR_KERNEL_SIZE, BLUR_KERNEL_SIZE), sigmaX=sigma, sigmaY=sigma)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG (OpenCV, 4:2:0 chroma); float32 RGB [0, 1] in and out."""
    rgb8 = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    bgr8 = np.ascontiguousarray(rgb8[:, :, ::-1])
    ok, data = cv2.imencode(".jpg", bgr8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return bgr[:, :, ::-1].astype(np.float32) * np.float32(1.0 / 255.0)


def misalign(img: np.ndarray, shift_x: float, shift_y: float, rotation: float) -> np.ndarray:
    """Rotate about the centre by ``rotation`` degrees, shift by fractions of the size; mirrored borders."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), rotation, 1.0)
    matrix[0, 2] += shift_x * w
    matrix[1, 2] += shift_y * h
    return cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def degrade(img: np.ndarray, params: DegradationParams, rng: np.random.Generator) -> np.ndarray:
    """Apply GFP-GAN's degradation (and any EDM option set in ``params``) to a float32 HxWx3 [0, 1] image.

    ``rng`` supplies the noise and the uneven-degradation mask. Returns float32 of the same shape in [0, 1].
    """
    if img.dtype != np.float32 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a float32 HxWx3 image, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    x = img
    if params.shift_x or params.shift_y or params.rotation:
        x = misalign(x, params.shift_x, params.shift_y, params.rotation)
    if params.haze_transmission is not None:
        t = np.float32(params.haze_transmission)
        x = t * x + (1.0 - t) * np.float32(params.haze_light)

    mask = None
    uneven_noise = 0.0
    if params.uneven_blur_sigma is not None and params.uneven_noise_sigma is not None:
        uneven_noise = params.uneven_noise_sigma
        mask = smooth_mask((h, w), rng)[:, :, None]
        first = gaussian_blur(x, params.blur_sigma)
        x = mask * first + (1.0 - mask) * gaussian_blur(x, params.uneven_blur_sigma)
    else:
        x = gaussian_blur(x, params.blur_sigma)

    small = (max(1, round(w / params.downscale)), max(1, round(h / params.downscale)))
    if small != (w, h):
        x = cv2.resize(x, small, interpolation=cv2.INTER_LINEAR)

    if mask is not None:
        small_mask = cv2.resize(mask[:, :, 0], small, interpolation=cv2.INTER_LINEAR)[:, :, None]
        sigma = small_mask * np.float32(params.noise_sigma / 255.0)
        sigma += (1.0 - small_mask) * np.float32(uneven_noise / 255.0)
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * sigma
    elif params.noise_sigma > 0:
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(params.noise_sigma / 255.0)
    x = jpeg_roundtrip(np.clip(x, 0.0, 1.0), params.jpeg_quality)

    if small != (w, h):
        x = cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


def file_seed(seed: int, relative: str) -> tuple[int, int]:
    """Seed material for one file of a test set: depends on the run seed and the path, not on file order."""
    digest = hashlib.sha256(relative.encode("utf-8")).digest()
    return (seed, int.from_bytes(digest[:8], "little"))


def list_images(src: Path) -> list[Path]:
    """Image files under ``src`` (recursive, hidden entries skipped), as sorted relative paths."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath, name).relative_to(src))
    return sorted(found)


def degrade_folder(
    src: Path,
    dst: Path,
    *,
    level: str,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Make a test set: every image under ``src`` degraded at ``level`` and written as PNG under ``dst``.

    Each file's randomness comes from ``(seed, sha256(relative path))``, so the result for a file does not
    depend on which other files exist or on their order. ``dst/params.jsonl`` records the values drawn for
    every output. ``progress(done, total)`` is called after each file. Returns counts.
    """
    if level not in LEVELS:
        raise UserError(f"Unknown degradation level '{level}'; choose one of {', '.join(LEVELS)}.")
    if seed < 0:
        raise UserError("The seed must be a non-negative integer.")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise UserError(f"The source folder {src} does not exist.")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise UserError("The output folder must not be inside the source folder.")
    ranges = LEVELS[level]
    files = list_images(src)
    outputs: dict[Path, Path] = {}
    for rel in files:
        out = rel.with_suffix(".png")
        if out in outputs:
            raise UserError(f"{outputs[out]} and {rel} would both be written to {out}; rename one of them.")
        outputs[out] = rel

    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"Cannot create the output folder {dst}: {exc.strerror}.") from exc
    records: list[str] = []
    skipped: Counter[str] = Counter()
    for done, rel in enumerate(files, start=1):
        try:
            pixels = read_image_rgb8(src / rel)
        except ImageReadError as exc:
            skipped[str(exc)] += 1
        else:
            rng = np.random.default_rng(file_seed(seed, rel.as_posix()))
            params = sample_params(rng, ranges)
            img = pixels.astype(np.float32) * np.float32(1.0 / 255.0)
            lq = degrade(img, params, rng)
            out = dst / rel.with_suffix(".png")
            out.parent.mkdir(parents=True, exist_ok=True)
            write_photo_atomic(np.rint(lq * 255.0).astype(np.uint8), out, overwrite=True)
            record = {"file": out.relative_to(dst).as_posix(), "source": rel.as_posix(), "level": level,
                      "seed": seed, **params.to_dict()}
            records.append(json.dumps(record))
        if progress is not None:
            progress(done, len(files))
    write_text_atomic(dst / "params.jsonl", "".join(line + "\n" for line in records))
    return {"found": len(files), "degraded": len(records), "skipped": sum(skipped.values()),
            "skipped_reasons": dict(skipped)}
