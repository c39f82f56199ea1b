"""Put a restored face back into its photo: a feathered paste, and a frequency blend for large faces."""

from __future__ import annotations

import cv2
import numpy as np

from ented_desktop.core.face.align import invert_affine

_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


def feather_mask(size: int, border: float = 0.1) -> np.ndarray:
    """A ``size x size`` float32 weight: 1 inside, falling smoothly to exactly 0 on the outermost pixels.

    Separable: ``mask[y, x] = ramp(y) * ramp(x)`` with ``ramp(i) = smoothstep(d / w)``, where
    ``d = min(i, size - 1 - i)`` is the pixel's distance to the outermost pixel centre,
    ``w = border * size`` the ramp width and ``smoothstep(r) = 3r^2 - 2r^3`` for ``r`` clipped to [0, 1].
    Zero on the crop's edge and a slope that starts and ends at zero leave no visible seam.
    """
    if size <= 0:
        raise ValueError(f"mask size must be positive, got {size}")
    if not 0.0 < border <= 0.5:
        raise ValueError(f"border must be in (0, 0.5], got {border}")
    index = np.arange(size, dtype=np.float64)
    distance = np.minimum(index, size - 1 - index)
    r = np.clip(distance / (border * size), 0.0, 1.0)
    ramp = r * r * (3.0 - 2.0 * r)
    return np.outer(ramp, ramp).astype(np.float32)


def territory_mask(
    size: int, matrix: np.ndarray, centers: np.ndarray, scales: np.ndarray, own: int, band: float = 0.1
) -> np.ndarray:
    """The ``size x size`` weight, in crop space, of the part of the photo that belongs to face ``own``.

    ``centers`` (N x 2) and ``scales`` (N) are the faces' centres and sizes in photo pixels; ``matrix`` maps
    photo -> crop. A pixel's distance to a face is measured in that face's size; the weight is 1 where the pixel
    is nearer to ``own`` than to any other face by at least ``band / 2``, 0 where it is that much nearer to
    another, and linear in between. A face's crop shows its neighbours' edges too, so without this a paste
    would cover a neighbour's restoration with its own rendering of that neighbour.
    """
    if len(centers) != len(scales) or not 0 <= own < len(centers):
        raise ValueError(f"face {own} of {len(centers)} centres and {len(scales)} sizes")
    if len(centers) == 1:
        return np.ones((size, size), np.float32)
    inverse = invert_affine(matrix).astype(np.float32)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    px = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    py = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]

    def distance(k: int) -> np.ndarray:
        return np.hypot(px - np.float32(centers[k][0]), py - np.float32(centers[k][1])) / np.float32(scales[k])

    nearest_other = np.min([distance(k) for k in range(len(centers)) if k != own], axis=0)
    return np.clip((nearest_other - distance(own)) / band + 0.5, 0.0, 1.0).astype(np.float32)


