"""The main window end to end with fakes for the detector and the restorer (offscreen, real library)."""

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QStyle, QStyleOptionComboBox

from ented_desktop.core.errors import ModelError
from ented_desktop.core.library import Library
from ented_desktop.core.removal import RemovalCost, more_lost, removal_summary, unfinished_job_notes
from ented_desktop.core.settings import Settings
from ented_desktop.gui import main_window as main_window_module
from ented_desktop.gui.album_list import ALL_PHOTOS
from ented_desktop.gui.export_dialog import ExportDialog
from ented_desktop.gui.job_queue import JobEntry
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.name_face_dialog import NameFaceDialog
from ented_desktop.gui.removal import ConfirmRemoval
from ented_desktop.gui.tabs import TAB_COMPARE
from ented_desktop.gui.tasks import Services

from .app_hooks import snapshot
from .drag import drag_and_drop
from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference, make_photo
from .stall_meter import StallMeter


def bad_folder(root: Path) -> Path:
    folder = root / "shoebox"
    folder.mkdir()
    for i, shade in enumerate((200, 200, 60)):
        make_photo(folder / f"good_{i}.jpg", shade)
    good = (folder / "good_0.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("grandma's birthday")
    (folder / "text.png").write_text("this is not a picture")
    (folder / "loop").symlink_to(folder)
    (folder / "broken.jpg").symlink_to(folder / "nowhere.jpg")
    return folder


@pytest.fixture
def setup(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    settings = Settings()
    loader = FakeLoader()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=loader,
                        reference_preparer=fake_prepare_reference)
    window = MainWindow(library, settings, settings_path=tmp_path / "settings.json", services=services)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window, library, loader
    window.shutdown()
    library.close()


def wait_jobs_done(qtbot, window, timeout=10000):
    qtbot.waitUntil(lambda: bool(window.queue.entries) and not window.queue.active(), timeout=timeout)


def settle(qtbot, window):
    """Wait for the window's background calls (a change the user asked for, the photo loading) to be answered."""
    qtbot.waitUntil(window.calls.idle, timeout=5000)


def import_folder(qtbot, window, folder):
    known = set(window.queue.entries)
    assert drag_and_drop(window, [folder]).accepted
    qtbot.waitUntil(lambda: bool(set(window.queue.entries) - known), timeout=5000)
    wait_jobs_done(qtbot, window)


def import_shades(qtbot, window, library, folder, shades):
    """Import a new folder of photos (file name -> shade of its face); return their records."""
    folder.mkdir()
    for name, shade in shades.items():
        make_photo(folder / name, shade)
    import_folder(qtbot, window, folder)
    return library.photos.all()


def import_and_restore_first(qtbot, window, library, folder, shades):
    """Import a folder of photos (file name -> shade of its face), restore the first; return their records."""
    photos = import_shades(qtbot, window, library, folder, shades)
    window.queue.submit("restore", {"photo_ids": [photos[0].id]})
    wait_jobs_done(qtbot, window)
    return photos


def test_dropping_a_bad_folder_imports_the_good_photos_and_lists_the_rest(qtbot, setup, tmp_path):
    window, library, _ = setup
    import_folder(qtbot, window, bad_folder(tmp_path))
    assert window.thumbnails.rowCount() == 3
    assert [a.name for a in library.albums.all()] == ["shoebox"]
    problems = dict((Path(p).name, reason) for p, reason in window.problems_panel.rows())
    expected = {"truncated.jpg", "corrupt.png", "empty.jpg", "notes.txt", "text.png", "loop", "broken.jpg"}
    assert expected <= set(problems)
    assert "link loop" in problems["loop"]
    assert "broken link" in problems["broken.jpg"]
    assert window.problems_dock.windowTitle() == f"Problems ({len(problems)})"
    kinds = {e.kind: e.state for e in window.queue.entries.values()}
    assert kinds == {"import": "done", "detect": "done"}
    assert all(len(library.faces.of_photo(p.id)) == 1 for p in library.photos.all())


def test_a_dropped_folder_named_like_an_album_gets_an_album_of_its_own(qtbot, setup, tmp_path):
    window, library, _ = setup
    for parent in ("mum", "dad"):
        (tmp_path / parent).mkdir()
        import_shades(qtbot, window, library, tmp_path / parent / "Scans", {f"{parent}.png": 200})
    albums = {a.name: a.id for a in library.albums.all()}
    assert list(albums) == ["Scans", "Scans (2)"]
    assert [p.path.name for p in library.photos.all(albums["Scans (2)"])] == ["dad.png"]
    assert window.current_album == albums["Scans (2)"]


def test_name_suggest_reference_restore_compare(qtbot, setup, tmp_path, monkeypatch):
    window, library, loader = setup
    folder = tmp_path / "family"
    folder.mkdir()
    for i, shade in enumerate((200, 200, 200, 60)):
        make_photo(folder / f"p{i}.jpg", shade)
    import_folder(qtbot, window, folder)
    first = library.photos.all()[0]
    window.photos_page.open_photo(first.id)
    qtbot.waitUntil(lambda: len(window.faces_view.faces()) == 1, timeout=5000)
    assert not window.faces_view.faces()[0].named
    assert "without a reference" in window.face_list.item(0).text()

    # name the face: the dialog is answered like a user would
    def answer(dialog):
        dialog.name.setEditText("Grandma")
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(NameFaceDialog, "exec", answer)
    window.faces_page.name_face(window.faces_view.faces()[0].face_id)
    settle(qtbot, window)
    assert [p.name for p in library.people.all()] == ["Grandma"]
    assert window.faces_view.faces()[0].label == "Grandma"

    # the two other bright photos are suggested as Grandma; one click confirms
    panel = window.people_panel
    qtbot.waitUntil(lambda: [r.text.text() for r in panel.group_suggestions.rows]
                    == ["2 unnamed faces look like Grandma."], timeout=5000)
    panel.group_suggestions.rows[0].confirm.click()
    settle(qtbot, window)
    person = library.people.all()[0]
    assert person.face_count == 3

    # the suggested reference comes with its reasons
    panel.select_person(person.id)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "Suggested:" in panel.detail.text()
    assert "clear" in panel.detail.text()
    panel.use_suggested.click()
    settle(qtbot, window)
    assert library.people.get(person.id).reference_face_id is not None

    # restore all photos of the album; the dark one is nobody: no-reference fallback, and the UI says so
    window.photo_actions.restore_album()
    wait_jobs_done(qtbot, window)
    assert all(len(library.versions.of_photo(p.id)) == 1 for p in library.photos.all())
    dark = library.photos.all()[-1]
    window.photos_page.select_photo(dark.id)
    window.tabs.setCurrentIndex(TAB_COMPARE)
    qtbot.waitUntil(lambda: window.compare.has_after(), timeout=5000)
    assert "(the face served as its own reference)" in window.compare_report.item(0).text()
    window.photos_page.select_photo(first.id)
    qtbot.waitUntil(lambda: window.compare.has_after(), timeout=5000)
    assert "restored with Grandma's reference" in window.compare_report.item(0).text()
    state = snapshot(window)
    assert state["compare"]["has_after"]
    assert state["versions"]


def test_missing_model_shows_the_core_message_and_nothing_crashes(qtbot, setup, tmp_path):
    window, library, loader = setup
    loader.error = ModelError("No trained ENTED model is installed; put one in the model folder.")
    folder = tmp_path / "one"
    folder.mkdir()
    make_photo(folder / "a.jpg", 120)
    import_folder(qtbot, window, folder)
    window.photo_actions.restore_selected()
    wait_jobs_done(qtbot, window)
    failed = [e for e in window.queue.entries.values() if e.kind == "restore"]
    assert failed[0].state == "failed"
    assert failed[0].error == "No trained ENTED model is installed; put one in the model folder."
    assert "No trained ENTED model" in window.statusBar().currentMessage()


def test_personal_model_is_used_for_that_persons_faces(qtbot, setup, tmp_path):
    window, library, loader = setup
    folder = tmp_path / "two"
    folder.mkdir()
    make_photo(folder / "a.jpg", 200)
    make_photo(folder / "b.jpg", 60)
    import_folder(qtbot, window, folder)
    a, b = library.photos.all()
    model = tmp_path / "anna.safetensors"
    model.write_bytes(b"weights")
    anna = library.people.create("Anna", [library.faces.of_photo(a.id)[0].id])
    library.people.set_personal_model(anna, model)
    window.queue.submit("restore", {"photo_ids": [a.id, b.id]})
    wait_jobs_done(qtbot, window)
    assert loader.loaded == [None, model.absolute()]
    report = library.versions.of_photo(a.id)[0].report["faces"][0]
    assert report["model"] == "anna.safetensors"
    assert report["person"] == "Anna"


def test_a_batch_prepares_each_reference_once_and_the_next_batch_sees_a_new_one(qtbot, setup, tmp_path):
    window, library, loader = setup
    prepared = []

    def counting_preparer(image, detector, resolution):
        prepared.append(image.shape)
        return fake_prepare_reference(image, detector, resolution)

    window.services._preparer = counting_preparer
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(3):
        make_photo(folder / f"b{i}.jpg", 200)
    import_folder(qtbot, window, folder)
    anna = library.people.create("Anna", [f.id for f in library.faces.of_person(None)])
    library.references.set_image(anna, make_photo(tmp_path / "anna.png", 210))
    ids = [p.id for p in library.photos.all()]
    window.queue.submit("restore", {"photo_ids": ids})
    wait_jobs_done(qtbot, window)
    assert len(prepared) == 1
    assert all(library.versions.of_photo(i)[0].report["faces"][0]["reference"] == "person" for i in ids)
    library.references.set_image(anna, make_photo(tmp_path / "anna2.png", 220))
    window.queue.submit("restore", {"photo_ids": ids[:1]})
    wait_jobs_done(qtbot, window)
    assert len(prepared) == 2


def test_export_never_replaces_an_existing_file(qtbot, setup, tmp_path):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "three", {"wedding.jpg": 150})
    version = library.versions.of_photo(photo.id)[0].id
    out = tmp_path / "out"
    out.mkdir()
    (out / "wedding_restored.jpg").write_bytes(b"somebody else's file")
    payload = {"version_ids": [version], "dest": str(out), "format": "jpeg", "quality": 90,
               "pattern": "{stem}_restored"}
    job = window.queue.submit("export", payload)
    wait_jobs_done(qtbot, window)
    assert (out / "wedding_restored.jpg").read_bytes() == b"somebody else's file"
    assert "got a new name" in window.queue.entries[job].text
    written = window.last_export[0]
    assert written.parent == out
    assert written.name != "wedding_restored.jpg"
    with Image.open(written) as im:
        assert im.format == "JPEG"
        assert im.getexif().get(0x0132) == "2001:02:03 04:05:06"


