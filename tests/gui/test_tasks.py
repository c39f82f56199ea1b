"""The restore job's work against a real library, with the fake finder and restorer (no window)."""

import os
import subprocess
import sys
import threading
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import Library
from ented_desktop.core.pipeline import Restorer as CoreRestorer
from ented_desktop.core.removal import unfinished_job_notes
from ented_desktop.core.restore_job import restore_library_photo
from ented_desktop.core.restore_plan import ReferenceCrops
from ented_desktop.core.restore_skip import RestoreSkipPlan
from ented_desktop.core.restore_wording import face_outcome
from ented_desktop.core.settings import Settings
from ented_desktop.gui import photo_actions, tasks
from ented_desktop.gui.background_calls import BackgroundCalls
from ented_desktop.gui.face_detection import FaceDetection
from ented_desktop.gui.job_queue import JobEntry, JobQueue
from ented_desktop.gui.restore_again import ask_restore_again
from ented_desktop.gui.tasks import (
    Outcome,
    Services,
    detect_work,
    export_work,
    factories,
    finetune_summary,
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
    for _ in library.photos.import_paths(library.albums.create("family"), [folder]):
        pass
    return [p.id for p in sorted(library.photos.all(), key=lambda p: p.path)]


def test_a_photo_edited_after_its_faces_were_found_is_not_restored(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100))
    run(detect_work(library, services, ids))
    edited = library.photos.get(ids[0]).path
    with Image.open(edited) as im:
        im.rotate(90, expand=True).save(edited)  # rotated in another program: the faces moved
    outcome = run(restore_work(library, services, ids))
    assert outcome.text.startswith("Restored 1 of 2 photos.")
    assert outcome.problems == [("p0.png", "this photo changed on disk since its faces were found; "
                                           "find faces again")]
    assert library.versions.of_photo(ids[0]) == [] and len(library.versions.of_photo(ids[1])) == 1
    # finding its faces again indexes the new file, and then it restores
    run(detect_work(library, services, ids[:1]))
    assert run(restore_work(library, services, ids[:1])).text == "Restored 1 of 1 photo."
    assert len(library.versions.of_photo(ids[0])) == 1


def test_a_photo_without_faces_gets_no_version_and_is_reported(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids[1:]))
    library.faces.record(ids[2], [], [], detector="fake")  # looked for, none found
    outcome = run(restore_work(library, services, ids))
    assert outcome.text.startswith("Restored 1 of 3 photos.") and outcome.value == 1
    assert outcome.problems == [("p0.png", "its faces have not been looked for yet; find faces first"),
                                ("p2.png", "no face found")]
    assert [len(library.versions.of_photo(i)) for i in ids] == [0, 1, 0]


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
    assert library.versions.of_photo(ids[0]) == []


def test_a_restore_job_run_again_skips_the_photos_it_already_restored(qtbot, services, tmp_path):
    library = Library(tmp_path / "lib")
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids))
    job = library.jobs.add("restore", {"photo_ids": ids, "title": "Restore family"})
    library.jobs.set_state(job, "running")
    run(restore_work(library, services, ids[:2], job))  # the first run got this far...
    library.close()  # ...when the program was killed

    library = Library(tmp_path / "lib")
    queue = JobQueue(library, factories(library, services))
    assert queue.load_previous()[0].state == "interrupted"
    queue.retry(job)
    qtbot.waitUntil(lambda: queue.entries[job].state == "done", timeout=5000)
    assert queue.entries[job].text == "Restored 1 of 1 photo. Skipped 2 photos this job had already restored."
    assert [len(library.versions.of_photo(i)) for i in ids] == [1, 1, 1]
    skipped = queue.submit("restore", {"photo_ids": ids[:1], "skip_same": True})  # restored this way: said
    qtbot.waitUntil(lambda: queue.entries[skipped].state == "done", timeout=5000)
    assert queue.entries[skipped].text == "Skipped 1 photo already restored this way: p0.png."
    assert len(library.versions.of_photo(ids[0])) == 1
    another = queue.submit("restore", {"photo_ids": ids[:1]})  # restores again, as asked
    qtbot.waitUntil(lambda: queue.entries[another].state == "done", timeout=5000)
    assert len(library.versions.of_photo(ids[0])) == 2
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
    for _ in library.photos.import_paths(library.albums.create("family"), [folder]):
        pass
    (photo,) = library.photos.all()
    faces = [Face((x + 25, 45, x + 75, 100), template_for(100) + np.float32([x, 30]), 0.9) for x in (40, 100)]
    library.faces.record(photo.id, faces, [None, None], "test")
    return photo.id, faces


