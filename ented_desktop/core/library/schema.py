"""The library's SQLite schema, built by numbered migrations.

``PRAGMA user_version`` holds the number of migrations applied. A migration, once released, never
changes: a new schema version appends a new entry to :data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3

from ented_desktop.core.errors import UserError

JOB_KINDS = ("detect", "restore", "finetune", "export")
JOB_STATES = ("queued", "running", "paused", "done", "failed", "cancelled", "interrupted")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Version 1: albums of photos, restored versions, jobs.
_V1 = (
    """CREATE TABLE albums (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL
    )""",
    # Folders and files dropped onto an album: re-added on refresh, searched for moved photos.
    """CREATE TABLE album_sources (
        album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        PRIMARY KEY (album_id, path)
    )""",
    """CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        format TEXT NOT NULL,
        taken TEXT NOT NULL,
        taken_source TEXT NOT NULL CHECK (taken_source IN ('exif', 'mtime')),
        missing INTEGER NOT NULL DEFAULT 0 CHECK (missing IN (0, 1)),
        added REAL NOT NULL
    )""",
    "CREATE INDEX photos_hash ON photos(content_hash)",
    """CREATE TABLE album_photos (
        album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        PRIMARY KEY (album_id, photo_id)
    )""",
    "CREATE INDEX album_photos_photo ON album_photos(photo_id)",
    """CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        file TEXT NOT NULL UNIQUE,
        model TEXT NOT NULL,
        created REAL NOT NULL,
        report TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX versions_photo ON versions(photo_id)",
    f"""CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ({_sql_list(JOB_KINDS)})),
        state TEXT NOT NULL CHECK (state IN ({_sql_list(JOB_STATES)})),
        payload TEXT NOT NULL DEFAULT '{{}}',
        progress REAL NOT NULL DEFAULT 0,
        error TEXT,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        updated REAL NOT NULL
    )""",
    "CREATE INDEX jobs_state ON jobs(state)",
)

# Version 2: faces, people and their references, grouping suggestions the user turned down.
_V2 = (
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        reference_face_id INTEGER REFERENCES faces(id) ON DELETE SET NULL,
        reference_image TEXT,
        personal_model TEXT,
        CHECK (reference_face_id IS NULL OR reference_image IS NULL)
    )""",
    """CREATE TABLE faces (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        x0 REAL NOT NULL,
        y0 REAL NOT NULL,
        x1 REAL NOT NULL,
        y1 REAL NOT NULL,
        landmarks BLOB NOT NULL,
        score REAL NOT NULL,
        embedding BLOB,
        detector TEXT NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        sharpness REAL
    )""",
    "CREATE INDEX faces_photo ON faces(photo_id)",
    "CREATE INDEX faces_person ON faces(person_id)",
    # person_id NULL: the face is not to be suggested as part of a new person.
    """CREATE TABLE rejections (
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        created REAL NOT NULL
    )""",
    "CREATE UNIQUE INDEX rejections_pair ON rejections(face_id, ifnull(person_id, 0))",
    # A person's reference face is always one of that person's faces.
    """CREATE TRIGGER faces_leave_person AFTER UPDATE OF person_id ON faces
        WHEN OLD.person_id IS NOT NEW.person_id
        BEGIN
            UPDATE people SET reference_face_id = NULL
            WHERE id = OLD.person_id AND reference_face_id = OLD.id;
        END""",
    # The detector that last looked at the photo; NULL: faces still to be found.
    "ALTER TABLE photos ADD COLUMN faces_detector TEXT",
    "ALTER TABLE versions ADD COLUMN reference_people TEXT NOT NULL DEFAULT '[]'",
)

# Version 3: the job that made a version, so a restore job run again skips the photos it already restored.
_V3 = (
    "ALTER TABLE versions ADD COLUMN job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL",
    "CREATE INDEX versions_job ON versions(job_id)",
)

# Version 4: sharpness is measured another way (references.detail_sharpness, which grain and JPEG blocks do
# not inflate); the old values are forgotten and measured again the next time references are ranked.
_V4 = ("UPDATE faces SET sharpness = NULL",)

# MIGRATIONS[n] takes a version-n database to version n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


class LibraryVersionError(UserError):
    """The library was written by a newer version of the program."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to version ``target`` in one transaction; returns the version found.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise LibraryVersionError(
                f"This photo library was made by a newer version of ENTED Desktop (schema {found}); "
                "please update the program."
            )
        for steps in MIGRATIONS[found:target]:
            for statement in steps:
                conn.execute(statement)
        if target > found:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
