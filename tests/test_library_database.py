import functools
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from ented_desktop.core.errors import ImageReadError, ImageWriteError, UserError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.identity import identity_distance
from ented_desktop.core.imageio import read_photo
from ented_desktop.core.library import (
    ImportProgress,
    JobStateError,
    Library,
    LibraryInUseError,
    Suggestion,
    UnknownItemError,
)
from ented_desktop.core.library import people as people_module
from ented_desktop.core.library import photos as photos_module
from ented_desktop.core.library import versions as versions_module
from ented_desktop.core.library.schema import SCHEMA_VERSION
from ented_desktop.core.people_suggest import distances
from tests.file_modes import has_usual_mode


def jpeg(path: Path, size=(64, 48), date=None, orientation=None, seed=0, color=None) -> Path:
    rng = np.random.default_rng(seed)
    pixels = (
        rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        if color is None
        else np.full((size[1], size[0], 3), color, np.uint8)
    )
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if date:
        exif[0x8769] = {0x9003: date}
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", exif=exif.tobytes())
    return path


def import_jpegs(lib, folder: Path, n: int) -> list[int]:
    """``n`` different JPEGs imported into a new album; returns their photo ids."""
    for i in range(n):
        jpeg(folder / f"{i}.jpg", seed=i)
    return run(lib.photos.import_paths(lib.albums.create("a"), [folder]))[1].added


def run(gen):
    """Drain an import generator; returns (progress list, report)."""
    progress = []
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            return progress, stop.value


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib")
    yield library
    library.close()


@pytest.fixture
def drop(tmp_path):
    folder = tmp_path / "photos"
    jpeg(folder / "a.jpg", date="1987:06:05 04:03:02", seed=1)
    jpeg(folder / "b.jpg", date="1985:01:01 00:00:00", seed=2)
    jpeg(folder / "sub" / "c.jpg", seed=3)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "bad.jpg").write_bytes(b"\xff\xd8" + bytes(50))
    return folder


def test_open_settings_and_default_location(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path / "data"))
    with Library.open() as lib:
        assert lib.directory == tmp_path / "data" / "library"
        conn = lib._db.conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (tmp_path / "data" / "library" / "library.sqlite3").is_file()


def test_import_reports_progress_and_problems(lib, drop):
    album = lib.albums.create("  Summer   1987 ")
    progress, report = run(lib.photos.import_paths(album, [drop]))
    assert all(isinstance(p, ImportProgress) for p in progress)
    scanning = [p for p in progress if p.phase == "scanning"]
    indexing = [p for p in progress if p.phase == "indexing"]
    assert [p.current for p in scanning] == [str(drop), str(drop / "sub")]
    assert [(p.done, p.total) for p in indexing] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(report.added) == 3
    assert not report.updated
    assert not report.unchanged
    assert sorted(os.path.basename(p) for p, _ in report.problems) == ["bad.jpg", "notes.txt"]
    assert lib.albums.get(album).name == "Summer 1987"
    assert lib.albums.get(album).photo_count == 3
    photos = lib.photos.all(album)
    assert [p.path.name for p in photos][:2] == ["b.jpg", "a.jpg"]  # oldest first
    assert photos[0].taken == "1985-01-01 00:00:00"
    assert photos[0].taken_source == "exif"
    assert (photos[0].width, photos[0].height, photos[0].format) == (64, 48, "JPEG")
    assert lib.albums.sources(album) == [Path(os.path.realpath(drop))]


def test_unknown_album_and_empty_names(lib):
    with pytest.raises(UnknownItemError):
        next(lib.photos.import_paths(99, []))
    with pytest.raises(UserError):
        lib.albums.create("   ")


def test_album_names_are_not_repeated(lib):
    scans = lib.albums.create("Scans")
    with pytest.raises(UserError, match='already an album called "Scans"'):
        lib.albums.create(" scans ")
    summer = lib.albums.create("Été 1975")
    with pytest.raises(UserError, match="already an album"):
        lib.albums.rename(scans, "ÉTÉ  1975")  # case folded beyond ASCII
    lib.albums.rename(summer, "ÉTÉ 1975")  # its own name in other letters: fine
    with pytest.raises(UserError):
        lib.albums.rename(summer, "SCANS")
    assert lib.albums.free_name("  Scans") == "Scans (2)"
    lib.albums.create("Scans (2)")
    assert lib.albums.free_name("scans") == "scans (3)"
    assert lib.albums.free_name("Holiday") == "Holiday"
    assert [a.name for a in lib.albums.all()] == ["Scans", "Scans (2)", "ÉTÉ 1975"]
    assert lib.albums.get(scans).name == "Scans"


def test_stopping_an_import_keeps_what_was_done(lib, tmp_path):
    folder = tmp_path / "many"
    for i in range(6):
        jpeg(folder / f"{i}.jpg", seed=i)
    album = lib.albums.create("a")
    gen = lib.photos.import_paths(album, [folder])
    for p in gen:
        if p.done == 2:
            break
    gen.close()
    assert lib.albums.get(album).photo_count == 2
    _, report = run(lib.photos.import_paths(album, [folder]))
    assert (len(report.unchanged), len(report.added)) == (2, 4)