def test_export_offers_this_photo_or_every_restored_photo_of_the_album(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    folder = tmp_path / "family"
    folder.mkdir()
    for i, shade in enumerate((200, 150, 60)):
        make_photo(folder / f"p{i}.jpg", shade)
    import_folder(qtbot, window, folder)
    window.photo_actions.restore_album()
    wait_jobs_done(qtbot, window)
    offered = []

    def answer(dialog):
        buttons = dialog.scope_buttons.buttons()
        offered.extend(b.text() for b in buttons)
        buttons[1].setChecked(True)
        dialog.folder.setText(str(tmp_path / "out"))
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(ExportDialog, "exec", answer)
    window.photo_actions.export_selected()  # one photo is current, none other selected
    assert offered == ["This photo (p0.jpg)", "3 restored photos in family"]
    wait_jobs_done(qtbot, window)
    assert sorted(p.name for p in window.last_export) == [f"p{i}_restored.png" for i in range(3)]


def test_main_thread_never_stalls_while_a_batch_restores(qtbot, setup, tmp_path):
    """Twelve photos restored by a deliberately slow fake (0.25 s each) while a 10 ms timer on the main
    thread measures the longest gap; the window must answer within 100 ms throughout."""
    window, library, loader = setup
    loader.seconds = 0.25
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(12):
        make_photo(folder / f"b{i:02d}.jpg", 40 + 15 * i, size=(640, 480))
    import_folder(qtbot, window, folder)
    window.grid.selectAll()
    meter = StallMeter()
    meter.start()
    window.photo_actions.restore_selected()
    window.tabs.setCurrentIndex(TAB_COMPARE)
    wait_jobs_done(qtbot, window, timeout=30000)
    meter.stop()
    print(f"\nlongest main-thread stall during a 12-photo restore batch: {meter.longest_ms:.1f} ms "
          f"({meter.ticks} ticks)")
    assert all(library.versions.of_photo(p.id) for p in library.photos.all())
    assert meter.ticks > 100
    assert meter.longest_ms < 100


def test_settings_change_resets_services_and_thumbnails(qtbot, setup, monkeypatch):
    window, library, loader = setup
    window.services.restorer(None)

    def answer(dialog):
        dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
        dialog.thumbnail_size.setValue(128)
        dialog.accept()
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(main_window_module.SettingsDialog, "exec", answer)
    window.open_settings()
    assert window.settings.device == "cpu"
    assert window.settings.thumbnail_size == 128
    assert window.grid.iconSize().width() == 128
    window.services.restorer(None)
    assert len(loader.loaded) == 2  # reloaded for the new device


def test_pixels_of_restored_face_differ_in_compare(qtbot, setup, tmp_path):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "four", {"x.png": 100})
    from ented_desktop.core.imageio import read_image_rgb8
    before = read_image_rgb8(photo.path)
    after = read_image_rgb8(library.versions.of_photo(photo.id)[0].path)
    assert int(after[60, 80, 0]) == int(before[60, 80, 0]) + 60  # the face box was brightened
    assert np.array_equal(after[5, 5], before[5, 5])  # outside the face nothing changed


