import hashlib
import io
import os
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.library import importer
from ented_desktop.core.library.importer import ImportProblem, ScanResult, hash_file, index_file, scan


def photo_bytes(fmt="JPEG", size=(64, 48), date=None, orientation=None, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if date:
        exif[0x8769] = {0x9003: date}
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, exif=exif.tobytes())
    return buffer.getvalue()


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_header_facts_and_exif_date(tmp_path):
    data = photo_bytes(size=(64, 48), date="2001:02:03 04:05:06", orientation=6)
    info = index_file(write(tmp_path / "a.jpg", data))
    assert (info.width, info.height) == (48, 64)  # orientation 6: displayed turned a quarter
    assert info.format == "JPEG"
    assert (info.taken, info.taken_source) == ("2001-02-03 04:05:06", "exif")
    assert info.size_bytes == len(data)
    assert info.content_hash == hashlib.blake2b(data, digest_size=16).hexdigest()


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_size_as_displayed_for_every_orientation(tmp_path, fmt, orientation):
    info = index_file(write(tmp_path / f"o.{fmt.lower()}", photo_bytes(fmt, (64, 48), orientation=orientation)))
    assert (info.width, info.height) == ((64, 48) if orientation <= 4 else (48, 64))


def test_date_falls_back_to_mtime(tmp_path):
    path = write(tmp_path / "a.png", photo_bytes("PNG", date="0000:00:00 00:00:00"))
    os.utime(path, (1_000_000_000, 1_000_000_000))
    info = index_file(path)
    assert info.taken_source == "mtime"
    assert info.taken == datetime.fromtimestamp(1_000_000_000).isoformat(sep=" ")
    assert info.mtime_ns == 1_000_000_000 * 10**9


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_truncated_files_are_caught_without_decoding(tmp_path, fmt):
    data = photo_bytes(fmt, size=(200, 150))
    ok = index_file(write(tmp_path / f"ok.{fmt.lower()}", data))
    assert not isinstance(ok, ImportProblem)
    cut = index_file(write(tmp_path / f"cut.{fmt.lower()}", data[: len(data) * 2 // 3]))
    assert cut == ImportProblem(str(tmp_path / f"cut.{fmt.lower()}"), "the file is truncated")


def test_jpeg_with_data_after_its_end_is_whole(tmp_path):
    # Phones append a video after the JPEG (motion photos).
    info = index_file(
        write(tmp_path / "motion.jpg", photo_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    )
    assert not isinstance(info, ImportProblem)


def test_end_marker_split_across_hash_chunks(monkeypatch):
    monkeypatch.setattr(importer, "HASH_CHUNK", 4)
    data = b"\xff\xd8abcdefg\xff\xd9"  # the marker straddles bytes 8..9: chunks [0:4] [4:8] [8:12]
    for cut in range(len(data) - 1, len(data) + 1):
        digest, found = importer._hash_and_find(io.BytesIO(data[:cut]), b"\xff\xd9", 2)
        assert found == (cut == len(data))
        assert digest == hashlib.blake2b(data[:cut], digest_size=16).hexdigest()
    # A marker before the start offset does not count.
    assert not importer._hash_and_find(io.BytesIO(b"\xff\xd9" + bytes(20)), b"\xff\xd9", 2)[1]


def test_unreadable_inputs_become_problems(tmp_path):
    reasons = {
        "empty.jpg": (b"", "the file is empty (0 bytes)"),
        "noise.jpg": (np.random.default_rng(1).bytes(3000), "not a JPEG, PNG, TIFF, WebP or BMP image"),
        "fake.png": (b"%PDF-1.4\n" + bytes(100), "not a JPEG, PNG, TIFF, WebP or BMP image"),
        "broken.jpg": (
            b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40),
            "not a JPEG, PNG, TIFF, WebP or BMP image",
        ),
    }
    for name, (data, reason) in reasons.items():
        result = index_file(write(tmp_path / name, data))
        assert isinstance(result, ImportProblem), name
        assert result.reason.startswith(reason), (name, result.reason)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_permission_denied_is_a_problem(tmp_path):
    path = write(tmp_path / "secret.jpg", photo_bytes())
    os.chmod(path, 0)
    try:
        assert index_file(path) == ImportProblem(path, "permission denied")
    finally:
        os.chmod(path, 0o644)


def test_scan_finds_photos_and_reports_the_rest(tmp_path):
    root = tmp_path / "drop"
    a = write(root / "a.jpg", photo_bytes())
    b = write(root / "sub" / "b.PNG", photo_bytes("PNG"))
    write(root / "notes.txt", b"hello")
    write(root / "README", b"hello")
    write(root / ".hidden.jpg", b"junk")
    write(root / "._a.jpg", b"mac companion")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "nowhere.jpg", root / "dangling.jpg")
    os.symlink(a, root / "sub" / "alias.jpg")  # the same file again, through a link
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.jpg")
    result = ScanResult()
    visited = list(scan([root], result))
    assert visited == [str(root), str(root / "sub")]
    assert result.files == [a, b]
    reasons = {os.path.basename(p): r for p, r in result.problems}
    assert reasons["notes.txt"] == "not a supported photo type (.txt files are not imported)"
    assert reasons["README"] == "not a supported photo type (files without an extension are not imported)"
    assert reasons["loop"] == "a link back to a folder that contains it (link loop)"
    assert reasons["dangling.jpg"] == "a link to something that does not exist (broken link)"
    if hasattr(os, "mkfifo"):
        assert reasons["pipe.jpg"] == "not a regular file"
    assert len(reasons) == 4 + hasattr(os, "mkfifo")


def test_scan_dropped_files_missing_roots_and_exclusions(tmp_path):
    a = write(tmp_path / "x" / "a.jpg", photo_bytes())
    write(tmp_path / "x" / "lib" / "versions" / "v.png", photo_bytes("PNG"))
    os.symlink(tmp_path / "self", tmp_path / "self")
    result = ScanResult()
    roots = [a, tmp_path / "x", tmp_path / "x" / "lib", tmp_path / "gone", tmp_path / "self"]
    list(scan(roots, result, exclude=[tmp_path / "x" / "lib"]))
    assert result.files == [a]
    assert result.problems == [
        ImportProblem(str(tmp_path / "x" / "lib"), "inside the photo library's own folder"),
        ImportProblem(str(tmp_path / "gone"), "does not exist"),
        ImportProblem(str(tmp_path / "self"), "a link that leads to itself (link loop)"),
    ]


def test_hash_file(tmp_path):
    data = bytes(range(256)) * 10_000
    path = write(tmp_path / "f.bin", data)
    assert hash_file(path) == hashlib.blake2b(data, digest_size=16).hexdigest()


def test_open_failure_is_a_problem(tmp_path, monkeypatch):
    # Runs as root too, where chmod cannot make a file unreadable.
    path = write(tmp_path / "locked.jpg", photo_bytes())

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", file)

    monkeypatch.setattr(importer, "open", refuse, raising=False)
    assert index_file(path) == ImportProblem(path, "permission denied")
