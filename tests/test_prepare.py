from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from training.prepare import (
    MANIFEST,
    SKIPPED,
    default_min_sharpness,
    iter_photos,
    person_of,
    prepare_dataset,
    read_manifest,
    sharpness,
)

LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw" / "images_deepfunneled"


def _face(side: float, cx: float, cy: float) -> Face:
    """A face whose FFHQ-aligned crop spans ``side`` photo pixels, centred at (cx, cy)."""
    landmarks = template_for(512) * np.float32(side / 512) + np.float32([cx - side / 2, cy - side / 2])
    box = (cx - side / 3, cy - side / 3, cx + side / 3, cy + side / 3)
    return Face(box=box, landmarks=landmarks, score=0.9)


class FakeDetector:
    """Finds the faces a test photo was made with: photo id in the red channel of pixel (0, 0)."""

    name = "fake"

    def __init__(self, faces: dict[int, list[Face]], fail_after: int | None = None) -> None:
        self.faces = faces
        self.calls = 0
        self.fail_after = fail_after

    def detect(self, rgb: np.ndarray) -> list[Face]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # a kill in the middle of a run
        self.calls += 1
        return sorted(self.faces.get(int(rgb[0, 0, 0]), []), key=lambda f: f.size, reverse=True)


def _photo(path: Path, photo_id: int, *, flat: bool = False, size: int = 240) -> None:
    rng = np.random.default_rng(photo_id)
    img = np.full((size, size, 3), 128, np.uint8) if flat else rng.integers(0, 256, (size, size, 3), np.uint8)
    img[0, 0] = (photo_id, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[:, :, ::-1])


def _tree(root: Path) -> FakeDetector:
    """Ann: a1 (her face + a smaller stranger), a2; Bob: b1, a photo without face, a blurred face, a tiny
    face, two faces of nearly one size; two unlabelled photos in the root (three faces, one too small); an
    unreadable file."""
    _photo(root / "Ann" / "a1.png", 1)
    _photo(root / "Ann" / "a2.png", 2)
    _photo(root / "Bob" / "b1.png", 3)
    _photo(root / "Bob" / "b2.png", 4)
    _photo(root / "Bob" / "b3.png", 5, flat=True)
    _photo(root / "Bob" / "b4.png", 6)
    _photo(root / "Bob" / "b5.png", 9)
    _photo(root / "group.png", 7)
    _photo(root / "solo.png", 8)
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return FakeDetector({
        1: [_face(200, 120, 120), _face(150, 60, 60)],
        2: [_face(190, 120, 120)],
        3: [_face(180, 110, 120)],
        5: [_face(200, 120, 120)],
        6: [_face(90, 120, 120)],  # 128 / 90 = 1.42x upscale
        7: [_face(140, 70, 120), _face(160, 170, 120), _face(40, 120, 30)],
        8: [_face(170, 120, 120)],
        9: [_face(150, 60, 120), _face(140, 180, 120)],  # 0.93: which one is Bob?
    })


def _manifest_lines(dst: Path) -> list[dict]:
    return [json.loads(line) for line in (dst / MANIFEST).read_text().splitlines()]