def test_readding_picks_up_changes(lib, drop, monkeypatch):
    album = lib.albums.create("a")
    _, first = run(lib.photos.import_paths(album, [drop]))
    by_name = {p.path.name: p for p in lib.photos.all(album)}
    lib.faces.record(by_name["a.jpg"].id, [], [], detector="yuface")
    jpeg(drop / "a.jpg", seed=99)  # edited
    os.utime(drop / "a.jpg", ns=(1, 10**18))
    (drop / "sub" / "c.jpg").unlink()  # deleted
    jpeg(drop / "d.jpg", seed=4)  # new
    indexed = []
    real_index = photos_module.index_file
    monkeypatch.setattr(photos_module, "index_file", lambda p: indexed.append(p) or real_index(p))
    _, report = run(lib.photos.import_paths(album, [drop]))
    assert report.updated == [by_name["a.jpg"].id]
    assert report.unchanged == [by_name["b.jpg"].id]
    assert report.missing == [by_name["c.jpg"].id]
    assert len(report.added) == 1
    # The unchanged photo was not read again; the broken file is retried.
    assert sorted(os.path.basename(p) for p in indexed) == ["a.jpg", "bad.jpg", "d.jpg"]
    a = lib.photos.get(by_name["a.jpg"].id)
    assert a.content_hash != by_name["a.jpg"].content_hash
    assert a.faces_detector is None  # faces must be found again
    assert lib.photos.get(by_name["c.jpg"].id).missing


def test_quick_check_trusts_size_and_mtime(lib, tmp_path):
    # Documented limit: the quick check trusts size + mtime, like rsync and git.
    folder = tmp_path / "p"
    path = jpeg(folder / "x.jpg", color=(10, 10, 10))
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [folder]))
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    _, report = run(lib.photos.import_paths(album, [folder]))
    assert len(report.unchanged) == 1


def test_refresh_photo_notices_an_edit_that_keeps_size_and_mtime(lib, tmp_path):
    folder = tmp_path / "p"
    path = jpeg(folder / "x.jpg", seed=5)
    run(lib.photos.import_paths(lib.albums.create("a"), [folder]))
    photo = lib.photos.all()[0]
    lib.faces.record(photo.id, faces_at(0), [None], detector="yuface")
    assert not lib.photos.refresh(photo.id)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # other pixels, same size and (below) same modification time
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert lib.photos.refresh(photo.id)
    edited = lib.photos.get(photo.id)
    assert edited.content_hash != photo.content_hash
    assert edited.faces_detector is None
    assert not lib.photos.refresh(photo.id)


def test_moved_photos_keep_their_identity(lib, drop):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    a = next(p for p in lib.photos.all(album) if p.path.name == "a.jpg")
    b = next(p for p in lib.photos.all(album) if p.path.name == "b.jpg")
    (face_id,) = lib.faces.record(a.id, [Face((1, 1, 20, 20), template_for(20) + 1, 0.9)], [None], detector="x")
    person = lib.people.create("Ann", [face_id])
    # Moved inside an imported folder: refresh finds it by content.
    (drop / "sub" / "deeper").mkdir()
    shutil.move(drop / "a.jpg", drop / "sub" / "deeper" / "a.jpg")
    refresh = lib.photos.refresh_missing()
    assert refresh.missing == [a.id]
    assert refresh.moved == [a.id]
    moved = lib.photos.get(a.id)
    assert moved.path == Path(os.path.realpath(drop / "sub" / "deeper" / "a.jpg"))
    assert not moved.missing
    assert lib.faces.get(face_id).person_id == person
    # Moved out to a new folder that is then imported: the import recognises it.
    elsewhere = drop.parent / "elsewhere"
    elsewhere.mkdir()
    shutil.move(drop / "b.jpg", elsewhere / "b.jpg")
    _, report = run(lib.photos.import_paths(album, [elsewhere]))
    assert report.moved == [b.id]
    assert not report.added
    # Deleted, then put back: found again.
    data = (elsewhere / "b.jpg").read_bytes()
    (elsewhere / "b.jpg").unlink()
    assert lib.photos.refresh_missing().missing == [b.id]
    (elsewhere / "b.jpg").write_bytes(data)
    assert lib.photos.refresh_missing().found == [b.id]


def test_originals_are_never_touched(lib, drop, tmp_path):
    before = snapshot(drop)
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    for photo in lib.photos.all(album):
        lib.photos.thumbnail_path(photo.id, 64)
        lib.versions.add(photo.id, np.zeros((8, 8, 3), np.uint8), model="m")
    lib.photos.refresh_missing()
    run(lib.photos.import_paths(album, [drop]))
    assert snapshot(drop) == before


def test_library_folder_inside_a_dropped_folder_is_not_imported(tmp_path):
    folder = tmp_path / "photos"
    jpeg(folder / "a.jpg")
    with Library(folder / "library") as lib:
        album = lib.albums.create("a")
        photo = run(lib.photos.import_paths(album, [folder]))[1].added[0]
        lib.versions.add(photo, np.zeros((8, 8, 3), np.uint8), model="m")
        _, report = run(lib.photos.import_paths(album, [folder]))
        assert len(report.unchanged) == 1
        assert not report.added
        assert not report.problems


