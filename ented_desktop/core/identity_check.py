"""Whether restoring a named person's face moved it away from that person: the identity check.

For a restored face of a person who has a reference, the check embeds the face before and after restoring with
the offline identity embedding (:class:`~ented_desktop.core.identity.IdentityEmbedder`) and measures both
distances to the reference (:func:`~ented_desktop.core.identity.identity_distance`; lower is more alike). The
face "moved away from its person" when the distance grew by more than the embedding's own noise,
:data:`MOVED_AWAY_THRESHOLD`: ``after - before > threshold``. A distance that shrinks, or grows by no more than
identity-preserving changes of a face also make it grow, says nothing.

Both crops are cut from the photos with the same landmarks (:func:`check_face`), so the check sees what the user
sees, pasted result included, and the before and after crops differ only by what the restoration did.

Pure logic plus two thin calls into the embedder; no Qt, nothing written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ented_desktop.core.face.align import align_face
from ented_desktop.core.identity import IdentityEmbedder, identity_distance
from ented_desktop.core.imageio import from_float01, to_float01

MOVED_AWAY_THRESHOLD = 0.06
"""Largest growth of the distance to the reference that identity-preserving changes of a face cause.

Measured with ``scripts/calibrate_identity_check.py --limit 200`` (figures in docs/IDENTITY_CHECK.md): 200 LFW
DevTrain people, each photo scaled to a 124 px face and degraded with the training degradation (paper128), then
"restored" through the app's paste-back by restorations that keep the person: output = input, the same saved as
JPEG, the input retouched (sharpening, smoothing, tone, grain), the ground truth, the ground truth mildly
degraded. The largest of their 99th percentiles was +0.051 (ground truth), rounded up to 0.06. On 200 DevTest
people no identity-preserving restoration was flagged (retouched 1 in 200), and a face replaced by a random
other person's was flagged in 86.5 % of the photos (98.5 % where the degraded original was still recognisable,
distance below 0.6)."""

CHECK_SIZE = 256
"""Side of the aligned crops the check embeds: the size :meth:`IdentityEmbedder.embed` aligns a photo's face at."""


@dataclass(frozen=True)
class IdentityCheck:
    """Distances of one face to its person's reference before and after restoring, and the verdict."""

    before: float  # identity distance of the original face to the reference
    after: float  # identity distance of the restored face to the reference
    moved_away: bool  # the distance grew by more than ``threshold``
    threshold: float

    @property
    def change(self) -> float:
        """``after - before``: positive when the restored face is less like the reference."""
        return self.after - self.before

    def to_dict(self) -> dict[str, float | bool]:
        return {**asdict(self), "change": self.change}


def judge(before: float, after: float, threshold: float = MOVED_AWAY_THRESHOLD) -> IdentityCheck:
    """The verdict on two distances to the reference: moved away when ``after - before > threshold``."""
    if not (np.isfinite(before) and np.isfinite(after)) or before < 0 or after < 0:
        raise ValueError(f"distances must be finite and non-negative, got {before} and {after}")
    if not threshold >= 0:
        raise ValueError(f"the threshold must be non-negative, got {threshold}")
    return IdentityCheck(float(before), float(after), after - before > threshold, float(threshold))


def _uint8(crop: np.ndarray) -> np.ndarray:
    return crop if crop.dtype == np.uint8 else from_float01(to_float01(crop), np.uint8)


def crop_embedding(embedder: IdentityEmbedder, crop: np.ndarray) -> np.ndarray:
    """The embedding of a square FFHQ-aligned face crop: uint8, uint16 or float32 in [0, 1], any size."""
    return embedder.embed_aligned(_uint8(crop))


def face_embedding(embedder: IdentityEmbedder, photo: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The embedding of the face at ``landmarks`` (5 x 2, our order) in a uint8/uint16/float photo."""
    crop, _ = align_face(photo, landmarks, CHECK_SIZE)
    return crop_embedding(embedder, crop)


def _reference_embedding(embedder: IdentityEmbedder, reference: np.ndarray) -> np.ndarray:
    # A 1-d array is an embedding already (the library keeps one per face); otherwise an aligned crop.
    return np.asarray(reference) if np.ndim(reference) == 1 else crop_embedding(embedder, reference)


def check_face(
    embedder: IdentityEmbedder,
    original: np.ndarray,
    restored: np.ndarray,
    landmarks: np.ndarray,
    reference: np.ndarray,
    threshold: float = MOVED_AWAY_THRESHOLD,
) -> IdentityCheck:
    """The check of one face of a photo: ``original`` and ``restored`` photos (same size; uint8, uint16 or float),
    the face's landmarks in them, and the person's ``reference``, an aligned face crop or its embedding."""
    if original.shape != restored.shape:
        raise ValueError(f"the restored photo {restored.shape} and the original {original.shape} differ in size")
    ref = _reference_embedding(embedder, reference)
    before = identity_distance(face_embedding(embedder, original, landmarks), ref)
    after = identity_distance(face_embedding(embedder, restored, landmarks), ref)
    return judge(before, after, threshold)


def check_crops(
    embedder: IdentityEmbedder,
    original: np.ndarray,
    restored: np.ndarray,
    reference: np.ndarray,
    threshold: float = MOVED_AWAY_THRESHOLD,
) -> IdentityCheck:
    """The check on aligned crops (any square sizes): the original face, the restored face, and the person's
    reference as an aligned crop or its embedding. :func:`check_face` is preferred where the photos are at hand:
    it sees the pasted result, which for faces larger than the model is not the model's output."""
    ref = _reference_embedding(embedder, reference)
    before = identity_distance(crop_embedding(embedder, original), ref)
    after = identity_distance(crop_embedding(embedder, restored), ref)
    return judge(before, after, threshold)


def explain(check: IdentityCheck, person: str, *, uses_reference: bool, fidelity: float | None = None) -> str:
    """What the check found, in plain words for a family user, with what to try when the face moved away.

    ``uses_reference`` and ``fidelity`` describe the restoration that was checked: whether its model used the
    person's reference (ENTED), and CodeFormer's fidelity weight (None for other models)."""
    figures = f"likeness distance {check.before:.2f} before, {check.after:.2f} after; lower is more alike"
    if not check.moved_away:
        return f"The restored face still looks like {person}'s reference photo ({figures})."
    said = f"The restored face looks less like {person} than the original did ({figures})."
    if fidelity is not None and fidelity < 1.0:
        tip = (f"Try a higher fidelity setting (now {fidelity:.2f}; higher keeps more of the original face), "
               f"or restore this face with ENTED and {person}'s reference.")
    elif not uses_reference:
        tip = f"Try restoring this face with ENTED and {person}'s reference."
    else:
        tip = f"Try another reference photo of {person}, or keep the original for this face."
    return f"{said} {tip}"


__all__ = [
    "CHECK_SIZE",
    "MOVED_AWAY_THRESHOLD",
    "IdentityCheck",
    "check_crops",
    "check_face",
    "crop_embedding",
    "explain",
    "face_embedding",
    "judge",
]
