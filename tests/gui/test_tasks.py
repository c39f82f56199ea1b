"""The restore job's work against a real library, with the fake finder and restorer (no window)."""

import os
import subprocess
import sys
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import Library
from ented_desktop.core.pipeline import Restorer as CoreRestorer
from ented_desktop.core.restore_plan import ReferenceCrops
from ented_desktop.core.settings import Settings
from ented_desktop.gui.job_queue import JobEntry, JobQueue
from ented_desktop.gui.main_window import face_outcome
from ented_desktop.gui.removal import unfinished_job_notes
from ented_desktop.gui.tasks import (
    Outcome,
    Services,
    detect_work,
    export_work,
    factories,
    finetune_summary,
    restore_photo,
    restore_work,
)
from ented_desktop.gui.workers import WorkControl

from .fakes import FakeFaceFinder, FakeLoader, FakeRestorer, fake_prepare_reference, make_photo


def run(work) -> Outcome:
    steps: Generator = work(WorkControl())
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


@pytest.fixture
def services():
    settings = Settings()
    return Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                    reference_preparer=fake_prepare_reference)


def import_photos(library, folder, shades) -> list[int]:
    folder.mkdir()
    for i, shade in enumerate(shades):
        make_photo(folder / f"p{i}.png", shade)
    for _ in library.import_paths(library.create_album("family"), [folder]):
        pass
    return [p.id for p in sorted(library.photos(), key=lambda p: p.path)]


def test_a_photo_edited_after_its_faces_were_found_is_not_restored(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100))
    run(detect_work(library, services, ids))
    edited = library.photo(ids[0]).path
    with Image.open(edited) as im:
        im.rotate(90, expand=True).save(edited)  # rotated in another program: the faces moved
    outcome = run(restore_work(library, services, ids))
    assert outcome.text.startswith("Restored 1 of 2 photos.")
    assert outcome.problems == [("p0.png", "this photo changed on disk since its faces were found; "
                                           "find faces again")]
    assert library.versions(ids[0]) == [] and len(library.versions(ids[1])) == 1
    # finding its faces again indexes the new file, and then it restores
    run(detect_work(library, services, ids[:1]))
    assert run(restore_work(library, services, ids[:1])).text == "Restored 1 of 1 photo."
    assert len(library.versions(ids[0])) == 1


def test_a_photo_without_faces_gets_no_version_and_is_reported(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids[1:]))
    library.set_faces(ids[2], [], [], detector="fake")  # looked for, none found
    outcome = run(restore_work(library, services, ids))
    assert outcome.text.startswith("Restored 1 of 3 photos.") and outcome.value == 1
    assert outcome.problems == [("p0.png", "its faces have not been looked for yet; find faces first"),
                                ("p2.png", "no face found")]
    assert [len(library.versions(i)) for i in ids] == [0, 1, 0]


def test_a_photo_whose_faces_could_not_be_restored_gets_no_version(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200,))
    run(detect_work(library, services, ids))
    restorer = services.restorer(None)
    real_restore = restorer.restore

    def too_small(pixels, **kwargs):
        result = real_restore(pixels, **kwargs)
        result.faces = [replace(f, restored=False, reason="too small to restore (20 px; needs 32)")
                        for f in result.faces]
        return result

    restorer.restore = too_small
    outcome = run(restore_work(library, services, ids))
    assert outcome.text == ("Restored 0 of 1 photo. p0.png: no face could be restored "
                            "(too small to restore (20 px; needs 32))")
    assert library.versions(ids[0]) == []


