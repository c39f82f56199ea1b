"""scripts/grouping_benchmark.py: the people list, the photo's subject, the simulated user."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"
spec = importlib.util.spec_from_file_location("grouping_benchmark", ROOT / "scripts" / "grouping_benchmark.py")
gb = importlib.util.module_from_spec(spec)
sys.modules["grouping_benchmark"] = gb
spec.loader.exec_module(gb)


def test_people_lists_are_read_in_order(tmp_path):
    path = tmp_path / "people.txt"
    path.write_text("2\nAnn_A\t3\nBo_B\t1\n", encoding="utf-8")
    assert gb.read_people(path) == [("Ann_A", 3), ("Bo_B", 1)]
    path.write_text("not a list\n", encoding="utf-8")
    with pytest.raises(UserError, match="not an LFW people list"):
        gb.read_people(path)
    with pytest.raises(UserError, match="cannot be read"):
        gb.read_people(tmp_path / "missing.txt")


def box_face(x0, y0, x1, y1):
    return Face((x0, y0, x1, y1), template_for(int(x1 - x0)) + np.float32([x0, y0]), 0.9)


def test_the_subject_is_the_face_over_the_centre():
    background, subject, big = box_face(0, 0, 40, 40), box_face(80, 80, 170, 170), box_face(60, 60, 200, 200)
    assert gb.subject_index([background, subject], 250, 250) == 1
    assert gb.subject_index([big, background, subject], 250, 250) == 2  # the nearest of two over the centre
    assert gb.subject_index([background], 250, 250) is None
    assert gb.subject_index([], 250, 250) is None


def test_people_are_named_by_their_first_photo_undegraded_when_found():
    photos = [gb.Photo("A", v, Path(f"{v}{i}"), i) for i in (1, 2) for v in gb.VARIANTS] + [
        gb.Photo("B", "clean", Path("b1"), 1),
        gb.Photo("B", "degraded", Path("b1d"), 1),
    ]
    # A's first clean photo was not found: A is named by its degraded copy; B by its clean one.
    face_of = {1: 11, 2: 12, 3: 13, 4: 14, 5: 15}
    assert gb.first_faces(photos, face_of) == {"A": 11, "B": 14}


@pytest.mark.slow
@pytest.mark.skipif(not (LFW / "images_deepfunneled").is_dir(), reason="../shared/data/lfw is not available")
def test_two_people_end_to_end(tmp_path, capsys):
    pytest.importorskip("yuface")
    pytest.importorskip("dlib")
    people = tmp_path / "people.txt"
    people.write_text("2\nAaron_Peirsol\t4\nAdam_Sandler\t4\n", encoding="utf-8")
    args = ["--people", str(people), "--lfw", str(LFW / "images_deepfunneled"), "--cache", str(tmp_path / "c")]
    assert gb.main([*args, "--max-photos", "3", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "wrong_faces_per_confirm", "wrong_references"} <= set(first)
    assert first["people"] == 2 and first["photos"] == 12 and first["people_with_reference"] == 2
    assert first["wrong_references"] == 0 and first["precision"] == 1.0
    assert gb.main([*args, "--max-photos", "3", "--json"]) == 0  # from the cache, the same figures
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again.items() if not k.startswith("seconds")} == {
        k: v for k, v in first.items() if not k.startswith("seconds")
    }