def test_thumbnails_are_made_lazily_and_upright(lib, tmp_path):
    folder = tmp_path / "p"
    jpeg(folder / "turned.jpg", size=(400, 200), orientation=6)
    album = lib.albums.create("a")
    (photo_id,) = run(lib.photos.import_paths(album, [folder]))[1].added
    photo = lib.photos.get(photo_id)
    assert not lib.thumbnails.cached(photo.content_hash, 100)
    path = lib.photos.thumbnail_path(photo_id, 100)
    assert path.is_relative_to(lib.directory)
    with Image.open(path) as im:
        assert im.size == (50, 100)  # 200 x 400 upright, fitted in 100 x 100
    mtime = path.stat().st_mtime_ns
    assert lib.photos.thumbnail_path(photo_id, 100) == path
    assert path.stat().st_mtime_ns == mtime
    assert not list(path.parent.glob(".*"))  # no temporary file left
    assert has_usual_mode(path)
    # A missing original still shows its cached thumbnail, but no new size can be made.
    os.remove(folder / "turned.jpg")
    lib.photos.refresh_missing()
    assert lib.photos.thumbnail_path(photo_id, 100) == path
    with pytest.raises(ImageReadError, match="missing"):
        lib.photos.thumbnail_path(photo_id, 64)


@pytest.mark.parametrize("kind", ["png16", "rgba", "palette", "gray", "cmyk"])
def test_thumbnails_of_unusual_modes(lib, tmp_path, kind):
    folder = tmp_path / "p"
    folder.mkdir()
    ramp = np.linspace(0, 65535, 300 * 200).reshape(200, 300).astype(np.uint16)
    if kind == "png16":
        Image.fromarray(ramp).save(folder / "x.png")
    elif kind == "rgba":
        Image.new("RGBA", (300, 200), (255, 0, 0, 0)).save(folder / "x.png")
    elif kind == "palette":
        Image.new("RGB", (300, 200), (0, 0, 255)).convert("P").save(folder / "x.png")
    elif kind == "gray":
        Image.fromarray((ramp >> 8).astype(np.uint8)).save(folder / "x.jpg")
    else:
        Image.new("CMYK", (300, 200), (0, 255, 0, 0)).save(folder / "x.jpg")
    album = lib.albums.create("a")
    (photo_id,) = run(lib.photos.import_paths(album, [folder]))[1].added
    with Image.open(lib.photos.thumbnail_path(photo_id, 60)) as im:
        assert im.mode == "RGB"
        assert im.size == (60, 40)
        if kind == "rgba":
            assert im.getpixel((30, 20)) == (255, 255, 255)  # transparent on white
        if kind == "png16":
            assert im.getpixel((59, 39))[0] > 240


