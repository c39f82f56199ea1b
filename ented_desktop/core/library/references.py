"""Scoring a person's faces as restoration references: sharp, large and frontal, with reasons.

ENTED transfers texture from the reference face (paper section 3.2), so the best reference shows the
most detail: a sharp photo, a large face, and a pose close to frontal so that the texture covers the
whole face. All functions here are pure; :meth:`person_references.References.suggest` feeds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ented_desktop.core.face.align import estimate_alignment, face_scale

# Sharpness is measured on the face aligned to this size, so faces of any size are compared alike
# (a small face upscaled to it is blurred and scores low, as it should).
SHARPNESS_CROP_SIZE = 256
# Sharpness is detail at the scale of facial features (means of 4 px blocks of the 256 px crop) relative
# to the face's coarse structure (16 px blocks). A 5 x 5 median first removes film grain and JPEG ringing
# and the blocks average away what grain is left, so neither counts as detail as it did for the
# pixel-level Laplacian; the ratio makes a faded photo score like a contrasty one. Chosen on 200 LFW faces
# with 4 copies each (Gaussian blur sigma 2; blur 1 + grain sigma 8; JPEG quality 15; 4x downscale): the
# original scores highest for 194 (with the pixel-level Laplacian variance for 3: the grain won).
SHARPNESS_MEDIAN = 5
DETAIL_BLOCK = 4
STRUCTURE_BLOCK = 16
# Below this the face is blurry: 99% of those LFW originals (median 33) score above it, 89% of their
# sigma 2 blurs below it.
SHARP_ENOUGH = 15.0
# Faces larger than the model's input gain nothing as references.
USEFUL_FACE_SIZE = 512.0
# A nose offset of 0.6 eye distances is about a 45 degree turn (nose tip ~0.6 eye distances in front
# of the eyes); frontalness reaches 0 there.
PROFILE_YAW_RATIO = 0.6
# (upper bound on yaw ratio, words), checked in order.
POSE_WORDS = ((0.06, "frontal"), (0.15, "nearly frontal"), (0.35, "slightly turned"))
TURNED_WORDS = "turned away"
WEIGHTS = {"sharpness": 0.4, "size": 0.3, "frontalness": 0.3}


def to_gray(image: np.ndarray) -> np.ndarray:
    """float64 luma (ITU-R BT.601 weights) of an RGB or grayscale image, in the image's own units."""
    if image.ndim == 2:
        return image.astype(np.float64)
    rgb = image[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian over the image interior: high for sharp, low for blurred.

    Computed on the luma in the image's units (0..255 for uint8), without padding, so hand-checkable:
    L(y, x) = I(y-1, x) + I(y+1, x) + I(y, x-1) + I(y, x+1) - 4 I(y, x).
    """
    gray = to_gray(image)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    centre = gray[1:-1, 1:-1]
    lap = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * centre
    return float(lap.var())


def block_means(gray: np.ndarray, block: int) -> np.ndarray:
    """Means of ``block x block`` tiles of a 2-D image; rows and columns past the last whole tile are dropped."""
    h, w = gray.shape[0] // block * block, gray.shape[1] // block * block
    return gray[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def gradient_energy(gray: np.ndarray) -> float:
    """Mean squared difference of horizontal neighbours plus that of vertical neighbours (0 below 2 x 2)."""
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        return 0.0
    return float((np.diff(gray, axis=1) ** 2).mean() + (np.diff(gray, axis=0) ** 2).mean())


def detail_sharpness(image: np.ndarray) -> float:
    """How sharp a face crop is: about 33 for a sharp face, below :data:`SHARP_ENOUGH` for a blurry one.

    100 x the Laplacian variance of the :data:`DETAIL_BLOCK` block means of the median-filtered luma,
    over the :func:`gradient_energy` of its :data:`STRUCTURE_BLOCK` block means (0 for a flat image).
    The median is OpenCV's, with edge pixels repeated beyond the border.
    """
    gray = cv2.medianBlur(to_gray(image).astype(np.float32), SHARPNESS_MEDIAN).astype(np.float64)
    structure = gradient_energy(block_means(gray, STRUCTURE_BLOCK))
    if structure == 0.0:
        return 0.0
    return 100.0 * laplacian_variance(block_means(gray, DETAIL_BLOCK)) / structure


def face_size_px(landmarks: np.ndarray) -> float:
    """The side, in photo pixels, of the face's FFHQ-aligned square crop (as ``Face.size``).

    Fitted to all five landmarks, so it does not depend on how a detector draws its box.
    """
    return 512.0 / face_scale(estimate_alignment(landmarks, 512))


def yaw_ratio(landmarks: np.ndarray) -> float:
    """How far the nose tip sits from the eyes' perpendicular bisector, in eye distances (0: frontal).

    Landmarks are 5 x 2 (left eye, right eye, nose tip, left mouth corner, right mouth corner); the
    measure ignores in-plane rotation and scale. Eyes on one spot count as fully turned.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, nose = points[0], points[1], points[2]
    axis = right_eye - left_eye
    eye_distance = float(np.hypot(*axis))
    if eye_distance < 1e-6:
        return float("inf")
    offset = float(np.dot(nose - (left_eye + right_eye) / 2.0, axis / eye_distance))
    return abs(offset) / eye_distance


def frontalness(landmarks: np.ndarray) -> float:
    """1 for a frontal face, falling linearly to 0 at about a 45 degree turn."""
    return float(np.clip(1.0 - yaw_ratio(landmarks) / PROFILE_YAW_RATIO, 0.0, 1.0))


def pose_words(frontal: float) -> str:
    ratio = (1.0 - frontal) * PROFILE_YAW_RATIO
    for bound, words in POSE_WORDS:
        if ratio < bound:
            return words
    return TURNED_WORDS


@dataclass(frozen=True)
class FaceMeasure:
    """What is known about one candidate face."""

    face_id: int
    sharpness: float
    size_px: float
    frontalness: float


@dataclass(frozen=True)
class ReferenceCandidate:
    face_id: int
    score: float  # 0..1, higher is better
    sharpness: float
    size_px: float
    frontalness: float
    why: str  # e.g. "sharpest (31), largest (220 px), nearly frontal"
    blurry: bool  # sharpness below SHARP_ENOUGH; when every candidate is, no photo makes a sharp reference


def _sharpness_words(sharpness: float, top: float, alone: bool) -> str:
    if sharpness >= SHARP_ENOUGH:
        return f"sharpest ({sharpness:.0f})" if sharpness == top and not alone else f"sharpness {sharpness:.0f}"
    if sharpness == top and not alone:
        return f"least blurry ({sharpness:.0f}; every photo is blurry)"
    return f"blurry ({sharpness:.0f})"


def rank_candidates(measures: Sequence[FaceMeasure]) -> list[ReferenceCandidate]:
    """Candidates best first. The score weighs sharpness and size relative to the best candidate
    (size capped at :data:`USEFUL_FACE_SIZE`) and absolute frontalness. Blurry faces still rank; the
    words say so."""
    if not measures:
        return []
    top_sharpness = max(m.sharpness for m in measures)
    top_size = max(min(m.size_px, USEFUL_FACE_SIZE) for m in measures)
    top_raw_size = max(m.size_px for m in measures)
    alone = len(measures) == 1
    ranked = []
    for m in measures:
        sharp_part = m.sharpness / top_sharpness if top_sharpness > 0 else 0.0
        size_part = min(m.size_px, USEFUL_FACE_SIZE) / top_size if top_size > 0 else 0.0
        score = (
            WEIGHTS["sharpness"] * sharp_part
            + WEIGHTS["size"] * size_part
            + WEIGHTS["frontalness"] * m.frontalness
        )
        size_text = (
            f"largest ({m.size_px:.0f} px)"
            if m.size_px == top_raw_size and not alone
            else f"{m.size_px:.0f} px"
        )
        why = f"{_sharpness_words(m.sharpness, top_sharpness, alone)}, {size_text}, {pose_words(m.frontalness)}"
        ranked.append(
            ReferenceCandidate(
                m.face_id, score, m.sharpness, m.size_px, m.frontalness, why, m.sharpness < SHARP_ENOUGH
            )
        )
    ranked.sort(key=lambda c: (-c.score, c.face_id))
    return ranked
