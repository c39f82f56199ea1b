import sqlite3

import pytest

from ented_desktop.core.library import Library, LibraryVersionError
from ented_desktop.core.library.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version


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
        assert schema_version(lib._conn()) == SCHEMA_VERSION == len(MIGRATIONS)
        photo = lib.photo(7)
        assert photo.path.as_posix() == "/p/a.jpg" and photo.faces_detector is None
        assert lib.photos_needing_faces() == [7]
        assert lib.versions(7)[0].reference_people == ()
        assert lib.photos_restored_by_job(1) == set()  # made before versions recorded their job
        assert lib.jobs()[0].state == "interrupted"
        assert lib.people() == [] and lib.faces_of_photo(7) == []
        assert lib.create_person("New") == 1


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
        assert lib._conn().execute("SELECT sharpness FROM faces WHERE id = 5").fetchone()[0] is None


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