@functools.cache
def icc_profile() -> bytes:
    """One profile per session: a new one carries the second it was made, and two would differ."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with_date() -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: "1950:01:02 03:04:05"}
    return exif.tobytes()


def test_versions_are_written_before_their_rows_and_deleted_with_them(lib, drop):
    album = lib.albums.create("Family")
    run(lib.photos.import_paths(album, [drop]))
    photo = lib.photos.all(album)[0]
    anna = lib.people.create("Anna")
    pixels = np.random.default_rng(0).integers(0, 65535, (20, 30, 3)).astype(np.uint16)
    vid = lib.versions.add(
        photo.id,
        pixels,
        model="ented-512",
        reference_people=[anna],
        report={"faces": [{"id": 1, "identity": 0.3}]},
        settings={"upscale": 2, "fidelity": 0.7, "background": "realesrgan-x2"},
        exif=exif_with_date(),
        icc_profile=icc_profile(),
    )
    version = lib.versions.get(vid)
    assert version.path.parent == lib.directory / "versions" / str(photo.id)
    assert version.reference_people == ({"id": anna, "name": "Anna"},)
    assert version.report == {"faces": [{"id": 1, "identity": 0.3}]}
    assert version.model == "ented-512"
    assert version.settings == {"upscale": 2, "fidelity": 0.7, "background": "realesrgan-x2"}
    np.testing.assert_array_equal(read_photo(version.path).pixels, pixels)  # 16-bit kept
    assert [v.id for v in lib.versions.of_photo(photo.id)] == [vid]
    lib.versions.delete(vid)
    assert not version.path.exists()
    assert lib.versions.of_photo(photo.id) == []


def test_a_version_without_settings_has_none_and_settings_that_are_not_json_write_nothing(lib, drop):
    album = lib.albums.create("Family")
    run(lib.photos.import_paths(album, [drop]))
    photo = lib.photos.all(album)[0]
    plain = lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m")
    assert lib.versions.get(plain).settings == {}
    with pytest.raises(TypeError):
        lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m", settings={"path": Path("x")})
    assert [v.id for v in lib.versions.of_photo(photo.id)] == [plain]
    assert len(list((lib.directory / "versions" / str(photo.id)).iterdir())) == 1


@pytest.mark.parametrize("reimport", [False, True])
def test_a_version_of_a_photo_removed_while_its_file_was_written_is_refused(lib, drop, monkeypatch, reimport):
    album = lib.albums.create("Family")
    run(lib.photos.import_paths(album, [drop]))
    photo = max(lib.photos.all(album), key=lambda p: p.id)  # the highest id: the one SQLite would reuse
    write = versions_module.write_photo_atomic

    def remove_while_writing(*args, **kwargs):
        write(*args, **kwargs)
        lib.albums.remove_photos(album, [photo.id])
        if reimport:  # another photo comes in meanwhile: it does not take the freed id
            run(lib.photos.import_paths(album, [jpeg(drop.parent / "other" / "d.jpg", seed=9)]))

    monkeypatch.setattr(versions_module, "write_photo_atomic", remove_while_writing)
    with pytest.raises(UnknownItemError, match="no longer in the library"):
        lib.versions.add(photo.id, np.zeros((8, 8, 3), np.uint8), model="m")
    assert lib._db.conn().execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 0
    assert not (lib.directory / "versions" / str(photo.id)).exists()
    if reimport:
        assert photo.id not in {p.id for p in lib.photos.all(album)}


def test_export_names_formats_and_never_overwrites(lib, drop, tmp_path):
    album = lib.albums.create("Family: 1987")
    run(lib.photos.import_paths(album, [drop]))
    photo = next(p for p in lib.photos.all(album) if p.path.name == "a.jpg")
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    lib.versions.add(photo.id, pixels, model="first")
    vid = lib.versions.add(
        photo.id, pixels, model="ented/512", exif=exif_with_date(), icc_profile=icc_profile()
    )
    out = tmp_path / "out"
    pattern = "{date}_{album}_{stem}_v{version}_{model}"
    png = lib.versions.export(vid, out, "png", pattern=pattern)
    assert png.name == "1987-06-05_Family_ 1987_a_v2_ented_512.png"
    again = lib.versions.export(vid, out, "png", pattern=pattern)
    assert again.name == "1987-06-05_Family_ 1987_a_v2_ented_512 (2).png"
    assert png.read_bytes() != b""
    assert again.exists()
    jpg = lib.versions.export(vid, out, "jpeg", quality=70)
    assert jpg.name == "a_restored.jpg"
    for path in (png, jpg):
        exported = read_photo(path)
        assert exported.icc_profile == icc_profile()
        exif = Image.Exif()
        exif.load(exported.exif)
        assert exif.get_ifd(0x8769)[0x9003] == "1950:01:02 03:04:05"
    np.testing.assert_array_equal(read_photo(png).pixels, pixels)
    with Image.open(jpg) as im:
        assert im.format == "JPEG"
    with pytest.raises(UserError, match="may only use"):
        lib.versions.export(vid, out, "png", pattern="{nope}")
    assert lib.versions.export_name(vid, "{stem}", album_id=None) == "a"
    assert sorted(p.name for p in out.iterdir()) == sorted([png.name, again.name, jpg.name])


def test_deleting_an_album_forgets_photos_in_no_other_album(lib, drop):
    one, two = lib.albums.create("one"), lib.albums.create("two")
    run(lib.photos.import_paths(one, [drop]))
    run(lib.photos.import_paths(two, [drop / "sub"]))
    shared = next(p for p in lib.photos.all(one) if p.path.name == "c.jpg")
    only = next(p for p in lib.photos.all(one) if p.path.name == "a.jpg")
    version = lib.versions.get(lib.versions.add(only.id, np.zeros((4, 4, 3), np.uint8), model="m"))
    lib.albums.delete(one)
    assert [p.id for p in lib.photos.all()] == [shared.id]
    assert not version.path.exists()
    assert drop.joinpath("a.jpg").exists()
    lib.albums.remove_photos(two, [shared.id])
    assert lib.photos.all() == []


def faces_at(*xs):
    return [Face((x, 10.0, x + 40.0, 50.0), template_for(40) + np.float32([x, 10]), 0.9) for x in xs]


def test_set_faces_keeps_people_of_faces_found_again(lib, drop):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    photo_id = lib.photos.all(album)[0].id
    assert photo_id in lib.photos.needing_faces()
    first = lib.faces.record(photo_id, faces_at(0, 100), [np.ones(4), None], detector="yuface")
    assert photo_id not in lib.photos.needing_faces("yuface")
    assert photo_id in lib.photos.needing_faces("retinaface")
    person = lib.people.create("Bo", [first[1]])
    lib.references.set_face(person, first[1])
    again = lib.faces.record(photo_id, faces_at(200, 102), [None, np.zeros(4)], detector="retinaface")
    assert again[1] == first[1]
    assert again[0] not in first
    kept = lib.faces.get(first[1])
    assert kept.person_id == person
    assert kept.detector == "retinaface"
    assert kept.box[0] == 102
    np.testing.assert_array_equal(kept.embedding, np.zeros(4, np.float32))
    assert lib.people.get(person).reference_face_id == first[1]
    with pytest.raises(UnknownItemError):
        lib.faces.get(first[0])
    assert [f.id for f in lib.faces.of_photo(photo_id)] == [first[1], again[0]]
    with pytest.raises(ValueError):
        lib.faces.record(photo_id, faces_at(0), [], detector="x")


def test_people_and_reference_faces(lib, drop, tmp_path):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    photo_id = lib.photos.all(album)[0].id
    f1, f2 = lib.faces.record(photo_id, faces_at(0, 100), [None, None], detector="x")
    ann = lib.people.create("Ann")
    lib.people.assign_faces([f1, f2], ann)
    assert lib.people.get(ann).face_count == 2
    lib.people.rename(ann, "Anne")
    assert [p.name for p in lib.people.all()] == ["Anne"]
    lib.references.set_face(ann, f1)
    lib.people.unassign_faces([f1])  # a reference must be the person's own face
    assert lib.people.get(ann).reference_face_id is None
    with pytest.raises(UserError):
        lib.references.set_face(ann, f1)
    # An external reference image is copied in, and replaces a face reference.
    lib.references.set_face(ann, f2)
    external = jpeg(tmp_path / "outside" / "ref.jpg")
    copy = lib.references.set_image(ann, external)
    assert copy.is_relative_to(lib.directory)
    assert copy.read_bytes() == external.read_bytes()
    assert has_usual_mode(copy)
    assert lib.people.get(ann).reference_image == copy
    assert lib.people.get(ann).reference_face_id is None
    with pytest.raises(ImageReadError):
        lib.references.set_image(ann, drop / "notes.txt")
    lib.references.set_face(ann, f2)
    assert not copy.exists()
    model = tmp_path / "anne.safetensors"
    model.write_bytes(b"x")
    lib.people.set_personal_model(ann, model)
    assert lib.people.get(ann).personal_model == model
    with pytest.raises(UserError):
        lib.people.set_personal_model(ann, tmp_path / "nope.safetensors")
    lib.people.delete(ann)
    assert lib.people.all() == []
    assert lib.faces.get(f2).person_id is None


def named_faces(lib, drop):
    """Five face ids: one alike face in each of the three photos, then two more faces of the first photo that
    look like nobody else (never suggested: two faces of one photo are not grouped)."""
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    first, *others = [p.id for p in lib.photos.all(album)]
    a, b = np.array([2.0, 0, 0], np.float32), np.array([0, 2.0, 0], np.float32)
    alike, u1, u2 = lib.faces.record(first, faces_at(0, 100, 200), [a, b, b + 0.01], detector="x")
    rest = [lib.faces.record(p, faces_at(0), [a + 0.01 * i], detector="x")[0] for i, p in enumerate(others, 1)]
    return [alike, *rest, u1, u2]


def test_merging_keeps_the_targets_reference_and_takes_a_model_it_lacks(lib, drop, tmp_path):
    s1, s2, t1, _, _ = named_faces(lib, drop)
    ann = lib.people.create("Ann", [s1, s2])
    anne = lib.people.create("Anne", [t1])
    ann_image = lib.references.set_image(ann, jpeg(tmp_path / "outside" / "ann.jpg"))
    model = tmp_path / "ann.safetensors"
    model.write_bytes(b"x")
    lib.people.set_personal_model(ann, model)
    lib.references.set_face(anne, t1)
    lib.people.merge(ann, anne)
    assert [(p.id, p.name, p.face_count) for p in lib.people.all()] == [(anne, "Anne", 3)]
    assert {f.id for f in lib.faces.of_person(anne)} == {s1, s2, t1}
    merged = lib.people.get(anne)
    assert (merged.reference_face_id, merged.reference_image, merged.personal_model) == (t1, None, model)
    assert not ann_image.exists()
    assert model.exists()  # the unused copy goes, the model file stays
    with pytest.raises(UnknownItemError):
        lib.people.get(ann)
    assert lib.maintenance.integrity_problems() == []
    assert lib.maintenance.remove_leftovers() == [ann_image.parent]  # only the emptied folder


def test_merging_gives_a_target_without_reference_the_sources_face_or_image(lib, drop, tmp_path):
    s1, s2, t1, u1, u2 = named_faces(lib, drop)
    source = lib.people.create("Grandma", [s1])
    target = lib.people.create("Grandma Rose", [t1])
    lib.references.set_face(source, s1)
    lib.people.merge(source, target)
    assert lib.people.get(target).reference_face_id == s1  # the trigger cleared it on the source, not here

    with_image = lib.people.create("Bo", [s2])
    external = jpeg(tmp_path / "outside" / "bo.jpg", seed=7)
    old_copy = lib.references.set_image(with_image, external)
    bo_model, bob_model = tmp_path / "bo.safetensors", tmp_path / "bob.safetensors"
    bo_model.write_bytes(b"bo")
    bob_model.write_bytes(b"bob")
    lib.people.set_personal_model(with_image, bo_model)
    without = lib.people.create("Bob", [u1, u2])
    lib.people.set_personal_model(without, bob_model)
    lib.people.merge(with_image, without)
    bob = lib.people.get(without)
    assert bob.reference_face_id is None
    assert bob.personal_model == bob_model
    assert bob.face_count == 3
    assert bob.reference_image.parent == lib.directory / "references" / str(without)
    assert bob.reference_image.read_bytes() == external.read_bytes()
    assert not old_copy.exists()
    assert bo_model.exists()
    assert lib.maintenance.integrity_problems() == []
    assert lib.maintenance.remove_leftovers() == [old_copy.parent]  # only the emptied folder


def test_merging_carries_over_faces_turned_down_for_the_source(lib, drop):
    s1, t1, x, u1, _ = named_faces(lib, drop)
    source = lib.people.create("Grandma", [s1])
    target = lib.people.create("Grandma Rose", [t1])
    lib.grouping.reject(Suggestion((x,), source, 0.0))
    for person in (source, target):  # the same pair twice after the merge
        lib.grouping.reject(Suggestion((u1,), person, 0.0))
    lib.grouping.reject(Suggestion((s1,), target, 0.0))  # said while s1 was unnamed
    lib.people.merge(source, target)
    lib.people.unassign_faces([s1])
    # x stays turned down for the merged person; s1, now one of hers, is offered to her again.
    assert [(s.person_id, s.face_ids) for s in lib.grouping.suggest(threshold=0.6)] == [(target, (s1,))]
    assert lib.maintenance.integrity_problems() == []


def test_merging_refuses_one_person_and_people_no_longer_there(lib, drop):
    s1, t1, _, _, _ = named_faces(lib, drop)
    ann = lib.people.create("Ann", [s1])
    bob = lib.people.create("Bob", [t1])
    with pytest.raises(UserError, match="cannot be merged with themselves"):
        lib.people.merge(ann, ann)
    lib.people.delete(bob)
    for source, target in ((ann, bob), (bob, ann)):
        with pytest.raises(UnknownItemError, match="no longer in the library"):
            lib.people.merge(source, target)
    assert [(p.name, p.face_count) for p in lib.people.all()] == [("Ann", 1)]


def test_a_merge_that_fails_changes_nothing(lib, drop, tmp_path, monkeypatch):
    s1, t1, _, _, _ = named_faces(lib, drop)
    source = lib.people.create("Ann", [s1])
    target = lib.people.create("Anne", [t1])
    image = lib.references.set_image(source, jpeg(tmp_path / "outside" / "ann.jpg"))
    copy = people_module.copy_file_atomic

    def copy_then_fail(src, dest):
        copy(src, dest)
        raise ImageWriteError("The disk is full.")

    monkeypatch.setattr(people_module, "copy_file_atomic", copy_then_fail)
    with pytest.raises(ImageWriteError):
        lib.people.merge(source, target)
    assert [(p.name, p.face_count) for p in lib.people.all()] == [("Ann", 1), ("Anne", 1)]
    assert lib.people.get(source).reference_image == image
    assert image.exists()
    assert lib.people.get(target).reference_image is None
    assert list((lib.directory / "references" / str(target)).iterdir()) == []


def embedding(center, seed, spread=0.05):
    return np.asarray(center, np.float32) + np.random.default_rng(seed).normal(0, spread, len(center)).astype(
        np.float32
    )


def test_grouping_suggestions(lib, tmp_path):
    photos = import_jpegs(lib, tmp_path / "p", 6)
    a, b, c = np.eye(3, dtype=np.float32) * 2
    # Photo 0: a named face of A. Photos 1-3: unnamed faces like A, like B (twice), like C (once).
    (named,) = lib.faces.record(photos[0], faces_at(0), [embedding(a, 0)], detector="x")
    anna = lib.people.create("Anna", [named])
    like_a = lib.faces.record(photos[1], faces_at(0), [embedding(a, 1)], detector="x")
    like_b = [lib.faces.record(photos[i], faces_at(0), [embedding(b, i)], detector="x")[0] for i in (2, 3)]
    lib.faces.record(photos[4], faces_at(0), [embedding(c, 4)], detector="x")
    lib.faces.record(photos[5], faces_at(0, 100), [embedding(a, 5), None], detector="x")  # no embedding: ignored
    suggestions = lib.grouping.suggest(threshold=0.6)
    assert [(s.person_id, sorted(s.face_ids)) for s in suggestions] == [
        (anna, sorted([like_a[0], lib.faces.of_photo(photos[5])[0].id])),
        (None, sorted(like_b)),
    ]
    assert 0 < suggestions[0].distance < 0.6
    lib.grouping.reject(suggestions[0])
    after = lib.grouping.suggest(threshold=0.6)
    # Not offered to Anna again; being alike, they now make a new group of their own.
    assert (None, suggestions[0].face_ids) in [(s.person_id, s.face_ids) for s in after]
    lib.grouping.reject(next(s for s in after if s.face_ids == suggestions[0].face_ids))
    bo = lib.grouping.accept(next(s for s in after if s.face_ids == tuple(sorted(like_b))), name="Bo")
    assert {f.id for f in lib.faces.of_person(bo)} == set(like_b)
    assert lib.grouping.suggest(threshold=0.6) == []
    with pytest.raises(UserError):
        lib.grouping.accept(after[0])  # a new person needs a name


def test_all_pairs_distances_are_identity_distances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 128)).astype(np.float32), rng.normal(size=(3, 128)).astype(np.float32)
    expected = [[identity_distance(x, y) for y in b] for x in a]
    np.testing.assert_allclose(distances(a, b), expected, rtol=1e-6)


def test_no_suggestion_to_add_a_face_to_a_person_already_in_that_photo(lib, drop):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    photo_id = lib.photos.all(album)[0].id
    a = np.array([1.0, 0, 0], np.float32)
    f1, f2 = lib.faces.record(photo_id, faces_at(0, 100), [a, a + 0.01], detector="x")
    lib.people.create("Twin", [f1])
    assert lib.grouping.suggest(threshold=0.6) == []


def test_two_faces_of_one_photo_are_never_suggested_as_one_person(lib, tmp_path):
    photos = import_jpegs(lib, tmp_path / "p", 3)
    a = np.eye(3, dtype=np.float32)[0] * 2
    # Two children alike in photo 0 and one of them again in photo 1: a group of two, not three.
    near, far = lib.faces.record(photos[0], faces_at(0, 100), [embedding(a, 0), a + 0.05], detector="x")
    (again,) = lib.faces.record(photos[1], faces_at(0), [embedding(a, 1)], detector="x")
    (group,) = lib.grouping.suggest(threshold=0.6)
    assert group.person_id is None
    assert len(group.face_ids) == 2
    assert again in group.face_ids
    # And to a named person: only the closer face of photo 2's two lookalikes.
    tom = lib.people.create("Tom", [near, again])
    close, closer = lib.faces.record(photos[2], faces_at(0, 100), [a + 0.2, a + 0.01], detector="x")
    (attach,) = [s for s in lib.grouping.suggest(threshold=0.6) if s.person_id == tom]
    assert attach.face_ids == (closer,)


def textured_photo(path: Path, landmarks_size: int, blur: int, seed: int) -> np.ndarray:
    """A 300 x 300 photo of random texture with a face of ``landmarks_size`` at (40, 40); its landmarks."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (300, 300, 3)).astype(np.float64)
    for _ in range(blur):
        pixels[1:-1] = (pixels[:-2] + pixels[1:-1] + pixels[2:]) / 3
        pixels[:, 1:-1] = (pixels[:, :-2] + pixels[:, 1:-1] + pixels[:, 2:]) / 3
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return template_for(landmarks_size) + np.float32(40)


