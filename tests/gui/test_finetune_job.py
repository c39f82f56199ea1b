"""The "finetune" job: which photos it learns from, what it hands the fine-tuner, a stopped run keeps nothing,
an interrupted run is shown after a restart and its re-run's result is offered; and one real run end to end
(tiny trained model, four LFW photos of one person) through the window: keep, restore with it, discard."""

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.detect import Face, create_detector
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import Library
from ented_desktop.core.settings import Settings
from ented_desktop.core.weights import DEFAULT_MODEL, MANIFEST, SUFFIX, add_to_manifest, read_manifest
from ented_desktop.gui.finetune_dialog import FinetuneDialog
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.tasks import (
    Services,
    finetune_photos,
    finetune_work,
    personal_model_name,
)
from ented_desktop.gui.workers import WorkCancelled, WorkControl

from ..conftest import SHARED
from .fakes import FakeFaceFinder, FakeLoader, central_face, make_photo


@dataclass
class FakeResult:
    before: dict
    after: dict
    improved: bool
    model_path: Path | None
    history: list = field(default_factory=list)


class FakeFinetuner:
    """Records its arguments; "saves" a model with its card and manifest line, as the real one does."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, photos, *, base_model, out_dir, minutes, name, device, progress_fn, abort_fn):
        self.calls.append(dict(photos=photos, base_model=base_model, out_dir=out_dir, minutes=minutes, name=name,
                               device=device))
        progress_fn({"iteration": 1, "total": 2, "eta_s": minutes * 30.0, "loss": 0.5})
        abort_fn()
        model = out_dir / f"{name}{SUFFIX}"
        out_dir.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"weights")
        model.with_suffix(".md").write_text("# card")
        add_to_manifest(model)
        return FakeResult({"val_psnr": 20.0, "input_psnr": 18.0}, {"val_psnr": 20.5, "input_psnr": 18.0}, True,
                          model)


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


def add_photos(library: Library, folder: Path) -> list[int]:
    for _ in library.photos.import_paths(library.albums.create(folder.name), [str(folder)]):
        pass
    return [p.id for p in library.photos.all()]


def person_with_photos(library: Library, folder: Path, count: int = 4) -> int:
    folder.mkdir()
    for i in range(count):
        make_photo(folder / f"anna_{i}.jpg", 200)
    face_ids = []
    for photo_id in add_photos(library, folder):
        rgb = read_image_rgb8(library.photos.get(photo_id).path)
        face_ids += library.faces.record(photo_id, [central_face(rgb)], [None], "fake")
    return library.people.create("Anna Maria", face_ids)


def settings_with_model(tmp_path: Path) -> Settings:
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{DEFAULT_MODEL}{SUFFIX}").write_bytes(b"general")
    return Settings(model_dir=str(models), device="cpu")


def test_photos_where_someone_else_is_the_largest_face_are_left_out(library, tmp_path):
    person_id = person_with_photos(library, tmp_path / "anna", 3)
    group = library.photos.all()[0]
    small = Face((2, 2, 22, 22), central_face(np.zeros((24, 24, 3), np.uint8)).landmarks, 0.9)
    rgb = read_image_rgb8(group.path)
    ids = library.faces.record(group.id, [central_face(rgb), small], [None, None], "fake")
    library.people.unassign_faces([ids[0]])
    library.people.assign_faces([ids[1]], person_id)  # in this photo, Anna is the small face
    assert [p.name for p in finetune_photos(library, person_id)] == ["anna_1.jpg", "anna_2.jpg"]


def test_the_work_gives_the_finetuner_the_photos_general_model_and_a_new_name(library, tmp_path):
    settings = settings_with_model(tmp_path)
    person_id = person_with_photos(library, tmp_path / "anna")
    finetuner = FakeFinetuner()
    services = Services(lambda: settings, finetuner=finetuner)
    sent = []
    control = WorkControl()
    control.connect(sent.append, lambda paused: None)
    outcome = finetune_work(library, services, person_id, 0.5)(control)
    (call,) = finetuner.calls
    assert [p.name for p in call["photos"]] == [f"anna_{i}.jpg" for i in range(4)]
    assert call["base_model"] == Path(settings.model_dir) / f"{DEFAULT_MODEL}{SUFFIX}"
    assert call["out_dir"] == Path(settings.model_dir) / "personal" / f"person-{person_id}"
    assert call["name"].startswith("Anna-Maria-")
    assert call["minutes"] == 0.5
    assert call["device"] == "cpu"
    assert sent[0].event.report["iteration"] == 1
    assert sent[0].fraction == pytest.approx(0.5)
    assert outcome.value.model_path.is_file()
    assert outcome.text == ("Personal model for Anna Maria: 20.00 → 20.50 dB on a held-out photo "
                            "(better than the general model).")


def test_a_stopped_run_leaves_no_model_behind(library, tmp_path):
    settings = settings_with_model(tmp_path)
    person_id = person_with_photos(library, tmp_path / "anna")
    services = Services(lambda: settings, finetuner=FakeFinetuner())
    control = WorkControl()
    control.abort()
    with pytest.raises(WorkCancelled):
        finetune_work(library, services, person_id, 1.0)(control)
    folder = Path(settings.model_dir) / "personal" / f"person-{person_id}"
    assert [p.name for p in folder.iterdir()] == [MANIFEST]
    assert read_manifest(folder) == {}


def test_too_few_photos_is_a_sentence_before_any_model_is_loaded(library, tmp_path):
    person_id = person_with_photos(library, tmp_path / "anna", 2)
    services = Services(lambda: Settings(), finetuner=lambda *a, **k: pytest.fail("must not run"))
    with pytest.raises(UserError, match="at least 3 photos in which Anna Maria is the largest face; there are 2"):
        finetune_work(library, services, person_id, 1.0)(WorkControl())


def test_model_names_are_file_safe_and_new(tmp_path):
    assert personal_model_name("Anna Maria", 0, tmp_path).startswith("Anna-Maria-1970")
    assert personal_model_name("Grand-mère Zoë", 0, tmp_path).startswith("Grand-mère-Zoë-")
    assert personal_model_name("../?", 0, tmp_path / "absent").startswith("person-")
    first = personal_model_name("Anna", 0, tmp_path)
    (tmp_path / f"{first}{SUFFIX}").write_bytes(b"")
    (tmp_path / f"{first}-2{SUFFIX}").write_bytes(b"")
    assert personal_model_name("Anna", 0, tmp_path) == f"{first}-3"


def test_keeping_a_new_model_replaces_the_old_one_and_deletes_it(qtbot, library, tmp_path):
    settings = settings_with_model(tmp_path)
    person_id = person_with_photos(library, tmp_path / "anna")
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        finetuner=FakeFinetuner())
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    try:
        dialog = window.open_finetune()
        models = []
        for _ in range(2):  # two runs within a second: the second still gets a file of its own
            with qtbot.waitSignal(dialog.runFinished, timeout=5000) as finished:
                dialog.start()
            models.append(finished.args[0].model_path)
            dialog.keep()
            qtbot.waitUntil(window.calls.idle, timeout=5000)
        first, second = models
        assert first != second
        assert library.people.get(person_id).personal_model == second.absolute()
        assert not first.exists()
        assert not first.with_suffix(".md").exists()
        assert set(read_manifest(second.parent)) == {second.name}
    finally:
        window.shutdown()


def test_an_interrupted_finetune_is_shown_after_a_restart_and_its_rerun_is_offered(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    person_id = person_with_photos(library, tmp_path / "anna")
    job_id = library.jobs.add("finetune", {"person_id": person_id, "minutes": 0.5, "title": "Fine-tune Anna"})
    library.jobs.set_state(job_id, "running")
    library.close()  # the program ended during the run

    library = Library(tmp_path / "lib")
    settings = settings_with_model(tmp_path)
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        finetuner=FakeFinetuner())
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    try:
        entry = window.queue.entries[job_id]
        assert (entry.kind, entry.state) == ("finetune", "interrupted")
        assert entry.can_retry()
        row = window.jobs_panel.rows[job_id]
        assert row.state.text() == "Interrupted"
        assert not row.retry_button.isHidden()
        row.retry_button.click()
        qtbot.waitUntil(lambda: bool(window.findChildren(FinetuneDialog)), timeout=5000)
        (dialog,) = window.findChildren(FinetuneDialog)
        assert dialog.phase == "finished"
        assert dialog.job_id == job_id
        assert library.jobs.get(job_id).state == "done"
        dialog.keep()
        qtbot.waitUntil(window.calls.idle, timeout=5000)
        assert library.people.get(person_id).personal_model.name.startswith("Anna-Maria-")
    finally:
        window.shutdown()
        library.close()


class LongFinetuner:
    """Learns until ``done`` is set (or it is stopped), reporting every 20 ms like the real one; "saves" a model."""

    def __init__(self) -> None:
        self.done = threading.Event()

    def __call__(self, photos, *, base_model, out_dir, minutes, name, device, progress_fn, abort_fn):
        i = 0
        while not self.done.is_set():
            i += 1
            report = {"iteration": i, "total": 400, "eta_s": 900.0 - i, "loss": 0.3 + 1.0 / i}
            if i % 5 == 0:
                report["val"] = 24.0 + min(i, 60) / 40
            progress_fn(report)
            if abort_fn():
                return FakeResult({}, {}, False, None)
            self.done.wait(0.02)
        model = out_dir / f"{name}{SUFFIX}"
        out_dir.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"weights")
        return FakeResult({"val_psnr": 24.0, "input_psnr": 21.0}, {"val_psnr": 24.05, "input_psnr": 21.0}, False,
                          model)


def photos_to_browse(folder: Path) -> None:
    """A few photos beside the person's: LFW faces when the shared data is there, else drawn ones."""
    folder.mkdir()
    lfw = SHARED / "data/lfw/images_deepfunneled"
    people = ["Colin_Powell", "Aaron_Peirsol", "AJ_Cook", "Aaron_Eckhart"]
    sources = [p for name in people for p in sorted((lfw / name).glob("*.jpg"))[:2]] if lfw.is_dir() else []
    for i, source in enumerate(sources):
        shutil.copy2(source, folder / f"family_{i}.jpg")
    for i in range(len(sources), 6):
        make_photo(folder / f"family_{i}.jpg", 60 + 30 * i)


