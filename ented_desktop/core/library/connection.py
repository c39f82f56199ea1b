"""The library's SQLite connections and write transactions, and the files it keeps in its folder.

Every part of the library reads and writes through one :class:`LibraryConnection`. Each thread gets its own SQLite
connection on first use. Every change is one transaction (``BEGIN IMMEDIATE``, so two writers queue instead of
failing); the database runs in WAL mode with ``synchronous=NORMAL``. A file the library writes is complete on disk
before the row that names it is committed, so the program can be killed at any moment and the library stays
consistent.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ented_desktop.core.atomic import atomic_path
from ented_desktop.core.errors import ImageWriteError, UserError

DB_FILE_NAME = "library.sqlite3"


class UnknownItemError(UserError):
    """An album, photo, face, person, version or job that is not (or no longer) in the library."""


def connect(db_path: str | Path) -> sqlite3.Connection:
    # check_same_thread=False only so close() can close every thread's connection; each thread still
    # uses its own. isolation_level=None: transactions are explicit (see LibraryConnection.write).
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class LibraryConnection:
    """The database ``library.sqlite3`` in ``directory``, with a connection per thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.db_path = directory / DB_FILE_NAME
        self._local = threading.local()
        self._lock = threading.Lock()
        self.connections: list[sqlite3.Connection] = []  # every thread's, to close them all
        self._closed = False

    def conn(self) -> sqlite3.Connection:
        """The calling thread's connection (autocommit: reads see the last commit)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the library is closed")
                conn = connect(self.db_path)
                self.connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; never hold it across a yield."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself after some errors (disk full)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def one(self, sql: str, args: Sequence[Any], what: str) -> sqlite3.Row:
        """The row ``sql`` selects; UnknownItemError naming ``what`` when there is none."""
        row = self.conn().execute(sql, args).fetchone()
        if row is None:
            raise UnknownItemError(f"That {what} is no longer in the library.")
        return row

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self.connections:
                conn.close()
            self.connections.clear()

    def abs(self, relative: str) -> Path:
        """The path of a library file from the library-relative form stored in the database."""
        return self.directory / Path(relative)

    def rel(self, path: Path) -> str:
        """The library-relative form of a library file's path, as stored in the database."""
        return path.relative_to(self.directory).as_posix()


def now() -> float:
    return time.time()


def clean_name(name: str, what: str) -> str:
    """``name`` with runs of white space made one space; UserError "``what`` needs a name" when nothing is left."""
    name = " ".join(str(name).split())
    if not name:
        raise UserError(f"{what} needs a name.")
    return name


def delete_files(files: Iterable[Path]) -> None:
    """Delete library files whose rows are gone (after the commit)."""
    for file in files:
        # A file still open elsewhere (a viewer on Windows) stays; Maintenance.remove_leftovers() takes it later.
        with contextlib.suppress(OSError):
            file.unlink(missing_ok=True)


def copy_file_atomic(source: Path, dest: Path) -> None:
    """Copy a file into the library: ``dest`` is complete or absent."""
    try:
        with atomic_path(dest) as tmp:
            shutil.copyfile(source, tmp)
    except OSError as exc:
        raise ImageWriteError(f'Cannot copy "{source}" into the library: {exc.strerror}.') from None
