"""Confirming a suggestion face by face, undoing a confirm, and references that only confirmed faces can become
(issue 18, "People suggestions a family can trust")."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.library import CannotUndoError, Library, Suggestion, UnknownItemError
from ented_desktop.core.library import grouping as grouping_module
from ented_desktop.core.personal_models import finetune_photos
from ented_desktop.core.restore_plan import ReferenceCrops

DIM = 8


def at(*offsets: tuple[int, float]) -> np.ndarray:
    """An embedding: the origin moved by ``value`` along axis ``k`` for each (k, value)."""
    v = np.zeros(DIM, np.float32)
    for k, value in offsets:
        v[k] += value
    return v


def photo(path: Path, seed: int, blur: int) -> None:
    """A 160 x 160 photo of random texture, smoothed ``blur`` times (0: sharpness above 1000, 3: far less)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (160, 160, 3)).astype(np.float64)
    for _ in range(blur):
        pixels[1:-1] = (pixels[:-2] + pixels[1:-1] + pixels[2:]) / 3
        pixels[:, 1:-1] = (pixels[:, :-2] + pixels[:, 1:-1] + pixels[:, 2:]) / 3
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def add_faces(lib: Library, folder: Path, embeddings: list[np.ndarray], blur: list[int] | None = None) -> list[int]:
    """One photo with one 100 px face per embedding, imported into a new album; returns the face ids."""
    for i, b in enumerate(blur or [0] * len(embeddings)):
        photo(folder / f"{i:02d}.png", len(folder.name) * 100 + i, b)
    album = lib.albums.create(folder.name)
    for _ in lib.photos.import_paths(album, [folder]):
        pass
    landmarks = template_for(100) + np.float32(30)
    return [
        lib.faces.record(p.id, [Face((30.0, 30.0, 130.0, 130.0), landmarks, 0.9)], [e], "test")[0]
        for p, e in zip(lib.photos.all(album), embeddings, strict=True)
    ]


# Al: three faces that agree. Unnamed: three faces like him, and one far from everybody.
AL = [at((0, 0.1)), at((1, 0.1)), at((2, 0.1))]
LIKE_AL = [at((3, 0.1)), at((4, 0.1)), at((5, 0.1))]


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib") as library:
        yield library


@pytest.fixture
def al(lib, tmp_path):
    """Al (named by the user, with a reference) and the ids of his faces and of three unnamed faces like him."""
    ids = add_faces(lib, tmp_path / "photos", AL + LIKE_AL)
    person = lib.people.create("Al", ids[:3])
    lib.references.set_face(person, ids[0])
    return person, ids[:3], ids[3:]


def state(lib: Library) -> tuple:
    """Everything a confirm changes: who each face is, the people, the rejections."""
    conn = lib._db.conn()
    return (
        [tuple(r) for r in conn.execute("SELECT id, person_id FROM faces ORDER BY id")],
        [tuple(r) for r in conn.execute("SELECT id, name, reference_face_id, reference_image FROM people ORDER BY id")],
        [tuple(r) for r in conn.execute("SELECT face_id, person_id FROM rejections ORDER BY face_id, person_id")],
    )


def test_confirming_some_faces_turns_the_others_down_for_that_person(lib, al):
    person, _, unnamed = al
    (offer,) = lib.grouping.suggest()
    assert (offer.person_id, offer.face_ids) == (person, tuple(unnamed))
    assert lib.grouping.accept(offer, face_ids=[unnamed[2], unnamed[0]]) == person
    assert [f.person_id for f in map(lib.faces.get, unnamed)] == [person, None, person]
    assert lib.grouping.suggest() == []  # the face left out is not offered to Al again
    (confirm,) = lib.grouping.history()
    assert (confirm.person_id, confirm.created_person) == (person, False)
    assert (confirm.named, confirm.turned_down) == ((unnamed[0], unnamed[2]), (unnamed[1],))


