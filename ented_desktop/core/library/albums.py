"""Albums: named sets of photos, and what leaves the library when a photo is in no album any more."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ented_desktop.core.errors import UserError
from ented_desktop.core.library.connection import (
    LibraryConnection,
    UnknownItemError,
    clean_name,
    delete_files,
    now,
)
from ented_desktop.core.library.records import Album

_ALBUM_SQL = (
    "SELECT a.id, a.name, a.created, COUNT(ap.photo_id) AS n FROM albums a "
    "LEFT JOIN album_photos ap ON ap.album_id = a.id"
)


def _album(r: sqlite3.Row) -> Album:
    return Album(r["id"], r["name"], r["created"], r["n"])


def _refuse_taken_name(conn: sqlite3.Connection, name: str, album_id: int | None) -> None:
    # casefold in Python: SQLite's lower() and NOCASE fold only ASCII letters.
    for r in conn.execute("SELECT id, name FROM albums"):
        if r["id"] != album_id and r["name"].casefold() == name.casefold():
            raise UserError(f'There is already an album called "{r["name"]}"; choose another name.')


def require_album(conn: sqlite3.Connection, album_id: int) -> None:
    """Inside an import's write: the album may have been deleted since the import began (it then stops, and
    the photo being added is not left in the library without an album)."""
    if conn.execute("SELECT 1 FROM albums WHERE id = ?", (album_id,)).fetchone() is None:
        raise UnknownItemError("The album was deleted during the import; the import stopped there.")


def add_to_album(conn: sqlite3.Connection, album_id: int, photo_id: int) -> None:
    require_album(conn, album_id)
    conn.execute("INSERT OR IGNORE INTO album_photos (album_id, photo_id) VALUES (?, ?)", (album_id, photo_id))


class Albums:
    """``Library.albums``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def create(self, name: str) -> int:
        """A new album; a name another album has (but for case and spaces) is refused: the two could not be told
        apart in the album list."""
        name = clean_name(name, "An album")
        with self._db.write() as conn:
            _refuse_taken_name(conn, name, None)
            return int(conn.execute("INSERT INTO albums (name, created) VALUES (?, ?)", (name, now())).lastrowid)

    def free_name(self, name: str) -> str:
        """``name``, else the first of ``name (2)``, ``name (3)``… no album has: for an album named after a
        dropped folder, whose name another album may have."""
        name = clean_name(name, "An album")
        taken = {r["name"].casefold() for r in self._db.conn().execute("SELECT name FROM albums")}
        free, n = name, 1
        while free.casefold() in taken:
            n += 1
            free = f"{name} ({n})"
        return free

    def rename(self, album_id: int, name: str) -> None:
        name = clean_name(name, "An album")
        with self._db.write() as conn:
            _refuse_taken_name(conn, name, album_id)
            if conn.execute("UPDATE albums SET name = ? WHERE id = ?", (name, album_id)).rowcount == 0:
                raise UnknownItemError("That album is no longer in the library.")

    def get(self, album_id: int) -> Album:
        return _album(self._db.one(_ALBUM_SQL + " WHERE a.id = ? GROUP BY a.id", (album_id,), "album"))

    def all(self) -> list[Album]:
        rows = self._db.conn().execute(_ALBUM_SQL + " GROUP BY a.id ORDER BY a.name, a.id").fetchall()
        return [_album(r) for r in rows]

    def sources(self, album_id: int) -> list[Path]:
        """The folders and files dropped onto the album."""
        rows = self._db.conn().execute("SELECT path FROM album_sources WHERE album_id = ? ORDER BY path", (album_id,))
        return [Path(r["path"]) for r in rows]

    def delete(self, album_id: int) -> None:
        """Delete the album. Photos in no other album leave the library with their faces and versions
        (the originals are untouched; restored versions are deleted)."""
        with self._db.write() as conn:
            if conn.execute("DELETE FROM albums WHERE id = ?", (album_id,)).rowcount == 0:
                raise UnknownItemError("That album is no longer in the library.")
            doomed = self._forget_orphans(conn)
        delete_files(doomed)

    def remove_photos(self, album_id: int, photo_ids: Iterable[int]) -> None:
        """Take photos out of an album; those in no other album leave the library (see :meth:`delete`)."""
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM album_photos WHERE album_id = ? AND photo_id = ?",
                [(album_id, p) for p in photo_ids],
            )
            doomed = self._forget_orphans(conn)
        delete_files(doomed)

    def _forget_orphans(self, conn: sqlite3.Connection) -> list[Path]:
        """Delete photos that belong to no album; returns their version files, to delete after commit."""
        orphans = "SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM album_photos)"
        files = conn.execute(f"SELECT file FROM versions WHERE photo_id IN ({orphans})").fetchall()
        conn.execute(f"DELETE FROM photos WHERE id IN ({orphans})")
        return [self._db.abs(r["file"]) for r in files]
