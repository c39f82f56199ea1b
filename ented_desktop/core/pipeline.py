"""A photo in, a restored photo out: detect, align, restore with a reference, paste back.

Rules the user can rely on:
- Pixels outside faces are unchanged, bit for bit (:func:`paste_face` only touches each face's warped crop).
- Faces whose aligned crop would be smaller than ``MIN_FACE`` photo pixels are left as they are: a face that
  small holds too little to restore, and the model would invent it. The report says so.
- No reference: the degraded face is its own reference. The network was trained with that case (a share of the
  training samples use the degraded input as reference), so it restores from the input alone; the report says
  ``reference: "self"``.
- Faces larger than the model's resolution R are never made worse: the restoration is up-sampled to the face's
  size and only the detail the original lacks is added (:func:`detail_blend`); the original's low frequencies,
  and any detail it already has, are kept.
- Grayscale photos stay grayscale: restored faces are converted to luma before they are pasted.
- Faces close together never paint over each other: each paste is limited to the pixels nearer to its face
  than to any other detected face (:func:`territory_mask`), so a neighbour keeps its own restoration, and a face
  left alone stays as it was.
- Third-party face models (GFPGAN, CodeFormer, RestoreFormer, RestoreFormer++) restore from the face alone,
  aligned at the same FFHQ template and size as upstream (512 px); the report says ``reference: "unused"``
  and, when the person had one, that their reference was not used.
- A photo whose faces need different models is restored in passes, one per model, each given all the photo's
  faces but restoring only its own (``only``), cropping from the original photo and pasting onto the previous
  pass's result (``canvas``): the pixels are the same as if one call had restored each face with its model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .engines import RestorationEngine
from .errors import UserError
from .face.align import align_face
from .face.blend import detail_blend, feather_mask, paste_face, territory_mask
from .face.detect import Face, FaceDetector
from .imageio import to_float01

MIN_FACE = 32           # aligned-crop side in photo pixels below which a face is left alone
BATCH = 4               # faces per engine call


class Cancelled(Exception):
    """Raised between faces when the caller's ``aborted()`` returns True."""


@dataclass
class FaceReport:
    index: int
    box: tuple[float, float, float, float]
    size: float                 # aligned-crop side in photo pixels (Face.size)
    restored: bool
    reference: str              # "person" (a reference was given), "self" (fallback), "unused" (the model takes
                                # none) or "none" (not restored)
    reason: str
    detail_only: bool = False   # larger than the model: only the fine detail the photo lacked was added

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PhotoResult:
    pixels: np.ndarray          # same shape and dtype as the input
    faces: list[FaceReport]

    @property
    def restored_count(self) -> int:
        return sum(f.restored for f in self.faces)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image: area averaging when shrinking (no aliasing), bicubic when enlarging."""
    if image.shape[0] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)


def to_gray_rgb(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma replicated into three channels (float32 in, float32 out)."""
    y = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(y[..., None], 3, axis=2)


def reference_crop(reference: np.ndarray, resolution: int) -> np.ndarray:
    """An aligned reference crop (uint8/uint16/float, any square size) -> R x R float32 in [0, 1]."""
    if reference.ndim != 3 or reference.shape[0] != reference.shape[1] or reference.shape[2] != 3:
        raise UserError("A reference must be an aligned square RGB face crop.")
    ref = reference if reference.dtype == np.float32 else to_float01(reference)
    return resize_square(ref, resolution)


def prepare_reference(image: np.ndarray, detector: FaceDetector, resolution: int = 512) -> np.ndarray:
    """The largest face of a reference photo, FFHQ-aligned at ``resolution`` (same dtype as ``image``)."""
    faces = detector.detect(np.ascontiguousarray(image if image.dtype == np.uint8 else _as_uint8(image)))
    if not faces:
        raise UserError("No face was found in the reference photo.")
    crop, _ = align_face(image, faces[0].landmarks, resolution)
    return crop


def _as_uint8(image: np.ndarray) -> np.ndarray:
    return (to_float01(image) * 255.0 + 0.5).astype(np.uint8)


