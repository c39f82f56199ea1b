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
            rgb = read_image_rgb8(lib.photo(photo_id).path)
            faces = detector.detect(rgb)[:1]  # the photo's subject; LFW backgrounds hold strangers
            lib.set_faces(photo_id, faces, [embedder.embed(rgb, f.landmarks) for f in faces], detector.name)

    with Library(tmp_path / "lib") as lib:
        album = lib.create_album("LFW")
        first = [folder / p / sorted((folder / p).iterdir())[i].name for p in PEOPLE for i in range(3)]
        for _ in lib.import_paths(album, first):
            pass
        detect(lib, lib.photos_needing_faces())
        groups = lib.suggest_groups()
        person_of = {f.id: lib.photo(f.photo_id).path.parent.name for f in lib.faces_of_person(None)}
        assert sorted(sorted(person_of[f] for f in g.face_ids) for g in groups) == [[p] * 3 for p in PEOPLE]
        sandler = next(g for g in groups if person_of[g.face_ids[0]] == "Adam_Sandler")
        person = lib.accept_suggestion(sandler, "Adam")
        # A fourth photo of him is offered to him, not as a new group.
        for _ in lib.import_paths(album, [folder / "Adam_Sandler"]):
            pass
        detect(lib, lib.photos_needing_faces())
        attach = [s for s in lib.suggest_groups() if s.person_id == person]
        assert len(attach) == 1 and len(attach[0].face_ids) == 1
        best = lib.suggest_reference(person)
        assert best.face_id in {f.id for f in lib.faces_of_person(person)}
        assert "px" in best.why
