"""Finding the photos in dropped folders and files, and indexing each one without decoding its pixels.

Indexing reads what the file header says (size, format, EXIF orientation and date) and hashes the bytes;
that is what lets a 5,000-photo folder be browsable within seconds. Whatever cannot be imported becomes
an :class:`ImportProblem` row, never an exception. Files are only ever opened for reading.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, NamedTuple

from PIL import Image, UnidentifiedImageError

from ented_desktop.core.imageio import MAX_PIXELS, SUPPORTED_SUFFIXES

HASH_CHUNK = 1 << 20
# The Pillow plugins that imageio.read_photo accepts; anything else would import but never restore.
# (Multi-picture JPEGs open through the JPEG plugin as format "MPO".)
READ_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003


class ImportProblem(NamedTuple):
    path: str
    reason: str


@dataclass(frozen=True)
class ImportProgress:
    done: int
    total: int  # 0 while still scanning folders
    current: str
    phase: str  # "scanning" or "indexing"


@dataclass
class ImportReport:
    album_id: int
    added: list[int] = field(default_factory=list)  # photo ids
    updated: list[int] = field(default_factory=list)  # content changed since the last import
    unchanged: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)  # missing photos found again under a new path
    missing: list[int] = field(default_factory=list)  # photos under the dropped folders whose file is gone
    problems: list[ImportProblem] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class PhotoInfo:
    path: str
    content_hash: str
    size_bytes: int
    mtime_ns: int
    width: int  # as displayed, after the EXIF orientation
    height: int
    format: str
    taken: str  # "YYYY-MM-DD HH:MM:SS", local time
    taken_source: str  # "exif" (DateTimeOriginal) or "mtime"


@dataclass
class ScanResult:
    files: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "a link that leads to itself (link loop)"
    if isinstance(exc, FileNotFoundError):
        return "the file disappeared during the import"
    return exc.strerror or str(exc)


def _is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def scan(
    roots: Iterable[str | os.PathLike[str]],
    result: ScanResult,
    exclude: Iterable[str | os.PathLike[str]] = (),
    suffixes: frozenset[str] = SUPPORTED_SUFFIXES,
) -> Iterator[str]:
    """Collect the photo files under ``roots`` (folders or files) into ``result``, yielding each folder
    as it is entered so the caller can report progress or stop.

    Paths are made real (symbolic links resolved), so one file reached twice is listed once. Links are
    followed, except those that lead back into a folder containing them (reported as link loops).
    Hidden entries (names starting with a dot, e.g. macOS ``._`` companions) are skipped without a
    report; files with other suffixes are reported. ``exclude`` folders (the library itself) are skipped.
    """
    excluded = [os.path.realpath(p) for p in exclude]
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()

    def add_file(path: str, shown: str) -> None:
        if any(_is_inside(path, e) for e in excluded) or path in seen_files:
            return
        suffix = os.path.splitext(shown)[1].lower()
        if suffix not in suffixes:
            what = f"{suffix} files" if suffix else "files without an extension"
            result.problems.append(
                ImportProblem(shown, f"not a supported photo type ({what} are not imported)")
            )
            return
        seen_files.add(path)
        result.files.append(path)

    for root in roots:
        shown_root = os.path.abspath(os.fspath(root))
        try:
            st = os.stat(shown_root)
        except FileNotFoundError:
            result.problems.append(ImportProblem(shown_root, "does not exist"))
            continue
        except OSError as exc:
            result.problems.append(ImportProblem(shown_root, _os_reason(exc)))
            continue
        real_root = os.path.realpath(shown_root)
        if any(_is_inside(real_root, e) for e in excluded):
            result.problems.append(ImportProblem(shown_root, "inside the photo library's own folder"))
            continue
        if stat.S_ISREG(st.st_mode):
            add_file(real_root, shown_root)
            continue
        if not stat.S_ISDIR(st.st_mode):
            result.problems.append(ImportProblem(shown_root, "not a regular file"))
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        stack = [real_root]
        while stack:
            folder = stack.pop()
            if any(_is_inside(folder, e) for e in excluded):
                continue
            yield folder
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                result.problems.append(ImportProblem(folder, f"folder cannot be opened ({_os_reason(exc)})"))
                continue
            subfolders = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    st = os.stat(entry.path)
                except OSError as exc:
                    reason = _os_reason(exc)
                    if isinstance(exc, FileNotFoundError) and entry.is_symlink():
                        reason = "a link to something that does not exist (broken link)"
                    result.problems.append(ImportProblem(entry.path, reason))
                    continue
                if stat.S_ISDIR(st.st_mode):
                    real = os.path.realpath(entry.path)
                    if entry.is_symlink() and _is_inside(folder, real):
                        result.problems.append(
                            ImportProblem(entry.path, "a link back to a folder that contains it (link loop)")
                        )
                        continue
                    if (st.st_dev, st.st_ino) not in seen_dirs:
                        seen_dirs.add((st.st_dev, st.st_ino))
                        subfolders.append(real)
                elif stat.S_ISREG(st.st_mode):
                    add_file(os.path.realpath(entry.path) if entry.is_symlink() else entry.path, entry.path)
                else:
                    result.problems.append(ImportProblem(entry.path, "not a regular file"))
            stack.extend(reversed(subfolders))  # depth first, in name order


def _jpeg_scan_start(f: BinaryIO) -> int | None:
    """File offset of the first entropy-coded scan (after the SOS header), or None when not found."""
    f.seek(2)
    while True:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return None
        if head[1] == 0xFF:  # fill byte before a marker
            f.seek(-3, os.SEEK_CUR)
            continue
        length = int.from_bytes(head[2:4], "big")
        if length < 2:
            return None
        if head[1] == 0xDA:
            return f.tell() + length - 2
        f.seek(length - 2, os.SEEK_CUR)


def _declared_length_short(head: bytes, size: int) -> bool:
    """True when a WebP (RIFF) or BMP header declares more bytes than the file has."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return int.from_bytes(head[4:8], "little") + 8 > size
    if head[:2] == b"BM" and len(head) >= 6:
        return int.from_bytes(head[2:6], "little") > size
    return False


