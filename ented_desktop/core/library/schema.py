"""The library's SQLite schema, built by numbered migrations.

``PRAGMA user_version`` holds the number of migrations applied. A migration, once released, never
changes: a new schema version appends a new entry to :data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3

from ented_desktop.core.errors import UserError

JOB_KINDS = ("detect", "restore", "finetune", "export")
# As the released migrations wrote them into the jobs table's CHECK; job_state.JobState has the same values.
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


def _ids_in_json(table: str, column: str, path: str, field: str | None = None) -> str:
    """A SELECT of the integers at ``path`` of a JSON column (with ``field``: of each object there's ``field``);
    malformed JSON is skipped."""
    doc = f"CASE WHEN json_valid({table}.{column}) THEN {table}.{column} END"
    if field is None:
        return f"SELECT j.value FROM {table}, json_each({doc}, '{path}') AS j WHERE j.type = 'integer'"
    return (
        f"SELECT k.value FROM {table}, json_each({doc}, '{path}') AS j, "
        f"json_each(CASE WHEN j.type = 'object' THEN j.value END, '$.{field}') AS k WHERE k.type = 'integer'"
    )


def _seed_sequence(table: str, *recorded: str) -> str:
    """The next id of ``table`` follows its highest id, or a higher one still recorded elsewhere (of a row deleted
    since: SQLite forgets those without AUTOINCREMENT)."""
    sources = "".join(f" UNION ALL {select}" for select in recorded)
    return (
        f"INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', max(id) "
        f"FROM (SELECT coalesce(max(id), 0) AS id FROM {table}{sources})"
    )


# Version 5: ids are never reused (AUTOINCREMENT), so that nothing keyed by a deleted row's id (versions/<photo id>/,
# references/<person id>/, job payloads, the views' caches, a job finishing late) is taken for a new row's. The
# tables whose ids are used as keys are rebuilt by SQLite's 12-step procedure (https://sqlite.org/lang_altertable.html,
# section 7), unchanged apart from AUTOINCREMENT; migrate() turns foreign keys off around it and checks them
# before the commit. album_sources, album_photos and rejections have no id that anything refers to.
_V5 = (
    # Rebuilt below with faces, and it names people: a trigger naming a missing table would fail the renames.
    "DROP TRIGGER faces_leave_person",
    """CREATE TABLE new_albums (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created REAL NOT NULL
    )""",
    "INSERT INTO new_albums (id, name, created) SELECT id, name, created FROM albums",
    "DROP TABLE albums",
    "ALTER TABLE new_albums RENAME TO albums",
    """CREATE TABLE new_photos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
        added REAL NOT NULL,
        faces_detector TEXT
    )""",
    "INSERT INTO new_photos (id, path, content_hash, size_bytes, mtime_ns, width, height, format, taken, "
    "taken_source, missing, added, faces_detector) "
    "SELECT id, path, content_hash, size_bytes, mtime_ns, width, height, format, taken, taken_source, missing, "
    "added, faces_detector FROM photos",
    "DROP TABLE photos",
    "ALTER TABLE new_photos RENAME TO photos",
    "CREATE INDEX photos_hash ON photos(content_hash)",
    f"""CREATE TABLE new_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    "INSERT INTO new_jobs (id, kind, state, payload, progress, error, created, started, finished, updated) "
    "SELECT id, kind, state, payload, progress, error, created, started, finished, updated FROM jobs",
    "DROP TABLE jobs",
    "ALTER TABLE new_jobs RENAME TO jobs",
    "CREATE INDEX jobs_state ON jobs(state)",
    """CREATE TABLE new_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        file TEXT NOT NULL UNIQUE,
        model TEXT NOT NULL,
        created REAL NOT NULL,
        report TEXT NOT NULL DEFAULT '{}',
        reference_people TEXT NOT NULL DEFAULT '[]',
        job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL
    )""",
    "INSERT INTO new_versions (id, photo_id, file, model, created, report, reference_people, job_id) "
    "SELECT id, photo_id, file, model, created, report, reference_people, job_id FROM versions",
    "DROP TABLE versions",
    "ALTER TABLE new_versions RENAME TO versions",
    "CREATE INDEX versions_photo ON versions(photo_id)",
    "CREATE INDEX versions_job ON versions(job_id)",
    """CREATE TABLE new_people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        reference_face_id INTEGER REFERENCES faces(id) ON DELETE SET NULL,
        reference_image TEXT,
        personal_model TEXT,
        CHECK (reference_face_id IS NULL OR reference_image IS NULL)
    )""",
    "INSERT INTO new_people (id, name, created, reference_face_id, reference_image, personal_model) "
    "SELECT id, name, created, reference_face_id, reference_image, personal_model FROM people",
    "DROP TABLE people",
    "ALTER TABLE new_people RENAME TO people",
    """CREATE TABLE new_faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    "INSERT INTO new_faces (id, photo_id, x0, y0, x1, y1, landmarks, score, embedding, detector, person_id, "
    "sharpness) "
    "SELECT id, photo_id, x0, y0, x1, y1, landmarks, score, embedding, detector, person_id, sharpness FROM faces",
    "DROP TABLE faces",
    "ALTER TABLE new_faces RENAME TO faces",
    "CREATE INDEX faces_photo ON faces(photo_id)",
    "CREATE INDEX faces_person ON faces(person_id)",
    """CREATE TRIGGER faces_leave_person AFTER UPDATE OF person_id ON faces
        WHEN OLD.person_id IS NOT NEW.person_id
        BEGIN
            UPDATE people SET reference_face_id = NULL
            WHERE id = OLD.person_id AND reference_face_id = OLD.id;
        END""",
    # The copies above seeded sqlite_sequence (made by this migration) with each table's highest id; ids still named
    # elsewhere may be higher.
    "DELETE FROM sqlite_sequence",
    _seed_sequence("albums"),
    _seed_sequence("photos", _ids_in_json("jobs", "payload", "$.photo_ids")),
    _seed_sequence("jobs"),
    _seed_sequence("versions", _ids_in_json("jobs", "payload", "$.version_ids")),
    _seed_sequence(
        "people",
        _ids_in_json("versions", "reference_people", "$", "id"),
        _ids_in_json("versions", "report", "$.faces", "person_id"),
        _ids_in_json("jobs", "payload", "$.person_id"),
    ),
    _seed_sequence("faces", _ids_in_json("versions", "report", "$.faces", "face_id")),
)

# Version 6: the settings that made a version (JSON), beside its model: which model and which settings made it.
_V6 = ("ALTER TABLE versions ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",)

# Version 7: the files that could not be used (import, finding faces, restoring) and why, kept until the user
# dismisses them. One row per file and reason: the same problem found again is the same row, seen again.
_V7 = (
    """CREATE TABLE problems (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        seen REAL NOT NULL,
        UNIQUE (path, reason)
    )""",
)

# Version 8: the last confirmed suggestions, so that the user can undo one, also after a restart (grouping.Grouping
# keeps a bounded number). A confirm names faces as a person (named = 1) and may turn the suggestion's other faces
# down for that person (named = 0: the rejections it added). It goes with its person: a person deleted or merged
# into another has no confirm left to undo.
_V8 = (
    """CREATE TABLE confirms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        created_person INTEGER NOT NULL CHECK (created_person IN (0, 1)),
        created REAL NOT NULL
    )""",
    "CREATE INDEX confirms_person ON confirms(person_id)",
    """CREATE TABLE confirm_faces (
        confirm_id INTEGER NOT NULL REFERENCES confirms(id) ON DELETE CASCADE,
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        named INTEGER NOT NULL CHECK (named IN (0, 1)),
        PRIMARY KEY (confirm_id, face_id)
    )""",
    "CREATE INDEX confirm_faces_face ON confirm_faces(face_id)",
)

# MIGRATIONS[n] takes a version-n database to version n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
SCHEMA_VERSION = len(MIGRATIONS)


class LibraryVersionError(UserError):
    """The library was written by a newer version of the program."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to version ``target`` in one transaction; returns the version found.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Foreign keys are off while migrations run (a
    table rebuilt the 12-step way is dropped while others still refer to it; the pragma is ignored inside a
    transaction, hence before BEGIN) and checked before the commit: a migration that breaks one is rolled back.
    """
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = schema_version(conn)
            if found > SCHEMA_VERSION:
                raise LibraryVersionError(
                    f"This photo library was made by a newer version of ENTED Desktop (schema {found}); "
                    "please update the program."
                )
            if target > found:
                # Only new violations fail: a library that already had one still opens, as it did before.
                before = _foreign_key_violations(conn)
                for steps in MIGRATIONS[found:target]:
                    for statement in steps:
                        conn.execute(statement)
                broken = _foreign_key_violations(conn) - before
                if broken:
                    raise sqlite3.IntegrityError(f"migrating broke foreign keys: {sorted(broken)[:5]}")
                conn.execute(f"PRAGMA user_version = {int(target)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself after some errors (disk full)
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")
    return found


def _foreign_key_violations(conn: sqlite3.Connection) -> set[tuple[object, ...]]:
    return {tuple(r) for r in conn.execute("PRAGMA foreign_key_check")}