def test_compare_puts_the_divider_in_the_middle_of_each_new_photo(qtbot, setup, tmp_path):
    window, library, _ = setup
    folder = tmp_path / "two"
    folder.mkdir()
    make_photo(folder / "wide.png", 200, size=(300, 120))
    make_photo(folder / "tall.png", 200, size=(60, 200))
    import_folder(qtbot, window, folder)
    photos = {p.path.name: p.id for p in library.photos.all()}
    window.tabs.setCurrentIndex(TAB_COMPARE)
    for name in ("wide.png", "tall.png"):
        window.photos_page.select_photo(photos[name])
        qtbot.waitUntil(lambda: window.photo_image is not None and window.compare.has_before(), timeout=5000)
        target = window.compare.target_rect()
        assert window.compare.split_x() == pytest.approx(target.center().x(), abs=1)
        window.compare.set_split(0.02)  # dragged far left on the wide photo: off the next one at Fit


def shows_whole(combo, text):
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    return combo.fontMetrics().horizontalAdvance(text) <= field.width()


def test_version_names_fit_or_are_elided_with_the_whole_name_as_tooltip(qtbot, setup, tmp_path):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "one", {"x.png": 100})
    window.tabs.setCurrentIndex(TAB_COMPARE)
    combo = window.version_combo
    assert combo.currentText().startswith("1: fake-model, ")
    assert shows_whole(combo, combo.currentText())
    assert combo.toolTip() == combo.currentText()
    model = "ented-lfw128 + Uncle-Justin-Timberlake-personal-20261130-140512"
    library.versions.add(photo.id, np.zeros((120, 160, 3), np.uint8), model=model)
    window.compare_tab.refresh_versions()
    assert "…" in combo.currentText()
    qtbot.waitUntil(lambda: shows_whole(combo, combo.currentText()), timeout=2000)  # once laid out again
    assert combo.toolTip().startswith(f"2: {model}, ")
    assert combo.itemData(1, Qt.ItemDataRole.ToolTipRole) == combo.toolTip()


def test_faces_are_looked_for_while_a_long_import_is_still_running(qtbot, setup, tmp_path):
    window, library, _ = setup
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(130):
        make_photo(folder / f"m{i:03d}.png", i % 250, size=(48, 36))
    detect_started_during_import = []
    window.queue.added.connect(lambda job_id: detect_started_during_import.append(
        window.queue.entries[job_id].kind == "detect"
        and any(e.kind == "import" for e in window.queue.active())))
    import_folder(qtbot, window, folder)
    assert any(detect_started_during_import)
    assert library.photos.needing_faces() == []
    assert len(library.faces.of_person(None)) == 130


def test_finetune_lists_people_and_says_when_no_model_is_installed(qtbot, setup, tmp_path, no_shipped_model):
    window, library, _ = setup
    folder = tmp_path / "five"
    folder.mkdir()
    for i in range(3):
        make_photo(folder / f"f{i}.jpg", 200)
    import_folder(qtbot, window, folder)
    library.people.create("Anna", [f.id for f in library.faces.of_person(None)])
    window.services._finetuner = lambda *a, **k: pytest.fail("must not run without a base model")
    dialog = window.open_finetune()
    assert [(c.name, c.photo_count, len(c.photos)) for c in dialog._candidates] == [("Anna", 3, 3)]
    dialog.start()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=10000)
    assert dialog.status.text().startswith("Fine-tuning failed: No trained ENTED model named 'ented-lfw128'")
    job = next(e for e in window.queue.entries.values() if e.kind == "finetune")
    assert job.state == "failed"
    assert library.jobs.get(job.job_id).error == job.error
    dialog.reject()


