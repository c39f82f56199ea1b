import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ented_desktop.core.library import Library, LibraryVersionError, Suggestion
from ented_desktop.core.library.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("albums", "album_sources", "photos", "album_photos", "versions", "jobs", "people", "faces", "rejections")
# Tables whose ids are never given again, in an order where deleting one row cascades to no later table's last row.
KEYED_TABLES = ("versions", "faces", "jobs", "people", "albums", "photos")


def v1_library(path):
    """A library as version 1 of the program left it, with one photo, version and running job."""
    path.mkdir()
    conn = sqlite3.connect(path / "library.sqlite3", isolation_level=None)
    assert migrate(conn, target=1) == 0
    conn.execute("INSERT INTO albums (id, name, created) VALUES (1, 'Old', 0)")
    conn.execute(
        "INSERT INTO photos (id, path, content_hash, size_bytes, mtime_ns, width, height, format, taken, "
        "taken_source, added) "
        "VALUES (7, '/p/a.jpg', 'h', 1, 1, 4, 3, 'JPEG', '1990-01-01 00:00:00', 'exif', 0)"
    )
    conn.execute("INSERT INTO album_photos VALUES (1, 7)")
    conn.execute(
        "INSERT INTO versions (id, photo_id, file, model, created) VALUES (3, 7, 'versions/7/v.png', 'm', 0)"
    )
    conn.execute("INSERT INTO jobs (kind, state, created, updated) VALUES ('restore', 'running', 0, 0)")
    assert schema_version(conn) == 1
    conn.close()


def test_a_version_1_library_opens_with_the_current_code(tmp_path):
    v1_library(tmp_path / "lib")
    with Library(tmp_path / "lib") as lib:
        assert schema_version(lib._db.conn()) == SCHEMA_VERSION == len(MIGRATIONS)
        photo = lib.photos.get(7)
        assert photo.path.as_posix() == "/p/a.jpg"
        assert photo.faces_detector is None
        assert lib.photos.needing_faces() == [7]
        assert lib.versions.of_photo(7)[0].reference_people == ()
        assert lib.versions.photos_restored_by_job(1) == set()  # made before versions recorded their job
        assert lib.jobs.all()[0].state == "interrupted"
        assert lib.people.all() == []
        assert lib.faces.of_photo(7) == []
        assert lib.people.create("New") == 1


def test_sharpness_measured_the_old_way_is_forgotten(tmp_path):
    v1_library(tmp_path / "lib")
    conn = sqlite3.connect(tmp_path / "lib" / "library.sqlite3", isolation_level=None)
    migrate(conn, target=3)
    conn.execute(
        "INSERT INTO faces (id, photo_id, x0, y0, x1, y1, landmarks, score, detector, sharpness) "
        "VALUES (5, 7, 0, 0, 1, 1, x'00', 0.9, 'x', 54.0)"
    )
    conn.close()
    with Library(tmp_path / "lib") as lib:
        assert lib._db.conn().execute("SELECT sharpness FROM faces WHERE id = 5").fetchone()[0] is None


