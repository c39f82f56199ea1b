"""Restored versions of photos: stored as PNG files in the library with what made them, and exported as copies."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ented_desktop.core.errors import ImageWriteError, UserError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import read_photo, unique_path
from ented_desktop.core.library.connection import LibraryConnection, UnknownItemError, delete_files, now
from ented_desktop.core.library.people import People
from ented_desktop.core.library.photos import Photos
from ented_desktop.core.library.records import Version
from ented_desktop.core.library.thumbnails import ThumbnailCache
from ented_desktop.core.restore_skip import same_way
from ented_desktop.core.settings import EXPORT_FORMATS, export_pattern_problem

EXPORT_SUFFIXES = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif"}
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_VERSION_SQL = "SELECT id, photo_id, file, model, reference_people, created, report, settings FROM versions"


def safe_file_name(text: str) -> str:
    """``text`` as a file name any system accepts: no path separators, control or reserved characters or names."""
    name = _UNSAFE_NAME_CHARS.sub("_", text).strip(" .")[:200].strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    return name


class Versions:
    """``Library.versions``."""

    def __init__(self, db: LibraryConnection, photos: Photos, people: People, thumbnails: ThumbnailCache) -> None:
        self._db = db
        self._photos = photos
        self._people = people
        self._thumbnails = thumbnails

    def _version(self, r: sqlite3.Row) -> Version:
        return Version(
            r["id"],
            r["photo_id"],
            self._db.abs(r["file"]),
            r["model"],
            tuple(json.loads(r["reference_people"])),
            r["created"],
            json.loads(r["report"]),
            json.loads(r["settings"]),
        )

    def get(self, version_id: int) -> Version:
        return self._version(self._db.one(_VERSION_SQL + " WHERE id = ?", (version_id,), "restored version"))

    def of_photo(self, photo_id: int) -> list[Version]:
        """The photo's versions, oldest first."""
        rows = self._db.conn().execute(_VERSION_SQL + " WHERE photo_id = ? ORDER BY id", (photo_id,))
        return [self._version(r) for r in rows]

    def find_same(self, photo_id: int, settings: dict[str, Any]) -> Version | None:
        """The photo's newest version restored the way ``settings`` (a core.restore_skip.restore_record) says,
        so that restoring again would make a copy of it; None when there is none."""
        return next((v for v in reversed(self.of_photo(photo_id)) if same_way(v.settings, settings)), None)

    def add(
        self,
        photo_id: int,
        pixels: np.ndarray,
        *,
        model: str,
        reference_people: Sequence[int] = (),
        report: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        grayscale: bool = False,
        exif: bytes | None = None,
        icc_profile: bytes | None = None,
        job_id: int | None = None,
    ) -> int:
        """Store a restored result of a photo as a new PNG version (uint8 or uint16 RGB pixels) with the
        model name, the people whose references were used, the per-face report, the settings that made it
        (JSON-serialisable) and the job that made it. The file is written completely before its row is committed."""
        photo = self._photos.get(photo_id)
        people = []
        for pid in reference_people:
            with contextlib.suppress(UnknownItemError):  # deleted or merged away during the restore: not named
                people.append({"id": pid, "name": self._people.get(pid).name})
        report_text = json.dumps(report or {})
        settings_text = json.dumps(settings or {})
        folder = self._db.directory / "versions" / str(photo_id)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = folder / f"{safe_file_name(photo.path.stem) or 'photo'}_{stamp}_{secrets.token_hex(4)}.png"
        write_photo_atomic(pixels, dest, grayscale=grayscale, exif=exif, icc_profile=icc_profile)
        try:
            with self._db.write() as conn:
                # The photo may have left the library, or its file been replaced, while the file was written.
                row = conn.execute("SELECT path, content_hash FROM photos WHERE id = ?", (photo_id,)).fetchone()
                if row is None or (Path(row["path"]), row["content_hash"]) != (photo.path, photo.content_hash):
                    raise UnknownItemError("That photo is no longer in the library.")
                cursor = conn.execute(
                    "INSERT INTO versions (photo_id, file, model, created, report, reference_people, job_id, "
                    "settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (photo_id, self._db.rel(dest), model, now(), report_text, json.dumps(people), job_id,
                     settings_text),
                )
        except BaseException:
            dest.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: the photo's other versions stay
            raise
        return int(cursor.lastrowid)

    def delete(self, version_id: int) -> None:
        with self._db.write() as conn:
            row = conn.execute("SELECT file FROM versions WHERE id = ?", (version_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That restored version is no longer in the library.")
            conn.execute("DELETE FROM versions WHERE id = ?", (version_id,))
        delete_files([self._db.abs(row["file"])])

    def restored_photo_ids(self, album_id: int | None = None) -> set[int]:
        """The photos of an album (of the library when None) that have at least one version."""
        if album_id is None:
            rows = self._db.conn().execute("SELECT DISTINCT photo_id FROM versions")
        else:
            rows = self._db.conn().execute(
                "SELECT DISTINCT v.photo_id FROM versions v JOIN album_photos ap ON ap.photo_id = v.photo_id "
                "WHERE ap.album_id = ?",
                (album_id,),
            )
        return {r["photo_id"] for r in rows}

    def photos_restored_by_job(self, job_id: int) -> set[int]:
        """The photos that have a version made by the job (by any of its runs)."""
        rows = self._db.conn().execute("SELECT DISTINCT photo_id FROM versions WHERE job_id = ?", (job_id,))
        return {r["photo_id"] for r in rows}

    def thumbnail_path(self, version_id: int, size: int) -> Path:
        """A JPEG thumbnail of the version fitting ``size x size``, made now if needed (slow: call from a worker)."""
        version = self.get(version_id)
        # Keyed by the file, whose name has a random part: libraries made before schema version 5 reuse ids.
        key = hashlib.blake2b(self._db.rel(version.path).encode(), digest_size=16).hexdigest()
        return self._thumbnails.get(version.path, key, size)

    # --- export -------------------------------------------------------------------------------------------

    def export_name(self, version_id: int, pattern: str, album_id: int | None = None) -> str:
        """The file name (without suffix) ``pattern`` gives a version: ``{stem}`` of the original,
        ``{album}`` (``album_id``, else the photo's first album), ``{date}`` taken (YYYY-MM-DD),
        ``{version}`` (1 for a photo's first version, 2 for its second...), ``{model}``."""
        problem = export_pattern_problem(pattern)
        if problem:
            raise UserError(problem)
        version = self.get(version_id)
        photo = self._photos.get(version.photo_id)
        conn = self._db.conn()
        if album_id is None:
            albums = self._photos.albums_of(photo.id)
            album_id = albums[0] if albums else None
        album_row = conn.execute("SELECT name FROM albums WHERE id = ?", (album_id,)).fetchone()
        ordinal = conn.execute(
            "SELECT COUNT(*) FROM versions WHERE photo_id = ? AND id <= ?", (photo.id, version.id)
        ).fetchone()[0]
        fields = {
            "stem": photo.path.stem,
            "album": album_row["name"] if album_row else "",
            "date": photo.taken[:10],
            "version": str(ordinal),
            "model": version.model,
        }
        name = safe_file_name(pattern.format(**{k: safe_file_name(v) for k, v in fields.items()}))
        return name or safe_file_name(photo.path.stem) or "photo"

    def export(
        self,
        version_id: int,
        dest_dir: str | os.PathLike[str],
        fmt: str = "png",
        quality: int = 95,
        pattern: str = "{stem}_restored",
        album_id: int | None = None,
    ) -> Path:
        """Write a copy of a version into ``dest_dir`` as PNG, JPEG (at ``quality``) or TIFF, with its EXIF and ICC
        profile; PNG and TIFF keep a 16-bit version 16-bit. An existing file is never replaced: the name gets
        " (2)", " (3)"... Returns the file written."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {EXPORT_FORMATS}, got {fmt!r}")
        name = self.export_name(version_id, pattern, album_id)
        photo = read_photo(self.get(version_id).path)
        folder = Path(dest_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImageWriteError(f'Cannot create the folder "{folder}": {exc.strerror}.') from None
        wanted = folder / f"{name}{EXPORT_SUFFIXES[fmt]}"
        for _ in range(100):
            target = unique_path(wanted)
            try:
                return write_photo_atomic(
                    photo.pixels,
                    target,
                    grayscale=photo.grayscale,
                    exif=photo.exif,
                    icc_profile=photo.icc_profile,
                    jpeg_quality=quality,
                    overwrite=False,
                )
            except ImageWriteError:
                if not os.path.lexists(target):
                    raise
                # another export took the name between unique_path and the write: try the next one
        raise ImageWriteError(f'Cannot find a free file name for "{wanted}".')