def test_a_finetune_learns_in_the_background_and_is_shown_again_from_the_jobs_panel(qtbot, library, tmp_path,
                                                                                      screenshot_dir):
    settings = settings_with_model(tmp_path)
    person_with_photos(library, tmp_path / "anna")
    photos_to_browse(tmp_path / "family")
    add_photos(library, tmp_path / "family")
    finetuner = LongFinetuner()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        finetuner=finetuner)
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    window.show()
    try:
        dialog = window.open_finetune()
        assert QApplication.activeModalWidget() is None  # the window stays usable (it was window-modal)
        dialog.start()
        job_id = dialog.job_id
        qtbot.waitUntil(lambda: len(dialog.plot.loss) >= 3, timeout=5000)
        dialog.close_button.click()  # closing only hides it (it cancelled the run)
        assert not dialog.isVisible() and window.queue.entries[job_id].state == "running"
        row = window.jobs_panel.rows[job_id]
        assert row.show_button.isVisible()

        # meanwhile the user pauses it from the Jobs panel, browses the photos, and resumes it
        row.pause_button.click()
        qtbot.waitUntil(lambda: row.text.text() == "Paused.", timeout=5000)
        row.resume_button.click()
        qtbot.waitUntil(lambda: window.queue.entries[job_id].state == "running", timeout=5000)
        window.tabs.setCurrentIndex(0)
        qtbot.waitUntil(lambda: window.thumbnails.rowCount() >= 6, timeout=5000)
        window.grid.setCurrentIndex(window.thumbnails.index(2))

        def thumbnails_shown() -> bool:
            window.grab()  # paints the grid, which asks for the thumbnails it shows
            return window.thumbnails.pending() == 0 and all(
                window.thumbnails.is_loaded(window.thumbnails.photo_id(r)) for r in range(4))

        qtbot.waitUntil(thumbnails_shown, timeout=10000)
        qtbot.waitUntil(lambda: row.text.text().startswith("Learning: step "), timeout=5000)
        screenshot = screenshot_dir / "15_finetune_background.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(screenshot))

        # Show brings back the same dialog, its plot kept; the end of the run offers the result
        seen = len(dialog.plot.loss)
        row.show_button.click()
        assert dialog.isVisible() and window.findChildren(FinetuneDialog) == [dialog]
        assert len(dialog.plot.loss) >= seen > 3
        dialog.hide()
        finetuner.done.set()
        qtbot.waitUntil(lambda: dialog.isVisible() and dialog.phase == "finished", timeout=5000)
        assert not row.show_button.isVisible()
        dialog.discard()
    finally:
        finetuner.done.set()
        window.shutdown()


