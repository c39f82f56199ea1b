"""Align a face to the FFHQ 5-point template with a similarity transform, and undo it.

Every matrix here is a 2 x 3 float64 affine in OpenCV's convention: it maps a point ``(x, y)`` of the
source to ``M @ (x, y, 1)`` in the destination, with integer coordinates at pixel centres. The matrix
returned by :func:`estimate_alignment` maps image pixels to crop pixels (the crop is ``size x size``).
"""

from __future__ import annotations

import cv2
import numpy as np

# Where the five landmarks of an FFHQ-aligned 512 x 512 face sit (the template GFPGAN and facexlib use).
FFHQ_TEMPLATE_512: np.ndarray = np.array(
    [
        (192.98138, 239.94708),  # left eye (viewer's left)
        (318.90277, 240.1936),  # right eye
        (256.63416, 314.01935),  # nose tip
        (201.26117, 371.41043),  # left mouth corner
        (313.08905, 371.15118),  # right mouth corner
    ],
    dtype=np.float32,
)
FFHQ_TEMPLATE_512.flags.writeable = False

# cv2.warpAffine only reads the pixels it samples, so upsampling into the crop is cheap even for a
# 24 MP photo. When the crop is smaller than the face, bilinear sampling skips source pixels and
# aliases (moire on fabric, jagged hair): a fake degradation a restorer would learn or "repair". The
# source region is then first reduced with INTER_AREA (a box prefilter) to the crop's scale.
_PREFILTER_BELOW_SCALE = 1.0


def template_for(size: int) -> np.ndarray:
    """The FFHQ template scaled to a ``size x size`` crop (5 x 2 float32)."""
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    return (FFHQ_TEMPLATE_512.astype(np.float64) * (size / 512.0)).astype(np.float32)


def estimate_alignment(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, translation) taking ``landmarks`` to
    :func:`template_for` ``(size)``; a 2 x 3 matrix mapping image pixels to crop pixels.

    Closed form (Umeyama's solution in 2D, where a similarity has no reflection to guard against): with
    both point sets centred on their means, ``x_i`` (landmarks) and ``y_i`` (template), the linear part
    ``[[a, -b], [b, a]]`` minimising ``sum |A x_i - y_i|^2`` is ``a = sum(x_i . y_i) / sum|x_i|^2``,
    ``b = sum(x_i × y_i) / sum|x_i|^2`` (2D cross product), and the shift is ``mean(y) - A mean(x)``.
    Plain least squares rather than a robust (LMEDS/RANSAC) fit: with five points from one detector
    there is no outlier to reject, and the result is deterministic.
    """
    src = np.asarray(landmarks, dtype=np.float64)
    if src.shape != (5, 2) or not np.all(np.isfinite(src)):
        raise ValueError(f"landmarks must be a finite 5 x 2 array, got shape {src.shape}")
    dst = template_for(size).astype(np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    x, y = src - src_mean, dst - dst_mean
    norm = float(np.sum(x * x))
    if norm < 1e-12:
        raise ValueError("landmarks must not all coincide")
    a = float(np.sum(x * y)) / norm
    b = float(np.sum(x[:, 0] * y[:, 1] - x[:, 1] * y[:, 0])) / norm
    linear = np.array([[a, -b], [b, a]])
    shift = dst_mean - linear @ src_mean
    return np.hstack([linear, shift[:, None]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2 x 3 affine matrix (as a 2 x 3 matrix)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"an affine matrix is 2 x 3, got shape {m.shape}")
    linear = m[:, :2]
    if abs(np.linalg.det(linear)) < 1e-12:
        raise ValueError("the affine matrix is singular")
    inverse = np.linalg.inv(linear)
    return np.hstack([inverse, (-inverse @ m[:, 2])[:, None]])


def face_scale(matrix: np.ndarray) -> float:
    """Crop pixels per image pixel: the similarity's scale factor (``sqrt|det|`` of its linear part).

    Greater than 1 means the face is upsampled into the crop (the face is smaller than the crop).
    """
    m = np.asarray(matrix, dtype=np.float64)
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample the ``size x size`` crop that ``matrix`` (image -> crop) defines; keeps the dtype.

    Bilinear sampling; when the crop is smaller than the face (:func:`face_scale` < 1), only the source
    region under the crop is first reduced with INTER_AREA to the crop's scale, so the bilinear warp
    that follows neither aliases nor touches the rest of a large photo.

    Where the crop reaches beyond the photo, the photo is mirrored (BORDER_REFLECT_101) rather than
    padded with a constant: a mirror continues the photo's colour, grain and blur, so the restorer sees
    no artificial hard edge to sharpen or "repair" next to the face, and nothing from outside the photo
    is ever pasted back (:func:`ented_desktop.core.face.blend.paste_face` keeps only pixels of the photo).
    """
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    m = np.asarray(matrix, dtype=np.float64)
    scale = face_scale(m)
    if scale < _PREFILTER_BELOW_SCALE:
        image, m = _reduce_source(image, m, size, scale)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _reduce_source(
    image: np.ndarray, matrix: np.ndarray, size: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The image region under the crop, INTER_AREA-reduced by ``scale``, and the matrix for it."""
    height, width = image.shape[:2]
    corners = np.array([[-1, -1], [size, -1], [-1, size], [size, size]], dtype=np.float64)
    inverse = invert_affine(matrix)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    # Two source pixels of margin keep the bilinear taps inside the region, so mirroring happens only
    # where the region was clipped, i.e. at the photo's own edges.
    x0 = int(np.clip(np.floor(points[:, 0].min()) - 2, 0, width - 1))
    y0 = int(np.clip(np.floor(points[:, 1].min()) - 2, 0, height - 1))
    x1 = int(np.clip(np.ceil(points[:, 0].max()) + 3, x0 + 1, width))
    y1 = int(np.clip(np.ceil(points[:, 1].max()) + 3, y0 + 1, height))
    region = image[y0:y1, x0:x1]
    new_w = max(1, round((x1 - x0) * scale))
    new_h = max(1, round((y1 - y0) * scale))
    reduced = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
    # resize maps a region pixel centre x to (x + 0.5) * f - 0.5; undo that, then apply `matrix`.
    to_image = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5]])
    composed = matrix[:, :2] @ to_image[:, :2]
    shift = matrix[:, :2] @ to_image[:, 2] + matrix[:, 2]
    return reduced, np.hstack([composed, shift[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The FFHQ-aligned ``size x size`` crop of the face with these landmarks, and its image -> crop map."""
    matrix = estimate_alignment(landmarks, size)
    return warp_to_crop(image, matrix, size), matrix