def test_a_restore_job_run_again_skips_the_photos_it_already_restored(qtbot, services, tmp_path):
    library = Library(tmp_path / "lib")
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids))
    job = library.add_job("restore", {"photo_ids": ids, "title": "Restore family"})
    library.set_job_state(job, "running")
    run(restore_work(library, services, ids[:2], job))  # the first run got this far...
    library.close()  # ...when the program was killed

    library = Library(tmp_path / "lib")
    queue = JobQueue(library, factories(library, services))
    assert queue.load_previous()[0].state == "interrupted"
    queue.retry(job)
    qtbot.waitUntil(lambda: queue.entries[job].state == "done", timeout=5000)
    assert queue.entries[job].text == "Restored 1 of 1 photo. Skipped 2 photos this job had already restored."
    assert [len(library.versions(i)) for i in ids] == [1, 1, 1]
    another = queue.submit("restore", {"photo_ids": ids[:1]})  # a new job restores again, as asked
    qtbot.waitUntil(lambda: queue.entries[another].state == "done", timeout=5000)
    assert len(library.versions(ids[0])) == 2
    queue.stop_all()
    library.close()


class FnEngine:
    """A stand-in engine: applies ``fns[k]`` to the k-th face of each batch; records its inputs."""

    name, device, model_name, resolution = "fn", "cpu", "fn", 128

    def __init__(self, *fns) -> None:
        self.fns, self.inputs = fns, []

    def restore(self, lq, ref):
        self.inputs.append(lq.copy())
        return np.stack([self.fns[k](x) for k, x in enumerate(lq)]).astype(np.float32)


def white(x):
    return np.ones_like(x)


def same(x):
    return x


