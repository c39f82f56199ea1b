"""People panel: list, a dropped image becomes the reference, suggestions confirm or reject in one click."""

import threading

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from ented_desktop.core.library import Library
from ented_desktop.gui.name_face_dialog import NameFaceDialog
from ented_desktop.gui.people_panel import PeoplePanel, dropped_image, reference_text

from .fakes import FakeFaceFinder, make_photo


def make_library(tmp_path, shades):
    """A library with one photo per shade (in that order), each with its face found; bright faces are the
    sharpest (their edges have the most contrast)."""
    lib = Library(tmp_path / "lib")
    album = lib.create_album("a")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, shade in enumerate(shades):
        make_photo(folder / f"p{i}.jpg", shade)
    for _ in lib.import_paths(album, [folder]):
        pass
    finder = FakeFaceFinder()
    from ented_desktop.core.imageio import read_image_rgb8

    for photo in lib.photos():
        faces, embeddings = finder.find(read_image_rgb8(photo.path))
        lib.set_faces(photo.id, faces, embeddings, finder.name)
    return lib


@pytest.fixture
def library(tmp_path):
    lib = make_library(tmp_path, (200, 200, 200, 60, 60))
    yield lib
    lib.close()


def fake_face_check(path):
    """Stands in for gui.reference_check.shows_a_face: images named no_face* have none."""
    return not path.stem.startswith("no_face")


@pytest.fixture
def panel(qtbot, library):
    widget = PeoplePanel(library, fake_face_check)
    qtbot.addWidget(widget)
    widget.resize(380, 700)
    widget.show()
    yield widget
    widget.calls.shutdown()


def drop_on(widget, point, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, QDragEnterEvent(point, *args))
    QApplication.sendEvent(widget, QDragMoveEvent(point, *args))
    QApplication.sendEvent(widget, QDropEvent(QPointF(point), *args))


def test_suggestions_group_unnamed_faces_and_confirm_names_them(qtbot, panel, library, monkeypatch):
    qtbot.waitUntil(lambda: len(panel._suggestion_rows) == 2, timeout=5000)
    texts = sorted(r.text.text() for r in panel._suggestion_rows)
    assert texts == [f"{n} unnamed faces look like the same person." for n in (2, 3)]
    bright = next(i for i, s in enumerate(panel._suggestions) if len(s.face_ids) == 3)
    monkeypatch.setattr("ented_desktop.gui.people_panel.QInputDialog.getText", lambda *a, **k: ("Anna", True))
    panel._suggestion_rows[bright].confirm.click()
    assert [(p.name, p.face_count) for p in library.people()] == [("Anna", 3)]
    qtbot.waitUntil(lambda: len(panel._suggestion_rows) == 1, timeout=5000)
    panel._suggestion_rows[0].reject.click()
    qtbot.waitUntil(lambda: panel.suggestions_empty.isVisible(), timeout=5000)
    assert library.suggest_groups() == []


def test_dropping_an_image_on_a_person_makes_it_their_reference(qtbot, panel, library, tmp_path):
    person = library.create_person("Grandpa", [library.faces_of_person(None)[0].id])
    panel.refresh()
    image = make_photo(tmp_path / "portrait.png", 180, size=(200, 200))
    item_rect = panel.people.visualItemRect(panel.people.item(0))
    drop_on(panel.people.viewport(), item_rect.center(), [tmp_path / "notes.txt", image])
    qtbot.waitUntil(lambda: library.person(person).reference_image is not None, timeout=5000)
    stored = library.person(person).reference_image
    assert stored.read_bytes() == image.read_bytes()
    assert "an image you added" in panel.detail.text()


def test_a_dropped_non_image_is_refused(qtbot, panel, library, tmp_path):
    library.create_person("Grandpa")
    panel.refresh()
    text = tmp_path / "notes.txt"
    text.write_text("no")
    assert dropped_image([text]) is None
    drop_on(panel.people.viewport(), panel.people.visualItemRect(panel.people.item(0)).center(), [text])
    assert library.people()[0].reference_image is None


def test_suggested_reference_is_explained_and_accepted(qtbot, panel, library):
    faces = [f.id for f in library.faces_of_person(None)][:3]
    person = library.create_person("Anna", faces)
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "Suggested:" in panel.detail.text()
    panel.use_suggested.click()
    assert library.person(person).reference_face_id in faces
    assert not panel.use_suggested.isEnabled()


def test_reference_text_says_what_is_used():
    class P:
        reference_image = None
        reference_face_id = None

    assert "looking for the best face" in reference_text(P(), None, pending=True)
    assert "no usable face" in reference_text(P(), None, pending=False)


def test_name_dialog_matches_existing_people_ignoring_case(qtbot, library):
    anna = library.create_person("Anna")
    dialog = NameFaceDialog(library.people())
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()
    dialog.name.setEditText("anna ")
    assert dialog.ok.isEnabled() and dialog.person_id() == anna
    dialog.name.setEditText("Bert")
    assert dialog.person_id() is None and dialog.new_name() == "Bert"