def test_suggest_reference_picks_the_sharp_large_face(lib, tmp_path):
    folder = tmp_path / "p"
    sharp = textured_photo(folder / "sharp.png", 220, blur=0, seed=1)
    soft = textured_photo(folder / "soft.png", 120, blur=4, seed=2)
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [folder]))
    by_name = {p.path.name: p.id for p in lib.photos.all(album)}
    (f_sharp,) = lib.faces.record(
        by_name["sharp.png"], [Face((40, 40, 260, 260), sharp, 0.9)], [None], detector="x"
    )
    (f_soft,) = lib.faces.record(
        by_name["soft.png"], [Face((40, 40, 160, 160), soft, 0.9)], [None], detector="x"
    )
    person = lib.people.create("Cy", [f_soft, f_sharp])
    best = lib.references.suggest(person)
    assert best.face_id == f_sharp
    assert best.size_px == pytest.approx(220, rel=1e-3)
    assert best.why == f"sharpest ({best.sharpness:.0f}), largest (220 px), frontal"
    ranked = lib.references.candidates(person)
    assert [c.face_id for c in ranked] == [f_sharp, f_soft]
    # Sharpness is remembered: a second call works without the files.
    shutil.rmtree(folder)
    assert [c.face_id for c in lib.references.candidates(person)] == [f_sharp, f_soft]
    assert lib.references.suggest(lib.people.create("Nobody")) is None


