"""Thumbnails on disk, made on first request and kept under the library's data directory.

A thumbnail is keyed by what it shows (a photo's content hash, a version's id), so a moved photo keeps
its thumbnail and a changed one gets a new one. JPEGs are decoded at a reduced scale (Pillow's draft
mode lets libjpeg skip most of the work), so making one costs a fraction of a full decode.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ented_desktop.core.atomic import atomic_path
from ented_desktop.core.errors import ImageReadError
from ented_desktop.core.imageio import MAX_PIXELS, apply_orientation, orientation_and_exif, to_uint8
from ented_desktop.core.library.importer import READ_FORMATS

THUMBNAIL_SIZE_RANGE = (16, 2048)
JPEG_QUALITY = 85
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)


def _flatten(im: Image.Image) -> Image.Image:
    """An RGB image of any Pillow mode: transparency on white, 16-bit gray at value / 257 (not stretched)."""
    if im.mode.startswith("I"):
        gray = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
        return Image.fromarray(to_uint8(gray)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def make_thumbnail(source: str | os.PathLike[str], dest: Path, size: int) -> Path:
    """Write an upright JPEG of ``source`` fitting in ``size x size`` to ``dest``, atomically.

    ``source`` is opened read-only. Raises ImageReadError when it cannot be decoded.
    """
    if not THUMBNAIL_SIZE_RANGE[0] <= size <= THUMBNAIL_SIZE_RANGE[1]:
        raise ValueError(f"thumbnail size must be in {THUMBNAIL_SIZE_RANGE}, got {size}")
    try:
        with open(source, "rb") as f:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(f, formats=READ_FORMATS)
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise ImageReadError(f'Cannot make a thumbnail of "{source}": the photo is too large.')
            im.draft(None, (size, size))
            im.load()
            # Read after loading, as read_photo does: Pillow turns a TIFF upright while loading it.
            orientation, _ = orientation_and_exif(im)
            if im.mode.startswith("I") or im.mode == "P":
                im = _flatten(im)  # resampling needs 8-bit channels
            im.thumbnail((size, size), reducing_gap=2.0)
            im = _flatten(im)
    except (FileNotFoundError, NotADirectoryError):
        raise ImageReadError(f'Cannot make a thumbnail of "{source}": the file does not exist.') from None
    except PermissionError:
        raise ImageReadError(f'Cannot make a thumbnail of "{source}": permission denied.') from None
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageReadError(f'Cannot make a thumbnail of "{source}": it is not a readable photo.') from None
    except _DECODE_ERRORS:
        raise ImageReadError(
            f'Cannot make a thumbnail of "{source}": the file is truncated or damaged.'
        ) from None
    im = Image.fromarray(np.ascontiguousarray(apply_orientation(np.asarray(im), orientation)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        im.save(tmp, "JPEG", quality=JPEG_QUALITY)
    return dest


class ThumbnailCache:
    """Thumbnails under ``folder/<size>/<key[:2]>/<key>.jpg``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, key: str, size: int) -> Path:
        return self.folder / str(int(size)) / key[:2] / f"{key}.jpg"

    def cached(self, key: str, size: int) -> Path | None:
        """The thumbnail if it was made (an empty file, left by a power cut, does not count)."""
        path = self.path_for(key, size)
        try:
            return path if path.stat().st_size > 0 else None
        except OSError:
            return None

    def get(self, source: str | os.PathLike[str], key: str, size: int) -> Path:
        """The thumbnail of ``source`` under ``key``, made now if it is not there yet."""
        return self.cached(key, size) or make_thumbnail(source, self.path_for(key, size), size)
