"""Read a photo into an upright RGB array with its metadata (writing is :mod:`ented_desktop.core.image_write`).

Pillow decodes and encodes because it keeps EXIF and ICC profiles, which OpenCV drops. Pillow has no
16-bit colour mode, so 16-bit RGB(A) sources are decoded by OpenCV (metadata still comes from Pillow)
and 16-bit RGB PNGs are encoded by OpenCV, with the ICC profile and EXIF added as PNG chunks here.

EXIF is handled as the payload of a JPEG APP1 segment: ``b"Exif\\0\\0"`` followed by a TIFF structure.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from ented_desktop.core.errors import ImageReadError

_log = logging.getLogger(__name__)

# 150 megapixels covers an 8 x 10 inch print scanned at 1200 dpi (115 MP) and 100 MP camera files, while a
# decoded 16-bit RGB copy (900 MB) and its float32 working copy (1.8 GB) still fit a 16 GB desktop. It also
# stays below Pillow's own decompression-bomb error (2 x Image.MAX_IMAGE_PIXELS, about 179 MP), so the
# user sees our message rather than Pillow's.
MAX_PIXELS: int = 150_000_000

# .jpe and .jfif are JPEG too (Windows saves photos from the web as .jfif).
_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
_TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
SUPPORTED_SUFFIXES: frozenset[str] = _JPEG_SUFFIXES | _TIFF_SUFFIXES | {".png", ".webp", ".bmp"}

# Restricting Pillow's plugins keeps it away from formats that shell out (EPS runs Ghostscript). Camera
# JPEGs with a multi-picture index open through the JPEG plugin as format "MPO", reported here as "JPEG".
_READ_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "PA", "LA", "La"})

_EXIF_PREFIX = b"Exif\x00\x00"
_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_INTEROP_IFD = 0xA005
# IFD0 tags of a TIFF that describe the photo rather than how its pixels are stored: description, make,
# model, resolution, software, date, artist, copyright.
_TIFF_DESCRIPTIVE_TAGS = (0x010E, 0x010F, 0x0110, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x8298)
_JPEG_MAX_EXIF = 65533  # an APP1 segment holds at most 65535 bytes, 2 of them its length

# What Pillow and OpenCV raise for a file that is truncated or whose data is damaged.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error, cv2.error)


@dataclass(eq=False)
class Photo:
    """A decoded photo, upright, with the metadata to carry to its outputs.

    ``pixels`` is H x W x 3 RGB, ``uint8`` or ``uint16`` (16-bit sources stay 16-bit). Grayscale sources
    are expanded to three equal channels and flagged by ``grayscale``. Transparent sources are composited
    on white (a restored print has no transparency, and white is the paper). ``exif`` has its
    Orientation reset to 1 because the orientation is already applied to ``pixels``.
    """

    pixels: np.ndarray
    grayscale: bool
    format: str
    exif: bytes | None
    icc_profile: bytes | None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


# --- pixel value conversions ------------------------------------------------------------------------


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as uint8: uint8 unchanged, uint16 rounded to nearest (65535 -> 255), float [0, 1] scaled."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        # round(x / 257); no ties are possible since 257 is odd. The sum fits uint32.
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(pixels.dtype, np.floating):
        return from_float01(pixels, np.uint8)
    raise TypeError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")


def to_float01(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as float32 in [0, 1]: uint8 / 255, uint16 / 65535, floats clipped."""
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    if np.issubdtype(pixels.dtype, np.floating):
        return np.clip(pixels, 0.0, 1.0).astype(np.float32)
    raise TypeError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")


def from_float01(x: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Float values in [0, 1] (clipped) to ``uint8`` or ``uint16``, rounding half up (127.5 -> 128)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.uint16):
        raise ValueError(f"dtype must be uint8 or uint16, got {dtype}")
    scaled = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    scaled *= np.iinfo(dtype).max
    scaled += 0.5
    return scaled.astype(dtype)  # truncation of non-negative values is floor


