import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.library import Library
from ented_desktop.core.restore_skip import (
    RestoreSkipPlan,
    file_stamp,
    model_sha256,
    photo_record,
    plan_library_restore,
    plan_restore,
    restore_record,
    same_way,
)
from ented_desktop.core.weights import add_to_manifest
from tests.test_library_database import jpeg, run

BASE = restore_record(model="ented-general", model_sha256="ab" * 32, engine="torch", fidelity=None, faces=())


def record(**changes):
    return {**BASE, "faces": [{"face": 1, "person": None, "reference": None, "personal_model": None}], **changes}


@pytest.mark.parametrize(
    ("made", "same"),
    [
        (record(), True),
        (record(engine="onnx"), True),  # another engine gives the same picture
        (record(model_sha256="cd" * 32), False),  # same name, other weights
        (record(model="codeformer"), False),
        (record(fidelity=0.7), False),
        (record(faces=[{"face": 1, "person": 3, "reference": "face:9", "personal_model": None}]), False),
        (record(faces=[]), False),
        ({}, False),  # made before versions recorded how: unknown is never the same
    ],
)
def test_same_way_compares_what_changes_the_picture(made, same):
    assert same_way(made, record()) is same


def test_a_record_read_back_from_json_still_matches_one_made_now():
    now = restore_record(model="m", model_sha256="0" * 64, engine="torch", fidelity=1, faces=({"face": 2},))
    assert same_way({**now, "fidelity": 1.0, "faces": [{"face": 2}]}, now)


def test_plan_restore_skips_photos_restored_the_same_way_and_says_so():
    wanted = {1: record(), 2: record(), 3: record(fidelity=0.5), 4: record()}
    made = {1: [record(fidelity=0.2), record()], 2: [record()], 3: [record()]}
    plan = plan_restore([1, 2, 3, 4, 2], wanted, made)
    assert plan == RestoreSkipPlan(skipped=(1, 2), to_restore=(3, 4), again=(3,))
    assert plan.sentence() == ("2 photos were already restored this way and are skipped; 2 will be restored "
                               "(1 of them was restored before, another way).")


@pytest.mark.parametrize(
    ("plan", "sentence"),
    [
        (RestoreSkipPlan(tuple(range(12)), (20, 21, 22), ()),
         "12 photos were already restored this way and are skipped; 3 will be restored."),
        (RestoreSkipPlan((1,), (2,), ()), "1 photo was already restored this way and is skipped; 1 will be restored."),
        (RestoreSkipPlan(tuple(range(178)), (), ()),
         "178 photos were already restored this way, so there is nothing to restore."),
        (RestoreSkipPlan((), (4,), (4,)), "1 photo will be restored (it was restored before, another way)."),
        (RestoreSkipPlan((), (4, 5), ()), "2 photos will be restored."),
    ],
)
def test_the_plan_in_plain_words(plan, sentence):
    assert plan.sentence() == sentence


def test_file_stamp_changes_with_the_file(tmp_path):
    path = tmp_path / "ref.png"
    path.write_bytes(b"1")
    first = file_stamp(path)
    path.write_bytes(b"22")
    assert file_stamp(path) != first and file_stamp(path).startswith("ref.png:2:")
    path.unlink()
    assert file_stamp(path) == "ref.png:missing"
    assert file_stamp(None) is None


def test_model_sha256_comes_from_the_manifest_when_listed(tmp_path):
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(b"weights")
    assert model_sha256(weights) == hashlib.sha256(b"weights").hexdigest()
    add_to_manifest(weights, "f" * 64)  # the manifest is trusted: no second read of a 300 MB file
    assert model_sha256(weights) == "f" * 64


def face_at(x: float) -> Face:
    points = template_for(32) + np.float32([x, 0])
    return Face(box=(x, 0.0, x + 32.0, 32.0), landmarks=points, score=0.9)


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib")
    yield library
    library.close()