def paste_face(
    image: np.ndarray, crop: np.ndarray, matrix: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """A copy of ``image`` with ``crop`` warped back through the inverse of ``matrix`` and blended in.

    ``image`` is H x W x C, uint8, uint16 or float32 in [0, 1]. ``crop`` is S x S x C, either float32 in
    [0, 1] (the restorer's output, for any image dtype; it is clipped) or of the image's own dtype.
    ``matrix`` maps image -> crop (as from :func:`ented_desktop.core.face.align.estimate_alignment`).
    ``mask`` is an S x S weight in [0, 1], :func:`feather_mask` ``(S)`` by default; it is warped with the
    crop, so the weight outside the crop is 0.

    Only the bounding box of the warped crop is computed, so a 24 MP photo costs no more than a small
    one, and every pixel whose warped weight is 0 (all pixels outside that box among them) is copied
    bit for bit. ``image`` itself is never modified.
    """
    if image.dtype not in _FULL_SCALE or image.ndim != 3:
        raise ValueError(f"image must be H x W x C uint8, uint16 or float32, got {image.dtype} {image.shape}")
    size = crop.shape[0]
    if crop.shape != (size, size, image.shape[2]):
        raise ValueError(f"crop must be square with {image.shape[2]} channels, got shape {crop.shape}")
    if crop.dtype == np.float32:
        crop_values = np.clip(crop, 0.0, 1.0) * np.float32(_FULL_SCALE[image.dtype])
    elif crop.dtype == image.dtype:
        crop_values = crop.astype(np.float32)
    else:
        raise ValueError(f"crop must be float32 or {image.dtype}, got {crop.dtype}")
    weight = feather_mask(size) if mask is None else np.asarray(mask, dtype=np.float32)
    if weight.shape != (size, size):
        raise ValueError(f"mask must be {size} x {size}, got shape {weight.shape}")

    out = image.copy()
    box = _warped_box(matrix, size, image.shape[1], image.shape[0])
    if box is None:
        return out
    x0, y0, x1, y1 = box
    crop_to_image = invert_affine(matrix)
    # Express the inverse warp relative to the box so warpAffine produces the box only.
    crop_to_box = crop_to_image - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])
    box_size = (x1 - x0, y1 - y0)
    face = cv2.warpAffine(
        crop_values,
        crop_to_box,
        box_size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    alpha = cv2.warpAffine(
        weight, crop_to_box, box_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    region = out[y0:y1, x0:x1]
    blended = region.astype(np.float32) * (1.0 - alpha) + face.reshape(region.shape) * alpha
    if image.dtype != np.float32:
        blended = np.clip(np.rint(blended), 0, _FULL_SCALE[image.dtype])
    out[y0:y1, x0:x1] = np.where(alpha > 0.0, blended.astype(image.dtype), region)
    return out


def _warped_box(matrix: np.ndarray, size: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The pixel box ``(x0, y0, x1, y1)``, clipped to the image, that the warped crop can touch."""
    inverse = invert_affine(matrix)
    # The crop's outer pixel edges (-0.5 and size - 0.5), widened by a pixel for bilinear footprints.
    corners = np.array([[-1.5, -1.5], [size + 0.5, -1.5], [-1.5, size + 0.5], [size + 0.5, size + 0.5]])
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    x0 = max(0, int(np.floor(points[:, 0].min())))
    y0 = max(0, int(np.floor(points[:, 1].min())))
    x1 = min(width, int(np.ceil(points[:, 0].max())) + 1)
    y1 = min(height, int(np.ceil(points[:, 1].max())) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def detail_blend(original_crop: np.ndarray, restored_crop: np.ndarray, sigma: float) -> np.ndarray:
    """Add to ``original_crop`` only the fine detail of ``restored_crop`` that the original lacks.

    For faces larger than the model's resolution: the restoration, upsampled to the face's size, brings
    plausible detail but also its own (lower-resolution, possibly shifted) content, while the original
    may already be sharp. With ``G_s`` a Gaussian blur of standard deviation ``s`` (crop pixels):

    - high bands ``H_o = original - G_sigma(original)`` and ``H_r = restored - G_sigma(restored)``;
    - local detail amplitudes ``A_o = sqrt(G_2sigma(mean_c H_o^2))`` and likewise ``A_r``
      (mean over channels, so one weight serves all channels and colours do not shift);
    - weight ``w = clip(1 - A_o / A_r, 0, 1)``: the fraction of the restoration's detail the original is
      missing; 0 where the original is at least as detailed, 1 where it is flat;
    - ``out = original + w * H_r``, clipped to [0, 1].

    So the low band always comes from the original (the restoration's low band is never used), a sharp
    original is returned (nearly) unchanged, and a blurry original gains the restoration's detail.
    Both crops are float32 H x W x C in [0, 1] of equal shape; the result is float32 too. Choose ``sigma``
    at least about (face size in the photo) / (model resolution): an upsampled restoration has no
    detail finer than that, so a smaller ``sigma`` would leave its detail in the discarded low band.
    """
    if original_crop.dtype != np.float32 or restored_crop.dtype != np.float32:
        raise ValueError("detail_blend takes float32 crops in [0, 1]")
    if original_crop.shape != restored_crop.shape or original_crop.ndim != 3:
        raise ValueError(
            f"crops must be H x W x C of equal shape, got {original_crop.shape} and {restored_crop.shape}"
        )
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    high_original = original_crop - _blur(original_crop, sigma)
    high_restored = restored_crop - _blur(restored_crop, sigma)
    amplitude_original = np.sqrt(_blur(np.mean(high_original**2, axis=2), 2.0 * sigma))
    amplitude_restored = np.sqrt(_blur(np.mean(high_restored**2, axis=2), 2.0 * sigma))
    weight = np.clip(1.0 - amplitude_original / np.maximum(amplitude_restored, 1e-6), 0.0, 1.0)
    return np.clip(original_crop + weight[..., None] * high_restored, 0.0, 1.0).astype(np.float32)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
