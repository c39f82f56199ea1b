"""The photo library: albums of photos, their faces, the people, restored versions and jobs, in SQLite.

One :class:`Library` serves the whole application and may be shared by threads: each thread gets its
own SQLite connection on first use. Every change is one transaction (``BEGIN IMMEDIATE``, so two
writers queue instead of failing), the database runs in WAL mode with ``synchronous=NORMAL``, and a
file the library writes is complete on disk before the row that names it is committed; the program can
be killed at any moment and the library stays consistent.

Originals are only ever opened for reading. Everything the library writes (database, restored
versions, reference images, thumbnails) lives in its own directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ented_desktop.core import paths
from ented_desktop.core.atomic import atomic_path
from ented_desktop.core.errors import ImageReadError, ImageWriteError, UserError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.face.detect import Face
from ented_desktop.core.identity import IdentityEmbedder, cluster_faces
from ented_desktop.core.imageio import read_image_rgb8, read_photo, unique_path, write_photo_atomic
from ented_desktop.core.library import references
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
from ented_desktop.core.library.lock import LibraryLock
from ented_desktop.core.library.schema import JOB_KINDS, JOB_STATES, migrate
from ented_desktop.core.library.thumbnails import ThumbnailCache
from ented_desktop.core.settings import EXPORT_FORMATS, export_pattern_problem

DB_FILE_NAME = "library.sqlite3"
# Two detections of one photo are the same face (and keep its person) above this box overlap.
SAME_FACE_IOU = 0.5
EXPORT_SUFFIXES = {"png": ".png", "jpeg": ".jpg"}
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)

# state -> states a job may move to. "interrupted" is only entered when the library is opened.
JOB_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("running", "paused", "cancelled"),
    "running": ("paused", "done", "failed", "cancelled"),
    "paused": ("running", "queued", "cancelled"),
    "done": ("queued",),
    "failed": ("queued",),
    "cancelled": ("queued",),
    "interrupted": ("queued", "running", "cancelled"),
}
assert set(JOB_TRANSITIONS) == set(JOB_STATES)


def default_library_dir() -> Path:
    return paths.user_data_dir() / "library"


class UnknownItemError(UserError):
    """An album, photo, face, person, version or job that is not (or no longer) in the library."""


class JobStateError(ValueError):
    """A job asked to move to a state it cannot reach from its current one."""


@dataclass(frozen=True)
class Album:
    id: int
    name: str
    created: float
    photo_count: int


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    path: Path
    content_hash: str
    size_bytes: int
    width: int  # as displayed (EXIF orientation applied)
    height: int
    format: str
    taken: str  # "YYYY-MM-DD HH:MM:SS"
    taken_source: str  # "exif" or "mtime"
    missing: bool
    faces_detector: str | None  # None: faces not looked for yet


@dataclass(frozen=True)
class FaceRecord:
    id: int
    photo_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # 5 x 2 float32
    score: float
    embedding: np.ndarray | None
    detector: str
    person_id: int | None


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    created: float
    reference_face_id: int | None
    reference_image: Path | None  # a copy in the library directory
    personal_model: Path | None
    face_count: int


@dataclass(frozen=True)
class Suggestion:
    """Faces that look like one person: a new person (``person_id`` None) or a named one."""

    face_ids: tuple[int, ...]
    person_id: int | None
    distance: float  # mean identity distance of the faces to the person's nearest face / the group's centre


@dataclass(frozen=True)
class Version:
    id: int
    photo_id: int
    path: Path
    model: str
    reference_people: tuple[dict[str, Any], ...]  # {"id", "name"} as they were when restored
    created: float
    report: dict[str, Any]


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    state: str
    payload: dict[str, Any]
    progress: float
    error: str | None
    created: float
    started: float | None
    finished: float | None
    updated: float


@dataclass
class RefreshReport:
    missing: list[int]  # photos newly found to be gone
    found: list[int]  # missing photos back at their path
    moved: list[int]  # missing photos found under a new path in an imported folder


def _connect(db_path: Path) -> sqlite3.Connection:
    # check_same_thread=False only so close() can close every thread's connection; each thread still
    # uses its own. isolation_level=None: transactions are explicit (see Library._write).
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _blob(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.ascontiguousarray(array, dtype=np.float32).tobytes()


def _safe_file_name(text: str) -> str:
    name = _UNSAFE_NAME_CHARS.sub("_", text).strip(" .")[:200].strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    return name


def _now() -> float:
    return time.time()


def _closest_per_photo(candidates: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Of (face id, photo id, distance) candidates for one person, the closest face of each photo, in face order:
    one person appears once in a photo, so two faces of a photo are never suggested together."""
    best: dict[int, tuple[int, int, float]] = {}
    for candidate in candidates:
        if candidate[1] not in best or candidate[2] < best[candidate[1]][2]:
            best[candidate[1]] = candidate
    return sorted(best.values())