def test_jobs_move_through_explicit_states(lib, tmp_path):
    a = lib.jobs.add("restore", {"photo_ids": [1, 2]})
    b = lib.jobs.add("detect")
    assert lib.jobs.get(a).state == "queued"
    assert lib.jobs.get(a).payload == {"photo_ids": [1, 2]}
    claimed = lib.jobs.claim_next("detect")
    assert claimed.id == b
    assert claimed.state == "running"
    assert claimed.started is not None
    lib.jobs.set_progress(b, 0.5)
    lib.jobs.set_state(b, "failed", error="No face found.")
    failed = lib.jobs.get(b)
    assert (failed.state, failed.error, failed.progress) == ("failed", "No face found.", 0.5)
    with pytest.raises(JobStateError):
        lib.jobs.set_state(b, "done")
    lib.jobs.set_state(b, "queued")
    assert (lib.jobs.get(b).error, lib.jobs.get(b).progress) == (None, 0.0)
    lib.jobs.set_state(a, "running")
    lib.jobs.set_state(a, "paused")
    lib.jobs.set_state(a, "running")
    with pytest.raises(ValueError):
        lib.jobs.add("dance")
    lib.close()
    # A job left running is interrupted when the library is opened again.
    with Library(tmp_path / "lib") as reopened:
        assert reopened.jobs.get(a).state == "interrupted"
        assert [j.id for j in reopened.jobs.all(states=["interrupted", "queued"])] == [a, b]
        reopened.jobs.set_state(a, "queued")
        assert reopened.jobs.claim_next().id == a
        reopened.jobs.set_state(a, "done")
        assert reopened.jobs.get(a).progress == 1.0
        assert reopened.jobs.delete_finished() == 1
        assert [j.id for j in reopened.jobs.all(kind="detect")] == [b]


