"""People suggestions (core.people_suggest) and the library's use of them (issue 18, item 1)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core import people_suggest as ps
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.library import Library

DIM = 8


def at(*offsets: tuple[int, float]) -> np.ndarray:
    """An embedding: the origin moved by ``value`` along axis ``k`` for each (k, value)."""
    v = np.zeros(DIM, np.float32)
    for k, value in offsets:
        v[k] += value
    return v


def face(face_id, embedding, person=None, photo=None, sharpness=30.0, size=100.0):
    return ps.FaceInfo(face_id, face_id if photo is None else photo, embedding, person, size, sharpness)


# Person 1: three faces that agree, and one (4) confirmed by mistake, far from them.
PERSON = [face(1, at((0, 0.1)), 1), face(2, at((1, 0.1)), 1), face(3, at((2, 0.1)), 1), face(4, at((3, 0.9)), 1)]


def test_a_face_like_one_mistaken_face_is_not_offered_but_one_like_the_person_is():
    like_mistake = face(10, at((3, 0.9), (4, 0.1)))  # 0.1 from face 4: single linkage took it
    like_person = face(11, at((5, 0.1)))
    offers = ps.suggest([*PERSON, like_mistake, like_person])
    assert [(o.person_id, o.face_ids) for o in offers] == [(1, (11,))]
    assert 0 < offers[0].distance < ps.ATTACH_THRESHOLD


def test_trusted_faces_outvote_a_stray_and_keep_the_chosen_reference():
    embeddings = np.stack([f.embedding for f in PERSON])
    assert ps.trusted_faces(embeddings).tolist() == [True, True, True, False]
    assert ps.trusted_faces(embeddings, anchor=3).tolist() == [True, True, True, True]
    # One or two faces have no majority: all of them, or only the chosen one.
    assert ps.trusted_faces(embeddings[2:]).tolist() == [True, True]
    assert ps.trusted_faces(embeddings[2:], anchor=1).tolist() == [False, True]
    assert ps.medoid(np.stack([at((0, 0.0)), at((0, 1.0)), at((0, 3.0))])) == 1


def test_the_reference_must_agree_too():
    # Face 12 is 0.51 from faces 1 and 2 but 0.62 from face 3.
    near_others = face(12, at((0, 0.1), (1, 0.1), (2, -0.5)))
    assert ps.suggest([*PERSON, near_others])[0].face_ids == (12,)
    assert ps.suggest([*PERSON, near_others], references={1: 3}) == []


def test_blurry_small_and_unmeasured_faces_are_never_offered():
    close = at((5, 0.05))
    faces = [
        *PERSON,
        face(20, close, sharpness=ps.MIN_SHARPNESS - 1),
        face(21, close, size=ps.MIN_FACE_PX - 1),
        face(22, close, sharpness=None),
        face(23, close, sharpness=None),
    ]
    assert ps.suggest(faces) == []
    asked = []

    def measure(ids):
        asked.append(list(ids))
        return {22: 40.0, 23: 3.0}

    assert [o.face_ids for o in ps.suggest(faces, measure=measure)] == [(22,)]
    assert asked == [[22, 23]]  # only faces that would be offered are measured, once


def test_a_face_between_two_people_is_not_offered():
    anna = [face(1, at((0, 0.0)), 1)]
    bea = [face(2, at((0, 0.6)), 2)]
    between = face(30, at((0, 0.3)))  # 0.3 from each
    leaning = face(31, at((0, 0.2)))  # 0.2 and 0.4: margin 0.2
    offers = ps.suggest([*anna, *bea, between, leaning])
    assert [(o.person_id, o.face_ids) for o in offers] == [(1, (31,))]
    # A blurry face needs the larger margin.
    slightly = face(32, at((0, 0.265)), sharpness=ps.SHARP - 1)  # margin 0.07
    assert ps.suggest([*anna, *bea, slightly]) == []


def test_one_face_per_photo_and_none_in_a_photo_where_the_person_is():
    faces = [
        *PERSON,
        face(40, at((5, 0.2)), photo=100),
        face(41, at((5, 0.1)), photo=100),  # closer: the one offered
        face(42, at((6, 0.1)), photo=1),  # photo 1 holds face 1 of the person
    ]
    assert [o.face_ids for o in ps.suggest(faces)] == [(41,)]


def test_turned_down_faces_are_not_offered_there_again_but_may_form_a_new_person():
    faces = [*PERSON, face(50, at((5, 0.1))), face(51, at((5, 0.1), (6, 0.05)))]
    assert [o.face_ids for o in ps.suggest(faces)] == [(50, 51)]
    rejected = {(50, 1), (51, 1)}
    assert [(o.person_id, o.face_ids) for o in ps.suggest(faces, rejected=rejected)] == [(None, (50, 51))]
    assert ps.suggest(faces, rejected=rejected | {(50, None), (51, None)}) == []


def test_new_groups_are_complete_linkage_of_sharp_faces():
    # a-b 0.4, b-c 0.4, a-c 0.8: single or average linkage chains them; complete linkage does not.
    a, b, c = face(60, at((0, 0.0))), face(61, at((0, 0.4))), face(62, at((0, 0.8)))
    (group,) = ps.suggest([a, b, c])
    assert (group.person_id, group.face_ids) == (None, (60, 61))
    assert group.distance == pytest.approx(0.2)  # mean distance to the medoid, a
    blurry = face(64, at((0, 0.0), (1, 0.1)), sharpness=ps.SHARP - 1)
    same_photo = face(65, at((0, 0.0), (1, 0.05)), photo=60)
    assert ps.suggest([a, blurry, same_photo]) == []


def test_distances_are_euclidean():
    x, y = np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 0.0]])
    np.testing.assert_allclose(ps.distances(x, y), [[0.0], [5.0]])


# --- the library -------------------------------------------------------------------------------------------


def photo(path: Path, seed: int, blur: int = 0) -> Path:
    """A 160 x 160 photo of random texture (sharpness above 1000), smoothed ``blur`` times (20: about 4)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (160, 160, 3)).astype(np.float64)
    for _ in range(blur):
        pixels[1:-1] = (pixels[:-2] + pixels[1:-1] + pixels[2:]) / 3
        pixels[:, 1:-1] = (pixels[:, :-2] + pixels[:, 1:-1] + pixels[:, 2:]) / 3
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def library_with(tmp_path: Path, embeddings: list[np.ndarray], blur: list[int]) -> tuple[Library, list[int]]:
    """A library of one photo per embedding, each with one 100 px face; returns it and the face ids."""
    for i, b in enumerate(blur):
        photo(tmp_path / "photos" / f"{i:02d}.png", i, b)
    lib = Library(tmp_path / "lib")
    album = lib.albums.create("a")
    generator = lib.photos.import_paths(album, [tmp_path / "photos"])
    for _ in generator:
        pass
    face_ids = []
    for photo_record, embedding in zip(lib.photos.all(album), embeddings, strict=True):
        landmarks = template_for(100) + np.float32(30)
        (face_id,) = lib.faces.record(photo_record.id, [Face((30.0, 30.0, 130.0, 130.0), landmarks, 0.9)],
                                      [embedding], "test")
        face_ids.append(face_id)
    return lib, face_ids


def test_the_library_offers_by_majority_and_never_a_blurry_face(tmp_path):
    embeddings = [f.embedding for f in PERSON] + [at((3, 0.9), (4, 0.1)), at((5, 0.1)), at((6, 0.1))]
    lib, ids = library_with(tmp_path, embeddings, [0, 0, 0, 0, 0, 0, 20])
    with lib:
        person = lib.people.create("Al", ids[:4])
        # The face like the mistaken one (single linkage took it) and the blurry one are left out.
        assert [(s.person_id, s.face_ids) for s in lib.grouping.suggest()] == [(person, (ids[5],))]


def test_the_suggested_reference_is_never_a_face_the_others_outvote(tmp_path):
    # The face confirmed by mistake is the sharpest: the old ranking made it the reference.
    lib, ids = library_with(tmp_path, [f.embedding for f in PERSON], [3, 3, 3, 0])
    with lib:
        person = lib.people.create("Al", ids)
        assert lib.references.candidates(person)[0].face_id == ids[3]
        assert lib.references.suggest(person).face_id in ids[:3]
        lib.references.set_face(person, ids[3])  # the user's choice stands
        assert lib.references.suggest(person).face_id == ids[3]