def two_faces_photo(library, tmp_path) -> tuple[int, list[Face]]:
    """A noise photo with two 100 px faces 60 px apart, so that each face's crop covers much of the other."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, (160, 240, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "two.png")
    for _ in library.import_paths(library.create_album("family"), [folder]):
        pass
    (photo,) = library.photos()
    faces = [Face((x + 25, 45, x + 75, 100), template_for(100) + np.float32([x, 30]), 0.9) for x in (40, 100)]
    library.set_faces(photo.id, faces, [None, None], "test")
    return photo.id, faces


def test_faces_restored_by_different_models_do_not_corrupt_each_other(library, tmp_path):
    photo_id, faces = two_faces_photo(library, tmp_path)
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"weights")
    anna = library.create_person("Anna", [library.faces_of_photo(photo_id)[0].id])
    library.set_personal_model(anna, model)
    engines = {model.absolute(): FnEngine(white), None: FnEngine(same)}
    settings = Settings()
    services = Services(lambda: settings, restorer_loader=lambda m, **_: CoreRestorer(engines[m]),
                        reference_preparer=fake_prepare_reference)

    version_id, reports = restore_photo(library, photo_id, services, lambda: False,
                                        ReferenceCrops(library, fake_prepare_reference))

    assert [r["model"] for r in reports] == ["anna.safetensors", "general"]
    original = read_image_rgb8(library.photo(photo_id).path)
    both = FnEngine(white, same)  # each face with its model, in one call
    expected = CoreRestorer(both).restore(original, faces=faces).pixels
    assert np.array_equal(engines[None].inputs[0][0], both.inputs[0][1])  # the general model saw the original
    (version,) = library.versions(photo_id)
    assert version.id == version_id and np.array_equal(read_image_rgb8(version.path), expected)


def test_a_deleted_reference_photo_leaves_its_face_without_a_reference_and_the_others_alone(
        library, services, tmp_path):
    photo_id, _ = two_faces_photo(library, tmp_path)
    first, second = library.faces_of_photo(photo_id)
    anna = library.create_person("Anna", [first.id])
    bob = library.create_person("Bob", [second.id])
    library.set_reference_image(bob, make_photo(tmp_path / "bob.png", 100))
    library.set_reference_image(anna, make_photo(tmp_path / "anna.png", 200)).unlink()  # deleted since

    _, reports = restore_photo(library, photo_id, services, lambda: False,
                               ReferenceCrops(library, fake_prepare_reference))

    assert [(r["person"], r["restored"], r["reference"]) for r in reports] == [
        ("Anna", True, "self"), ("Bob", True, "person")]
    assert reports[0]["fallback"].startswith('the reference photo of Anna cannot be read: Cannot read the photo "')
    assert reports[0]["fallback"].endswith("the file does not exist; restored without it")
    assert reports[1]["fallback"] is None
    assert face_outcome(reports[0]) == f"Anna: {reports[0]['fallback']}"


def test_a_missing_personal_model_restores_its_faces_with_the_general_model(library, tmp_path):
    def loader(model=None, **_):
        if model is not None and not Path(model).is_file():
            raise ModelError(f"Model file {model} does not exist.")
        return FakeRestorer(model)

    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader,
                        reference_preparer=fake_prepare_reference)
    ids = import_photos(library, tmp_path / "photos", (200, 100))
    run(detect_work(library, services, ids))
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"weights")
    anna = library.create_person("Anna", [library.faces_of_photo(ids[0])[0].id])
    library.set_personal_model(anna, model)
    model.unlink()

    outcome = run(restore_work(library, services, ids))

    assert outcome.text == "Restored 2 of 2 photos."
    (report,) = library.versions(ids[0])[0].report["faces"]
    assert report["model"] == "general" and report["restored"]
    assert report["fallback"] == (f"the personal model of Anna cannot be used: Model file {model.absolute()} "
                                  "does not exist; restored with the general model")
    assert library.versions(ids[1])[0].report["faces"][0]["fallback"] is None


def test_a_damaged_personal_model_is_read_once_per_batch_and_every_face_says_why(library, tmp_path):
    model = tmp_path / "anna.safetensors"
    reads: list[Path] = []

    def loader(path=None, **_):
        if path is not None:
            reads.append(path)
            if Path(path).read_bytes() == b"damaged":
                raise ModelError(f"{Path(path).name} is damaged: its sha256 does not match manifest.sha256.")
        return FakeRestorer(path)

    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader,
                        reference_preparer=fake_prepare_reference)
    ids = import_photos(library, tmp_path / "photos", (200, 200, 200))
    run(detect_work(library, services, ids))
    anna = library.create_person("Anna", [library.faces_of_photo(i)[0].id for i in ids])
    model.write_bytes(b"damaged")
    library.set_personal_model(anna, model)
    anna_model = library.person(anna).personal_model

    assert run(restore_work(library, services, ids)).text == "Restored 3 of 3 photos."
    assert reads == [anna_model]  # not once per photo
    expected = ("the personal model of Anna cannot be used: anna.safetensors is damaged: its sha256 does not "
                "match manifest.sha256; restored with the general model")
    for photo_id in ids:
        (report,) = library.versions(photo_id)[0].report["faces"]
        assert (report["model"], report["fallback"]) == ("general", expected)

    run(restore_work(library, services, ids[:1]))  # a later job tries again: the user may have fixed it
    assert reads == [anna_model] * 2

    class FixedDuringTheBatch(FakeRestorer):
        def restore(self, pixels, **kwargs):
            model.write_bytes(b"re-exported weights")  # a new size: tried again for the next photo
            return super().restore(pixels, **kwargs)

    services = Services(lambda: settings, restorer_loader=lambda path=None, **kw: (
        FixedDuringTheBatch(path) if path is None else loader(path, **kw)), reference_preparer=fake_prepare_reference)
    run(restore_work(library, services, ids[1:]))
    assert reads == [anna_model] * 4
    assert library.versions(ids[1])[1].report["faces"][0]["fallback"] == expected
    assert library.versions(ids[2])[1].report["faces"][0]["model"] == "anna.safetensors"


def test_a_missing_general_model_stops_the_job(library, tmp_path):
    def loader(model=None, **_):
        raise ModelError("No trained ENTED model is installed.")

    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader)
    ids = import_photos(library, tmp_path / "photos", (200,))
    run(detect_work(library, services, ids))
    with pytest.raises(ModelError, match="No trained ENTED model"):
        run(restore_work(library, services, ids))


def test_a_face_larger_than_the_model_says_only_detail_was_added():
    report = {"person": "Anna", "restored": True, "reference": "person", "model": "general", "detail_only": True}
    assert face_outcome(report) == ("Anna: restored with Anna's reference; larger than the model, so only fine "
                                    "detail the photo lacked was added")
    assert face_outcome({**report, "detail_only": False}) == "Anna: restored with Anna's reference"


@pytest.mark.parametrize(("personal", "verdict"), [(26.08, "too close to the general model to tell"),
                                                   (26.45, "better than the general model"),
                                                   (25.6, "worse than the general model")])
def test_a_finetune_job_sums_up_with_the_same_verdict_as_the_dialog(personal, verdict):
    result = SimpleNamespace(before={"val_psnr": 26.0}, after={"val_psnr": personal}, improved=personal > 26.0,
                             model_path=Path("anna.safetensors"))
    assert finetune_summary("Anna", result) == (f"Personal model for Anna: 26.00 → {personal:.2f} dB on a held-out "
                                                f"photo ({verdict}).")


def test_photos_and_versions_removed_after_a_job_was_queued_are_skipped_and_counted(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    album = library.albums()[0].id
    run(detect_work(library, services, ids))
    restore = restore_work(library, services, ids)
    detect = detect_work(library, services, ids)
    library.remove_photos_from_album(album, [ids[1]])  # while both jobs wait in the queue
    assert run(detect).problems == []  # not "2: That photo is no longer in the library."
    outcome = run(restore)
    assert outcome.text == "Restored 2 of 2 photos. 1 photo had left the library meanwhile."
    assert outcome.problems == []
    versions = [library.versions(i)[0].id for i in (ids[0], ids[2])]
    export = export_work(library, versions, str(tmp_path / "out"), "png", 90, "{stem}")
    library.delete_version(versions[0])
    outcome = run(export)
    assert outcome.text == f"Exported 1 photo to {tmp_path / 'out'}. 1 restored version had been deleted meanwhile."
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p2.png"]


def test_the_removal_question_says_what_unfinished_jobs_will_skip():
    entries = [JobEntry(1, "restore", "", "queued", payload={"photo_ids": [1, 2, 3]}),
               JobEntry(2, "export", "", "running", payload={"version_ids": [7, 8]})]
    assert unfinished_job_notes(entries, [2, 3, 9], [8]) == [
        "An unfinished job includes 2 photos that will leave the library; it will skip them.",
        "An unfinished export includes 1 restored version that will be deleted; it will skip it."]


TWO_FACE_JOBS = """
import sys
from PySide6.QtCore import QCoreApplication, QTimer
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.settings import Settings
from ented_desktop.gui import workers
from ented_desktop.gui.tasks import Services