class Library:
    """The photo library in ``directory`` (default: ``<user data>/library``), created on first use.

    Opening migrates an older database and marks jobs left running by a previous session as
    ``interrupted``. Only one open instance per directory at a time, in any process: a second one raises
    LibraryInUseError. Share one instance between threads; close it when the application quits.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_library_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f'Cannot create the photo library folder "{self.directory}": {exc.strerror}.'
            ) from None
        self._instance_lock = LibraryLock(self.directory)  # before anything touches jobs or files
        self.db_path = self.directory / DB_FILE_NAME
        self.thumbnails = ThumbnailCache(self.directory / "thumbnails")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            migrate(self._conn())
        except sqlite3.DatabaseError as exc:
            self.close()
            raise UserError(f'The photo library "{self.db_path}" cannot be opened ({exc}).') from None
        except BaseException:
            self.close()
            raise
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET state = 'interrupted', updated = ? WHERE state = 'running'", (_now(),)
            )

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None) -> Library:
        return cls(directory)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._instance_lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections and transactions -------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the library is closed")
                conn = _connect(self.db_path)
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; never hold it across a yield."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself after some errors (disk full)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any], what: str) -> sqlite3.Row:
        row = self._conn().execute(sql, args).fetchone()
        if row is None:
            raise UnknownItemError(f"That {what} is no longer in the library.")
        return row

    def _abs(self, relative: str) -> Path:
        return self.directory / Path(relative)

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.directory).as_posix()

    # --- albums -------------------------------------------------------------------------------------

    def create_album(self, name: str) -> int:
        """A new album; a name another album has (but for case and spaces) is refused: the two could not be told
        apart in the album list."""
        name = self._clean_name(name, "An album")
        with self._write() as conn:
            self._refuse_taken_album_name(conn, name, None)
            return int(
                conn.execute("INSERT INTO albums (name, created) VALUES (?, ?)", (name, _now())).lastrowid
            )

    def free_album_name(self, name: str) -> str:
        """``name``, else the first of ``name (2)``, ``name (3)``… no album has: for an album named after a
        dropped folder, whose name another album may have."""
        name = self._clean_name(name, "An album")
        taken = {r["name"].casefold() for r in self._conn().execute("SELECT name FROM albums")}
        free, n = name, 1
        while free.casefold() in taken:
            n += 1
            free = f"{name} ({n})"
        return free

    @staticmethod
    def _refuse_taken_album_name(conn: sqlite3.Connection, name: str, album_id: int | None) -> None:
        # casefold in Python: SQLite's lower() and NOCASE fold only ASCII letters.
        for r in conn.execute("SELECT id, name FROM albums"):
            if r["id"] != album_id and r["name"].casefold() == name.casefold():
                raise UserError(f'There is already an album called "{r["name"]}"; choose another name.')

    def rename_album(self, album_id: int, name: str) -> None:
        name = self._clean_name(name, "An album")
        with self._write() as conn:
            self._refuse_taken_album_name(conn, name, album_id)
            if conn.execute("UPDATE albums SET name = ? WHERE id = ?", (name, album_id)).rowcount == 0:
                raise UnknownItemError("That album is no longer in the library.")

    def album(self, album_id: int) -> Album:
        return self._album(self._one(self._ALBUM_SQL + " WHERE a.id = ? GROUP BY a.id", (album_id,), "album"))

    def albums(self) -> list[Album]:
        rows = self._conn().execute(self._ALBUM_SQL + " GROUP BY a.id ORDER BY a.name, a.id").fetchall()
        return [self._album(r) for r in rows]

    _ALBUM_SQL = (
        "SELECT a.id, a.name, a.created, COUNT(ap.photo_id) AS n FROM albums a "
        "LEFT JOIN album_photos ap ON ap.album_id = a.id"
    )

    @staticmethod
    def _album(r: sqlite3.Row) -> Album:
        return Album(r["id"], r["name"], r["created"], r["n"])

    def album_sources(self, album_id: int) -> list[Path]:
        """The folders and files dropped onto the album."""
        rows = self._conn().execute(
            "SELECT path FROM album_sources WHERE album_id = ? ORDER BY path", (album_id,)
        )
        return [Path(r["path"]) for r in rows]

    def delete_album(self, album_id: int) -> None:
        """Delete the album. Photos in no other album leave the library with their faces and versions
        (the originals are untouched; restored versions are deleted)."""
        with self._write() as conn:
            if conn.execute("DELETE FROM albums WHERE id = ?", (album_id,)).rowcount == 0:
                raise UnknownItemError("That album is no longer in the library.")
            doomed = self._forget_orphans(conn)
        self._delete_files(doomed)

    def remove_photos_from_album(self, album_id: int, photo_ids: Iterable[int]) -> None:
        """Take photos out of an album; those in no other album leave the library (see delete_album)."""
        with self._write() as conn:
            conn.executemany(
                "DELETE FROM album_photos WHERE album_id = ? AND photo_id = ?",
                [(album_id, p) for p in photo_ids],
            )
            doomed = self._forget_orphans(conn)
        self._delete_files(doomed)

    def _forget_orphans(self, conn: sqlite3.Connection) -> list[Path]:
        """Delete photos that belong to no album; returns their version files, to delete after commit."""
        orphans = "SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM album_photos)"
        files = conn.execute(f"SELECT file FROM versions WHERE photo_id IN ({orphans})").fetchall()
        conn.execute(f"DELETE FROM photos WHERE id IN ({orphans})")
        return [self._abs(r["file"]) for r in files]

    @staticmethod
    def _delete_files(files: Iterable[Path]) -> None:
        for file in files:
            # A file still open elsewhere (a viewer on Windows) stays; remove_leftovers() takes it later.
            with contextlib.suppress(OSError):
                file.unlink(missing_ok=True)

    @staticmethod
    def _clean_name(name: str, what: str) -> str:
        name = " ".join(str(name).split())
        if not name:
            raise UserError(f"{what} needs a name.")
        return name

    # --- photos ---------------------------------------------------------------------------------------

    _PHOTO_COLUMNS = (
        "p.id, p.path, p.content_hash, p.size_bytes, p.width, p.height, p.format, p.taken, "
        "p.taken_source, p.missing, p.faces_detector"
    )

    @staticmethod
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

    def photo(self, photo_id: int) -> PhotoRecord:
        return self._photo(
            self._one(f"SELECT {self._PHOTO_COLUMNS} FROM photos p WHERE p.id = ?", (photo_id,), "photo")
        )

    def photos(self, album_id: int | None = None) -> list[PhotoRecord]:
        """Photos of an album (all photos when None), oldest first."""
        if album_id is None:
            rows = self._conn().execute(
                f"SELECT {self._PHOTO_COLUMNS} FROM photos p ORDER BY p.taken, p.path"
            )
        else:
            rows = self._conn().execute(
                f"SELECT {self._PHOTO_COLUMNS} FROM photos p JOIN album_photos ap ON ap.photo_id = p.id "
                "WHERE ap.album_id = ? ORDER BY p.taken, p.path",
                (album_id,),
            )
        return [self._photo(r) for r in rows]

    def photo_albums(self, photo_id: int) -> list[int]:
        rows = self._conn().execute(
            "SELECT album_id FROM album_photos WHERE photo_id = ? ORDER BY album_id", (photo_id,)
        )
        return [r["album_id"] for r in rows]

    # --- import ---------------------------------------------------------------------------------------

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
        self.album(album_id)
        report = ImportReport(album_id)
        found = ScanResult()
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        for folder in scan(roots, found, exclude=[self.directory]):
            yield ImportProgress(0, 0, folder, "scanning")
        report.problems.extend(found.problems)
        real_roots = [os.path.realpath(r) for r in roots if os.path.exists(r)]
        with self._write() as conn:
            self._require_album(conn, album_id)
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
        conn = self._conn()
        row = conn.execute("SELECT id, size_bytes, mtime_ns FROM photos WHERE path = ?", (path,)).fetchone()
        if row is not None:
            try:
                st = os.stat(path)
            except OSError as exc:
                report.problems.append(ImportProblem(path, exc.strerror or str(exc)))
                return
            if (row["size_bytes"], row["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
                with self._write() as conn:
                    conn.execute("UPDATE photos SET missing = 0 WHERE id = ?", (row["id"],))
                    self._add_to_album(conn, album_id, row["id"])
                report.unchanged.append(row["id"])
                return
        info = index_file(path)
        if isinstance(info, ImportProblem):
            report.problems.append(info)
            return
        with self._write() as conn:
            photo_id, outcome = self._store_photo(conn, info)
            self._add_to_album(conn, album_id, photo_id)
        getattr(report, outcome).append(photo_id)

    def _store_photo(self, conn: sqlite3.Connection, info: PhotoInfo) -> tuple[int, str]:
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
            # A changed photo needs its faces found again; set_faces keeps the people of faces that stay.
            detector = ", faces_detector = NULL" if changed else ""
            conn.execute(f"UPDATE photos SET {set_facts}{detector} WHERE id = ?", (*facts, row["id"]))
            return row["id"], "updated" if changed else "unchanged"
        for twin in conn.execute("SELECT id, path FROM photos WHERE content_hash = ?", (info.content_hash,)):
            if not os.path.exists(twin["path"]):
                conn.execute(
                    f"UPDATE photos SET path = ?, {set_facts} WHERE id = ?", (info.path, *facts, twin["id"])
                )
                return twin["id"], "moved"
        cursor = conn.execute(
            "INSERT INTO photos (path, content_hash, size_bytes, mtime_ns, width, height, format, taken, "
            "taken_source, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.path, *facts, _now()),
        )
        return int(cursor.lastrowid), "added"

    @staticmethod
    def _require_album(conn: sqlite3.Connection, album_id: int) -> None:
        """Inside an import's write: the album may have been deleted since the import began (it then stops, and
        the photo being added is not left in the library without an album)."""
        if conn.execute("SELECT 1 FROM albums WHERE id = ?", (album_id,)).fetchone() is None:
            raise UnknownItemError("The album was deleted during the import; the import stopped there.")

    @classmethod
    def _add_to_album(cls, conn: sqlite3.Connection, album_id: int, photo_id: int) -> None:
        cls._require_album(conn, album_id)
        conn.execute(
            "INSERT OR IGNORE INTO album_photos (album_id, photo_id) VALUES (?, ?)", (album_id, photo_id)
        )

    def _mark_missing(self, folders: list[str], seen: set[str]) -> list[int]:
        gone = []
        conn = self._conn()
        for folder in folders:
            prefix = folder.rstrip(os.sep) + os.sep
            rows = conn.execute(
                "SELECT id, path FROM photos WHERE missing = 0 AND substr(path, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
            gone += [r["id"] for r in rows if r["path"] not in seen and not os.path.isfile(r["path"])]
        if gone:
            with self._write() as conn:
                conn.executemany("UPDATE photos SET missing = 1 WHERE id = ?", [(i,) for i in gone])
        return gone

    def refresh_photo(self, photo_id: int) -> bool:
        """Index the photo again when its file's bytes are no longer those indexed (edited or rotated in
        another program); returns True when they changed. A changed photo's faces are to be found again,
        as after a re-import. The whole file is hashed: an edit can keep its size and modification time.
        A file that cannot be read is left for the caller's read to report."""
        photo = self.photo(photo_id)
        try:
            if hash_file(str(photo.path)) == photo.content_hash:
                return False
        except OSError:
            return False
        info = index_file(str(photo.path))
        if isinstance(info, ImportProblem):
            raise ImageReadError(f'Cannot read the photo "{photo.path}": {info.reason}.')
        with self._write() as conn:
            _, outcome = self._store_photo(conn, info)
        return outcome == "updated"

    def refresh_missing(self) -> RefreshReport:
        """Check every photo's file: mark the gone ones missing, unmark those that are back, and look
        for missing ones (same content) among the new files of the imported folders."""
        conn = self._conn()
        rows = conn.execute("SELECT id, path, missing FROM photos").fetchall()
        newly_missing, found = [], []
        for r in rows:
            exists = os.path.isfile(r["path"])
            if exists and r["missing"]:
                found.append(r["id"])
            elif not exists and not r["missing"]:
                newly_missing.append(r["id"])
        with self._write() as conn:
            conn.executemany("UPDATE photos SET missing = 1 WHERE id = ?", [(i,) for i in newly_missing])
            conn.executemany("UPDATE photos SET missing = 0 WHERE id = ?", [(i,) for i in found])
        moved = self._find_moved()
        return RefreshReport(newly_missing, found, moved)

    def _find_moved(self) -> list[int]:
        conn = self._conn()
        missing = conn.execute("SELECT id, content_hash, size_bytes FROM photos WHERE missing = 1").fetchall()
        if not missing:
            return []
        by_hash = {r["content_hash"]: r["id"] for r in missing}
        sizes = {r["size_bytes"] for r in missing}
        known = {r["path"] for r in conn.execute("SELECT path FROM photos")}
        sources = [r["path"] for r in conn.execute("SELECT DISTINCT path FROM album_sources")]
        found = ScanResult()
        for _ in scan([s for s in sources if os.path.isdir(s)], found, exclude=[self.directory]):
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
                with self._write() as conn:
                    conn.execute("UPDATE photos SET path = ?, missing = 0 WHERE id = ?", (path, photo_id))
            except sqlite3.IntegrityError:  # imported meanwhile under that path
                continue
            moved.append(photo_id)
        return moved

    # --- thumbnails -------------------------------------------------------------------------------------

    def thumbnail_path(self, photo_id: int, size: int) -> Path:
        """A JPEG thumbnail fitting ``size x size``, made now if needed (slow: call from a worker)."""
        photo = self.photo(photo_id)
        cached = self.thumbnails.cached(photo.content_hash, size)
        if cached:
            return cached
        if photo.missing or not photo.path.is_file():
            raise ImageReadError(f'The photo "{photo.path}" is missing; it was moved or deleted.')
        return self.thumbnails.get(photo.path, photo.content_hash, size)

    def version_thumbnail_path(self, version_id: int, size: int) -> Path:
        version = self.version(version_id)
        # Keyed by the file, whose name has a random part: libraries made before schema version 5 reuse ids.
        key = hashlib.blake2b(self._rel(version.path).encode(), digest_size=16).hexdigest()
        return self.thumbnails.get(version.path, key, size)

    # --- faces ----------------------------------------------------------------------------------------

    _FACE_COLUMNS = (
        "f.id, f.photo_id, f.x0, f.y0, f.x1, f.y1, f.landmarks, f.score, f.embedding, f.detector, f.person_id"
    )

    @staticmethod
    def _face(r: sqlite3.Row) -> FaceRecord:
        embedding = None if r["embedding"] is None else np.frombuffer(r["embedding"], dtype=np.float32).copy()
        return FaceRecord(
            r["id"],
            r["photo_id"],
            (r["x0"], r["y0"], r["x1"], r["y1"]),
            np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2).copy(),
            r["score"],
            embedding,
            r["detector"],
            r["person_id"],
        )

    def photos_needing_faces(self, detector: str | None = None) -> list[int]:
        """Photos (not missing) whose faces were never looked for, or not with ``detector`` when given."""
        sql = "SELECT id FROM photos WHERE missing = 0 AND (faces_detector IS NULL"
        args: tuple[Any, ...] = ()
        if detector is not None:
            sql += " OR faces_detector != ?"
            args = (detector,)
        return [r["id"] for r in self._conn().execute(sql + ") ORDER BY id", args)]

    def set_faces(
        self, photo_id: int, faces: Sequence[Face], embeddings: Sequence[np.ndarray | None], detector: str
    ) -> list[int]:
        """Record what ``detector`` found in a photo (boxes in the upright photo's pixels); returns the
        face ids in the order given.

        A face overlapping a previously recorded one (IoU above :data:`SAME_FACE_IOU`) keeps that
        record's id, person and reference role; recorded faces not found again are removed.
        """
        if len(faces) != len(embeddings):
            raise ValueError(f"{len(faces)} faces but {len(embeddings)} embeddings")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
                raise UnknownItemError("That photo is no longer in the library.")
            old = {
                r["id"]: (r["x0"], r["y0"], r["x1"], r["y1"])
                for r in conn.execute("SELECT id, x0, y0, x1, y1 FROM faces WHERE photo_id = ?", (photo_id,))
            }
            pairs = sorted(
                ((_iou(face.box, box), i, fid) for i, face in enumerate(faces) for fid, box in old.items()),
                reverse=True,
            )
            keep: dict[int, int] = {}  # new index -> old face id
            for iou, i, fid in pairs:
                if iou > SAME_FACE_IOU and i not in keep and fid not in keep.values():
                    keep[i] = fid
            gone = set(old) - set(keep.values())
            conn.executemany("DELETE FROM faces WHERE id = ?", [(fid,) for fid in gone])
            ids = []
            for i, (face, embedding) in enumerate(zip(faces, embeddings, strict=True)):
                landmarks = np.asarray(face.landmarks, dtype=np.float32)
                if landmarks.shape != (5, 2):
                    raise ValueError(f"landmarks must be 5 x 2, got {landmarks.shape}")
                values = (
                    *map(float, face.box),
                    _blob(landmarks),
                    float(face.score),
                    _blob(embedding),
                    detector,
                )
                if i in keep:
                    conn.execute(
                        "UPDATE faces SET x0 = ?, y0 = ?, x1 = ?, y1 = ?, landmarks = ?, score = ?, "
                        "embedding = ?, detector = ?, sharpness = NULL WHERE id = ?",
                        (*values, keep[i]),
                    )
                    ids.append(keep[i])
                else:
                    cursor = conn.execute(
                        "INSERT INTO faces (photo_id, x0, y0, x1, y1, landmarks, score, embedding, detector) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (photo_id, *values),
                    )
                    ids.append(int(cursor.lastrowid))
            conn.execute("UPDATE photos SET faces_detector = ? WHERE id = ?", (detector, photo_id))
        return ids

    def face(self, face_id: int) -> FaceRecord:
        return self._face(
            self._one(f"SELECT {self._FACE_COLUMNS} FROM faces f WHERE f.id = ?", (face_id,), "face")
        )

    def faces_of_photo(self, photo_id: int) -> list[FaceRecord]:
        rows = self._conn().execute(
            f"SELECT {self._FACE_COLUMNS} FROM faces f WHERE f.photo_id = ? ORDER BY f.x0", (photo_id,)
        )
        return [self._face(r) for r in rows]

    def faces_of_person(self, person_id: int | None) -> list[FaceRecord]:
        """A person's faces; ``None``: faces nobody was named for."""
        condition = "f.person_id IS NULL" if person_id is None else "f.person_id = ?"
        rows = self._conn().execute(
            f"SELECT {self._FACE_COLUMNS} FROM faces f WHERE {condition} ORDER BY f.photo_id, f.id",
            () if person_id is None else (person_id,),
        )
        return [self._face(r) for r in rows]

    # --- people ---------------------------------------------------------------------------------------

    _PERSON_SQL = (
        "SELECT p.id, p.name, p.created, p.reference_face_id, p.reference_image, p.personal_model, "
        "(SELECT COUNT(*) FROM faces f WHERE f.person_id = p.id) AS n FROM people p"
    )

    def _person(self, r: sqlite3.Row) -> Person:
        return Person(
            r["id"],
            r["name"],
            r["created"],
            r["reference_face_id"],
            self._abs(r["reference_image"]) if r["reference_image"] else None,
            Path(r["personal_model"]) if r["personal_model"] else None,
            r["n"],
        )

    def person(self, person_id: int) -> Person:
        return self._person(self._one(self._PERSON_SQL + " WHERE p.id = ?", (person_id,), "person"))

    def people(self) -> list[Person]:
        return [self._person(r) for r in self._conn().execute(self._PERSON_SQL + " ORDER BY p.name, p.id")]

    def create_person(self, name: str, face_ids: Iterable[int] = ()) -> int:
        name = self._clean_name(name, "A person")
        with self._write() as conn:
            person_id = int(
                conn.execute("INSERT INTO people (name, created) VALUES (?, ?)", (name, _now())).lastrowid
            )
            conn.executemany(
                "UPDATE faces SET person_id = ? WHERE id = ?", [(person_id, f) for f in face_ids]
            )
        return person_id

    def rename_person(self, person_id: int, name: str) -> None:
        name = self._clean_name(name, "A person")
        with self._write() as conn:
            if conn.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id)).rowcount == 0:
                raise UnknownItemError("That person is no longer in the library.")

    def delete_person(self, person_id: int) -> None:
        """Forget a person; their faces become unnamed. A personal model file is left where it is."""
        with self._write() as conn:
            row = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.execute("DELETE FROM people WHERE id = ?", (person_id,))
        if row["reference_image"]:
            self._delete_files([self._abs(row["reference_image"])])

    def merge_people(self, source_id: int, target_id: int) -> None:
        """Make two people one: every face of the source becomes the target's and the source is forgotten.

        The target keeps its reference and personal model; one it lacks is taken from the source (a
        reference image is copied into the target's folder before the change is committed; one whose file
        is gone is not taken). Faces turned down for the source are turned down for the target. A personal
        model file is left where it is.
        """
        if source_id == target_id:
            raise UserError("A person cannot be merged with themselves.")
        moved: Path | None = None
        try:
            with self._write() as conn:
                rows = {
                    r["id"]: r
                    for r in conn.execute(
                        "SELECT id, reference_face_id, reference_image, personal_model FROM people "
                        "WHERE id IN (?, ?)",
                        (source_id, target_id),
                    )
                }
                if len(rows) < 2:
                    raise UnknownItemError("That person is no longer in the library.")
                source, target = rows[source_id], rows[target_id]
                image = source["reference_image"]
                # Moving the faces clears the source's reference face (trigger faces_leave_person).
                conn.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (target_id, source_id))
                # A face turned down for both keeps the target's row; the source's goes with the source.
                conn.execute(
                    "UPDATE OR IGNORE rejections SET person_id = ? WHERE person_id = ?", (target_id, source_id)
                )
                # "Not the target" said of a face the source had (or the other way round) no longer holds.
                conn.execute(
                    "DELETE FROM rejections WHERE person_id = ? "
                    "AND face_id IN (SELECT id FROM faces WHERE person_id = ?)",
                    (target_id, target_id),
                )
                if target["reference_face_id"] is None and target["reference_image"] is None:
                    if source["reference_face_id"] is not None:
                        conn.execute(
                            "UPDATE people SET reference_face_id = ? WHERE id = ?",
                            (source["reference_face_id"], target_id),
                        )
                    elif image is not None and self._abs(image).is_file():
                        moved = self.directory / "references" / str(target_id) / (
                            secrets.token_hex(8) + Path(image).suffix
                        )
                        moved.parent.mkdir(parents=True, exist_ok=True)
                        self._copy_atomic(self._abs(image), moved)
                        conn.execute(
                            "UPDATE people SET reference_image = ? WHERE id = ?", (self._rel(moved), target_id)
                        )
                if target["personal_model"] is None and source["personal_model"] is not None:
                    conn.execute(
                        "UPDATE people SET personal_model = ? WHERE id = ?", (source["personal_model"], target_id)
                    )
                conn.execute("DELETE FROM people WHERE id = ?", (source_id,))
        except BaseException:
            if moved is not None:
                moved.unlink(missing_ok=True)
            raise
        if image is not None:
            self._delete_files([self._abs(image)])

    def assign_faces(self, face_ids: Iterable[int], person_id: int) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.executemany(
                "UPDATE faces SET person_id = ? WHERE id = ?", [(person_id, f) for f in face_ids]
            )

    def unassign_faces(self, face_ids: Iterable[int]) -> None:
        with self._write() as conn:
            conn.executemany("UPDATE faces SET person_id = NULL WHERE id = ?", [(f,) for f in face_ids])

    def set_personal_model(self, person_id: int, model_path: str | os.PathLike[str] | None) -> None:
        """Remember the person's fine-tuned model (None: back to the general model)."""
        value = None
        if model_path is not None:
            path = Path(model_path).absolute()
            if not path.is_file():
                raise UserError(f'The personal model "{path}" does not exist.')
            value = str(path)
        with self._write() as conn:
            if (
                conn.execute("UPDATE people SET personal_model = ? WHERE id = ?", (value, person_id)).rowcount
                == 0
            ):
                raise UnknownItemError("That person is no longer in the library.")

    # --- grouping suggestions ---------------------------------------------------------------------------

    def suggest_groups(self, threshold: float | None = None) -> list[Suggestion]:
        """Groupings of unnamed faces for the user to confirm: first faces that look like a named person
        (closer than ``threshold`` to one of that person's faces, and not in a photo where the person
        already is), then groups of two or more unnamed faces that look like one new person. Faces the
        user turned down for a person, or for a new group, are not suggested there again.
        """
        threshold = IdentityEmbedder.same_person_threshold if threshold is None else threshold
        conn = self._conn()
        unnamed = conn.execute(
            "SELECT id, photo_id, embedding FROM faces "
            "WHERE person_id IS NULL AND embedding IS NOT NULL ORDER BY id"
        ).fetchall()
        if not unnamed:
            return []
        named = conn.execute(
            "SELECT id, photo_id, person_id, embedding FROM faces "
            "WHERE person_id IS NOT NULL AND embedding IS NOT NULL ORDER BY id"
        ).fetchall()
        rejected = {
            (r["face_id"], r["person_id"]) for r in conn.execute("SELECT face_id, person_id FROM rejections")
        }
        person_photos = {(r["person_id"], r["photo_id"]) for r in named}
        emb_u = np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in unnamed])
        attached: dict[int, list[tuple[int, float]]] = {}
        if named:
            emb_n = np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in named])
            owners = np.array([r["person_id"] for r in named])
            persons = np.unique(owners)
            dist = self._distances(emb_u, emb_n)
            # Distance of each unnamed face to each person's nearest face (U x P).
            nearest = np.stack([dist[:, owners == p].min(axis=1) for p in persons], axis=1)
            for i, face in enumerate(unnamed):
                for k in np.argsort(nearest[i], kind="stable"):
                    d, pid = float(nearest[i, k]), int(persons[k])
                    if d >= threshold:
                        break
                    if (face["id"], pid) in rejected or (pid, face["photo_id"]) in person_photos:
                        continue
                    attached.setdefault(pid, []).append((face["id"], face["photo_id"], d))
                    break
        suggestions = []
        for pid, candidates in attached.items():
            members = _closest_per_photo(candidates)
            mean = float(np.mean([d for *_, d in members]))
            suggestions.append(Suggestion(tuple(f for f, _, _ in members), pid, mean))
        taken = {f for s in suggestions for f in s.face_ids}
        rest = [i for i, r in enumerate(unnamed) if r["id"] not in taken and (r["id"], None) not in rejected]
        if len(rest) >= 2:
            labels = np.asarray(cluster_faces(emb_u[rest], threshold))
            for label in np.unique(labels[labels >= 0]):
                members = [rest[k] for k in np.flatnonzero(labels == label)]
                centre = emb_u[members].mean(axis=0, keepdims=True)
                to_centre = self._distances(emb_u[members], centre)[:, 0]
                kept = _closest_per_photo([(int(unnamed[m]["id"]), unnamed[m]["photo_id"], float(d))
                                           for m, d in zip(members, to_centre, strict=True)])
                if len(kept) >= 2:
                    spread = float(np.mean([d for *_, d in kept]))
                    suggestions.append(Suggestion(tuple(f for f, _, _ in kept), None, spread))
        suggestions.sort(key=lambda s: (s.person_id is None, -len(s.face_ids), s.face_ids))
        return suggestions

    @staticmethod
    def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """identity.identity_distance (Euclidean) of every row of ``a`` to every row of ``b``, at once."""
        x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
        squares = np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", y, y)[None, :]
        return np.sqrt(np.maximum(squares - 2.0 * (x @ y.T), 0.0))

    def accept_suggestion(self, suggestion: Suggestion, name: str | None = None) -> int:
        """Name the suggested faces: as the suggested person, or as a new person called ``name``.
        Faces named or deleted since the suggestion are left alone. Returns the person's id."""
        if suggestion.person_id is None:
            if name is None:
                raise UserError("A new person needs a name.")
            name = self._clean_name(name, "A person")
        with self._write() as conn:
            person_id = suggestion.person_id
            if person_id is None:
                cursor = conn.execute("INSERT INTO people (name, created) VALUES (?, ?)", (name, _now()))
                person_id = int(cursor.lastrowid)
            elif conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.executemany(
                "UPDATE faces SET person_id = ? WHERE id = ? AND person_id IS NULL",
                [(person_id, f) for f in suggestion.face_ids],
            )
        return person_id

    def reject_suggestion(self, suggestion: Suggestion) -> None:
        """Remember that these faces are not this person (or not to be grouped as a new person)."""
        if not suggestion.face_ids:
            return
        with self._write() as conn:
            existing = {
                r["id"]
                for r in conn.execute(
                    f"SELECT id FROM faces WHERE id IN ({','.join('?' * len(suggestion.face_ids))})",
                    suggestion.face_ids,
                )
            }
            if (
                suggestion.person_id is not None
                and conn.execute("SELECT 1 FROM people WHERE id = ?", (suggestion.person_id,)).fetchone()
                is None
            ):
                return
            conn.executemany(
                "INSERT OR IGNORE INTO rejections (face_id, person_id, created) VALUES (?, ?, ?)",
                [(f, suggestion.person_id, _now()) for f in suggestion.face_ids if f in existing],
            )

    # --- references -------------------------------------------------------------------------------------

    def set_reference_face(self, person_id: int, face_id: int) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT person_id FROM faces WHERE id = ?", (face_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That face is no longer in the library.")
            if row["person_id"] != person_id:
                raise UserError("The reference must be one of this person's faces.")
            old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            conn.execute(
                "UPDATE people SET reference_face_id = ?, reference_image = NULL WHERE id = ?",
                (face_id, person_id),
            )
        if old is not None and old["reference_image"]:
            self._delete_files([self._abs(old["reference_image"])])

    def set_reference_image(self, person_id: int, image_path: str | os.PathLike[str]) -> Path:
        """Use an image file as the person's reference. The file is checked to be a readable photo and
        copied into the library (the original is not referenced); returns the copy's path."""
        source = Path(image_path)
        read_photo(source)  # raises ImageReadError with the reason
        self.person(person_id)
        folder = self.directory / "references" / str(person_id)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{secrets.token_hex(8)}{source.suffix.lower()}"
        self._copy_atomic(source, dest)
        try:
            with self._write() as conn:
                old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
                if old is None:
                    raise UnknownItemError("That person is no longer in the library.")
                conn.execute(
                    "UPDATE people SET reference_image = ?, reference_face_id = NULL WHERE id = ?",
                    (self._rel(dest), person_id),
                )
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        if old["reference_image"]:
            self._delete_files([self._abs(old["reference_image"])])
        return dest

    @staticmethod
    def _copy_atomic(source: Path, dest: Path) -> None:
        try:
            with atomic_path(dest) as tmp:
                shutil.copyfile(source, tmp)
        except OSError as exc:
            raise ImageWriteError(f'Cannot copy "{source}" into the library: {exc.strerror}.') from None

    def clear_reference(self, person_id: int) -> None:
        with self._write() as conn:
            old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            if old is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.execute(
                "UPDATE people SET reference_image = NULL, reference_face_id = NULL WHERE id = ?",
                (person_id,),
            )
        if old["reference_image"]:
            self._delete_files([self._abs(old["reference_image"])])

    def reference_candidates(self, person_id: int) -> list[references.ReferenceCandidate]:
        """The person's faces ranked as references, best first (reads each photo once, the first time:
        sharpness is remembered). Faces whose photo is missing or unreadable are left out."""
        self.person(person_id)
        rows = (
            self._conn()
            .execute(
                "SELECT f.id, f.photo_id, f.landmarks, f.sharpness, p.path FROM faces f "
                "JOIN photos p ON p.id = f.photo_id WHERE f.person_id = ? AND p.missing = 0 "
                "ORDER BY f.photo_id, f.id",
                (person_id,),
            )
            .fetchall()
        )
        measured: dict[int, float] = {}
        image: np.ndarray | None = None
        image_photo: int | None = None
        for r in rows:
            if r["sharpness"] is not None:
                continue
            if image_photo != r["photo_id"]:
                image_photo = r["photo_id"]
                try:
                    image = read_image_rgb8(r["path"])
                except ImageReadError:
                    image = None
            if image is not None:
                landmarks = np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2)
                try:
                    crop, _ = align_face(image, landmarks, references.SHARPNESS_CROP_SIZE)
                except ValueError:  # degenerate landmarks: not a usable reference
                    continue
                measured[r["id"]] = references.detail_sharpness(crop)
        if measured:
            with self._write() as conn:
                conn.executemany(
                    "UPDATE faces SET sharpness = ? WHERE id = ?", [(s, f) for f, s in measured.items()]
                )
        measures = []
        for r in rows:
            sharpness = r["sharpness"] if r["sharpness"] is not None else measured.get(r["id"])
            if sharpness is None:
                continue
            landmarks = np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2)
            measures.append(
                references.FaceMeasure(
                    r["id"], sharpness, references.face_size_px(landmarks), references.frontalness(landmarks)
                )
            )
        return references.rank_candidates(measures)

    def suggest_reference(self, person_id: int) -> references.ReferenceCandidate | None:
        """The best reference among the person's faces with the reasons (``.why``), or None."""
        ranked = self.reference_candidates(person_id)
        return ranked[0] if ranked else None

    # --- versions ---------------------------------------------------------------------------------------

    _VERSION_SQL = "SELECT id, photo_id, file, model, reference_people, created, report FROM versions"

    def _version(self, r: sqlite3.Row) -> Version:
        return Version(
            r["id"],
            r["photo_id"],
            self._abs(r["file"]),
            r["model"],
            tuple(json.loads(r["reference_people"])),
            r["created"],
            json.loads(r["report"]),
        )

    def version(self, version_id: int) -> Version:
        return self._version(
            self._one(self._VERSION_SQL + " WHERE id = ?", (version_id,), "restored version")
        )

    def versions(self, photo_id: int) -> list[Version]:
        rows = self._conn().execute(self._VERSION_SQL + " WHERE photo_id = ? ORDER BY id", (photo_id,))
        return [self._version(r) for r in rows]

    def add_version(
        self,
        photo_id: int,
        pixels: np.ndarray,
        *,
        model: str,
        reference_people: Sequence[int] = (),
        report: dict[str, Any] | None = None,
        grayscale: bool = False,
        exif: bytes | None = None,
        icc_profile: bytes | None = None,
        job_id: int | None = None,
    ) -> int:
        """Store a restored result of a photo as a new PNG version (uint8 or uint16 RGB pixels) with the
        model name, the people whose references were used, the per-face report and the job that made it.
        The file is written completely before its row is committed."""
        photo = self.photo(photo_id)
        people = []
        for pid in reference_people:
            with contextlib.suppress(UnknownItemError):  # deleted or merged away during the restore: not named
                people.append({"id": pid, "name": self.person(pid).name})
        report_text = json.dumps(report or {})
        folder = self.directory / "versions" / str(photo_id)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = folder / f"{_safe_file_name(photo.path.stem) or 'photo'}_{stamp}_{secrets.token_hex(4)}.png"
        write_photo_atomic(pixels, dest, grayscale=grayscale, exif=exif, icc_profile=icc_profile)
        try:
            with self._write() as conn:
                # The photo may have left the library, or its file been replaced, while the file was written.
                row = conn.execute("SELECT path, content_hash FROM photos WHERE id = ?", (photo_id,)).fetchone()
                if row is None or (Path(row["path"]), row["content_hash"]) != (photo.path, photo.content_hash):
                    raise UnknownItemError("That photo is no longer in the library.")
                cursor = conn.execute(
                    "INSERT INTO versions (photo_id, file, model, created, report, reference_people, job_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (photo_id, self._rel(dest), model, _now(), report_text, json.dumps(people), job_id),
                )
        except BaseException:
            dest.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: the photo's other versions stay
            raise
        return int(cursor.lastrowid)

    def restored_photo_ids(self, album_id: int | None = None) -> set[int]:
        """The photos of an album (of the library when None) that have at least one version."""
        if album_id is None:
            rows = self._conn().execute("SELECT DISTINCT photo_id FROM versions")
        else:
            rows = self._conn().execute(
                "SELECT DISTINCT v.photo_id FROM versions v JOIN album_photos ap ON ap.photo_id = v.photo_id "
                "WHERE ap.album_id = ?",
                (album_id,),
            )
        return {r["photo_id"] for r in rows}

    def photos_restored_by_job(self, job_id: int) -> set[int]:
        """The photos that have a version made by the job (by any of its runs)."""
        rows = self._conn().execute("SELECT DISTINCT photo_id FROM versions WHERE job_id = ?", (job_id,))
        return {r["photo_id"] for r in rows}

    def delete_version(self, version_id: int) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT file FROM versions WHERE id = ?", (version_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That restored version is no longer in the library.")
            conn.execute("DELETE FROM versions WHERE id = ?", (version_id,))
        self._delete_files([self._abs(row["file"])])

    def export_name(self, version_id: int, pattern: str, album_id: int | None = None) -> str:
        """The file name (without suffix) ``pattern`` gives a version: ``{stem}`` of the original,
        ``{album}`` (``album_id``, else the photo's first album), ``{date}`` taken (YYYY-MM-DD),
        ``{version}`` (1 for a photo's first version, 2 for its second...), ``{model}``."""
        problem = export_pattern_problem(pattern)
        if problem:
            raise UserError(problem)
        version = self.version(version_id)
        photo = self.photo(version.photo_id)
        conn = self._conn()
        if album_id is None:
            albums = self.photo_albums(photo.id)
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
        name = _safe_file_name(pattern.format(**{k: _safe_file_name(v) for k, v in fields.items()}))
        return name or _safe_file_name(photo.path.stem) or "photo"

    def export_version(
        self,
        version_id: int,
        dest_dir: str | os.PathLike[str],
        fmt: str = "png",
        quality: int = 95,
        pattern: str = "{stem}_restored",
        album_id: int | None = None,
    ) -> Path:
        """Write a copy of a version into ``dest_dir`` as PNG or JPEG, with its EXIF and ICC profile.
        An existing file is never replaced: the name gets " (2)", " (3)"... Returns the file written."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {EXPORT_FORMATS}, got {fmt!r}")
        name = self.export_name(version_id, pattern, album_id)
        photo = read_photo(self.version(version_id).path)
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

    # --- jobs ------------------------------------------------------------------------------------------

    _JOB_SQL = (
        "SELECT id, kind, state, payload, progress, error, created, started, finished, updated FROM jobs"
    )

    @staticmethod
    def _job(r: sqlite3.Row) -> Job:
        return Job(
            r["id"],
            r["kind"],
            r["state"],
            json.loads(r["payload"]),
            r["progress"],
            r["error"],
            r["created"],
            r["started"],
            r["finished"],
            r["updated"],
        )

    def add_job(self, kind: str, payload: dict[str, Any] | None = None) -> int:
        if kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {JOB_KINDS}, got {kind!r}")
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (kind, state, payload, created, updated) VALUES (?, 'queued', ?, ?, ?)",
                (kind, json.dumps(payload or {}), now, now),
            )
        return int(cursor.lastrowid)

    def job(self, job_id: int) -> Job:
        return self._job(self._one(self._JOB_SQL + " WHERE id = ?", (job_id,), "job"))

    def jobs(self, states: Iterable[str] | None = None, kind: str | None = None) -> list[Job]:
        """Jobs, oldest first, optionally only in ``states`` and of ``kind``."""
        clauses, args = [], []
        if states is not None:
            states = list(states)
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            args += states
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return [self._job(r) for r in self._conn().execute(self._JOB_SQL + where + " ORDER BY id", args)]

    def claim_next_job(self, kind: str | None = None) -> Job | None:
        """Move the oldest queued job (of ``kind``) to running and return it; None when there is none."""
        with self._write() as conn:
            sql = (
                "SELECT id FROM jobs WHERE state = 'queued'"
                + (" AND kind = ?" if kind else "")
                + " ORDER BY id"
            )
            row = conn.execute(sql, (kind,) if kind else ()).fetchone()
            if row is None:
                return None
            self._move_job(conn, row["id"], "running", None)
        return self.job(row["id"])

    def set_job_state(self, job_id: int, state: str, error: str | None = None) -> None:
        """Move a job to ``state`` (see :data:`JOB_TRANSITIONS`); ``error`` goes with "failed".
        Raises JobStateError for a move the job's current state does not allow."""
        with self._write() as conn:
            self._move_job(conn, job_id, state, error)

    def mark_job_started(self, job_id: int) -> None:
        """A worker began the job: queued -> running. A pause or resume the user made while the worker was
        starting stands (the check and the move are one transaction, so neither can slip in between)."""
        with self._write() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None and row["state"] == "queued":
                self._move_job(conn, job_id, "running", None)

    def _move_job(self, conn: sqlite3.Connection, job_id: int, state: str, error: str | None) -> None:
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise UnknownItemError("That job is no longer in the library.")
        if state not in JOB_TRANSITIONS[row["state"]]:
            raise JobStateError(f"job {job_id} cannot go from {row['state']} to {state}")
        now = _now()
        if state == "queued":
            conn.execute(
                "UPDATE jobs SET state = ?, progress = 0, error = NULL, started = NULL, finished = NULL, "
                "updated = ? WHERE id = ?",
                (state, now, job_id),
            )
        elif state == "running":
            conn.execute(
                "UPDATE jobs SET state = ?, started = coalesce(started, ?), updated = ? WHERE id = ?",
                (state, now, now, job_id),
            )
        elif state in ("done", "failed", "cancelled"):
            progress = ", progress = 1" if state == "done" else ""
            conn.execute(
                f"UPDATE jobs SET state = ?, error = ?, finished = ?, updated = ?{progress} WHERE id = ?",
                (state, error if state == "failed" else None, now, now, job_id),
            )
        else:
            conn.execute("UPDATE jobs SET state = ?, updated = ? WHERE id = ?", (state, now, job_id))

    def set_job_progress(self, job_id: int, progress: float) -> None:
        """Record progress in [0, 1] of a running job."""
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET progress = ?, updated = ? WHERE id = ?",
                (min(max(float(progress), 0.0), 1.0), _now(), job_id),
            )

    def delete_finished_jobs(self) -> int:
        """Forget done and cancelled jobs; returns how many."""
        with self._write() as conn:
            return conn.execute("DELETE FROM jobs WHERE state IN ('done', 'cancelled')").rowcount

    # --- housekeeping ---------------------------------------------------------------------------------

    def remove_leftovers(self) -> list[Path]:
        """Delete what an interrupted write can leave in the library folder: temporary files and
        version or reference files no row points to, and the folders of photos and people that have none left.
        Call it before starting background work: a restore could be writing into such a folder."""
        conn = self._conn()
        known = {r["file"] for r in conn.execute("SELECT file FROM versions")}
        known |= {
            r["reference_image"]
            for r in conn.execute("SELECT reference_image FROM people WHERE reference_image IS NOT NULL")
        }
        removed = []
        for top in ("versions", "references"):
            base = self.directory / top
            if not base.is_dir():
                continue
            for path in base.glob("*/*"):
                if path.is_file() and self._rel(path) not in known:  # temporary files are never known
                    path.unlink(missing_ok=True)
                    removed.append(path)
            for folder in base.iterdir():
                if folder.is_dir() and not any(folder.iterdir()):
                    try:
                        folder.rmdir()
                    except OSError:  # in use elsewhere (a shell's current folder on Windows): next time
                        continue
                    removed.append(folder)
        return removed

    def integrity_problems(self) -> list[str]:
        """SQLite's integrity and foreign key checks plus the library's own invariants; empty when sound."""
        conn = self._conn()
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {tuple(r)}" for r in conn.execute("PRAGMA foreign_key_check")]
        for r in conn.execute("SELECT id, file FROM versions"):
            if not self._abs(r["file"]).is_file():
                problems.append(f"version {r['id']}: file {r['file']} is missing")
        for r in conn.execute("SELECT id, reference_image FROM people WHERE reference_image IS NOT NULL"):
            if not self._abs(r["reference_image"]).is_file():
                problems.append(f"person {r['id']}: reference image {r['reference_image']} is missing")
        return problems