def test_person_rule_filters_and_report(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    detector = _tree(src)
    report = prepare_dataset(src, dst, size=128, detector=detector)

    entries = read_manifest(dst)
    files = sorted(e.file for e in entries)
    assert files == ["Ann/a1_0.png", "Ann/a2_0.png", "Bob/b1_0.png", "group_0.png", "group_1.png",
                     "solo_0.png"]
    for e in entries:
        assert (dst / e.file).is_file()
        assert read_image_rgb8(dst / e.file).shape == (128, 128, 3)
        assert e.person == person_of(Path(e.source))
        assert e.detector == "fake"
    a1 = next(e for e in entries if e.file == "Ann/a1_0.png")
    assert (a1.source, a1.face, a1.face_size, a1.scale) == ("Ann/a1.png", 0, 200.0, pytest.approx(0.64))
    group = sorted((e.face, e.face_size) for e in entries if e.source == "group.png")
    assert group == [(0, 160.0), (1, 140.0)]

    assert report["skipped"] == {"ambiguous person": 1, "no face found": 1, "not the folder's person": 1,
                                 "too blurred": 1, "too small": 2, "unreadable": 1}
    assert report["photos_done"] == 10 and report["photos_read"] == 9
    assert report["faces_kept"] == 6 and report["unlabelled_faces"] == 3
    assert report["people"] == 2 and report["people_with_2_or_more"] == 1
    skipped = {r["source"]: r for r in map(json.loads, (dst / SKIPPED).read_text().splitlines())}
    assert skipped["Ann/a1.png"]["kept"] == 1
    assert skipped["Bob/b4.png"]["skipped"][0]["detail"] == "upscale 1.42 > 1"
    assert skipped["Bob/b5.png"]["skipped"] == [
        {"face": None, "reason": "ambiguous person", "detail": "second face 0.93 of the largest"}
    ]
    unambiguous = prepare_dataset(src, tmp_path / "largest", size=128, detector=detector, ambiguous_ratio=1.0)
    assert "ambiguous person" not in unambiguous["skipped"]
    assert "Bob/b5_0.png" in [e.file for e in read_manifest(tmp_path / "largest")]


def test_min_face_max_upscale_and_people_list(tmp_path: Path) -> None:
    src = tmp_path / "src"
    detector = _tree(src)
    report = prepare_dataset(src, tmp_path / "a", size=128, detector=detector, people={"Bob"},
                             max_upscale=1.5)
    assert sorted(e.file for e in read_manifest(tmp_path / "a")) == ["Bob/b1_0.png", "Bob/b4_0.png"]
    assert report["photos_outside_people_list"] == 5
    prepare_dataset(src, tmp_path / "b", size=128, detector=detector, people={"Ann"}, min_face=195)
    assert [e.file for e in read_manifest(tmp_path / "b")] == ["Ann/a1_0.png"]


def test_resume_after_a_kill_gives_the_same_dataset(tmp_path: Path) -> None:
    src = tmp_path / "src"
    detector = _tree(src)
    prepare_dataset(src, tmp_path / "clean", size=64, detector=detector)

    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(src, killed, size=64, detector=FakeDetector(detector.faces, fail_after=4))
    assert len(_manifest_lines(killed)) > 0
    resumed = FakeDetector(detector.faces)
    report = prepare_dataset(src, killed, size=64, detector=resumed)
    assert resumed.calls == 9 - 4  # the unreadable photo never reaches the detector
    assert report["photos_done_before"] == 5 and report["photos_this_run"] == 5
    assert _manifest_lines(killed) == _manifest_lines(tmp_path / "clean")
    assert report["faces_kept"] == 7 and sum(report["skipped"].values()) == 6  # at 64 px b4 is big enough

    again = FakeDetector(detector.faces)
    assert prepare_dataset(src, killed, size=64, detector=again)["photos_this_run"] == 0
    assert again.calls == 0


@pytest.mark.parametrize("cut_line", [-1, -2])
def test_a_line_cut_short_is_dropped_with_its_photo(tmp_path: Path, cut_line: int) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _photo(src / "a.png", 1)
    _photo(src / "z.png", 2)
    detector = FakeDetector({1: [_face(200, 120, 120)], 2: [_face(110, 60, 120), _face(100, 180, 120)]})
    prepare_dataset(src, dst, size=64, detector=detector)
    complete = (dst / MANIFEST).read_bytes()
    lines = complete.splitlines(keepends=True)
    assert len(lines) == 3
    # A crash while z.png's batch (its two lines) was being written: a fragment cannot say whose it was,
    # so the last complete batch before it goes too (z.png's first line, or all of a.png, done again).
    (dst / MANIFEST).write_bytes(b"".join(lines[:cut_line]) + lines[cut_line][:50])
    assert [e.file for e in read_manifest(dst)] == (["a_0.png"] if cut_line == -1 else [])
    assert (dst / MANIFEST).read_bytes() != complete  # reading alone does not repair

    redo = FakeDetector(detector.faces)
    prepare_dataset(src, dst, size=64, detector=redo)
    assert redo.calls == (1 if cut_line == -1 else 2)
    assert (dst / MANIFEST).read_bytes() == complete


def test_resume_refuses_other_settings_and_bad_folders(tmp_path: Path) -> None:
    src = tmp_path / "src"
    detector = _tree(src)
    prepare_dataset(src, tmp_path / "dst", size=64, detector=detector)
    with pytest.raises(UserError, match="size"):
        prepare_dataset(src, tmp_path / "dst", size=128, detector=detector)
    with pytest.raises(UserError):
        prepare_dataset(src, src / "inside", size=64, detector=detector)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError):
        prepare_dataset(tmp_path / "empty", tmp_path / "out", size=64, detector=detector)
    with pytest.raises(UserError):
        read_manifest(tmp_path / "empty")


def test_same_stem_in_one_folder_gets_distinct_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _photo(src / "Ann" / "x.png", 1)
    _photo(src / "Ann" / "x.bmp", 2)
    detector = FakeDetector({1: [_face(200, 120, 120)], 2: [_face(200, 120, 120)]})
    prepare_dataset(src, tmp_path / "dst", size=64, detector=detector)
    assert sorted(e.file for e in read_manifest(tmp_path / "dst")) == ["Ann/x_0-2.png", "Ann/x_0.png"]


def test_walk_follows_links_without_looping(tmp_path: Path) -> None:
    _photo(tmp_path / "Ann" / "a.png", 1)
    _photo(tmp_path / "elsewhere" / "b.png", 2)
    (tmp_path / ".hidden").mkdir()
    _photo(tmp_path / ".hidden" / "c.png", 3)
    os.symlink(tmp_path, tmp_path / "Ann" / "loop")
    os.symlink(tmp_path / "elsewhere", tmp_path / "Linked")
    found = [p.as_posix() for p in iter_photos(tmp_path)]
    assert found == ["Ann/a.png", "Linked/b.png"] or found == ["Ann/a.png", "elsewhere/b.png"]


def test_sharpness_by_hand() -> None:
    assert sharpness(np.full((64, 64, 3), 77, np.uint8)) == 0.0
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    # Each pixel differs by 255 from its four neighbours: Laplacian +-4*255 everywhere, variance 1020^2.
    assert sharpness(np.repeat(checker[:, :, None], 3, axis=2)) == pytest.approx(1020.0**2)
    assert default_min_sharpness(128) == 40.0 and default_min_sharpness(256) == 10.0


@pytest.mark.skipif(not LFW.is_dir(), reason="../shared/data/lfw is not present")
def test_real_lfw_photos_with_the_embedded_detector(tmp_path: Path) -> None:
    src = tmp_path / "src" / "Colin_Powell"
    src.mkdir(parents=True)
    for n in (1, 2):
        os.symlink(LFW / "Colin_Powell" / f"Colin_Powell_000{n}.jpg", src / f"Colin_Powell_000{n}.jpg")
    report = prepare_dataset(tmp_path / "src", tmp_path / "dst", size=128, detector="yuface")
    assert report["faces_kept"] == 2 and report["people_with_2_or_more"] == 1
    for entry in read_manifest(tmp_path / "dst"):
        assert 0.5 < entry.scale < 1.0 and entry.detector == "yuface"