def test_real_pipeline_without_a_trained_model_fails_the_job_with_its_sentence(qtbot, setup, tmp_path,
                                                                               no_shipped_model):
    window, library, _ = setup
    window.services = Services(lambda: window.settings, face_finder=lambda s: FakeFaceFinder())
    window.queue.factories = main_window_module.factories(library, window.services)
    folder = tmp_path / "six"
    folder.mkdir()
    make_photo(folder / "a.jpg", 100)
    import_folder(qtbot, window, folder)
    window.photo_actions.restore_selected()
    wait_jobs_done(qtbot, window, timeout=60000)
    job = next(e for e in window.queue.entries.values() if e.kind == "restore")
    assert job.state == "failed"
    assert job.error.startswith("No trained ENTED model named 'ented-lfw128' is installed")
    assert library.jobs.get(job.job_id).error == job.error


def restored_pair_with_a_missing_original(qtbot, window, library, tmp_path):
    """Two photos; the first restored, then its original removed (a drive that is no longer plugged in)."""
    first, second = import_and_restore_first(qtbot, window, library, tmp_path / "drive", {"a.png": 200, "b.png": 60})
    first.path.unlink()
    window.photos_page.select_photo(second.id)
    return first


def test_a_version_can_be_viewed_when_its_original_is_not_reachable(qtbot, setup, tmp_path):
    window, library, _ = setup
    first = restored_pair_with_a_missing_original(qtbot, window, library, tmp_path)
    window.photos_page.select_photo(first.id)
    window.tabs.setCurrentIndex(TAB_COMPARE)
    qtbot.waitUntil(lambda: window.compare.has_after(), timeout=5000)
    assert not window.compare.has_before()
    assert window.statusBar().currentMessage().endswith(
        "the file does not exist. Its restored version is shown alone in Compare.")