def test_faces_restored_by_different_models_do_not_corrupt_each_other(library, tmp_path):
    photo_id, faces = two_faces_photo(library, tmp_path)
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"weights")
    anna = library.people.create("Anna", [library.faces.of_photo(photo_id)[0].id])
    library.people.set_personal_model(anna, model)
    engines = {model.absolute(): FnEngine(white), None: FnEngine(same)}
    settings = Settings()
    services = Services(lambda: settings, restorer_loader=lambda m, **_: CoreRestorer(engines[m]),
                        reference_preparer=fake_prepare_reference)

    version_id, restoration = restore_library_photo(library, photo_id, services.restorer,
                                                    ReferenceCrops(library, fake_prepare_reference))
    reports = [face.version_record() for face in restoration.faces]

    assert [r["model"] for r in reports] == ["anna.safetensors", "general"]
    original = read_image_rgb8(library.photos.get(photo_id).path)
    both = FnEngine(white, same)  # each face with its model, in one call
    expected = CoreRestorer(both).restore(original, faces=faces).pixels
    assert np.array_equal(engines[None].inputs[0][0], both.inputs[0][1])  # the general model saw the original
    (version,) = library.versions.of_photo(photo_id)
    assert version.id == version_id and np.array_equal(read_image_rgb8(version.path), expected)


def test_a_deleted_reference_photo_leaves_its_face_without_a_reference_and_the_others_alone(
        library, services, tmp_path):
    photo_id, _ = two_faces_photo(library, tmp_path)
    first, second = library.faces.of_photo(photo_id)
    anna = library.people.create("Anna", [first.id])
    bob = library.people.create("Bob", [second.id])
    library.references.set_image(bob, make_photo(tmp_path / "bob.png", 100))
    library.references.set_image(anna, make_photo(tmp_path / "anna.png", 200)).unlink()  # deleted since

    _, restoration = restore_library_photo(library, photo_id, services.restorer,
                                           ReferenceCrops(library, fake_prepare_reference))
    reports = [face.version_record() for face in restoration.faces]

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
    anna = library.people.create("Anna", [library.faces.of_photo(ids[0])[0].id])
    library.people.set_personal_model(anna, model)
    model.unlink()

    outcome = run(restore_work(library, services, ids))

    assert outcome.text == "Restored 2 of 2 photos."
    (report,) = library.versions.of_photo(ids[0])[0].report["faces"]
    assert report["model"] == "general" and report["restored"]
    assert report["fallback"] == (f"the personal model of Anna cannot be used: Model file {model.absolute()} "
                                  "does not exist; restored with the general model")
    assert library.versions.of_photo(ids[1])[0].report["faces"][0]["fallback"] is None


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
    anna = library.people.create("Anna", [library.faces.of_photo(i)[0].id for i in ids])
    model.write_bytes(b"damaged")
    library.people.set_personal_model(anna, model)
    anna_model = library.people.get(anna).personal_model

    assert run(restore_work(library, services, ids)).text == "Restored 3 of 3 photos."
    assert reads == [anna_model]  # not once per photo
    expected = ("the personal model of Anna cannot be used: anna.safetensors is damaged: its sha256 does not "
                "match manifest.sha256; restored with the general model")
    for photo_id in ids:
        (report,) = library.versions.of_photo(photo_id)[0].report["faces"]
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
    assert library.versions.of_photo(ids[1])[1].report["faces"][0]["fallback"] == expected
    assert library.versions.of_photo(ids[2])[1].report["faces"][0]["model"] == "anna.safetensors"


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
    album = library.albums.all()[0].id
    run(detect_work(library, services, ids))
    restore = restore_work(library, services, ids)
    detect = detect_work(library, services, ids)
    library.albums.remove_photos(album, [ids[1]])  # while both jobs wait in the queue
    assert run(detect).problems == []  # not "2: That photo is no longer in the library."
    outcome = run(restore)
    assert outcome.text == "Restored 2 of 2 photos. 1 photo had left the library meanwhile."
    assert outcome.problems == []
    versions = [library.versions.of_photo(i)[0].id for i in (ids[0], ids[2])]
    export = export_work(library, versions, str(tmp_path / "out"), "png", 90, "{stem}")
    library.versions.delete(versions[0])
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