class Restorer:
    """Restores the faces of photos with one engine and one face detector."""

    def __init__(self, engine: RestorationEngine, detector: FaceDetector | None = None) -> None:
        self.engine = engine
        self.detector = detector
        self.resolution = engine.resolution

    def detect(self, pixels: np.ndarray) -> list[Face]:
        if self.detector is None:
            raise ValueError("this Restorer has no face detector; pass faces explicitly")
        return self.detector.detect(pixels if pixels.dtype == np.uint8 else _as_uint8(pixels))

    def restore(
        self,
        pixels: np.ndarray,
        *,
        faces: Sequence[Face] | None = None,
        references: Sequence[np.ndarray | None] | None = None,
        only: Collection[int] | None = None,
        canvas: np.ndarray | None = None,
        grayscale: bool = False,
        progress: Callable[[int, int], None] | None = None,
        aborted: Callable[[], bool] | None = None,
    ) -> PhotoResult:
        """Restore the faces of ``pixels`` (H x W x 3 uint8/uint16). ``references`` has one aligned crop or
        None per face, in the order of ``faces`` (detected here, largest first, when not given).

        ``only`` (indices into ``faces``) restores those faces alone and reports only them; the others are
        left as they are but still bound the restored faces' territories. Faces are cropped from ``pixels``
        and pasted onto ``canvas`` (of the same shape and dtype; ``pixels`` when not given)."""
        faces = list(self.detect(pixels) if faces is None else faces)
        references = list(references) if references is not None else [None] * len(faces)
        if len(references) != len(faces):
            raise ValueError(f"{len(references)} references for {len(faces)} faces")
        if only is not None and not set(only) <= set(range(len(faces))):
            raise ValueError(f"faces {sorted(only)} to restore of {len(faces)} faces")
        if canvas is not None and (canvas.shape != pixels.shape or canvas.dtype != pixels.dtype):
            raise ValueError(f"a {canvas.dtype} {canvas.shape} canvas for a {pixels.dtype} {pixels.shape} photo")
        res = self.resolution
        uses_reference = getattr(self.engine, "uses_reference", True)
        reports: list[FaceReport] = []
        todo: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # face index, lq, ref, matrix
        for i, (face, ref) in enumerate(zip(faces, references, strict=True)):
            if only is not None and i not in only:
                continue
            if face.size < MIN_FACE:
                reports.append(FaceReport(i, face.box, face.size, False, "none",
                                          f"too small to restore ({face.size:.0f} px; needs {MIN_FACE})"))
                continue
            lq_crop, matrix = align_face(pixels, face.landmarks, res)
            lq = to_float01(lq_crop)
            if grayscale:
                lq = to_gray_rgb(lq)
            if uses_reference:
                ref_img = lq if ref is None else reference_crop(ref, res)
                if grayscale and ref is not None:
                    ref_img = to_gray_rgb(ref_img)
                kind = "self" if ref is None else "person"
                reason = "restored with the person's reference" if ref is not None else (
                    "restored without a reference (the face served as its own reference)")
            else:
                ref_img, kind = lq, "unused"
                reason = f"restored with {self.engine.model_name}, which restores from the face alone" + (
                    "; the person's reference was not used" if ref is not None else "")
            if face.size > res:  # so a user who sees little change knows why
                reason += (f"; the face is larger than the model's {res} px, so only fine detail the photo lacks "
                           "was added and its own detail (grain, dust, texture) was kept")
            reports.append(FaceReport(i, face.box, face.size, True, kind, reason, detail_only=face.size > res))
            todo.append((i, lq, ref_img, matrix))

        canvas = pixels if canvas is None else canvas
        out = canvas
        done = 0
        centers = np.array([face.landmarks.mean(axis=0) for face in faces], np.float64).reshape(-1, 2)
        scales = np.array([face.size for face in faces], np.float64)
        for start in range(0, len(todo), BATCH):
            if aborted is not None and aborted():
                raise Cancelled()
            chunk = todo[start : start + BATCH]
            restored = self.engine.restore(np.stack([c[1] for c in chunk]), np.stack([c[2] for c in chunk]))
            for (i, _, _, matrix), face_out in zip(chunk, restored, strict=True):
                if grayscale:
                    face_out = to_gray_rgb(face_out)
                out = self._paste(out, pixels, faces[i], face_out, matrix,
                                  lambda n, m, i=i: feather_mask(n) * territory_mask(n, m, centers, scales, i))
                done += 1
                if progress is not None:
                    progress(done, len(todo))
        return PhotoResult(out.copy() if out is canvas else out, reports)

    def _paste(
        self,
        canvas: np.ndarray,
        original: np.ndarray,
        face: Face,
        restored: np.ndarray,
        matrix: np.ndarray,
        mask: Callable[[int, np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Paste ``face``; ``mask(n, m)`` is its paste weight for an ``n x n`` crop aligned by ``m`` (feathered and
        kept to its territory; the faces' centres and sizes are computed once per photo, not once per paste)."""
        size = int(round(face.size))
        if size <= self.resolution:
            return paste_face(canvas, restored, matrix, mask(self.resolution, matrix))
        # Larger than the model: add only the detail the original lacks, at the face's own size.
        big_orig, big_matrix = align_face(original, face.landmarks, size)
        big = detail_blend(to_float01(big_orig), resize_square(restored, size), sigma=size / self.resolution)
        return paste_face(canvas, big, big_matrix, mask(size, big_matrix))

    def restore_aligned(self, crop: np.ndarray, reference: np.ndarray | None, grayscale: bool = False) -> np.ndarray:
        """Restore an already aligned face crop (FFHQ template, any square size): the whole image is the face.

        Returns the restored crop at its own size and dtype."""
        if crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
            raise UserError(f"An aligned face crop must be square; this one is {crop.shape[1]}x{crop.shape[0]}.")
        size, res = crop.shape[0], self.resolution
        original = to_float01(crop)
        lq = resize_square(original, res)
        if grayscale:
            lq = to_gray_rgb(lq)
        ref = lq if reference is None else reference_crop(reference, res)
        if grayscale and reference is not None:
            ref = to_gray_rgb(ref)
        out = self.engine.restore(lq[None], ref[None])[0]
        if grayscale:
            out = to_gray_rgb(out)
        out = detail_blend(original, resize_square(out, size), sigma=size / res) if size > res else (
            resize_square(out, size))
        scale = 65535.0 if crop.dtype == np.uint16 else 255.0
        return (np.clip(out, 0, 1) * scale + 0.5).astype(crop.dtype)


def load_restorer(
    model: str | Path | None = None,
    engine: str = "torch",
    device: str = "auto",
    model_dir: str | Path | None = None,
    detector: str = "auto",
    *,
    fidelity: float | None = None,
) -> Restorer:
    """A Restorer with the named (or default) trained model; raises ModelError when none is installed.
    ``fidelity``: CodeFormer's w (see :func:`ented_desktop.core.engines.load_engine`)."""
    from .engines import load_engine
    from .face.detect import create_detector

    eng = load_engine(model, engine, device, model_dir, fidelity=fidelity)
    det = create_detector(detector, Path(model_dir) if model_dir else None, device="cpu")
    return Restorer(eng, det)


__all__ = ["Cancelled", "FaceReport", "PhotoResult", "Restorer", "load_restorer", "prepare_reference"]