def test_reference_picker_ranks_faces_with_reasons(qtbot, library):
    from ented_desktop.gui.reference_picker import ReferencePicker

    faces = [f.id for f in library.faces_of_person(None)][:3]
    person = library.create_person("Anna", faces)
    picker = ReferencePicker(library, person)
    qtbot.addWidget(picker)
    qtbot.waitUntil(lambda: picker.faces.item(0).text().startswith("★ Suggested"), timeout=5000)
    best = library.suggest_reference(person)
    assert picker.face_id() == best.face_id
    assert best.why in picker.faces.item(0).text()
    assert picker.faces.item(0).toolTip().endswith("higher is sharper.")
    picker.faces.setCurrentRow(2)
    chosen = picker.face_id()
    picker.accept()
    assert chosen in faces


def test_reference_picker_preselects_the_suggested_face_though_the_list_took_focus_first(qtbot, tmp_path):
    from ented_desktop.gui.reference_picker import ReferencePicker

    library = make_library(tmp_path, (60, 200, 60))  # the first face is not the best one
    person = library.create_person("Anna", [f.id for f in library.faces_of_person(None)])
    ranked = threading.Event()
    rank = library.reference_candidates
    library.reference_candidates = lambda pid: ranked.wait(5) and rank(pid)  # the ranking takes its time
    picker = ReferencePicker(library, person)
    qtbot.addWidget(picker)
    picker.show()
    qtbot.waitExposed(picker)
    picker.faces.setFocus()  # Qt makes the first face current when the list gets the focus
    ranked.set()
    qtbot.waitUntil(lambda: picker.faces.item(0).text().startswith("★ Suggested"), timeout=5000)
    assert picker.face_id() == rank(person)[0].face_id
    assert picker.faces.currentRow() == 0
    picker.reject()
    library.close()


def test_suggested_reference_stays_offered_until_it_is_the_reference(qtbot, panel, library):
    faces = [f.id for f in library.faces_of_person(None)][2:]  # one bright (sharp) face, two dark ones
    person = library.create_person("Anna", faces)
    best = library.suggest_reference(person).face_id
    blurry = next(f for f in faces if f != best)
    library.set_reference_face(person, blurry)
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "a face you picked" in panel.detail.text() and "Suggested:" in panel.detail.text()
    panel.set_reference_face(person, best)  # picked by hand in the picker
    qtbot.waitUntil(lambda: "the suggested face" in panel.detail.text(), timeout=5000)
    assert not panel.use_suggested.isEnabled()


def test_a_reference_file_without_a_face_is_refused_and_the_reference_kept(qtbot, panel, library, tmp_path,
                                                                           monkeypatch):
    face = library.faces_of_person(None)[0].id
    person = library.create_person("Little Tom", [face])
    library.set_reference_face(person, face)
    panel.refresh()
    panel.select_person(person)
    warnings = []
    monkeypatch.setattr("ented_desktop.gui.people_panel.QMessageBox.warning",
                        lambda parent, title, text: warnings.append(text))
    statuses = []
    panel.message.connect(statuses.append)
    picture = make_photo(tmp_path / "no_face.png", 180)
    monkeypatch.setattr("ented_desktop.gui.people_panel.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(picture), ""))
    panel.choose_reference_file()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert warnings == ["No face was found in no_face.png; choose a photo that shows Little Tom's face."]
    assert statuses[-1] == warnings[0]
    assert library.person(person).reference_face_id == face and library.person(person).reference_image is None

    unreadable = tmp_path / "broken.png"
    unreadable.write_bytes(b"not a picture")
    panel.set_reference_image(person, unreadable)
    qtbot.waitUntil(lambda: len(warnings) == 2, timeout=5000)
    assert "broken.png" in warnings[1] and library.person(person).reference_face_id == face


def test_counts_of_one_read_in_the_singular_and_sharpness_is_explained(qtbot, panel, library):
    from ented_desktop.gui.wording import SHARPNESS_TIP

    faces = [f.id for f in library.faces_of_person(None)]  # three bright faces, then two dark ones
    anna = library.create_person("Anna", faces[:2])
    library.create_person("Bob", faces[3:4])
    panel.refresh()
    qtbot.waitUntil(lambda: sorted(r.text.text() for r in panel._suggestion_rows) == [
        "1 unnamed face looks like Anna.", "1 unnamed face looks like Bob."], timeout=5000)
    assert [panel.people.item(i).text().splitlines()[1] for i in range(2)] == [
        "2 faces · no reference", "1 face · no reference"]
    panel.select_person(anna)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "sharpest (" in panel.detail.text() and panel.detail.toolTip() == SHARPNESS_TIP