# -- a real run ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_finetune_keep_restore_and_discard(qtbot, tmp_path, shared_dir, tiny_model_dir, screenshot_dir):
    source = shared_dir / "data/lfw/images_deepfunneled/Aaron_Peirsol"
    if len(list(source.glob("*.jpg"))) < 4:
        pytest.skip(f"{source} does not hold the four LFW photos of Aaron Peirsol")
    folder = tmp_path / "Aaron"
    shutil.copytree(source, folder)
    models = tmp_path / "models"  # the tiny trained model, installed as the general model
    models.mkdir()
    shutil.copy2(tiny_model_dir / "tiny.safetensors", models / f"{DEFAULT_MODEL}{SUFFIX}")
    add_to_manifest(models / f"{DEFAULT_MODEL}{SUFFIX}")
    settings = Settings(model_dir=str(models), device="cpu")

    library = Library(tmp_path / "lib")
    detector = create_detector("auto")
    aaron_faces = []
    for photo_id in add_photos(library, folder):
        faces = detector.detect(read_image_rgb8(library.photos.get(photo_id).path))
        aaron_faces.append(library.faces.record(photo_id, faces, [None] * len(faces), detector.name)[0])
    aaron = library.people.create("Aaron", aaron_faces)
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder())
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    window.show()
    try:
        # run: progress reaches the dialog, the figures are shown, the run is a recorded job
        dialog = window.open_finetune()
        assert dialog.person.currentData() == aaron
        assert "4 photos" in dialog.person.currentText()
        dialog.minutes.setValue(0.1)
        with qtbot.waitSignal(dialog.runFinished, timeout=120000) as finished:
            dialog.start()
        result = finished.args[0]
        assert len(dialog.plot.loss) >= 1
        assert dialog.plot.val[0][0] == 0
        assert [dialog.results.item(0, c).text() for c in (1, 2, 3)] == [
            f"{result.before['input_psnr']:.2f}", f"{result.before['val_psnr']:.2f}",
            f"{result.after['val_psnr']:.2f}"]
        job = library.jobs.get(dialog.job_id)
        assert (job.kind, job.state) == ("finetune", "done")
        assert window.jobs_panel.rows[dialog.job_id].state.text() == "Done"
        screenshot = screenshot_dir / "12_finetune_finished.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(screenshot))

        # keep: the person's faces are restored with the personal model from now on
        kept = result.model_path
        dialog.keep_button.click()
        qtbot.waitUntil(window.calls.idle, timeout=5000)
        assert library.people.get(aaron).personal_model == kept.absolute()
        photo_id = library.photos.all()[0].id
        window.queue.submit("restore", {"photo_ids": [photo_id]})
        qtbot.waitUntil(lambda: not window.queue.active(), timeout=60000)
        version = library.versions.of_photo(photo_id)[-1]
        face_report = next(f for f in version.report["faces"] if f["person_id"] == aaron)
        assert face_report["model"] == kept.name
        assert face_report["restored"]
        assert kept.stem in version.model

        # a second run, discarded: nothing of it is left, and the kept model is untouched
        with qtbot.waitSignal(dialog.runFinished, timeout=120000) as finished:
            dialog.start()
        discarded = finished.args[0].model_path
        assert discarded != kept
        assert discarded.is_file()
        dialog.discard_button.click()
        assert not discarded.exists()
        assert not discarded.with_suffix(".md").exists()
        assert discarded.name not in read_manifest(discarded.parent)
        assert kept.is_file()
        assert kept.name in read_manifest(kept.parent)
        assert library.people.get(aaron).personal_model == kept.absolute()
        with Image.open(screenshot) as shot:
            assert shot.size[0] >= 600
    finally:
        window.shutdown()
        library.close()
