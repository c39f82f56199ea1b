"""Grouping real faces: LFW photos of three people, detected and embedded by the real models."""

import shutil
from pathlib import Path

import pytest

from ented_desktop.core.library import Library

LFW = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw" / "images_deepfunneled"
PEOPLE = ("Aaron_Peirsol", "Abdoulaye_Wade", "Adam_Sandler")

pytestmark = pytest.mark.skipif(not LFW.is_dir(), reason="../shared/data/lfw is not available")


@pytest.mark.slow
def test_faces_of_three_people_are_grouped_and_a_new_one_is_attached(tmp_path):
    pytest.importorskip("yuface")
    pytest.importorskip("dlib")
    from ented_desktop.core.face.detect import create_detector
    from ented_desktop.core.identity import IdentityEmbedder
    from ented_desktop.core.imageio import read_image_rgb8

    folder = tmp_path / "photos"
    for person in PEOPLE:
        for source in sorted((LFW / person).glob("*.jpg"))[:4]:
            (folder / person).mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / person / source.name)
    detector, embedder = create_detector("yuface"), IdentityEmbedder()

    def detect(lib, photo_ids):
        for photo_id in photo_ids:
            rgb = read_image_rgb8(lib.photos.get(photo_id).path)
            faces = detector.detect(rgb)[:1]  # the photo's subject; LFW backgrounds hold strangers
            lib.faces.record(photo_id, faces, [embedder.embed(rgb, f.landmarks) for f in faces], detector.name)

    with Library(tmp_path / "lib") as lib:
        album = lib.albums.create("LFW")
        first = [folder / p / sorted((folder / p).iterdir())[i].name for p in PEOPLE for i in range(3)]
        for _ in lib.photos.import_paths(album, first):
            pass
        detect(lib, lib.photos.needing_faces())
        groups = lib.grouping.suggest()
        person_of = {f.id: lib.photos.get(f.photo_id).path.parent.name for f in lib.faces.of_person(None)}
        # Each offered group is one person (a face too unlike the rest may be left out, never mixed in).
        assert all(len({person_of[f] for f in g.face_ids}) == 1 for g in groups)
        assert sorted(person_of[g.face_ids[0]] for g in groups) == sorted(PEOPLE)
        sandler = next(g for g in groups if person_of[g.face_ids[0]] == "Adam_Sandler")
        person = lib.grouping.accept(sandler, "Adam")
        # A fourth photo of him is offered to him, not as a new group.
        for _ in lib.photos.import_paths(album, [folder / "Adam_Sandler"]):
            pass
        detect(lib, lib.photos.needing_faces())
        attach = [s for s in lib.grouping.suggest() if s.person_id == person]
        assert len(attach) == 1
        assert len(attach[0].face_ids) == 1
        best = lib.references.suggest(person)
        assert best.face_id in {f.id for f in lib.faces.of_person(person)}
        assert "px" in best.why
