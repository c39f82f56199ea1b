"""The photo library: opens its folder and database and hands out one object per concern, as ``lib.albums``,
``lib.photos``, ``lib.faces``, ``lib.people``, ``lib.grouping``, ``lib.references``, ``lib.versions``, ``lib.jobs``,
``lib.maintenance`` and ``lib.problems``.

One :class:`Library` serves the whole application and may be shared by threads (see :mod:`connection` for its
connections and transactions). Originals are only ever opened for reading. Everything the library writes (database,
restored versions, reference images, thumbnails) lives in its own directory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ented_desktop.core import paths
from ented_desktop.core.errors import UserError
from ented_desktop.core.library.albums import Albums
from ented_desktop.core.library.connection import LibraryConnection
from ented_desktop.core.library.faces import Faces
from ented_desktop.core.library.grouping import Grouping
from ented_desktop.core.library.jobs import Jobs
from ented_desktop.core.library.lock import LibraryLock
from ented_desktop.core.library.maintenance import Maintenance
from ented_desktop.core.library.people import People
from ented_desktop.core.library.person_references import References
from ented_desktop.core.library.photos import Photos
from ented_desktop.core.library.problems import Problems
from ented_desktop.core.library.schema import migrate
from ented_desktop.core.library.thumbnails import ThumbnailCache
from ented_desktop.core.library.versions import Versions


def default_library_dir() -> Path:
    return paths.user_data_dir() / "library"


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
            raise UserError(f'Cannot create the photo library folder "{self.directory}": {exc.strerror}.') from None
        self._instance_lock = LibraryLock(self.directory)  # before anything touches jobs or files
        self._db = LibraryConnection(self.directory)
        self.db_path = self._db.db_path
        self.thumbnails = ThumbnailCache(self.directory / "thumbnails")
        self.albums = Albums(self._db)
        self.photos = Photos(self._db, self.albums, self.thumbnails)
        self.faces = Faces(self._db)
        self.people = People(self._db)
        self.grouping = Grouping(self._db)
        self.references = References(self._db, self.people)
        self.versions = Versions(self._db, self.photos, self.people, self.thumbnails)
        self.jobs = Jobs(self._db)
        self.maintenance = Maintenance(self._db)
        self.problems = Problems(self._db)
        try:
            migrate(self._db.conn())
        except sqlite3.DatabaseError as exc:
            self.close()
            raise UserError(f'The photo library "{self.db_path}" cannot be opened ({exc}).') from None
        except BaseException:
            self.close()
            raise
        self.jobs.interrupt_running()

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None) -> Library:
        return cls(directory)

    def close(self) -> None:
        self._db.close()
        self._instance_lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
