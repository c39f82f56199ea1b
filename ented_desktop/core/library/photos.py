"""Photos: importing dropped folders and files, keeping track of photos that move or change, and thumbnails.

Originals are only ever opened for reading.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

from ented_desktop.core.errors import ImageReadError
from ented_desktop.core.library.albums import Albums, add_to_album, require_album
from ented_desktop.core.library.connection import LibraryConnection, now
from ented_desktop.core.library.importer import (
    ImportProblem,
    ImportProgress,
    ImportReport,
    PhotoInfo,
    ScanResult,
    hash_file,
    index_file,
    scan,
)
from ented_desktop.core.library.records import PhotoRecord, RefreshReport
from ented_desktop.core.library.thumbnails import ThumbnailCache

_PHOTO_COLUMNS = (
    "p.id, p.path, p.content_hash, p.size_bytes, p.width, p.height, p.format, p.taken, "
    "p.taken_source, p.missing, p.faces_detector"
)


def _photo(r: sqlite3.Row) -> PhotoRecord:
    return PhotoRecord(
        r["id"],
        Path(r["path"]),
        r["content_hash"],
        r["size_bytes"],
        r["width"],
        r["height"],
        r["format"],
        r["taken"],
        r["taken_source"],
        bool(r["missing"]),
        r["faces_detector"],
    )


def _store_photo(conn: sqlite3.Connection, info: PhotoInfo) -> tuple[int, str]:
    """Insert or update the photo; returns its id and "added", "updated", "unchanged" or "moved"."""
    facts = (
        info.content_hash,
        info.size_bytes,
        info.mtime_ns,
        info.width,
        info.height,
        info.format,
        info.taken,
        info.taken_source,
    )
    set_facts = (
        "content_hash = ?, size_bytes = ?, mtime_ns = ?, width = ?, height = ?, format = ?, "
        "taken = ?, taken_source = ?, missing = 0"
    )
    row = conn.execute("SELECT id, content_hash FROM photos WHERE path = ?", (info.path,)).fetchone()
    if row is not None:
        changed = row["content_hash"] != info.content_hash
        # A changed photo needs its faces found again; Faces.record keeps the people of faces that stay.
        detector = ", faces_detector = NULL" if changed else ""
        conn.execute(f"UPDATE photos SET {set_facts}{detector} WHERE id = ?", (*facts, row["id"]))
        return row["id"], "updated" if changed else "unchanged"
    for twin in conn.execute("SELECT id, path FROM photos WHERE content_hash = ?", (info.content_hash,)):
        if not os.path.exists(twin["path"]):
            conn.execute(f"UPDATE photos SET path = ?, {set_facts} WHERE id = ?", (info.path, *facts, twin["id"]))
            return twin["id"], "moved"
    cursor = conn.execute(
        "INSERT INTO photos (path, content_hash, size_bytes, mtime_ns, width, height, format, taken, "
        "taken_source, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (info.path, *facts, now()),
    )
    return int(cursor.lastrowid), "added"


class Photos:
    """``Library.photos``."""

    def __init__(self, db: LibraryConnection, albums: Albums, thumbnails: ThumbnailCache) -> None:
        self._db = db
        self._albums = albums
        self._thumbnails = thumbnails

    def get(self, photo_id: int) -> PhotoRecord:
        return _photo(self._db.one(f"SELECT {_PHOTO_COLUMNS} FROM photos p WHERE p.id = ?", (photo_id,), "photo"))

    def all(self, album_id: int | None = None) -> list[PhotoRecord]:
        """Photos of an album (all photos when None), oldest first."""
        if album_id is None:
            rows = self._db.conn().execute(f"SELECT {_PHOTO_COLUMNS} FROM photos p ORDER BY p.taken, p.path")
        else:
            rows = self._db.conn().execute(
                f"SELECT {_PHOTO_COLUMNS} FROM photos p JOIN album_photos ap ON ap.photo_id = p.id "
                "WHERE ap.album_id = ? ORDER BY p.taken, p.path",
                (album_id,),
            )
        return [_photo(r) for r in rows]

    def albums_of(self, photo_id: int) -> list[int]:
        """The ids of the albums the photo is in."""
        rows = self._db.conn().execute(
            "SELECT album_id FROM album_photos WHERE photo_id = ? ORDER BY album_id", (photo_id,)
        )
        return [r["album_id"] for r in rows]

    def needing_faces(self, detector: str | None = None) -> list[int]:
        """Photos (not missing) whose faces were never looked for, or not with ``detector`` when given."""
        sql = "SELECT id FROM photos WHERE missing = 0 AND (faces_detector IS NULL"
        args: tuple[Any, ...] = ()
        if detector is not None:
            sql += " OR faces_detector != ?"
            args = (detector,)
        return [r["id"] for r in self._db.conn().execute(sql + ") ORDER BY id", args)]

    def thumbnail_path(self, photo_id: int, size: int) -> Path:
        """A JPEG thumbnail fitting ``size x size``, made now if needed (slow: call from a worker)."""
        photo = self.get(photo_id)
        cached = self._thumbnails.cached(photo.content_hash, size)
        if cached:
            return cached
        if photo.missing or not photo.path.is_file():
            raise ImageReadError(f'The photo "{photo.path}" is missing; it was moved or deleted.')
        return self._thumbnails.get(photo.path, photo.content_hash, size)

    # --- import -----------------------------------------------------------------------------------------

    def import_paths(
        self, album_id: int, paths: Iterable[str | os.PathLike[str]]
    ) -> Generator[ImportProgress, None, ImportReport]:
        """Add dropped folders and files to an album; a generator of progress returning the report.

        Nothing is held open between two yields, so the caller may stop iterating at any yield (from
        any thread) and keep what was imported so far. Photos already in the library are re-read only
        when their size or modification time changed, and updated when their content did. A photo that
        went missing and shows up again under a new path (same content) keeps its faces and versions.
        Photos under the dropped folders whose file is gone are marked missing. Files that cannot be
        imported end up in ``report.problems``.
        """
        started = time.monotonic()
        self._albums.get(album_id)
        report = ImportReport(album_id)
        found = ScanResult()
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        for folder in scan(roots, found, exclude=[self._db.directory]):
            yield ImportProgress(0, 0, folder, "scanning")
        report.problems.extend(found.problems)
        real_roots = [os.path.realpath(r) for r in roots if os.path.exists(r)]
        with self._db.write() as conn:
            require_album(conn, album_id)
            conn.executemany(
                "INSERT OR IGNORE INTO album_sources (album_id, path) VALUES (?, ?)",
                [(album_id, r) for r in real_roots],
            )
        total = len(found.files)
        for done, path in enumerate(found.files, 1):
            self._import_file(path, album_id, report)
            yield ImportProgress(done, total, path, "indexing")
        seen = set(found.files)
        report.missing = self._mark_missing([r for r in real_roots if os.path.isdir(r)], seen)
        report.seconds = time.monotonic() - started
        return report

    def _import_file(self, path: str, album_id: int, report: ImportReport) -> None:
        conn = self._db.conn()
        row = conn.execute("SELECT id, size_bytes, mtime_ns FROM photos WHERE path = ?", (path,)).fetchone()
        if row is not None:
            try:
                st = os.stat(path)
            except OSError as exc:
                report.problems.append(ImportProblem(path, exc.strerror or str(exc)))
                return
            if (row["size_bytes"], row["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
                with self._db.write() as conn:
                    conn.execute("UPDATE photos SET missing = 0 WHERE id = ?", (row["id"],))
                    add_to_album(conn, album_id, row["id"])
                report.unchanged.append(row["id"])
                return
        info = index_file(path)
        if isinstance(info, ImportProblem):
            report.problems.append(info)
            return
        with self._db.write() as conn:
            photo_id, outcome = _store_photo(conn, info)
            add_to_album(conn, album_id, photo_id)
        getattr(report, outcome).append(photo_id)

    def _mark_missing(self, folders: list[str], seen: set[str]) -> list[int]:
        gone = []
        conn = self._db.conn()
        for folder in folders:
            prefix = folder.rstrip(os.sep) + os.sep
            rows = conn.execute(
                "SELECT id, path FROM photos WHERE missing = 0 AND substr(path, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
            gone += [r["id"] for r in rows if r["path"] not in seen and not os.path.isfile(r["path"])]
        if gone:
            with self._db.write() as conn:
                conn.executemany("UPDATE photos SET missing = 1 WHERE id = ?", [(i,) for i in gone])
        return gone

    # --- photos changed or moved outside the program ------------------------------------------------------

    def refresh(self, photo_id: int) -> bool:
        """Index the photo again when its file's bytes are no longer those indexed (edited or rotated in
        another program); returns True when they changed. A changed photo's faces are to be found again,
        as after a re-import. The whole file is hashed: an edit can keep its size and modification time.
        A file that cannot be read is left for the caller's read to report."""
        photo = self.get(photo_id)
        try:
            if hash_file(str(photo.path)) == photo.content_hash:
                return False
        except OSError:
            return False
        info = index_file(str(photo.path))
        if isinstance(info, ImportProblem):
            raise ImageReadError(f'Cannot read the photo "{photo.path}": {info.reason}.')
        with self._db.write() as conn:
            _, outcome = _store_photo(conn, info)
        return outcome == "updated"

    def refresh_missing(self) -> RefreshReport:
        """Check every photo's file: mark the gone ones missing, unmark those that are back, and look
        for missing ones (same content) among the new files of the imported folders."""
        conn = self._db.conn()
        rows = conn.execute("SELECT id, path, missing FROM photos").fetchall()
        newly_missing, found = [], []
        for r in rows:
            exists = os.path.isfile(r["path"])
            if exists and r["missing"]:
                found.append(r["id"])
            elif not exists and not r["missing"]:
                newly_missing.append(r["id"])
        with self._db.write() as conn:
            conn.executemany("UPDATE photos SET missing = 1 WHERE id = ?", [(i,) for i in newly_missing])
            conn.executemany("UPDATE photos SET missing = 0 WHERE id = ?", [(i,) for i in found])
        moved = self._find_moved()
        return RefreshReport(newly_missing, found, moved)

    def _find_moved(self) -> list[int]:
        conn = self._db.conn()
        missing = conn.execute("SELECT id, content_hash, size_bytes FROM photos WHERE missing = 1").fetchall()
        if not missing:
            return []
        by_hash = {r["content_hash"]: r["id"] for r in missing}
        sizes = {r["size_bytes"] for r in missing}
        known = {r["path"] for r in conn.execute("SELECT path FROM photos")}
        sources = [r["path"] for r in conn.execute("SELECT DISTINCT path FROM album_sources")]
        found = ScanResult()
        for _ in scan([s for s in sources if os.path.isdir(s)], found, exclude=[self._db.directory]):
            pass
        moved = []
        for path in found.files:
            if path in known:
                continue
            try:
                if os.stat(path).st_size not in sizes:
                    continue
                photo_id = by_hash.pop(hash_file(path), None)
            except OSError:
                continue
            if photo_id is None:
                continue
            try:
                with self._db.write() as conn:
                    conn.execute("UPDATE photos SET path = ?, missing = 0 WHERE id = ?", (path, photo_id))
            except sqlite3.IntegrityError:  # imported meanwhile under that path
                continue
            moved.append(photo_id)
        return moved
