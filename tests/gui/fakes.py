"""Small stand-ins for the heavy core objects (detector + embedder, restorer) and photo makers for tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from ented_desktop.core.face.detect import Face


def make_photo(path: Path, shade: int, size: tuple[int, int] = (160, 120),
               exif_date: str | None = None) -> Path:
    """A photo with a face-like square of ``shade`` in the middle (the fake finder "recognises" it)."""
    w, h = size
    rgb = np.full((h, w, 3), 90, np.uint8)
    rgb[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = shade
    image = Image.fromarray(rgb)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        exif = Image.Exif()
        exif[0x0132] = exif_date or "2001:02:03 04:05:06"
        image.save(path, quality=95, exif=exif.tobytes())
    else:
        image.save(path)
    return path


def central_face(rgb: np.ndarray) -> Face:
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = w / 3, h / 4, 2 * w / 3, 3 * h / 4
    cx, fw, fh = (x0 + x1) / 2, x1 - x0, y1 - y0
    landmarks = np.array([[x0 + 0.3 * fw, y0 + 0.4 * fh], [x0 + 0.7 * fw, y0 + 0.4 * fh],
                          [cx, y0 + 0.55 * fh], [x0 + 0.35 * fw, y0 + 0.75 * fh],
                          [x0 + 0.65 * fw, y0 + 0.75 * fh]], np.float32)
    return Face((x0, y0, x1, y1), landmarks, 0.99)


class FakeFaceFinder:
    """One face per photo, in the middle; its embedding encodes the face's brightness, so photos made with
    the same shade look like one person."""

    name = "fake"

    def find(self, rgb):
        face = central_face(rgb)
        x0, y0, x1, y1 = (int(v) for v in face.box)
        shade = float(rgb[y0:y1, x0:x1].mean()) / 255.0
        embedding = np.zeros(128, np.float32)
        embedding[0] = shade * 10
        return [face], [embedding]


@dataclass
class FakeFaceReport:
    index: int
    box: tuple
    restored: bool
    reference: str
    reason: str
    detail_only: bool = False


@dataclass
class FakeResult:
    pixels: np.ndarray
    faces: list


@dataclass
class FakeRestorer:
    """Brightens each face box; with ``seconds`` it works that long per photo in small slices, checking
    ``aborted`` like the real pipeline does between faces."""

    model: object = None
    seconds: float = 0.0
    calls: list = field(default_factory=list)
    resolution: int = 64
    detector: object = None

    @property
    def engine(self):
        return SimpleNamespace(model_name=Path(self.model).stem if self.model else "fake-model")

    def restore(self, pixels, *, faces=None, references=None, only=None, canvas=None, grayscale=False,
                progress=None, aborted=None):
        used = [r is not None for r in references or []]
        self.calls.append({"faces": len(faces or []), "references": used, "only": only})
        out = (pixels if canvas is None else canvas).copy()
        slices = max(1, int(self.seconds / 0.01))
        for _ in range(slices):
            if aborted is not None and aborted():
                break
            threading.Event().wait(self.seconds / slices)
        reports = []
        for i, face in enumerate(faces or []):
            if only is not None and i not in only:
                continue
            x0, y0, x1, y1 = (int(v) for v in face.box)
            out[y0:y1, x0:x1] = np.clip(out[y0:y1, x0:x1].astype(int) + 60, 0, 255)
            has_ref = references is not None and references[i] is not None
            reports.append(FakeFaceReport(i, face.box, True, "person" if has_ref else "self",
                                          "" if has_ref else "nobody is named for this face"))
        return FakeResult(out, reports)


class FakeLoader:
    """Stands in for core.pipeline.load_restorer: records which models were asked for."""

    def __init__(self, seconds: float = 0.0, error: Exception | None = None) -> None:
        self.seconds, self.error, self.loaded = seconds, error, []

    def __call__(self, model=None, *, engine="torch", device="auto", model_dir=None):
        if self.error is not None:
            raise self.error
        self.loaded.append(model)
        return FakeRestorer(model, self.seconds)


def fake_prepare_reference(image, detector, resolution):
    return np.zeros((resolution, resolution, 3), np.uint8)
