"""Which face of a photo one reference photo belongs to, when a photo and a reference are given without saying
which face is the person's (``ented restore --reference``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.detect import Face


class Embedder(Protocol):
    """core.identity.IdentityEmbedder, as the matcher uses it."""

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray: ...

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray: ...


def offline_embedder() -> Embedder | None:
    """The offline dlib identity embedder, or None when it is not installed."""
    try:
        from ented_desktop.core.identity import IdentityEmbedder

        return IdentityEmbedder()
    except (ImportError, UserError):
        return None


class ReferenceMatcher:
    """Which face of a photo a reference belongs to, among the faces large enough to be restored (all faces when
    none is): the only one; else the one closest in identity to the reference when an identity embedder is
    installed (made on first need, once); else the first, the largest."""

    def __init__(self, make_embedder: Callable[[], Embedder | None] = offline_embedder) -> None:
        self._make_embedder = make_embedder
        self._embedder: Embedder | None = None
        self._tried = False

    def _get(self) -> Embedder | None:
        if not self._tried:
            self._tried = True
            self._embedder = self._make_embedder()
        return self._embedder

    def face_for(self, pixels: np.ndarray, faces: Sequence[Face], reference: np.ndarray) -> int:
        """The index in ``faces`` of the face ``reference`` (an aligned crop) belongs to."""
        from ented_desktop.core.pipeline import MIN_FACE

        # A face too small to restore is left as it is: given the reference, it would leave it unused.
        candidates = [i for i, f in enumerate(faces) if f.size >= MIN_FACE] or list(range(len(faces)))
        embedder = self._get() if len(candidates) > 1 else None
        if embedder is None:
            return candidates[0]
        from ented_desktop.core.identity import identity_distance
        from ented_desktop.core.imageio import to_uint8

        image = to_uint8(pixels)
        ref_emb = embedder.embed_aligned(to_uint8(reference))
        dists = [identity_distance(embedder.embed(image, faces[i].landmarks), ref_emb) for i in candidates]
        return candidates[int(np.argmin(dists))]