def test_a_restore_jobs_payload_chooses_the_model_and_its_fidelity(library, tmp_path):
    from ented_desktop.core.errors import UserError
    from tests.test_restore_job import fake_install

    asked = []

    def loader(model=None, *, fidelity=None, **_):
        asked.append((model, fidelity))
        return FakeRestorer(model)

    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader,
                        reference_preparer=fake_prepare_reference)
    ids = import_photos(library, tmp_path / "photos", (200,))
    run(detect_work(library, services, ids))
    restore = factories(library, services)["restore"]
    with pytest.raises(UserError, match="--fidelity applies to CodeFormer only; no 512 px face model is installed"):
        run(restore({"photo_ids": ids, "fidelity": 0.6}))
    assert library.versions.of_photo(ids[0]) == []

    fake_install(Path(os.environ["ENTED_MODEL_DIR"]), "cf", "codeformer")
    assert run(restore({"photo_ids": ids, "model": "cf", "fidelity": "0.6", "background": None})).value == 1
    assert asked == [("cf", 0.6)]  # the forced model only, with the job's fidelity
    (version,) = library.versions.of_photo(ids[0])
    assert version.settings["model"] == "cf" and version.settings["large_faces_model"] is None
    assert [face["model_name"] for face in version.report["faces"]] == ["cf"]


def collecting_control(reported: list) -> WorkControl:
    control = WorkControl()
    control.connect(reported.append, lambda paused: None)
    return control


def drive(work, control) -> tuple[list, Outcome]:
    steps, gen = [], work(control)
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            return steps, stop.value


def test_a_restore_job_says_loading_the_model_only_when_it_loads_one(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100))
    run(detect_work(library, services, ids))
    first, second = [], []
    drive(restore_work(library, services, ids[:1]), collecting_control(first))
    steps, outcome = drive(restore_work(library, services, ids[1:]), collecting_control(second))
    assert [s.text for s in first] == ["Loading the model…"]
    assert second == [] and "Loading" not in " ".join(s.text for s in steps)  # it said so on every job
    assert [s.done for s in steps] == ["restoring 1 of 1 photo"]


def test_restoring_photos_again_the_same_way_skips_them_and_says_which(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids))
    run(restore_work(library, services, ids[:2]))
    outcome = run(restore_work(library, services, ids, skip_same=True))  # "Restore album": it made duplicates
    assert outcome.text == "Restored 1 of 1 photo. Skipped 2 photos already restored this way: p0.png, p1.png."
    assert [len(library.versions.of_photo(i)) for i in ids] == [1, 1, 1]
    anna = library.people.create("Anna", [library.faces.of_photo(ids[0])[0].id])
    library.references.set_face(anna, library.faces.of_photo(ids[0])[0].id)  # another reference: not the same way
    assert run(restore_work(library, services, ids, skip_same=True)).text == (
        "Restored 1 of 1 photo. Skipped 2 photos already restored this way: p1.png, p2.png.")
    assert run(restore_work(library, services, ids[1:2])).text == "Restored 1 of 1 photo."


def test_problems_are_kept_in_the_library_with_the_full_path(library, services, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "good.png", 200)
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    outcome = run(tasks.import_work(library, library.albums.create("family"), [str(folder)], "photos"))
    assert [(Path(p.path), p.source) for p in library.problems.all()] == [(folder / "bad.jpg", "photos")]
    assert outcome.problems[0][0] == str(folder / "bad.jpg")
    (photo,) = library.photos.all()
    library.faces.record(photo.id, [], [], "fake")  # looked for, none found
    run(restore_work(library, services, [photo.id]))
    assert [(Path(p.path), p.source) for p in library.problems.all()][-1] == (folder / "good.png", "restoring")


class HeldFinder(FakeFaceFinder):
    """The fake finder, held at its first photo until ``go`` is set."""

    def __init__(self) -> None:
        self.go = threading.Event()

    def find(self, rgb):
        self.go.wait(5)
        return super().find(rgb)


def add_batch(library, folder, album, first, n) -> None:
    folder.mkdir(exist_ok=True)
    names = [folder / f"p{first + i:03d}.png" for i in range(n)]
    for i, name in enumerate(names):
        make_photo(name, 40 + (first + i) % 200, size=(40, 32))
    for _ in library.photos.import_paths(album, [str(n) for n in names]):
        pass


def test_an_import_of_150_photos_gives_one_find_faces_job(qtbot, library, tmp_path):
    finder = HeldFinder()
    services = Services(lambda: Settings(), face_finder=lambda s: finder, restorer_loader=FakeLoader(),
                        reference_preparer=fake_prepare_reference)
    queue = JobQueue(library, factories(library, services))
    detection = FaceDetection(SimpleNamespace(queue=queue, library=library))
    album = library.albums.create("family")
    add_batch(library, tmp_path / "photos", album, 0, 50)
    detection.request_face_detection()  # 50 photos arrived: a job starts, held at its first photo
    for first in (50, 100):  # the import goes on: more arrive while it runs
        add_batch(library, tmp_path / "photos", album, first, 50)
        detection.request_face_detection()
    finder.go.set()
    qtbot.waitUntil(lambda: not queue.active(), timeout=10000)
    detection.request_face_detection()  # the import ended: nothing is left to look at
    jobs = [e for e in queue.entries.values() if e.kind == "detect"]
    assert [(e.title, e.text) for e in jobs] == [("Find faces", "Looked for faces in 150 photos; found 150.")]
    assert library.photos.needing_faces() == []
    queue.stop_all()


