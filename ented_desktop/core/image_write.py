"""Write a photo atomically as PNG, JPEG or TIFF, keeping its EXIF and ICC profile (the reverse of
:mod:`ented_desktop.core.imageio`, whose EXIF layout it shares).

Pillow encodes because it keeps EXIF and ICC profiles, which OpenCV drops. Pillow has no 16-bit colour mode, so
16-bit RGB PNGs are encoded by OpenCV with the ICC profile and EXIF added as PNG chunks here, and TIFFs are laid
out here.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import logging
import os
import secrets
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ented_desktop.core.errors import ImageWriteError
from ented_desktop.core.imageio import (  # the EXIF layout that reading and writing share
    _EXIF_IFD,
    _EXIF_PREFIX,
    _GPS_IFD,
    _INTEROP_IFD,
    _JPEG_MAX_EXIF,
    _JPEG_SUFFIXES,
    _TIFF_DESCRIPTIVE_TAGS,
    _TIFF_SUFFIXES,
    _luma,
    to_uint8,
)

_log = logging.getLogger(__name__)


def _icc_fits(icc: bytes, grayscale: bool) -> bool:
    """An ICC profile's data colour space (header bytes 16-19) must match the channels written."""
    return icc[16:20] == (b"GRAY" if grayscale else b"RGB ")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _encode_png_rgb16(pixels: np.ndarray, exif: bytes | None, icc: bytes | None) -> bytes:
    """16-bit RGB PNG via OpenCV, with iCCP and eXIf chunks inserted right after IHDR (valid for both)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels[..., ::-1]))
    if not ok:
        raise ValueError("OpenCV could not encode the 16-bit PNG")
    png = encoded.tobytes()
    ihdr_end = 8 + 12 + 13  # signature, then IHDR: length, type, 13 data bytes, CRC
    if png[12:16] != b"IHDR":
        raise ValueError("unexpected PNG layout from OpenCV")
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))  # name, NUL, method 0
    if exif:
        extra += _png_chunk(b"eXIf", exif.removeprefix(_EXIF_PREFIX))
    return png[:ihdr_end] + extra + png[ihdr_end:]


_TIFF_STRIP_BYTES = 1 << 18  # uncompressed bytes per strip: small enough for any reader, big enough to compress
_TIFF_IMAGE_TAGS = {  # tag -> type (TIFF 6.0, section 8): what says how the pixels are stored
    256: 4, 257: 4, 258: 3, 259: 3, 262: 3, 273: 4, 277: 3, 278: 4, 279: 4, 284: 3, 317: 3,
}


def _tiff_exif_tags(exif: bytes) -> dict[int, object]:
    """EXIF as a TIFF keeps it, in its own tags: the descriptive IFD0 tags plus the Exif and GPS sub-IFDs (the
    reverse of :func:`_tiff_orientation_and_exif`)."""
    parsed = Image.Exif()
    parsed.load(exif if exif.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + exif)
    tags: dict[int, object] = {tag: parsed[tag] for tag in _TIFF_DESCRIPTIVE_TAGS if tag in parsed}
    for ifd_tag in (_EXIF_IFD, _GPS_IFD):
        # The interoperability pointer is an offset into the EXIF block, meaningless in another file.
        sub = {k: v for k, v in parsed.get_ifd(ifd_tag).items() if k != _INTEROP_IFD}
        if sub:
            tags[ifd_tag] = sub
    return tags


def _encode_tiff(pixels: np.ndarray, grayscale: bool, exif: bytes | None, icc: bytes | None) -> bytes:
    """A little-endian baseline TIFF of 8 or 16 bits per sample (as ``pixels``), RGB or, for ``grayscale``, the
    luma alone; Deflate with horizontal differencing (lossless, and about as small as a PNG). The ICC profile goes
    in tag 34675, EXIF in the TIFF's own tags. Pillow cannot write 16-bit colour, so the file is laid out here:
    header, then the tags (serialised by Pillow's ImageFileDirectory, which counts strip offsets from their end, as
    its own TIFF writer does), then the strips."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    samples = (_luma(pixels)[..., None] if grayscale else pixels).astype(pixels.dtype.newbyteorder("<"))
    height, width, channels = samples.shape
    differences = samples.copy()
    differences[:, 1:] -= samples[:, :-1]  # predictor 2: wraps modulo 2^bits, as TIFF defines it
    rows = max(1, _TIFF_STRIP_BYTES // (width * channels * samples.itemsize))
    strips = [zlib.compress(differences[y : y + rows].tobytes(), 6) for y in range(0, height, rows)]
    ifd = ImageFileDirectory_v2(prefix=b"II")
    if exif:
        try:
            for tag, value in _tiff_exif_tags(exif).items():
                ifd[tag] = value
        except Exception as exc:  # Pillow raises many types for malformed metadata, which is optional
            _log.warning("Not embedding unreadable EXIF metadata: %s", exc)
    for tag, value in ((282, 72.0), (283, 72.0), (296, 2)):  # 72 dpi unless the EXIF says otherwise
        if tag not in ifd:
            ifd[tag] = value
    image_tags = {
        256: width, 257: height, 258: (samples.itemsize * 8,) * channels, 259: 8, 262: 1 if grayscale else 2,
        273: tuple(itertools.accumulate((len(s) for s in strips[:-1]), initial=0)), 277: channels, 278: rows,
        279: tuple(len(s) for s in strips), 284: 1, 317: 2,
    }
    for tag, value in image_tags.items():
        ifd.tagtype[tag] = _TIFF_IMAGE_TAGS[tag]
        ifd[tag] = value
    if icc:
        ifd.tagtype[34675] = 7  # UNDEFINED: the profile's bytes
        ifd[34675] = icc
    return b"II" + struct.pack("<HI", 42, 8) + ifd.tobytes(8) + b"".join(strips)


def _encode(
    pixels: np.ndarray, kind: str, grayscale: bool, exif: bytes | None, icc: bytes | None, jpeg_quality: int
) -> bytes:
    if icc and not _icc_fits(icc, grayscale):
        _log.warning("Not embedding an ICC profile whose colour space does not match the output")
        icc = None
    if kind == "TIFF":
        return _encode_tiff(pixels, grayscale, exif, icc)
    if kind == "JPEG":
        pixels = to_uint8(pixels)
        if exif:
            exif = exif if exif.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + exif
            if len(exif) > _JPEG_MAX_EXIF:
                _log.warning("Not embedding %d bytes of EXIF, more than a JPEG segment holds", len(exif))
                exif = None
    elif pixels.dtype == np.uint16 and not grayscale:
        return _encode_png_rgb16(pixels, exif, icc)
    image = Image.fromarray(np.ascontiguousarray(_luma(pixels) if grayscale else pixels))
    options: dict[str, object] = {}
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    if kind == "JPEG":
        options["quality"] = jpeg_quality
        options["subsampling"] = 0 if jpeg_quality >= 90 else 2  # 4:4:4 keeps colour edges at high quality
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


_WRITE_REASONS = {
    errno.EACCES: "permission denied, the folder is not writable",
    errno.EPERM: "permission denied, the folder is not writable",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the disk is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EEXIST: "a file with that name already exists",
    errno.EISDIR: "a folder with that name already exists",
}
if hasattr(errno, "EDQUOT"):
    _WRITE_REASONS[errno.EDQUOT] = "the disk quota is exhausted"


def _write_error(path: Path, exc: OSError) -> ImageWriteError:
    reason = _WRITE_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    return ImageWriteError(f'Cannot write "{path}": {reason}.')


def _move_without_replacing(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path``, raising FileExistsError rather than replacing an existing file.

    A hard link fails atomically when the name is taken, so two exports racing for the same name cannot
    overwrite each other. File systems without hard links (FAT) fall back to check, then rename.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _write_bytes_atomic(data: bytes, path: Path, overwrite: bool) -> None:
    """Write to a temporary file in the destination folder, then move it into place; never a partial file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)  # 0o666 minus the umask, as for any new file (mkstemp gives 0o600)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_without_replacing(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise


def write_photo_atomic(
    pixels: np.ndarray,
    path: str | os.PathLike[str],
    *,
    grayscale: bool = False,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    overwrite: bool = False,
) -> Path:
    """Write H x W x 3 uint8/uint16 RGB ``pixels`` to a JPEG (.jpg, .jpeg, .jpe, .jfif), .png or TIFF (.tif, .tiff)
    file, atomically.

    JPEG is 8-bit (uint16 is rounded), with 4:4:4 chroma at ``jpeg_quality`` >= 90. PNG and TIFF keep uint16 as
    16-bit. ``grayscale`` writes one channel, the Rec. 601 luma. EXIF and ICC are embedded in all three formats;
    an ICC profile whose colour space does not match the output (a GRAY profile on a colour output) is
    left out, as is EXIF larger than a JPEG segment (64 KB). An existing file is never replaced unless
    ``overwrite``. Raises ImageWriteError with the reason when the file cannot be written.
    """
    path = Path(path)
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 pixels, got {getattr(pixels, 'shape', type(pixels))}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    suffix = path.suffix.lower()
    if suffix in _JPEG_SUFFIXES:
        kind = "JPEG"
    elif suffix == ".png":
        kind = "PNG"
    elif suffix in _TIFF_SUFFIXES:
        kind = "TIFF"
    else:
        raise ImageWriteError(f'Cannot write "{path}": only JPEG (.jpg, .jpeg, .jpe, .jfif), PNG (.png) and TIFF '
                              "(.tif, .tiff) files can be written.")
    if not overwrite and os.path.lexists(path):
        raise _write_error(path, FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)))
    try:
        data = _encode(pixels, kind, grayscale, exif, icc_profile, jpeg_quality)
    except MemoryError:
        raise ImageWriteError(f'Cannot write "{path}": there is not enough memory to encode it.') from None
    _write_bytes_atomic(data, path, overwrite)
    return path