def test_a_face_of_an_unreadable_photo_can_be_named(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    first = restored_pair_with_a_missing_original(qtbot, window, library, tmp_path)
    window.photos_page.select_photo(first.id)
    crops = []

    def answer(dialog):
        crops.append(dialog.face.pixmap())
        dialog.name.setEditText("Grandpa")
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(NameFaceDialog, "exec", answer)
    window.faces_page.name_face(library.faces.of_photo(first.id)[0].id)
    settle(qtbot, window)
    assert [p.name for p in library.people.all()] == ["Grandpa"]
    assert crops[0].isNull()  # no pixels to show, and none needed


def test_naming_a_face_crops_the_loaded_photo_without_reading_files(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    folder = tmp_path / "crop"
    folder.mkdir()
    make_photo(folder / "a.png", 200)
    import_folder(qtbot, window, folder)
    window.photos_page.open_photo(library.photos.all()[0].id)
    qtbot.waitUntil(lambda: len(window.faces_view.faces()) == 1, timeout=5000)
    monkeypatch.setattr(library.photos, "thumbnail_path", lambda *a: pytest.fail("no file reads on the main thread"))
    crops = []
    monkeypatch.setattr(NameFaceDialog, "exec",
                        lambda dialog: crops.append(dialog.face.pixmap()) or QDialog.DialogCode.Rejected)
    window.faces_page.name_face(window.faces_view.faces()[0].face_id)
    assert not crops[0].isNull()
    assert crops[0].width() == 96


def test_restored_photos_keep_their_mark_when_the_album_is_shown_again(qtbot, setup, tmp_path):
    window, library, _ = setup
    first, second = import_and_restore_first(qtbot, window, library, tmp_path / "marks", {"a.png": 200, "b.png": 60})
    for album in (ALL_PHOTOS, library.albums.all()[0].id):
        window.photos_page.show_album(album)
        assert {i.photo_id: i.restored for i in window.thumbnails.items()} == {first.id: True, second.id: False}


def test_quitting_when_the_settings_cannot_be_saved_says_so_and_quits(qtbot, setup, tmp_path, monkeypatch):
    window, _, _ = setup
    (tmp_path / "blocker").write_text("a file where the settings folder should be")
    window.settings_path = tmp_path / "blocker" / "settings.json"
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    assert window.close()
    assert len(shown) == 1
    assert "could not be saved" in shown[0]


# -- renaming and removing albums, photos and versions ---------------------------------------------------
def answer_removal(monkeypatch, choice):
    """Answer every removal question with the ``choice`` button ("remove", "export" or "cancel"); returns what
    was asked: (title, question, details, button texts) per question."""
    asked = []

    def exec_(box):
        buttons = [b for b in (box.remove_button, box.export_button, box.cancel_button) if b is not None]
        assert sorted(box.buttons(), key=id) == sorted(buttons, key=id)
        asked.append((box.windowTitle(), box.text(), box.informativeText(), [b.text() for b in buttons]))
        getattr(box, f"{choice}_button").click()
    monkeypatch.setattr(ConfirmRemoval, "exec", exec_)
    return asked


def two_albums(qtbot, window, library, tmp_path):
    """Album "family" (a, b, c) and album "best" (b); a restored twice, b once; Grandma's reference is a's face.
    Returns the photos by name and the originals' bytes by path."""
    folder = tmp_path / "family"
    folder.mkdir()
    for name, shade in (("a.png", 200), ("b.png", 150), ("c.png", 60)):
        make_photo(folder / name, shade)
    import_folder(qtbot, window, folder)
    family = library.albums.all()[0].id
    best = library.albums.create("best")
    window.import_paths([folder / "b.png"], best)
    wait_jobs_done(qtbot, window)
    photos = {p.path.name: p for p in library.photos.all()}
    for ids in ([photos["a.png"].id, photos["b.png"].id], [photos["a.png"].id]):
        window.queue.submit("restore", {"photo_ids": ids})
        wait_jobs_done(qtbot, window)
    grandma = library.people.create("Grandma", [library.faces.of_photo(photos["a.png"].id)[0].id])
    library.references.set_face(grandma, library.faces.of_photo(photos["a.png"].id)[0].id)
    window.people_panel.refresh()
    window.current_album = family
    window.photos_page.refresh_albums()
    window.photos_page.show_album(family)
    return photos, {p.path: p.path.read_bytes() for p in photos.values()}


def album_names(window):
    return [window.albums.item(i).text() for i in range(window.albums.count())]


def test_album_menu_and_keys_act_on_the_album_and_never_on_all_photos(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    two_albums(qtbot, window, library, tmp_path)
    menu = window.album_menu(True)
    assert [a.text() for a in menu.actions() if not a.isSeparator()] == [
        "Rename album…", "Delete album…", "New album…", "Restore album"]
    assert window.act_rename_album.isEnabled()
    assert window.act_delete_album.isEnabled()
    assert [a.text() for a in window.album_menu(False).actions()] == ["New album…", "Restore album"]
    asked_names, asked_removals = [], answer_removal(monkeypatch, "cancel")
    monkeypatch.setattr(main_window_module.QInputDialog, "getText",
                        lambda *a, **k: asked_names.append(k["text"]) or ("", False))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.albums.setFocus()
    qtbot.keyClick(window.albums, Qt.Key.Key_F2)
    qtbot.keyClick(window.albums, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(asked_removals), timeout=5000)
    assert asked_names == ["family"]
    assert asked_removals[0][1] == 'Delete the album "family"?'
    window.albums.setCurrentRow(0)  # All photos: nothing to rename, delete or remove from
    assert window.current_album == ALL_PHOTOS
    assert not any(a.isEnabled() for a in (window.act_rename_album, window.act_delete_album,
                                           window.act_remove_photos))
    settle(qtbot, window)  # the photo shown is loaded
    window.rename_album()
    window.removal.delete_album()
    assert window.calls.idle()  # nothing was asked for in the background either
    assert asked_names == ["family"]
    assert len(asked_removals) == 1


def test_renaming_an_album_and_its_cancel_and_failure_paths(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    two_albums(qtbot, window, library, tmp_path)
    family = window.current_album
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warnings.append(text))
    answers = iter([("Summer  1975 ", True), ("ignored", False), ("   ", True), ("BEST", True)])
    monkeypatch.setattr(main_window_module.QInputDialog, "getText", lambda *a, **k: next(answers))
    window.rename_album()
    settle(qtbot, window)
    assert library.albums.get(family).name == "Summer 1975"
    assert "Summer 1975 (3)" in album_names(window)
    assert window.albums.currentItem().text() == "Summer 1975 (3)"
    assert window.current_album == family
    window.rename_album()  # cancelled
    window.rename_album()  # an empty name
    settle(qtbot, window)
    window.rename_album()  # the other album's name
    settle(qtbot, window)
    assert library.albums.get(family).name == "Summer 1975"
    assert warnings == ["An album needs a name.",
                        'There is already an album called "best"; choose another name.']
    library.albums.delete(family)  # gone behind the window's back
    window.rename_album()
    assert warnings[-1] == "That album is no longer in the library."
    assert window.current_album == ALL_PHOTOS
    assert window.albums.currentRow() == 0
    best = library.albums.all()[0].id
    window.albums.setCurrentRow(1)
    library.albums.delete(best)
    window.removal.delete_album()
    qtbot.waitUntil(lambda: len(warnings) == 4, timeout=5000)
    assert warnings[-1] == "Nothing was removed: That album is no longer in the library."
    assert window.current_album == ALL_PHOTOS
    assert album_names(window) == ["All photos (0)"]


def test_deleting_an_album_says_what_goes_and_never_touches_an_original(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    photos, originals = two_albums(qtbot, window, library, tmp_path)
    a, b, c = photos["a.png"], photos["b.png"], photos["c.png"]
    a_files = [v.path for v in library.versions.of_photo(a.id)]
    window.photos_page.select_photo(a.id)
    asked = answer_removal(monkeypatch, "cancel")
    window.removal.delete_album()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    title, question, details, buttons = asked[0]
    assert (title, question) == ("Delete album", 'Delete the album "family"?')
    assert details.split("\n\n") == [
        "The original files on disk are not touched.",
        "1 photo is also in another album and stays in the library.",
        "2 photos are in no other album: they leave the library, with their faces.",
        "2 restored versions of these photos will be deleted. Export first to keep them.",
        "Grandma's reference face is on one of these photos: Grandma will need a new reference."]
    assert buttons == ["Delete album", "Export first…", "Cancel"]
    assert len(library.albums.all()) == 2
    assert len(library.photos.all()) == 3
    assert all(p.is_file() for p in a_files)

    asked = answer_removal(monkeypatch, "remove")
    window.removal.delete_album()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert [al.name for al in library.albums.all()] == ["best"]
    assert [p.id for p in library.photos.all()] == [b.id]
    assert len(library.versions.of_photo(b.id)) == 1
    assert not any(p.exists() for p in a_files)
    assert library.people.get(library.people.all()[0].id).reference_face_id is None
    assert {p: p.read_bytes() for p in originals} == originals  # every original, even of the photos that left
    # the window shows what is left: every photo, b chosen, nothing of a anywhere
    assert window.current_album == ALL_PHOTOS
    assert (album_names(window) == [
           "All photos (1)", "best (1)"])
    assert [i.photo_id for i in window.thumbnails.items()] == [b.id]
    assert window.current_photo == b.id
    assert not window.thumbnails.is_loaded(a.id)
    assert not window.thumbnails.is_loaded(c.id)
    assert "no reference" in window.people_panel.people.item(0).text()  # the panel shows it at once
    assert window.statusBar().currentMessage() == (
        'Deleted the album "family"; 2 photos left the library and 2 restored versions were deleted. '
        "The originals on disk are untouched.")


def test_deleting_the_last_album_leaves_nothing_chosen_and_nothing_fails(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "only", {"x.png": 100})
    window.tabs.setCurrentIndex(TAB_COMPARE)
    qtbot.waitUntil(lambda: window.compare.has_after(), timeout=5000)
    asked = answer_removal(monkeypatch, "remove")
    window.removal.delete_album()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert library.photos.all() == []
    assert photo.path.is_file()
    assert window.current_photo is None
    assert window.current_version is None
    assert window.thumbnails.rowCount() == 0
    assert not window.compare.has_before()
    assert not window.compare.has_after()
    assert window.face_list.count() == 0
    assert window.version_combo.currentText() == "No photo selected"
    assert window.compare_report.count() == 0
    assert not window.grid_empty.isHidden()
    assert window.photo_actions.export_scopes() == []
    window.photo_actions.restore_selected()
    assert window.statusBar().currentMessage() == "Select photos to restore first."


def test_export_first_exports_what_would_be_deleted_and_removes_nothing(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    photos, _ = two_albums(qtbot, window, library, tmp_path)
    offered = []

    def export(dialog):
        offered.extend(b.text() for b in dialog.scope_buttons.buttons())
        dialog.scope_buttons.buttons()[1].setChecked(True)
        dialog.folder.setText(str(tmp_path / "kept"))
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(ExportDialog, "exec", export)
    asked = answer_removal(monkeypatch, "export")
    window.removal.delete_album()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert offered == ["The newest restored version of the photo leaving the library",
                       "All 2 restored versions that would be deleted"]
    wait_jobs_done(qtbot, window)
    assert len(window.last_export) == 2
    assert all(p.parent == tmp_path / "kept" for p in window.last_export)
    assert len(library.albums.all()) == 2
    assert len(library.versions.of_photo(photos["a.png"].id)) == 2


def test_removing_photos_from_an_album(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    photos, originals = two_albums(qtbot, window, library, tmp_path)
    a, b, c = photos["a.png"], photos["b.png"], photos["c.png"]
    rows = {i.photo_id: row for row, i in enumerate(window.thumbnails.items())}
    window.grid.setCurrentIndex(window.thumbnails.index(rows[b.id]))
    for photo in (a, b):
        window.grid.selectionModel().select(window.thumbnails.index(rows[photo.id]),
                                            QItemSelectionModel.SelectionFlag.Select)
    assert window.grid_menu().actions()[-1] is window.act_remove_photos
    assert window.act_remove_photos.isEnabled()
    asked = answer_removal(monkeypatch, "cancel")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    title, question, details, buttons = asked[0]
    assert (title, question) == ("Remove from album", 'Remove 2 photos from the album "family"?')
    assert "1 photo is also in another album and stays in the library." in details
    assert "1 photo is in no other album: it leaves the library, with its faces." in details
    assert "2 restored versions of this photo will be deleted. Export first to keep them." in details
    assert buttons == ["Remove from album", "Export first…", "Cancel"]
    assert len(library.photos.all(window.current_album)) == 3

    asked = answer_removal(monkeypatch, "remove")
    window.removal.remove_selected_photos()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert [p.id for p in library.photos.all(window.current_album)] == [c.id]
    assert {p.id for p in library.photos.all()} == {b.id, c.id}
    assert library.versions.of_photo(b.id)
    assert [i.photo_id for i in window.thumbnails.items()] == [c.id]
    assert window.current_photo == c.id
    assert window.albums.currentItem().text() == "family (1)"
    assert {p: p.read_bytes() for p in originals} == originals
    assert window.statusBar().currentMessage() == (
        'Removed 2 photos from "family"; 1 stays in the library (it is in another album); 1 photo left the library '
        "and 2 restored versions were deleted. The originals on disk are untouched.")


def test_removing_a_photo_that_is_queued_for_restoring(qtbot, setup, tmp_path, monkeypatch):
    """A restore job waiting for a photo that leaves the library skips it: no version, no failure."""
    window, library, loader = setup
    a, b = import_shades(qtbot, window, library, tmp_path / "queued", {"a.png": 200, "b.png": 60})
    loader.seconds = 1.0
    window.queue.submit("restore", {"photo_ids": [b.id]})  # keeps the next one waiting
    job = window.queue.submit("restore", {"photo_ids": [a.id, b.id]})
    window.grid.setCurrentIndex(window.thumbnails.index(window.thumbnails.row_of(a.id)))
    asked = answer_removal(monkeypatch, "remove")
    window.removal.remove_selected_photos()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert window.queue.waiting(job)
    assert [p.id for p in library.photos.all()] == [b.id]
    assert "An unfinished job includes 1 photo that will leave the library; it will skip it." in asked[0][2]
    wait_jobs_done(qtbot, window)
    assert window.queue.entries[job].state == "done"
    assert window.queue.entries[job].text == "Restored 1 of 1 photo. 1 photo had left the library meanwhile."
    assert len(library.versions.of_photo(b.id)) == 2
    assert not (library.directory / "versions" / str(a.id)).exists()


def test_a_photo_imported_after_the_newest_was_removed_gets_its_faces_found(qtbot, setup, tmp_path, monkeypatch):
    """Before schema version 5 SQLite gave the removed photo's id to the next one, whose faces went unlooked for."""
    window, library, _ = setup
    first, second = import_and_restore_first(qtbot, window, library, tmp_path / "old", {"a.png": 200, "b.png": 60})
    window.grid.setCurrentIndex(window.thumbnails.index(window.thumbnails.row_of(second.id)))
    answer_removal(monkeypatch, "remove")
    window.removal.remove_selected_photos()
    qtbot.waitUntil(lambda: [p.id for p in library.photos.all()] == [first.id], timeout=5000)
    folder = tmp_path / "new"
    folder.mkdir()
    make_photo(folder / "n.png", 120)
    import_folder(qtbot, window, folder)
    new = next(p for p in library.photos.all() if p.path.name == "n.png")
    assert new.id > second.id
    assert len(library.faces.of_photo(new.id)) == 1


def answer_removals(monkeypatch, *answers):
    """Answer the removal questions in turn: each answer is a button ("remove", "export", "cancel"), or a
    (function, button) pair whose function runs while the question is open. Returns what was asked."""
    asked, queue = [], list(answers)

    def exec_(box):
        asked.append((box.windowTitle(), box.text(), box.informativeText()))
        meanwhile, choice = queue.pop(0) if isinstance(queue[0], tuple) else (None, queue.pop(0))
        if meanwhile is not None:
            meanwhile()
        getattr(box, f"{choice}_button").click()
    monkeypatch.setattr(ConfirmRemoval, "exec", exec_)
    return asked


def test_versions_made_while_the_question_is_open_are_asked_about_before_being_deleted(qtbot, setup, tmp_path,
                                                                                         monkeypatch):
    window, library, _ = setup
    photos, _ = two_albums(qtbot, window, library, tmp_path)
    a, c = photos["a.png"], photos["c.png"]
    pixels = np.full((16, 16, 3), 128, np.uint8)

    def restore_jobs_go_on(n):
        return lambda: [library.versions.add(p, pixels, model="fake") for p in (a.id, c.id) * n]
    asked = answer_removals(monkeypatch, (restore_jobs_go_on(1), "remove"), "cancel")
    window.removal.delete_album()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=5000)
    assert "2 restored versions of these photos will be deleted." in asked[0][2]
    details = asked[1][2].split("\n\n")
    assert details[0].startswith("Nothing was removed yet")
    assert "4 restored versions of these photos will be deleted. Export first to keep them." in details
    assert len(library.albums.all()) == 2
    assert len(library.versions.of_photo(a.id)) == 3  # cancelled: nothing removed

    # made again while asked again: asked a third time; fewer (one deleted meanwhile) is no reason to ask
    versions = [v.id for v in library.versions.of_photo(a.id)]
    asked = answer_removals(monkeypatch, (restore_jobs_go_on(1), "remove"), (restore_jobs_go_on(2), "remove"),
                            (lambda: library.versions.delete(versions[0]), "remove"))
    window.removal.delete_album()
    qtbot.waitUntil(lambda: len(asked) == 3, timeout=5000)
    settle(qtbot, window)
    assert "6 restored versions of these photos will be deleted." in asked[1][2]
    assert "10 restored versions of these photos will be deleted." in asked[2][2]
    assert [al.name for al in library.albums.all()] == ["best"]
    assert ({p.id for p in library.photos.all()} == {
           photos["b.png"].id})
    assert window.statusBar().currentMessage() == (
        'Deleted the album "family"; 2 photos left the library and 9 restored versions were deleted. '
        "The originals on disk are untouched.")


def test_what_would_be_lost_is_compared_photo_by_photo_and_version_by_version():
    asked = RemovalCost("family", (1, 2), (1,), (10, 11), (11,), ())
    assert not more_lost(asked, asked)
    assert not more_lost(asked, RemovalCost("family", (1, 2), (1,), (10,), (10,), ()))  # one deleted meanwhile
    assert more_lost(asked, RemovalCost("family", (1, 2), (1,), (10, 12), (12,), ()))  # as many, one unknown
    assert more_lost(asked, RemovalCost("family", (1, 2), (1, 2), (10, 11), (11,), ()))  # 2 was to stay
    assert more_lost(asked, RemovalCost("family", (1, 2), (1,), (10, 11), (11,), ("Grandma",)))
    # a photo imported into the album since: the question said the import stops, its original stays on disk
    assert not more_lost(asked, RemovalCost("family", (1, 2, 3), (1, 3), (10, 11), (11,), ()))


def test_removing_needs_a_photo_shown_selected_and_names_a_single_one(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    photos, _ = two_albums(qtbot, window, library, tmp_path)
    a, b, c = photos["a.png"], photos["b.png"], photos["c.png"]
    rows = {i.photo_id: row for row, i in enumerate(window.thumbnails.items())}
    window.grid.setCurrentIndex(window.thumbnails.index(rows[b.id]))  # current and selected: shown so
    asked = answer_removal(monkeypatch, "remove")
    window.removal.remove_selected_photos()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert asked[0][1] == 'Remove "b.png" from the album "family"?'
    assert window.statusBar().currentMessage() == (
        'Removed 1 photo from "family"; it stays in the library (it is in another album).')
    # the next photo took b's place as the current one, not selected (not highlighted): Del takes nothing out
    assert window.current_photo in (a.id, c.id)
    assert not window.grid.selectionModel().selectedIndexes()
    asked = answer_removal(monkeypatch, "remove")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    assert window.calls.idle()  # nothing was counted in the background, so no question can come
    assert asked == []
    assert window.statusBar().currentMessage() == "Select the photos to remove first."
    assert len(library.photos.all(window.current_album)) == 2
    name = library.photos.get(window.current_photo).path.name
    window.grid.selectionModel().select(window.grid.currentIndex(), QItemSelectionModel.SelectionFlag.Select)
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    settle(qtbot, window)
    assert asked[0][1] == f'Remove "{name}" from the album "family"?'
    assert window.statusBar().currentMessage().startswith('Removed 1 photo from "family"; it left the library')


def test_the_removal_summary_says_which_photos_stay_and_which_left_in_the_right_number():
    def done(taken, leaving, versions):
        return RemovalCost("Family B", tuple(range(taken)), tuple(range(leaving)), tuple(range(versions)), (), ())
    assert removal_summary(done(3, 0, 0), album_deleted=False) == (
        'Removed 3 photos from "Family B"; they stay in the library (they are in other albums).')
    assert removal_summary(done(3, 2, 1), album_deleted=False) == (
        'Removed 3 photos from "Family B"; 1 stays in the library (it is in another album); 2 photos left the '
        "library and 1 restored version was deleted. The originals on disk are untouched.")
    assert removal_summary(done(1, 0, 0), album_deleted=True) == (
        'Deleted the album "Family B"; its photo stays in the library (it is in another album).')
    assert removal_summary(done(0, 0, 0), album_deleted=True) == 'Deleted the album "Family B" (it was empty).'


def test_the_removal_question_counts_the_unfinished_jobs_and_names_an_import_into_the_album():
    def entry(job_id, kind, state="queued", **payload):
        return JobEntry(job_id, kind, "", state, payload=payload)
    jobs = [entry(1, "restore", photo_ids=[1, 2]), entry(2, "detect", "running", photo_ids=[2, 3]),
            entry(3, "restore", photo_ids=[9]), entry(4, "export", version_ids=[7]),
            entry(5, "export", "paused", version_ids=[8]), entry(6, "import", "paused", album_id=4, paths=["x"])]
    assert unfinished_job_notes(jobs, [1, 2, 3], [7, 8], 4) == [
        "Unfinished jobs include 3 photos that will leave the library; they will skip them.",
        "Unfinished exports include 2 restored versions that will be deleted; they will skip them.",
        "An import into this album is not finished; it will stop."]
    assert unfinished_job_notes(jobs, [1], [8], 5) == [  # another album's import goes on
        "An unfinished job includes 1 photo that will leave the library; it will skip it.",
        "An unfinished export includes 1 restored version that will be deleted; it will skip it."]
    assert unfinished_job_notes(jobs + [entry(7, "import", album_id=4)], [], [], 4) == [
        "2 imports into this album are not finished; they will stop."]
    assert unfinished_job_notes(jobs, [], [], None) == []  # photos taken out of the album: the import goes on


def test_deleting_an_album_an_import_into_it_is_not_finished_says_the_import_will_stop(qtbot, setup, tmp_path,
                                                                                       monkeypatch):
    window, library, _ = setup
    photos, _ = two_albums(qtbot, window, library, tmp_path)
    family = window.current_album
    more = tmp_path / "more"
    more.mkdir()
    make_photo(more / "d.png", 100)
    go_on, real = threading.Event(), window.queue.factories["import"]

    def held(payload):  # an import that waits until told to go on
        work = real(payload)

        def run(control):
            go_on.wait(10)
            return (yield from work(control))
        return run
    monkeypatch.setitem(window.queue.factories, "import", held)
    window.import_paths([more], family)
    asked = answer_removal(monkeypatch, "cancel")
    try:
        window.removal.delete_album()
        qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    finally:
        go_on.set()
    assert asked[0][2].endswith("An import into this album is not finished; it will stop.")
    wait_jobs_done(qtbot, window)
    assert len(library.photos.all(family)) == 4
    asked = answer_removal(monkeypatch, "cancel")
    window.grid.setCurrentIndex(window.thumbnails.index(0))
    window.removal.remove_selected_photos()  # taking photos out of the album: an import into it would go on
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert "import" not in asked[0][2]


def test_deleting_versions_shows_the_next_one_then_the_original(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "v", {"x.png": 100})
    original = photo.path.read_bytes()
    for _ in range(2):
        window.queue.submit("restore", {"photo_ids": [photo.id]})
        wait_jobs_done(qtbot, window)
    first, second, third = (v.id for v in library.versions.of_photo(photo.id))
    window.tabs.setCurrentIndex(TAB_COMPARE)
    window.version_combo.setCurrentIndex(1)
    assert window.current_version == second
    assert window.act_delete_version.isEnabled()
    assert window.compare_menu().actions()[-1] is window.act_delete_version
    asked = answer_removal(monkeypatch, "cancel")
    window.removal.delete_version()
    title, question, details, buttons = asked[0]
    assert (title, question) == ("Delete restored version", 'Delete restored version 2 of "x.png"?')
    assert "the original photo, the other restored versions and any copies you exported are not touched" in details
    assert buttons == ["Delete version", "Export first…", "Cancel"]
    assert len(library.versions.of_photo(photo.id)) == 3

    answer_removal(monkeypatch, "remove")
    window.removal.delete_version()  # the middle one: the next newer one is shown
    settle(qtbot, window)
    assert [v.id for v in library.versions.of_photo(photo.id)] == [first, third]
    assert window.current_version == third
    qtbot.waitUntil(lambda: window.version_image is not None and window.compare.has_after(), timeout=5000)
    assert window.version_combo.currentText().startswith("2: ")
    window.removal.delete_version()  # the newest: the one before it
    settle(qtbot, window)
    assert window.current_version == first
    window.removal.delete_version()  # the last one: the original, and the photo is no longer marked restored
    settle(qtbot, window)
    assert library.versions.of_photo(photo.id) == []
    assert window.current_version is None
    assert not window.compare.has_after()
    assert window.compare.has_before()
    assert window.version_combo.currentText() == "Not restored yet"
    assert not window.act_delete_version.isEnabled()
    assert not window.thumbnails.items()[0].restored
    assert photo.path.read_bytes() == original
    assert list((library.directory / "versions" / str(photo.id)).iterdir()) == []


def test_a_version_deleted_meanwhile_is_said_plainly(qtbot, setup, tmp_path, monkeypatch):
    window, library, _ = setup
    (photo,) = import_and_restore_first(qtbot, window, library, tmp_path / "gone", {"x.png": 100})
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warnings.append(text))

    def meanwhile(box):
        library.versions.delete(window.current_version)
        box.remove_button.click()
    monkeypatch.setattr(ConfirmRemoval, "exec", meanwhile)
    window.removal.delete_version()
    settle(qtbot, window)
    assert warnings == ["That restored version is no longer in the library."]
    assert window.current_version is None
    assert window.version_combo.currentText() == "Not restored yet"


def test_the_people_menu_renames_the_selected_person(qtbot, setup, monkeypatch):
    window, library, _ = setup
    person = library.people.create("Anna")
    window.people_panel.refresh()
    window.people_panel.select_person(person)
    people_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&People")
    texts = [a.text() for a in people_menu.actions() if not a.isSeparator()]
    assert texts[-3:] == ["Rename person…", "Merge person into…", "Delete person…"]
    monkeypatch.setattr("ented_desktop.gui.people_panel.QInputDialog.getText", lambda *a, **k: ("Anne", True))
    next(a for a in people_menu.actions() if a.text() == "Rename person…").trigger()
    qtbot.waitUntil(lambda: library.people.get(person).name == "Anne", timeout=5000)


def test_restoring_the_photos_of_a_person_with_no_faces_says_so(qtbot, setup):
    window, library, _ = setup
    person = library.people.create("Colin")
    window.people_panel.refresh()
    window.people_panel.select_person(person)
    window.act_restore_person.trigger()
    assert window.statusBar().currentMessage() == "Colin has no faces yet, so there are no photos of them to restore."
    assert window.queue.active() == []