def test_faces_outside_the_suggestion_or_none_at_all_are_refused(lib, al):
    person, named, unnamed = al
    offer = Suggestion(tuple(unnamed[:2]), person, 0.3)
    before = state(lib)
    with pytest.raises(UserError, match="Only faces of this suggestion"):
        lib.grouping.accept(offer, face_ids=[unnamed[0], unnamed[2]])
    with pytest.raises(UserError, match="at least one face"):
        lib.grouping.accept(offer, face_ids=[])
    with pytest.raises(UserError, match="needs a name"):
        lib.grouping.accept(Suggestion(tuple(unnamed), None, 0.3), face_ids=unnamed[:1])
    assert state(lib) == before
    assert lib.grouping.history() == []


def test_a_new_person_confirmed_face_by_face(lib, tmp_path):
    ids = add_faces(lib, tmp_path / "photos", LIKE_AL)
    bo = lib.grouping.accept(Suggestion(tuple(ids), None, 0.2), name=" Bo ", face_ids=ids[:2])
    assert lib.people.get(bo).name == "Bo"
    assert [f.id for f in lib.faces.of_person(bo)] == ids[:2]
    # The face left out is not Bo, but may still be somebody new.
    assert state(lib)[2] == [(ids[2], bo)]


def test_undo_puts_the_library_back_and_keeps_the_reference_chosen_before(lib, al):
    person, named, unnamed = al
    before = state(lib)
    (offer,) = lib.grouping.suggest()
    lib.grouping.accept(offer, face_ids=unnamed[:2])
    undone = lib.grouping.undo_last()
    assert (undone.unnamed, undone.person_removed) == (tuple(unnamed[:2]), False)
    assert state(lib) == before
    assert lib.people.get(person).reference_face_id == named[0]
    assert lib.grouping.history() == []
    assert lib.grouping.undo_last() is None
    assert [(s.person_id, s.face_ids) for s in lib.grouping.suggest()] == [(person, tuple(unnamed))]  # again


def test_undo_of_a_new_person_removes_them_also_after_a_restart(tmp_path):
    with Library(tmp_path / "lib") as lib:
        ids = add_faces(lib, tmp_path / "photos", LIKE_AL)
        before = state(lib)
        bo = lib.grouping.accept(Suggestion(tuple(ids), None, 0.2), name="Bo", face_ids=ids[1:])
        lib.people.rename(bo, "Uncle Bo")  # a name is for the faces: it goes with them
    with Library(tmp_path / "lib") as lib:
        (confirm,) = lib.grouping.history()
        undone = lib.grouping.undo(confirm.id)
        assert (undone.confirm, undone.unnamed, undone.person_removed) == (confirm, tuple(ids[1:]), True)
        assert state(lib) == before
        with pytest.raises(UnknownItemError, match="no longer in the undo history"):
            lib.grouping.undo(confirm.id)


@pytest.mark.parametrize("given", ["face", "image", "model"])
def test_a_new_person_the_user_gave_more_since_stays(lib, tmp_path, given):
    ids = add_faces(lib, tmp_path / "photos", LIKE_AL + [at((6, 0.1))])
    bo = lib.grouping.accept(Suggestion(tuple(ids[:3]), None, 0.2), name="Bo")
    if given == "face":
        lib.people.assign_faces([ids[3]], bo)
    elif given == "image":
        lib.references.set_image(bo, tmp_path / "photos" / "00.png")
    else:
        model = tmp_path / "bo.safetensors"
        model.write_bytes(b"model")
        lib.people.set_personal_model(bo, model)
    undone = lib.grouping.undo_last()
    assert (undone.unnamed, undone.person_removed) == (tuple(ids[:3]), False)
    assert [f.id for f in lib.faces.of_person(bo)] == ([ids[3]] if given == "face" else [])
    assert lib.maintenance.integrity_problems() == []


