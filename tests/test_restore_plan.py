"""Which model and reference each face of a library photo gets; reference crops made once per batch."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core import restore_plan
from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.align import align_face, template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.library import Library
from ented_desktop.core.pipeline import resize_square
from ented_desktop.core.restore_plan import FailedModels, ModelRule, ReferenceCrops, plan_passes

RES = 32


def write_photo(path: Path, seed: int) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path)
    return path


def face_at(x: float, y: float, size: float = 60) -> Face:
    landmarks = template_for(size) + np.array([x, y], np.float32)
    return Face((x, y, x + size, y + size), landmarks, 0.9)


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        write_photo(folder / f"p{i}.png", i)
    lib = Library(tmp_path / "lib")
    for _ in lib.photos.import_paths(lib.albums.create("family"), [str(folder)]):
        pass
    yield lib
    lib.close()


def faces_in(library: Library, photo_index: int, count: int) -> list[int]:
    photo = library.photos.all()[photo_index]
    faces = [face_at(5 + 80 * k, 20) for k in range(count)]
    return library.faces.record(photo.id, faces, [None] * count, "test")


class CountingReads:
    def __init__(self, monkeypatch):
        self.paths: list[Path] = []
        real = restore_plan.read_image_rgb8

        def read(path):
            self.paths.append(Path(path))
            return real(path)

        monkeypatch.setattr(restore_plan, "read_image_rgb8", read)


def test_faces_are_grouped_by_the_model_of_their_person(library, tmp_path):
    anna_face, bob_face, nobody = faces_in(library, 0, 3)
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"weights")
    anna = library.people.create("Anna", [anna_face])
    bob = library.people.create("Bob", [bob_face])
    library.people.set_personal_model(anna, model)
    faces = library.faces.of_photo(library.photos.all()[0].id)
    people = {p.id: p for p in library.people.all()}

    passes = plan_passes(faces, people)

    assert [p.model for p in passes] == [model.absolute(), None]
    assert passes[0].faces == (0,)
    assert [p.name for p in passes[0].people] == ["Anna"]
    assert passes[1].faces == (1, 2)
    assert [p and p.id for p in passes[1].people] == [bob, None]
    assert sorted(i for p in passes for i in p.faces) == [0, 1, 2]  # every face exactly once

    # The default rule: a 512 px model installed takes the faces larger than ENTED covers (these are 60 px).
    large = plan_passes(faces, people, ModelRule(large_faces="codeformer", covers=50.0))
    assert [(p.model, p.faces) for p in large] == [("codeformer", (0, 1, 2))]
    assert plan_passes(faces, people, ModelRule(large_faces="codeformer", covers=128.0)) == passes
    assert [p.model for p in plan_passes(faces, people, ModelRule(large_faces="codeformer", covers=128.0),
                                         scale=3.0)] == ["codeformer"]  # the background enlarged: faces grew
    assert [(p.model, p.faces) for p in plan_passes(faces, people, ModelRule(forced="gfpgan"))] == [
        ("gfpgan", (0, 1, 2))]


def test_no_faces_no_passes():
    assert plan_passes([], {}) == []


def test_a_picked_face_is_aligned_once_per_batch_and_again_when_the_reference_changes(library, monkeypatch):
    first, second = faces_in(library, 0, 2)
    person_id = library.people.create("Anna", [first, second])
    library.references.set_face(person_id, first)
    reads = CountingReads(monkeypatch)
    crops = ReferenceCrops(library, prepare=lambda *a: pytest.fail("a picked face needs no detector"))

    crop = crops.crop(library.people.get(person_id), None, RES)
    photo = library.photos.all()[0]
    aligned, _ = align_face(np.asarray(Image.open(photo.path).convert("RGB")), library.faces.get(first).landmarks,
                            restore_plan.REFERENCE_SIZE)
    assert crop.shape == (RES, RES, 3)
    assert np.array_equal(crop, resize_square(aligned, RES))  # aligned once, large, then brought to each size
    # The next photos of the batch, their small faces at ENTED's size and large ones at a 512 px model's: one read.
    for _ in range(3):
        assert np.array_equal(crops.crop(library.people.get(person_id), None, RES), crop)
        assert crops.crop(library.people.get(person_id), None, 2 * RES).shape == (2 * RES, 2 * RES, 3)
    assert len(reads.paths) == 1

    library.references.set_face(person_id, second)
    changed = crops.crop(library.people.get(person_id), None, RES)
    assert not np.array_equal(changed, crop)
    assert len(reads.paths) == 2
    for _ in range(3):
        assert np.array_equal(crops.crop(library.people.get(person_id), None, RES), changed)
        assert crops.crop(library.people.get(person_id), None, 2 * RES).shape == (2 * RES, 2 * RES, 3)
    assert len(reads.paths) == 2


def test_an_added_image_goes_through_the_detector_once(library, tmp_path, monkeypatch):
    (face_id,) = faces_in(library, 1, 1)
    person_id = library.people.create("Bob", [face_id])
    library.references.set_image(person_id, write_photo(tmp_path / "bob.png", 7))
    calls = []

    def prepare(image, detector, resolution):
        calls.append((image.shape, detector, resolution))
        return np.full((resolution, resolution, 3), len(calls), np.uint8)

    crops = ReferenceCrops(library, prepare)
    crop = crops.crop(library.people.get(person_id), "detector", RES)
    assert np.array_equal(crops.crop(library.people.get(person_id), "detector", RES), crop)
    assert crops.crop(library.people.get(person_id), "detector", 2 * RES).shape == (2 * RES, 2 * RES, 3)
    assert calls == [((120, 160, 3), "detector", restore_plan.REFERENCE_SIZE)]

    library.references.set_image(person_id, write_photo(tmp_path / "bob2.png", 8))
    assert crops.crop(library.people.get(person_id), "detector", RES)[0, 0, 0] == 2


def test_nobody_or_no_reference_means_the_face_is_its_own_reference(library):
    a, b = faces_in(library, 0, 2)
    person_id = library.people.create("Anna", [a])
    crops = ReferenceCrops(library, prepare=lambda *a: pytest.fail("nothing to prepare"))
    faces = library.faces.of_photo(library.photos.all()[0].id)
    (only_pass,) = plan_passes(faces, {p.id: p for p in library.people.all()})
    assert only_pass.people[0].id == person_id
    assert only_pass.people[1] is None
    assert crops.for_pass(only_pass, None, RES) == ([None, None], [None, None])


def test_an_unusable_reference_fails_each_request_without_being_read_again(library, tmp_path):
    (face_id,) = faces_in(library, 2, 1)
    person_id = library.people.create("Cleo", [face_id])
    library.references.set_image(person_id, write_photo(tmp_path / "cleo.png", 9))
    calls = []

    def no_face(image, detector, resolution):
        calls.append(1)
        raise UserError("No face was found in the reference photo.")

    crops = ReferenceCrops(library, no_face)
    for _ in range(3):
        with pytest.raises(UserError, match="No face was found"):
            crops.crop(library.people.get(person_id), None, RES)
    assert calls == [1]


def test_a_reference_that_cannot_be_used_leaves_only_its_face_without_one(library, tmp_path):
    anna_face, bob_face, cleo_face = faces_in(library, 0, 3)
    anna = library.people.create("Anna", [anna_face])
    bob = library.people.create("Bob", [bob_face])
    cleo = library.people.create("Cleo", [cleo_face])
    library.references.set_image(anna, write_photo(tmp_path / "anna.png", 10)).unlink()  # deleted since
    library.references.set_image(bob, write_photo(tmp_path / "bob.png", 11))
    Image.new("RGB", (50, 50)).save(tmp_path / "wall.png")
    library.references.set_image(cleo, tmp_path / "wall.png")

    def prepare(image, detector, resolution):
        if image.shape[:2] == (50, 50):
            raise UserError("No face was found in the reference photo.")
        return np.zeros((resolution, resolution, 3), np.uint8)

    faces = library.faces.of_photo(library.photos.all()[0].id)
    (only_pass,) = plan_passes(faces, {p.id: p for p in library.people.all()})
    references, problems = ReferenceCrops(library, prepare).for_pass(only_pass, None, RES)

    assert references[0] is None
    assert references[1].shape == (RES, RES, 3)
    assert references[2] is None
    anna_image = library.people.get(anna).reference_image
    assert problems[0] == ('the reference photo of Anna cannot be read: Cannot read the photo '
                           f'"{anna_image}": the file does not exist; restored without it')
    assert problems[1] is None
    assert problems[2] == ("the reference photo of Cleo cannot be used: No face was found in the reference photo; "
                           "restored without it")


def test_a_model_that_failed_is_not_loaded_again_until_its_file_changes(tmp_path):
    model = tmp_path / "anna.safetensors"
    loads: list[Path] = []

    def loader(path: Path) -> str:
        loads.append(path)
        if not path.is_file():
            raise ModelError(f"Model file {path} does not exist.")
        if path.read_bytes().startswith(b"damage"):
            raise ModelError(f"{path.name} is damaged.")
        return "restorer"

    failed = FailedModels()
    for _ in range(3):  # missing: remembered too
        with pytest.raises(ModelError, match="does not exist"):
            failed.load(model, loader)
    assert len(loads) == 1

    model.write_bytes(b"damaged")  # put back, but damaged
    lengths = []
    for _ in range(4):
        with pytest.raises(ModelError, match="is damaged") as raised:
            failed.load(model, loader)
        lengths.append(len(raised.traceback))
    assert len(loads) == 2
    assert lengths[1] == lengths[2] == lengths[3]  # raised again, the kept error does not gather tracebacks

    model.write_bytes(b"damagee")  # same size, another modification time (what a re-export or a copy does)
    os.utime(model, ns=(1, 1))
    with pytest.raises(ModelError, match="is damaged"):
        failed.load(model, loader)
    assert len(loads) == 3

    model.write_bytes(b"weights")
    assert failed.load(model, loader) == "restorer"
    assert failed.load(model, loader) == "restorer"
    assert len(loads) == 5  # successes are the loader's to cache
    assert FailedModels().load(model, loader) == "restorer"