def _luma(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (0.299 R + 0.587 G + 0.114 B, rounded) of H x W x 3 uint8/uint16, same dtype, H x W.

    Integer weights make three equal channels come back exactly.
    """
    c = pixels.astype(np.uint32)
    return ((c[..., 0] * 299 + c[..., 1] * 587 + c[..., 2] * 114 + 500) // 1000).astype(pixels.dtype)


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """round(rgb * a + top * (1 - a)) with a = alpha / top, in the dtype of ``rgb``."""
    top = int(np.iinfo(rgb.dtype).max)
    a = alpha[..., None].astype(np.uint32)
    # At most top * top + top // 2 < 2**32 for uint16, so uint32 does not overflow.
    out = (rgb.astype(np.uint32) * a + top * (top - a) + top // 2) // top
    return out.astype(rgb.dtype)


# --- EXIF ---------------------------------------------------------------------------------------------


def _orientation_value_offset(exif: bytes) -> int | None:
    """Byte offset in ``exif`` (with prefix) of the IFD0 Orientation value, or None when there is no tag.

    Raises ValueError or struct.error when the TIFF structure is malformed.
    """
    base = len(_EXIF_PREFIX)
    order = {b"II": "<", b"MM": ">"}.get(exif[base : base + 2])
    if order is None:
        raise ValueError("not a TIFF byte order mark")
    magic, ifd0 = struct.unpack_from(order + "HI", exif, base + 2)
    if magic != 42:
        raise ValueError("not a TIFF structure")
    (count,) = struct.unpack_from(order + "H", exif, base + ifd0)
    for i in range(count):
        entry = base + ifd0 + 2 + 12 * i
        tag, kind, n = struct.unpack_from(order + "HHI", exif, entry)
        if tag == _ORIENTATION:
            if kind != 3 or n != 1:  # one SHORT, stored in the first two bytes of the value field
                raise ValueError("malformed Orientation tag")
            return entry + 8
    return None


def _orientation_and_upright_exif(exif: bytes) -> tuple[int, bytes]:
    """The EXIF orientation (1..8, 1 when absent or invalid) and the same bytes with Orientation set to 1.

    The bytes are patched in place rather than re-serialised, so maker notes and their offsets survive.
    """
    if not exif.startswith(_EXIF_PREFIX):
        exif = _EXIF_PREFIX + exif  # WebP and some PNG writers store the bare TIFF structure
    offset = _orientation_value_offset(exif)
    if offset is None:
        return 1, exif
    order = "<" if exif[len(_EXIF_PREFIX)] == ord("I") else ">"
    (orientation,) = struct.unpack_from(order + "H", exif, offset)
    patched = bytearray(exif)
    struct.pack_into(order + "H", patched, offset, 1)
    return (orientation if 1 <= orientation <= 8 else 1), bytes(patched)


def _tiff_orientation_and_exif(im: Image.Image) -> tuple[int, bytes | None]:
    """A TIFF keeps EXIF in its own tags: take the orientation and rebuild EXIF from the descriptive tags."""
    tags = im.getexif()
    orientation = tags.get(_ORIENTATION, 1)
    out = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE_TAGS:
        if tag in tags:
            out[tag] = tags[tag]
    for ifd_tag in (_EXIF_IFD, _GPS_IFD):
        if ifd_tag in tags:
            # The interoperability pointer is an offset into the TIFF file, meaningless elsewhere.
            sub = {k: v for k, v in tags.get_ifd(ifd_tag).items() if k != _INTEROP_IFD}
            if sub:
                out[ifd_tag] = sub
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    if not len(out):
        return orientation, None
    out[_ORIENTATION] = 1
    return orientation, out.tobytes()


def orientation_and_exif(im: Image.Image) -> tuple[int, bytes | None]:
    """Orientation to apply and EXIF to carry; malformed EXIF is dropped rather than refusing the photo."""
    try:
        raw = im.info.get("exif")
        if raw:
            return _orientation_and_upright_exif(raw)
        if im.format == "TIFF":
            return _tiff_orientation_and_exif(im)
    except Exception as exc:  # Pillow raises many types for malformed metadata, which is optional
        _log.warning("Ignoring unreadable EXIF metadata: %s", exc)
    return 1, None


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for EXIF orientation 1..8 (row 0 / column 0 meaning per EXIF 2.3)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(pixels, k=-1)  # clockwise
    if orientation == 7:
        return pixels.transpose(1, 0, 2)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(pixels, k=1)  # counter-clockwise
    return pixels


# --- reading ------------------------------------------------------------------------------------------


def _read_error(path: Path, reason: str) -> ImageReadError:
    return ImageReadError(f'Cannot read the photo "{path}": {reason}.')


_SUPPORTED_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM")
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})


def _unidentified_reason(head: bytes) -> str:
    """Why Pillow could not identify a file, from its first 16 bytes."""
    if head.startswith(_SUPPORTED_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "the file is damaged"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIC and AVIF images are not supported, save it as JPEG first"
    return "it is not a JPEG, PNG, TIFF, WebP or BMP image"


def _stored_mode(im: Image.Image) -> str:
    """How the file stores its pixels, before ``load()`` (Pillow opens 16-bit gray+alpha as RGBA, for one)."""
    if not im.tile:
        return ""
    args = im.tile[0][3]
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if isinstance(rawmode, str) else ""


def _has_16bit_colour(im: Image.Image) -> bool:
    """True for 16-bit RGB, RGBA or gray+alpha, which Pillow would silently reduce to 8 bits."""
    return not im.mode.startswith("I") and ";16" in _stored_mode(im)


def _decode_16bit_colour(data: bytes) -> np.ndarray:
    """Decode 16-bit colour with OpenCV (which applies a TIFF's EXIF orientation, but not a PNG's)."""
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        raise ValueError("OpenCV could not decode the 16-bit image")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 3:
        return arr[..., ::-1]
    if arr.shape[2] == 4:
        return _composite_on_white(arr[..., 2::-1], arr[..., 3])
    raise ValueError(f"unexpected channel count {arr.shape[2]}")


def _cmyk_to_rgb(im: Image.Image) -> np.ndarray:
    """CMYK to sRGB through the embedded ICC profile when there is a usable one, else Pillow's formula."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            return np.array(ImageCms.profileToProfile(im, source, srgb, outputMode="RGB"))
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            _log.warning("Ignoring unusable CMYK ICC profile: %s", exc)
    return np.array(im.convert("RGB"))


def _pillow_pixels(im: Image.Image, path: Path) -> np.ndarray:
    """H x W x 3 uint8 or uint16 RGB from a loaded Pillow image of any mode Pillow reads."""
    mode = im.mode
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode.startswith("I"):
        gray = np.array(im)
        if gray.min() < 0 or gray.max() > 65535:
            raise _read_error(path, "it uses 32-bit samples, which are not supported")
        return np.repeat(gray.astype(np.uint16)[..., None], 3, axis=2)
    if mode == "F":
        raise _read_error(path, "it uses floating-point samples, which are not supported")
    if mode in ("LA", "La"):
        la = np.array(im.convert("LA"))
        gray = _composite_on_white(la[..., :1], la[..., 1])
        return np.repeat(gray, 3, axis=2)
    if mode in ("1", "L"):
        return np.repeat(np.array(im.convert("L"))[..., None], 3, axis=2)
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in im.info):
        rgba = np.array(im.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    try:
        return np.array(im.convert("RGB"))
    except ValueError:
        raise _read_error(path, f"its colour mode {mode} is not supported") from None


def read_photo(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> Photo:
    """Read a JPEG, PNG, TIFF, WebP or BMP photo, upright, with its EXIF and ICC profile.

    CMYK becomes RGB (through its ICC profile when present; the output then carries no profile, i.e. sRGB),
    palettes are expanded, alpha is composited on white, 16-bit stays 16-bit. Other colour spaces are not
    converted: their ICC profile is returned to be embedded in the output. The size is checked against
    ``max_pixels`` from the header, before any pixel is decoded. Every problem raises ImageReadError.
    Limitation: in a 16-bit colour PNG only EXIF placed before the pixel data is found (Pillow reads
    later chunks only while decoding, and OpenCV decodes those files).
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _read_error(path, "the file does not exist") from None
    except PermissionError:
        raise _read_error(path, "permission denied") from None
    except OSError as exc:
        raise _read_error(path, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise _read_error(path, "it is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise _read_error(path, "it is not a regular file")
    if st.st_size == 0:
        raise _read_error(path, "the file is empty (0 bytes)")
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except PermissionError:
        raise _read_error(path, "permission denied") from None
    except OSError as exc:
        raise _read_error(path, exc.strerror or str(exc)) from None
    # max_pixels is the limit: Pillow's lower warning threshold (checked when a file is opened, and again
    # when a TIFF is decoded) would only print noise.
    with f, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return _read_open_file(f, path, max_pixels)


def _read_open_file(f: io.BufferedReader, path: Path, max_pixels: int) -> Photo:
    pillow_limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else max_pixels
    too_large = f"it is larger than the {min(max_pixels, pillow_limit) / 1e6:g}-megapixel limit"
    try:
        im = Image.open(f, formats=_READ_FORMATS)
    except Image.DecompressionBombError:
        raise _read_error(path, too_large) from None
    except UnidentifiedImageError:
        f.seek(0)
        raise _read_error(path, _unidentified_reason(f.read(16))) from None
    except _DECODE_ERRORS:
        raise _read_error(path, "the file is damaged") from None
    with im:
        width, height = im.size
        grayscale = im.mode in _GRAY_MODES or _stored_mode(im).startswith("LA;16")
        if width * height > max_pixels:
            raise _read_error(path, f"at {width} x {height} pixels {too_large}")
        upright = False
        try:
            if _has_16bit_colour(im):
                f.seek(0)
                pixels = _decode_16bit_colour(f.read())
                upright = im.format == "TIFF"  # OpenCV 5 turns a TIFF upright itself, whatever the flags
            else:
                im.load()
                pixels = _pillow_pixels(im, path)
        except MemoryError:
            raise _read_error(path, "there is not enough memory to open it") from None
        except _DECODE_ERRORS:
            raise _read_error(path, "the file is truncated or damaged") from None
        if pixels.shape[:2] != (height, width):
            raise _read_error(path, "the file is damaged")
        orientation, exif = orientation_and_exif(im)  # after load(): PNG may keep EXIF after the pixels
        icc = None if im.mode == "CMYK" else im.info.get("icc_profile") or None
        return Photo(
            pixels=np.ascontiguousarray(pixels if upright else apply_orientation(pixels, orientation)),
            grayscale=grayscale,
            format="JPEG" if im.format == "MPO" else str(im.format),
            exif=exif,
            icc_profile=icc,
        )


def read_image_rgb8(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An upright H x W x 3 uint8 RGB array (for references and thumbnails); see :func:`read_photo`."""
    return to_uint8(read_photo(path, max_pixels).pixels)


# --- naming -------------------------------------------------------------------------------------------


def output_path_for(
    input_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], suffix_for_png: str = ".png"
) -> Path:
    """Where the result for ``input_path`` goes: same stem; JPEGs keep their suffix, all else gets PNG.

    Lossless sources stay lossless; a JPEG source is already lossy, so a JPEG output loses little more.
    """
    source = Path(input_path)
    suffix = source.suffix if source.suffix.lower() in _JPEG_SUFFIXES else suffix_for_png
    return Path(out_dir) / (source.stem + suffix)


def unique_path(path: Path) -> Path:
    """``path`` if nothing is there, else the first free ``"stem (2).ext"``, ``"stem (3).ext"``, ..."""
    path = Path(path)
    candidate, n = path, 2
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate
