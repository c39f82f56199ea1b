"""Face crops for display, cut from the library's thumbnails or a photo already loaded (callable from any
thread: QImage only)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QImageReader

from ented_desktop.core.library import Library

DISPLAY_SOURCE_SIZE = 1024  # thumbnail size the crops are cut from: sharp enough for 128 px crops
MARGIN = 0.25  # share of the box added on every side, so a crop shows the whole head


def read_qimage(path: Path) -> QImage:
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise OSError(f'"{path}" could not be read ({reader.errorString()}).')
    return image


def crop_box(box: tuple[float, float, float, float], scale: float, width: int, height: int) -> QRect:
    """The square around ``box`` (photo pixels) grown by :data:`MARGIN`, in an image ``scale`` times the
    photo's size, clipped to that image."""
    x0, y0, x1, y1 = (v * scale for v in box)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    right, bottom = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
    return QRect(left, top, max(1, right - left), max(1, bottom - top))


def face_crop(library: Library, face_id: int, size: int) -> QImage:
    """A ``size`` x ``size`` (at most) picture of one face."""
    face = library.faces.get(face_id)
    photo = library.photos.get(face.photo_id)
    source = read_qimage(library.photos.thumbnail_path(photo.id, DISPLAY_SOURCE_SIZE))
    return cut_face(source, face.box, source.width() / max(1, photo.width), size)


def cut_face(image: QImage, box: tuple[float, float, float, float], scale: float, size: int) -> QImage:
    """A ``size`` x ``size`` (at most) picture of the face at ``box`` (photo pixels), cut from ``image``,
    a picture of the whole photo ``scale`` times its size."""
    rect = crop_box(box, scale, image.width(), image.height())
    return fit(image.copy(rect), size)


def image_file_thumbnail(path: Path, size: int) -> QImage:
    """A dropped reference image, scaled down to ``size``."""
    return fit(read_qimage(path), size)


def fit(image: QImage, size: int) -> QImage:
    """``image`` scaled (smoothly, keeping its aspect) to fit ``size`` x ``size``."""
    mode = Qt.AspectRatioMode.KeepAspectRatio
    return image.scaled(size, size, mode, Qt.TransformationMode.SmoothTransformation)