@pytest.mark.parametrize(("answer", "expected"), [
    ("skip", ([1, 1, 1], "Restored 1 of 1 photo.")),
    ("again", ([2, 2, 1], "Restored 3 of 3 photos.")),
    ("cancel", ([1, 1, 0], None)),
])
def test_restore_album_asks_about_the_photos_restored_this_way(qtbot, library, services, tmp_path, monkeypatch,
                                                               answer, expected):
    ids = import_photos(library, tmp_path / "photos", (200, 100, 150))
    run(detect_work(library, services, ids))
    run(restore_work(library, services, ids[:2]))
    asked = []
    monkeypatch.setattr(photo_actions, "ask_restore_again", lambda parent, plan: asked.append(plan) or answer)
    queue = JobQueue(library, factories(library, services))
    window = SimpleNamespace(library=library, services=services, queue=queue, calls=BackgroundCalls(),
                             restore_options=SimpleNamespace(summary=lambda: "", payload=lambda: {}),
                             jobs_dock=SimpleNamespace(raise_=lambda: None), status=lambda text: None)
    photo_actions.PhotoActions(window)._restore(ids, "Restore all photos")  # re-restored all without a word
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert asked[0].sentence() == ("2 photos were already restored this way and are skipped; 1 will be restored.")
    counts, text = expected
    if text is not None:
        qtbot.waitUntil(lambda: bool(queue.entries) and not queue.active(), timeout=5000)
        assert [e.text for e in queue.entries.values()] == [text]
    else:
        qtbot.waitUntil(window.calls.idle, timeout=5000)
        assert queue.entries == {}
    assert [len(library.versions.of_photo(i)) for i in ids] == counts
    window.calls.shutdown()
    queue.stop_all()


def test_an_export_as_tiff_writes_tif_files_without_calling_them_renamed(library, services, tmp_path):
    ids = import_photos(library, tmp_path / "photos", (200, 100))
    run(detect_work(library, services, ids))
    run(restore_work(library, services, ids))
    versions = [library.versions.of_photo(i)[0].id for i in ids]
    outcome = run(export_work(library, versions, str(tmp_path / "out"), "tiff", 90, "{stem}"))
    assert sorted(e.path.name for e in outcome.value) == ["p0.tif", "p1.tif"]
    assert outcome.text == f"Exported 2 photos to {tmp_path / 'out'}."  # each said it "got a new name" (.jpg)
    assert not any(e.renamed for e in outcome.value)


@pytest.mark.parametrize(("button", "answer"), [("Restore 1 photo", "skip"), ("Restore all again", "again"),
                                                ("Cancel", "cancel")])
def test_the_question_offers_to_skip_restore_all_again_or_cancel(qtbot, monkeypatch, button, answer):
    seen = []

    def click(box):
        seen.append(box.text())
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()

    monkeypatch.setattr(QMessageBox, "exec", click)
    assert ask_restore_again(None, RestoreSkipPlan((1, 2), (3,), ())) == answer
    assert seen == ["2 photos were already restored this way and are skipped; 1 will be restored. Restoring a photo "
                    "again the same way makes the same version again."]


def test_an_idle_app_lets_go_of_its_models_and_loads_them_again_when_asked():
    settings, loader = Settings(), FakeLoader()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader)
    first, finder = services.restorer("codeformer"), services.face_finder()
    assert services.restorer("codeformer") is first and loader.loaded == ["codeformer"]
    services.release_models()
    assert services.face_finder() is finder  # small, and used between jobs: kept
    assert services.restorer("codeformer") is not first and loader.loaded == ["codeformer", "codeformer"]


def test_letting_go_of_the_models_never_waits_for_one_being_loaded():
    entered, proceed, loads = threading.Event(), threading.Event(), []

    def slow_loader(model=None, **_):
        loads.append(model)
        entered.set()
        proceed.wait(10)
        return FakeRestorer(model)

    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=slow_loader)
    loading = threading.Thread(target=services.restorer, args=("codeformer",))
    loading.start()
    entered.wait(10)
    services.release_models()  # returns at once: a blocking release would wait for proceed and never get here
    proceed.set()
    loading.join()
    services.restorer("codeformer")
    assert loads == ["codeformer"]  # what was being loaded was kept for the work it was loaded for