def test_versions_remember_their_job_until_it_is_forgotten(lib, drop):
    run(lib.photos.import_paths(lib.albums.create("a"), [drop]))
    photo = lib.photos.all()[0]
    job = lib.jobs.add("restore", {"photo_ids": [photo.id]})
    lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m", job_id=job)
    assert lib.versions.photos_restored_by_job(job) == {photo.id}
    lib.jobs.set_state(job, "running")
    lib.jobs.set_state(job, "done")
    lib.jobs.delete_finished()
    assert len(lib.versions.of_photo(photo.id)) == 1
    assert lib.jobs.add("restore") > job  # ids are never given again
    assert lib.versions.photos_restored_by_job(job) == set()


def test_threads_share_one_library(lib, tmp_path):
    folders = []
    for t in range(3):
        for i in range(5):
            jpeg(tmp_path / f"t{t}" / f"{i}.jpg", seed=t * 10 + i)
        folders.append(tmp_path / f"t{t}")
    album = lib.albums.create("a")
    errors = []

    def work(folder):
        try:
            run(lib.photos.import_paths(album, [folder]))
            for photo in lib.photos.all(album):
                lib.jobs.add("detect", {"photo": photo.id})
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f,)) for f in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lib.albums.get(album).photo_count == 15
    assert len(lib._db.connections) == 4  # the main thread's and one per worker