def test_restoring_a_library_photo_again_the_same_way_is_found_and_skipped(lib, tmp_path):
    for i in range(3):
        jpeg(tmp_path / "photos" / f"{i}.jpg", seed=i)
    ids = run(lib.photos.import_paths(lib.albums.create("a"), [tmp_path / "photos"]))[1].added
    face_ids = lib.faces.record(ids[0], [face_at(0), face_at(40)], [None, None], "d")
    anna = lib.people.create("Anna", [face_ids[0]])
    pixels = np.zeros((8, 8, 3), np.uint8)
    made_now = photo_record(lib, ids[0], BASE)
    assert [f["reference"] for f in made_now["faces"]] == [None, None]
    first = lib.versions.add(ids[0], pixels, model="m", settings=made_now)
    lib.versions.add(ids[1], pixels, model="m")  # made before versions recorded how
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], BASE)).id == first
    assert lib.versions.find_same(ids[1], photo_record(lib, ids[1], BASE)) is None

    plan = plan_library_restore(lib, ids, BASE)
    assert plan == RestoreSkipPlan(skipped=(ids[0],), to_restore=(ids[1], ids[2]), again=(ids[1],))

    lib.references.set_face(anna, face_ids[0])  # Anna's face now has a reference: restoring differs
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], BASE)) is None
    assert photo_record(lib, ids[0], BASE)["faces"][0] == {
        "face": face_ids[0], "box": [0, 0, 32, 32], "person": anna, "reference": f"face:{face_ids[0]}",
        "personal_model": None}
    second = lib.versions.add(ids[0], pixels, model="m", settings=photo_record(lib, ids[0], BASE))
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], BASE)).id == second
    lib.faces.record(ids[0], [face_at(0), face_at(44)], [None, None], "d")  # found again, a little further right
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], BASE)) is None
    third = lib.versions.add(ids[0], pixels, model="m", settings=photo_record(lib, ids[0], BASE))

    reference = lib.references.set_image(anna, jpeg(tmp_path / "anna.jpg", seed=9))
    assert photo_record(lib, ids[0], BASE)["faces"][0]["reference"] == "image:" + file_stamp(reference)
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], BASE)) is None
    other_model = {**BASE, "model_sha256": "cd" * 32}
    lib.versions.add(ids[0], pixels, model="m", settings=photo_record(lib, ids[0], other_model))
    assert lib.versions.find_same(ids[0], photo_record(lib, ids[0], other_model)).id > third


def test_a_changed_personal_model_file_is_another_way(lib, tmp_path):
    jpeg(tmp_path / "photos" / "a.jpg")
    (photo,) = run(lib.photos.import_paths(lib.albums.create("a"), [tmp_path / "photos"]))[1].added
    (face,) = lib.faces.record(photo, [face_at(0)], [None], "d")
    anna = lib.people.create("Anna", [face])
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"v1")
    lib.people.set_personal_model(anna, model)
    lib.versions.add(photo, np.zeros((8, 8, 3), np.uint8), model="m", settings=photo_record(lib, photo, BASE))
    assert lib.versions.find_same(photo, photo_record(lib, photo, BASE)) is not None
    model.write_bytes(b"v2, fine-tuned again")
    os.utime(model, ns=(1, 1))
    assert lib.versions.find_same(photo, photo_record(lib, photo, BASE)) is None
    assert Path(lib.people.get(anna).personal_model).name == "anna.safetensors"


def test_a_version_whose_face_fell_back_is_never_the_same_way(lib, tmp_path):
    jpeg(tmp_path / "photos" / "0.jpg", seed=0)
    (photo,) = run(lib.photos.import_paths(lib.albums.create("a"), [tmp_path / "photos"]))[1].added
    lib.faces.record(photo, [face_at(0)], [None], "d")
    pixels = np.zeros((8, 8, 3), np.uint8)
    fell_back = {"faces": [{"index": 0, "fallback": "the personal model of Anna cannot be used: it is damaged"}]}
    lib.versions.add(photo, pixels, model="m", settings=photo_record(lib, photo, BASE), report=fell_back)
    # the damaged model may be fixed by now: restoring again may do better, so it is not skipped
    assert plan_library_restore(lib, [photo], BASE) == RestoreSkipPlan((), (photo,), (photo,))
    lib.versions.add(photo, pixels, model="m", settings=photo_record(lib, photo, BASE),
                     report={"faces": [{"index": 0, "fallback": None}]})
    assert plan_library_restore(lib, [photo], BASE).skipped == (photo,)