def _hash_and_find(f: BinaryIO, marker: bytes | None, start: int) -> tuple[str, bool]:
    """blake2b-128 of the whole file, and whether ``marker`` occurs at or after offset ``start``."""
    digest = hashlib.blake2b(digest_size=16)
    found = marker is None
    keep = len(marker) - 1 if marker else 0
    tail = b""
    offset = 0  # file offset of the chunk being read
    f.seek(0)
    while chunk := f.read(HASH_CHUNK):
        digest.update(chunk)
        if not found:
            assert marker is not None
            window = tail + chunk
            window_offset = offset - len(tail)
            found = window.find(marker, max(start - window_offset, 0)) >= 0
            tail = window[-keep:]
        offset += len(chunk)
    return digest.hexdigest(), found


def _exif_date(exif: Image.Exif) -> str | None:
    value = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # "0000:00:00 00:00:00", blank or garbled
        return None
    return when.isoformat(sep=" ")


def _mtime_date(mtime: float) -> str:
    try:
        return datetime.fromtimestamp(mtime).isoformat(sep=" ", timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0).isoformat(sep=" ", timespec="seconds")


def index_file(path: str) -> PhotoInfo | ImportProblem:
    """Everything the library records about one photo file, read from its header and bytes.

    Truncation is caught without decoding: a JPEG must have its end-of-image marker after the first
    scan, a PNG its IEND chunk, a WebP or BMP as many bytes as its header declares.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        return ImportProblem(path, _os_reason(exc))
    with f:
        try:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return ImportProblem(path, "not a regular file")
            if st.st_size == 0:
                return ImportProblem(path, "the file is empty (0 bytes)")
            if _declared_length_short(f.read(12), st.st_size):
                return ImportProblem(path, "the file is truncated")
            f.seek(0)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    im = Image.open(f, formats=READ_FORMATS)
            except Image.DecompressionBombError:
                return ImportProblem(path, f"too large (over {MAX_PIXELS / 1e6:g} megapixels)")
            except UnidentifiedImageError:
                return ImportProblem(
                    path, "not a JPEG, PNG, TIFF, WebP or BMP image (damaged or another format)"
                )
            except Exception as exc:  # Pillow's plugins raise many kinds for malformed headers
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise  # a real read error, reported below
                return ImportProblem(path, "the file is damaged")
            width, height = im.size
            fmt = "JPEG" if im.format == "MPO" else str(im.format)
            if width * height > MAX_PIXELS:
                return ImportProblem(
                    path, f"too large ({width} x {height}, over {MAX_PIXELS / 1e6:g} megapixels)"
                )
            try:
                exif = Image.Image.getexif(im)  # the base method never decodes pixels (PNG's would)
                orientation = exif.get(_ORIENTATION, 1)
                taken = _exif_date(exif)
            except Exception:  # malformed EXIF is optional metadata; Pillow raises many kinds
                orientation, taken = 1, None
            # Pillow (11+) turns a TIFF upright itself, size included (read_photo finds no orientation
            # left after loading one); other formats report their stored size.
            if orientation in (5, 6, 7, 8) and fmt != "TIFF":
                width, height = height, width
            marker, start = None, 0
            if fmt == "JPEG":
                marker, start = b"\xff\xd9", _jpeg_scan_start(f) or 0
            elif fmt == "PNG":
                marker, start = b"IEND", 8
            content_hash, complete = _hash_and_find(f, marker, start)
        except OSError as exc:
            return ImportProblem(path, _os_reason(exc))
    if not complete:
        return ImportProblem(path, "the file is truncated")
    return PhotoInfo(
        path=path,
        content_hash=content_hash,
        size_bytes=st.st_size,
        mtime_ns=st.st_mtime_ns,
        width=width,
        height=height,
        format=fmt,
        taken=taken or _mtime_date(st.st_mtime),
        taken_source="exif" if taken else "mtime",
    )


def hash_file(path: str) -> str:
    """blake2b-128 of the file's bytes, as hex (the library's content hash)."""
    with open(path, "rb") as f:
        return _hash_and_find(f, None, 0)[0]