def test_leftovers_after_a_crash_are_removed(lib, drop):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    photo = lib.photos.all(album)[0]
    kept = lib.versions.get(lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m")).path
    orphan = kept.with_name("orphan.png")
    orphan.write_bytes(b"written, then the program was killed before the row")
    temp = kept.with_name(".x.png.1234.tmp")
    temp.write_bytes(b"half")
    assert sorted(lib.maintenance.remove_leftovers()) == sorted([orphan, temp])
    assert kept.exists()
    assert lib.maintenance.integrity_problems() == []


def test_folders_emptied_by_deletions_are_removed_with_the_leftovers(lib, drop, tmp_path):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    first, second = lib.photos.all(album)[:2]
    gone = lib.versions.get(lib.versions.add(first.id, np.zeros((4, 4, 3), np.uint8), model="m")).path
    kept = lib.versions.get(lib.versions.add(second.id, np.zeros((4, 4, 3), np.uint8), model="m")).path
    lib.versions.delete(lib.versions.of_photo(first.id)[0].id)
    ann = lib.people.create("Ann")
    image = lib.references.set_image(ann, jpeg(tmp_path / "outside" / "ann.jpg"))
    lib.people.delete(ann)
    assert gone.parent.is_dir()
    assert image.parent.is_dir()  # left while a restore could still write there
    assert sorted(lib.maintenance.remove_leftovers()) == sorted([gone.parent, image.parent])
    assert not gone.parent.exists()
    assert not image.parent.exists()
    assert kept.exists()
    assert lib.maintenance.integrity_problems() == []


def test_a_library_open_elsewhere_is_refused_until_closed(tmp_path):
    first = Library(tmp_path / "lib")
    job = first.jobs.add("restore", {"photo_ids": [1]})
    first.jobs.set_state(job, "running")
    temp = tmp_path / "lib" / "versions" / "1" / ".v.png.1234.tmp"
    temp.parent.mkdir(parents=True)
    temp.write_bytes(b"a version being written")
    with pytest.raises(LibraryInUseError, match="already open in another ENTED Desktop window"):
        Library(tmp_path / "lib")
    assert first.jobs.get(job).state == "running"
    assert temp.exists()  # the first one's work is left alone
    first.jobs.set_state(job, "done")
    first.close()
    with Library(tmp_path / "lib") as again:
        assert again.jobs.get(job).state == "done"


def test_the_lock_goes_with_a_killed_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from ented_desktop.core.library import Library; "
         "lib = Library(sys.argv[1]); print('open', flush=True); sys.stdin.read()", str(tmp_path / "lib")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(LibraryInUseError):
            Library(tmp_path / "lib")
    finally:
        holder.kill()  # no close(): the operating system drops the lock
        holder.communicate()
    with Library(tmp_path / "lib") as lib:
        assert lib.maintenance.integrity_problems() == []


def test_a_file_that_is_not_a_library_is_refused(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "library.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="cannot be opened"):
        Library(tmp_path / "lib")


def test_integrity_problems_are_reported(lib, drop):
    album = lib.albums.create("a")
    run(lib.photos.import_paths(album, [drop]))
    photo = lib.photos.all(album)[0]
    version = lib.versions.get(lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m"))
    version.path.unlink()
    relative = version.path.relative_to(lib.directory).as_posix()
    assert lib.maintenance.integrity_problems() == [f"version {version.id}: file {relative} is missing"]


def test_import_reads_headers_only(lib, drop, monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels decoded during import")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    _, report = run(lib.photos.import_paths(lib.albums.create("a"), [drop]))
    assert len(report.added) == 3


def test_restored_photos_of_an_album_in_one_query(lib, drop, tmp_path):
    family, other = lib.albums.create("Family"), lib.albums.create("Other")
    run(lib.photos.import_paths(family, [drop]))
    run(lib.photos.import_paths(other, [jpeg(tmp_path / "more" / "d.jpg", seed=4)]))
    a, b, c = lib.photos.all(family)
    d = lib.photos.all(other)[0]
    for photo in (a, a, d):
        lib.versions.add(photo.id, np.zeros((4, 4, 3), np.uint8), model="m")
    assert lib.versions.restored_photo_ids(family) == {a.id}
    assert lib.versions.restored_photo_ids(other) == {d.id}
    assert lib.versions.restored_photo_ids() == {a.id, d.id}


def test_an_import_into_an_album_deleted_meanwhile_stops_with_a_clear_message(lib, drop):
    album = lib.albums.create("Family")
    steps = lib.photos.import_paths(album, [drop])
    progress = next(steps)
    while progress.phase == "scanning":
        progress = next(steps)  # the first photo is in
    lib.albums.delete(album)
    with pytest.raises(UnknownItemError, match="album was deleted during the import"):
        run(steps)
    assert lib.photos.all() == []  # no photo left behind without an album


def test_a_version_names_only_the_reference_people_still_in_the_library(lib, drop):
    album = lib.albums.create("Family")
    run(lib.photos.import_paths(album, [drop]))
    anna, bea = lib.people.create("Anna"), lib.people.create("Bea")
    lib.people.delete(bea)  # while the photo was being restored with her reference
    vid = lib.versions.add(lib.photos.all(album)[0].id, np.zeros((8, 8, 3), np.uint8), model="m",
                          reference_people=[anna, bea])
    assert lib.versions.get(vid).reference_people == ({"id": anna, "name": "Anna"},)