app = QCoreApplication([])
settings = Settings()
services = Services(lambda: settings)  # as the window makes it, on the main thread
rgb = read_image_rgb8(sys.argv[1])
ended = []

def job(control):
    faces = services.face_finder().find(rgb)[0]
    yield None
    return len(faces)

def next_job(*_):
    if len(ended) == 2:
        app.quit()
        return
    worker = workers.start(job)
    # a second later, when the first job's pool thread idles, as when the user drops a second folder
    worker.signals.finished.connect(lambda faces: (ended.append(faces), QTimer.singleShot(1000, next_job)))
    worker.signals.failed.connect(lambda message: (print(message), app.exit(1)))

QTimer.singleShot(0, next_job)
sys.exit(app.exec() or (0 if ended == [1, 1] else 3))
"""


def test_two_face_finding_jobs_in_a_row_on_one_pool_thread_do_not_freeze():
    """dlib first imported on a pool thread deadlocked the next job on that thread (the app froze)."""
    pytest.importorskip("dlib", reason="the identity embedder's binding is not installed")
    photo = Path(__file__).parents[2] / "resources" / "samples" / "astronaut.jpg"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        done = subprocess.run([sys.executable, "-c", TWO_FACE_JOBS, str(photo)], env=env, timeout=60,
                              capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail("the second face-finding job never ended")
    assert done.returncode == 0, done.stdout + done.stderr