def test_undo_refuses_to_take_away_a_reference_chosen_since(lib, tmp_path):
    ids = add_faces(lib, tmp_path / "photos", LIKE_AL)
    bo = lib.grouping.accept(Suggestion(tuple(ids[:2]), None, 0.2), name="Bo")
    lib.people.assign_faces([ids[2]], bo)
    lib.references.set_face(bo, ids[1])
    before = state(lib)
    with pytest.raises(CannotUndoError, match="Bo's reference: choose another reference for Bo first"):
        lib.grouping.undo_last()
    assert state(lib) == before
    lib.references.set_face(bo, ids[2])
    undone = lib.grouping.undo_last()
    assert (undone.unnamed, undone.person_removed) == (tuple(ids[:2]), False)
    assert lib.people.get(bo).reference_face_id == ids[2]


def test_undo_leaves_faces_named_otherwise_since_and_goes_with_a_merged_person(lib, al):
    person, named, unnamed = al
    lib.grouping.accept(Suggestion(tuple(unnamed[:2]), person, 0.3))
    bo = lib.grouping.accept(Suggestion((unnamed[2],), None, 0.3), name="Bo")
    cy = lib.people.create("Cy", [])
    lib.people.assign_faces([unnamed[1]], cy)  # the user named one of Al's confirmed faces as Cy
    lib.people.merge(bo, person)  # Bo was Al: Bo's confirm goes with Bo
    assert [c.person_id for c in lib.grouping.history()] == [person]
    undone = lib.grouping.undo_last()
    assert undone.unnamed == (unnamed[0],)
    assert [f.person_id for f in map(lib.faces.get, unnamed)] == [None, cy, person]


def test_deleted_faces_and_people_leave_the_history(lib, al):
    person, _, unnamed = al
    lib.grouping.accept(Suggestion(tuple(unnamed), person, 0.3), face_ids=unnamed[:2])
    photo_id = lib.faces.get(unnamed[0]).photo_id
    lib.faces.record(photo_id, [], [], "test")  # found no face this time
    (confirm,) = lib.grouping.history()
    assert (confirm.named, confirm.turned_down) == ((unnamed[1],), (unnamed[2],))
    lib.people.delete(person)
    assert lib.grouping.history() == []
    assert state(lib)[2] == []


def test_only_the_latest_confirms_are_kept(lib, al, monkeypatch):
    monkeypatch.setattr(grouping_module, "HISTORY_SIZE", 2)
    person, _, unnamed = al
    for face_id in unnamed:
        lib.grouping.accept(Suggestion((face_id,), person, 0.3))
    history = lib.grouping.history()
    assert [c.named for c in history] == [(unnamed[2],), (unnamed[1],)]
    assert lib.grouping.undo(history[1].id).unnamed == (unnamed[1],)
    assert [c.named for c in lib.grouping.history()] == [(unnamed[2],)]


def test_no_face_the_user_has_not_confirmed_becomes_a_reference(lib, tmp_path):
    # Al's confirmed faces are blurrier than the unnamed faces like him, and he has no chosen reference: the
    # sharpest face near him must still never become his reference, for restoring or for fine-tuning.
    ids = add_faces(lib, tmp_path / "photos", AL + LIKE_AL, blur=[3, 3, 3, 0, 0, 0])
    confirmed, unnamed = ids[:3], ids[3:]
    person = lib.people.create("Al", confirmed[:2])
    lib.grouping.accept(Suggestion((confirmed[2], *unnamed), person, 0.3), face_ids=[confirmed[2]])
    assert lib.people.get(person).reference_face_id is None  # confirming never picks a reference
    assert {c.face_id for c in lib.references.candidates(person)} == set(confirmed)
    assert lib.references.suggest(person).face_id in confirmed
    with pytest.raises(UserError, match="one of this person's faces"):
        lib.references.set_face(person, unnamed[0])
    # Restoring without a chosen reference gives each face itself as its reference, not another face.
    prepared = []
    crops = ReferenceCrops(lib, lambda *args: prepared.append(args))
    assert crops.crop(lib.people.get(person), None, 128) is None
    assert prepared == []
    # Fine-tuning learns from the confirmed faces' photos only.
    photo_of = {f: lib.photos.get(lib.faces.get(f).photo_id).path for f in ids}
    assert sorted(finetune_photos(lib, person)) == sorted(photo_of[f] for f in confirmed)