def test_migrating_twice_changes_nothing(tmp_path):
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    assert migrate(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION
    conn.close()


def test_a_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    v1_library(tmp_path / "lib")
    broken = (*MIGRATIONS[1], "CREATE TABLE albums (x)")  # fails after the other statements ran
    monkeypatch.setattr("ented_desktop.core.library.schema.MIGRATIONS", (MIGRATIONS[0], broken))
    conn = sqlite3.connect(tmp_path / "lib" / "library.sqlite3", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, target=2)
    assert schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'faces'").fetchone() is None
    conn.close()


def test_a_library_from_a_newer_program_is_refused(tmp_path):
    (tmp_path / "lib").mkdir()
    conn = sqlite3.connect(tmp_path / "lib" / "library.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryVersionError, match="newer version"):
        Library(tmp_path / "lib")


def fill(conn: sqlite3.Connection) -> None:
    """A row or more in every table, some ids of deleted rows still named in jobs and versions, a malformed payload."""
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO albums (id, name, created) VALUES (1, 'Old', 0), (2, 'Kept', 0)")
    conn.execute("INSERT INTO album_sources VALUES (1, '/p')")
    for photo_id, name in ((7, "a"), (8, "b")):
        conn.execute(
            "INSERT INTO photos (id, path, content_hash, size_bytes, mtime_ns, width, height, format, taken, "
            "taken_source, added, faces_detector) "
            f"VALUES ({photo_id}, '/p/{name}.jpg', 'h', 1, 1, 4, 3, 'JPEG', '1990-01-01 00:00:00', 'exif', 0, 'd')"
        )
    conn.execute("INSERT INTO album_photos VALUES (1, 7), (2, 7), (2, 8)")
    conn.execute(
        "INSERT INTO jobs (id, kind, state, payload, created, updated) VALUES "
        """(1, 'restore', 'done', '{"photo_ids": [7, 40]}', 0, 0), """
        """(2, 'export', 'failed', '{"version_ids": [3, 30], "dest": "/out"}', 0, 0), """
        """(3, 'finetune', 'queued', '{"person_id": 25, "minutes": 5}', 0, 0), """
        "(4, 'detect', 'running', '{oops', 0, 0)"
    )
    conn.execute(
        "INSERT INTO versions (id, photo_id, file, model, created, report, reference_people, job_id) VALUES "
        """(3, 7, 'versions/7/v.png', 'm', 0, '{"faces": [{"face_id": 50, "person_id": 22}, {"face_id": null}]}', """
        """'[{"id": 21, "name": "Gone"}]', 1), """
        "(4, 8, 'versions/8/w.png', 'm', 0, '{}', '[]', NULL)"
    )
    conn.execute(
        "INSERT INTO people (id, name, created, reference_image, personal_model) "
        "VALUES (1, 'Ann', 0, NULL, NULL), (2, 'Bob', 0, 'references/2/r.png', 'p.pt')"
    )
    conn.execute(
        "INSERT INTO faces (id, photo_id, x0, y0, x1, y1, landmarks, score, embedding, detector, person_id, "
        "sharpness) VALUES (5, 7, 0, 0, 1, 1, x'01', 0.9, x'0203', 'd', 1, NULL), "
        "(6, 8, 0, 0, 2, 2, x'04', 0.8, NULL, 'd', NULL, 3.5)"
    )
    conn.execute("UPDATE people SET reference_face_id = 5 WHERE id = 1")
    conn.execute("INSERT INTO rejections VALUES (6, 1, 0), (5, NULL, 0)")


def v4_library(path: Path) -> None:
    path.mkdir()
    conn = sqlite3.connect(path / "library.sqlite3", isolation_level=None)
    migrate(conn, target=4)
    fill(conn)
    conn.close()


def rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {t: [tuple(r) for r in conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid")] for t in TABLES}


def schema_objects(conn: sqlite3.Connection) -> set[tuple]:
    """sqlite_master without sqlite_sequence, AUTOINCREMENT, the quotes a rename adds, or layout."""

    def normal(sql: str | None) -> str | None:
        if sql is None:
            return None
        sql = re.sub(r"\s+", " ", sql.replace("AUTOINCREMENT", "").replace('"', ""))
        return re.sub(r" ?([(),]) ?", r"\1", sql).strip()

    query = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_sequence'"
    return {(kind, name, table, normal(sql)) for kind, name, table, sql in conn.execute(query)}


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path / "library.sqlite3", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def test_version_5_rebuilds_the_keyed_tables_with_autoincrement_and_keeps_everything_else(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    before_rows, before_schema = rows(conn), schema_objects(conn)
    assert migrate(conn, target=5) == 4
    assert rows(conn) == before_rows
    assert schema_objects(conn) == before_schema
    for table in TABLES:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert ("id INTEGER PRIMARY KEY AUTOINCREMENT" in sql) == (table in KEYED_TABLES)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # as the caller had it
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO faces (photo_id, x0, y0, x1, y1, landmarks, score, detector) "
            "VALUES (99, 0, 0, 1, 1, x'00', 0.9, 'd')"
        )
    conn.execute("UPDATE faces SET person_id = 2 WHERE id = 5")  # the trigger still clears Ann's reference
    assert conn.execute("SELECT reference_face_id FROM people WHERE id = 1").fetchone()[0] is None
    conn.execute("DELETE FROM photos WHERE id = 8")  # and deletions still cascade
    assert conn.execute("SELECT id FROM faces").fetchall() == [(5,)]
    assert conn.execute("SELECT face_id FROM rejections").fetchall() == [(5,)]
    conn.close()


def test_ids_named_in_jobs_and_versions_are_not_given_again(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    migrate(conn)
    # photo 40, version 30, face 50 and people up to 25 were deleted but are still named; ids past them are lost.
    assert dict(conn.execute("SELECT name, seq FROM sqlite_sequence")) == {
        "albums": 2, "photos": 40, "jobs": 4, "versions": 30, "people": 25, "faces": 50
    }
    conn.close()


@pytest.mark.parametrize("migrated", [False, True], ids=["new library", "version 4 library migrated"])
def test_the_id_of_a_deleted_row_is_never_given_again(tmp_path, migrated):
    if migrated:
        v4_library(tmp_path / "lib")
        conn = connect(tmp_path / "lib")
        migrate(conn)
    else:
        (tmp_path / "lib").mkdir()
        conn = connect(tmp_path / "lib")
        migrate(conn)
        fill(conn)
    for table in KEYED_TABLES:
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id DESC LIMIT 1")
        last = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (last["id"],))
        columns = [c for c in last if c != "id"]
        new_id = conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [last[c] for c in columns],
        ).lastrowid
        assert new_id > last["id"], table
    conn.close()


def test_a_failed_rebuild_leaves_version_4_intact(tmp_path, monkeypatch):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    before_rows, before_schema = rows(conn), schema_objects(conn)
    v5 = MIGRATIONS[4]
    cut = v5.index("DROP TABLE photos") + 1  # photos gone, new_photos not renamed yet
    monkeypatch.setattr(
        "ented_desktop.core.library.schema.MIGRATIONS", (*MIGRATIONS[:4], (*v5[:cut], "SELECT no_such_function()"))
    )
    with pytest.raises(sqlite3.OperationalError, match="no_such_function"):
        migrate(conn, target=5)
    assert schema_version(conn) == 4
    assert not conn.in_transaction
    assert rows(conn) == before_rows
    assert schema_objects(conn) == before_schema
    leftovers = "SELECT name FROM sqlite_master WHERE name LIKE 'new_%' OR name = 'sqlite_sequence'"
    assert conn.execute(leftovers).fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


# Migrates a library the way the program opens one and dies with the rebuild half done.
_DIE_MID_MIGRATION = """
import os, sys
from ented_desktop.core.library import connection, schema
v5 = schema.MIGRATIONS[4]
cut = v5.index("ALTER TABLE new_people RENAME TO people") + 1
schema.MIGRATIONS = (*schema.MIGRATIONS[:4], (*v5[:cut], "SELECT die()", *v5[cut:]))
conn = connection.connect(sys.argv[1])
conn.create_function("die", 0, lambda: os._exit(9))
schema.migrate(conn, target=5)
"""


def test_a_program_killed_while_migrating_leaves_version_4_intact(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    before_rows, before_schema = rows(conn), schema_objects(conn)
    conn.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    died = subprocess.run(
        [sys.executable, "-c", _DIE_MID_MIGRATION, str(tmp_path / "lib" / "library.sqlite3")], env=env, timeout=60
    )
    assert died.returncode == 9
    conn = connect(tmp_path / "lib")
    assert schema_version(conn) == 4
    assert rows(conn) == before_rows
    assert schema_objects(conn) == before_schema
    conn.close()
    with Library(tmp_path / "lib") as lib:  # and the next start migrates it
        assert schema_version(lib._db.conn()) == SCHEMA_VERSION
        assert lib.maintenance.integrity_problems() == ["version 3: file versions/7/v.png is missing",
                                            "version 4: file versions/8/w.png is missing",
                                            "person 2: reference image references/2/r.png is missing"]


def test_a_migration_that_breaks_a_foreign_key_is_rolled_back(tmp_path, monkeypatch):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO album_photos VALUES (1, 99)")  # already broken: does not stop a migration
    conn.execute("PRAGMA foreign_keys = ON")
    breaking = ("INSERT INTO album_photos VALUES (2, 98)",)
    monkeypatch.setattr("ented_desktop.core.library.schema.MIGRATIONS", (*MIGRATIONS[:4], breaking))
    with pytest.raises(sqlite3.IntegrityError, match="broke foreign keys"):
        migrate(conn, target=5)
    assert schema_version(conn) == 4
    assert conn.execute("SELECT photo_id FROM album_photos WHERE photo_id > 90").fetchall() == [(99,)]
    monkeypatch.setattr("ented_desktop.core.library.schema.MIGRATIONS", MIGRATIONS)
    assert migrate(conn, target=5) == 4
    conn.close()


def test_version_6_gives_every_version_empty_settings_and_keeps_everything_else(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    migrate(conn, target=5)
    before_rows = rows(conn)
    assert migrate(conn, target=6) == 5
    after_rows = rows(conn)
    assert {t: r for t, r in after_rows.items() if t != "versions"} == {
        t: r for t, r in before_rows.items() if t != "versions"
    }
    assert after_rows["versions"] == [(*row, "{}") for row in before_rows["versions"]]
    conn.close()
    with Library(tmp_path / "lib") as lib:
        assert [v.settings for v in lib.versions.of_photo(7)] == [{}]
        assert lib.versions.get(3).model == "m"


def test_version_7_adds_the_problems_list_and_keeps_everything_else(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    migrate(conn, target=6)
    before_rows, before_schema = rows(conn), schema_objects(conn)
    assert migrate(conn, target=7) == 6
    assert rows(conn) == before_rows
    added = schema_objects(conn) - before_schema
    assert {(kind, name) for kind, name, _, _ in added} == {
        ("table", "problems"), ("index", "sqlite_autoindex_problems_1")}
    assert conn.execute("SELECT * FROM problems").fetchall() == []
    conn.close()
    with Library(tmp_path / "lib") as lib:
        assert lib.problems.all() == []
        lib.problems.add([("/p/x.jpg", "the file is damaged")], "Old")
    with Library(tmp_path / "lib") as lib:  # kept across a restart
        assert [(p.path, p.reason, p.source) for p in lib.problems.all()] == [
            ("/p/x.jpg", "the file is damaged", "Old")]


def test_version_8_adds_the_undo_history_of_confirms_and_keeps_everything_else(tmp_path):
    v4_library(tmp_path / "lib")
    conn = connect(tmp_path / "lib")
    migrate(conn, target=7)
    before_rows, before_schema = rows(conn), schema_objects(conn)
    assert migrate(conn, target=8) == 7
    assert rows(conn) == before_rows
    added = schema_objects(conn) - before_schema
    assert {(kind, name) for kind, name, _, _ in added} == {
        ("table", "confirms"), ("index", "confirms_person"), ("table", "confirm_faces"),
        ("index", "sqlite_autoindex_confirm_faces_1"), ("index", "confirm_faces_face")}
    assert conn.execute("SELECT * FROM confirms").fetchall() == []
    conn.close()
    with Library(tmp_path / "lib") as lib:
        assert lib.grouping.history() == []
        # Face 6 (unnamed) confirmed as Ann; kept across a restart, undone after it.
        ann = lib.grouping.accept(Suggestion((6,), 1, 0.3))
    with Library(tmp_path / "lib") as lib:
        (confirm,) = lib.grouping.history()
        assert (confirm.person_id, confirm.named, confirm.created_person) == (ann, (6,), False)
        assert lib.grouping.undo_last().unnamed == (6,)
        assert rows(lib._db.conn())["faces"] == before_rows["faces"]
        assert lib.grouping.history() == []
