"""People panel: list, a dropped image becomes the reference, suggestions confirm or reject in one click; people
are renamed, merged and deleted, and faces taken away from them, through the real menus, keys and dialogs."""

import threading

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QContextMenuEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from ented_desktop.core import people_suggest
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import Library
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.name_face_dialog import NameFaceDialog
from ented_desktop.gui.people_list import FaceIdRole, dropped_image
from ented_desktop.gui.people_panel import PeoplePanel
from ented_desktop.gui.person_reference import reference_text

from .fakes import FakeFaceFinder, make_photo


def make_library(tmp_path, shades):
    """A library with one photo per shade (in that order), each with its face found; bright faces are the
    sharpest (their edges have the most contrast)."""
    lib = Library(tmp_path / "lib")
    album = lib.albums.create("a")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, shade in enumerate(shades):
        make_photo(folder / f"p{i}.jpg", shade)
    for _ in lib.photos.import_paths(album, [folder]):
        pass
    finder = FakeFaceFinder()
    for photo in lib.photos.all():
        faces, embeddings = finder.find(read_image_rgb8(photo.path))
        lib.faces.record(photo.id, faces, embeddings, finder.name)
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
    panel.tabs.setCurrentWidget(panel.suggestions)
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 2, timeout=5000)
    texts = sorted(r.text.text() for r in panel.group_suggestions.rows)
    assert texts == [f"{n} unnamed faces look like the same person." for n in (2, 3)]
    bright = next(i for i, s in enumerate(panel.group_suggestions.suggestions) if len(s.face_ids) == 3)
    monkeypatch.setattr("ented_desktop.gui.people_panel.QInputDialog.getText", lambda *a, **k: ("Anna", True))
    panel.group_suggestions.rows[bright].confirm.click()
    qtbot.waitUntil(panel.calls.idle, timeout=5000)
    assert [(p.name, p.face_count) for p in library.people.all()] == [("Anna", 3)]
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    panel.group_suggestions.rows[0].reject.click()
    qtbot.waitUntil(lambda: panel.suggestions_empty.isVisible(), timeout=5000)
    assert library.grouping.suggest() == []


def test_dropping_an_image_on_a_person_makes_it_their_reference(qtbot, panel, library, tmp_path):
    person = library.people.create("Grandpa", [library.faces.of_person(None)[0].id])
    panel.refresh()
    image = make_photo(tmp_path / "portrait.png", 180, size=(200, 200))
    item_rect = panel.people.visualItemRect(panel.people.item(0))
    drop_on(panel.people.viewport(), item_rect.center(), [tmp_path / "notes.txt", image])
    qtbot.waitUntil(lambda: library.people.get(person).reference_image is not None, timeout=5000)
    qtbot.waitUntil(panel.calls.idle, timeout=5000)  # the panel has heard of it
    stored = library.people.get(person).reference_image
    assert stored.read_bytes() == image.read_bytes()
    assert "an image you added" in panel.detail.text()


def test_a_dropped_non_image_is_refused(qtbot, panel, library, tmp_path):
    library.people.create("Grandpa")
    panel.refresh()
    text = tmp_path / "notes.txt"
    text.write_text("no")
    assert dropped_image([text]) is None
    drop_on(panel.people.viewport(), panel.people.visualItemRect(panel.people.item(0)).center(), [text])
    assert library.people.all()[0].reference_image is None


def test_suggested_reference_is_explained_and_accepted(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)][:3]
    person = library.people.create("Anna", faces)
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "Suggested:" in panel.detail.text()
    panel.use_suggested.click()
    qtbot.waitUntil(panel.calls.idle, timeout=5000)
    assert library.people.get(person).reference_face_id in faces
    assert not panel.use_suggested.isEnabled()


def test_reference_text_says_what_is_used():
    class P:
        reference_image = None
        reference_face_id = None

    assert "looking for the best face" in reference_text(P(), None, pending=True)
    assert "no usable face" in reference_text(P(), None, pending=False)


def test_name_dialog_matches_existing_people_ignoring_case(qtbot, library):
    anna = library.people.create("Anna")
    dialog = NameFaceDialog(library.people.all())
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()
    dialog.name.setEditText("anna ")
    assert dialog.ok.isEnabled()
    assert dialog.person_id() == anna
    dialog.name.setEditText("Bert")
    assert dialog.person_id() is None
    assert dialog.new_name() == "Bert"


def test_name_dialog_matches_a_name_typed_with_other_spacing_and_gives_the_cleaned_name(qtbot, library):
    colin = library.people.create("Colin P")
    dialog = NameFaceDialog(library.people.all())
    qtbot.addWidget(dialog)
    dialog.name.setEditText("Colin  P")
    assert dialog.person_id() == colin
    assert dialog.new_name() == "Colin P"
    dialog.name.setEditText(" colin\tp ")
    assert dialog.person_id() == colin
    assert dialog.new_name() == "Colin P"  # the person's own spelling
    dialog.name.setEditText("  Colin   Powell ")
    assert dialog.person_id() is None
    assert dialog.new_name() == "Colin Powell"


def test_reference_picker_ranks_faces_with_reasons(qtbot, library):
    from ented_desktop.gui.reference_picker import ReferencePicker

    faces = [f.id for f in library.faces.of_person(None)][:3]
    person = library.people.create("Anna", faces)
    picker = ReferencePicker(library, person)
    qtbot.addWidget(picker)
    qtbot.waitUntil(lambda: picker.faces.item(0).text().startswith("★ Suggested"), timeout=5000)
    best = library.references.suggest(person)
    assert picker.face_id() == best.face_id
    assert picker.faces.item(0).text() == "★ Suggested\nClearest · facing the camera · largest"
    assert not any(c.isdigit() for c in picker.faces.item(0).text())  # the numbers are in the tooltip
    assert picker.faces.item(0).toolTip().startswith(f"Details: sharpness {best.sharpness:.0f} ")
    picker.faces.setCurrentRow(2)
    chosen = picker.face_id()
    picker.accept()
    assert chosen in faces


def test_reference_picker_preselects_the_suggested_face_though_the_list_took_focus_first(qtbot, tmp_path):
    from ented_desktop.gui.reference_picker import ReferencePicker

    library = make_library(tmp_path, (60, 200, 60))  # the first face is not the best one
    person = library.people.create("Anna", [f.id for f in library.faces.of_person(None)])
    ranked = threading.Event()
    rank = library.references.candidates
    library.references.candidates = lambda pid: ranked.wait(5) and rank(pid)  # the ranking takes its time
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


def test_suggested_reference_stays_offered_until_it_is_the_reference(qtbot, panel, library, monkeypatch):
    # The fake finder's bright and dark faces are far apart; here they are one person's faces, all trusted.
    monkeypatch.setattr(people_suggest, "TRUST_THRESHOLD", float("inf"))
    faces = [f.id for f in library.faces.of_person(None)][2:]  # one bright (sharp) face, two dark ones
    person = library.people.create("Anna", faces)
    best = library.references.suggest(person).face_id
    blurry = next(f for f in faces if f != best)
    library.references.set_face(person, blurry)
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "a face you picked" in panel.detail.text()
    assert "Suggested:" in panel.detail.text()
    panel.references.set_reference_face(person, best)  # picked by hand in the picker
    qtbot.waitUntil(lambda: "the suggested face" in panel.detail.text(), timeout=5000)
    assert not panel.use_suggested.isEnabled()


def test_a_reference_file_without_a_face_is_refused_and_the_reference_kept(qtbot, panel, library, tmp_path,
                                                                           monkeypatch):
    face = library.faces.of_person(None)[0].id
    person = library.people.create("Little Tom", [face])
    library.references.set_face(person, face)
    panel.refresh()
    panel.select_person(person)
    warnings = []
    monkeypatch.setattr("ented_desktop.gui.people_panel.QMessageBox.warning",
                        lambda parent, title, text: warnings.append(text))
    statuses = []
    panel.message.connect(statuses.append)
    picture = make_photo(tmp_path / "no_face.png", 180)
    monkeypatch.setattr("ented_desktop.gui.person_reference.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(picture), ""))
    panel.references.choose_reference_file()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert warnings == ["No face was found in no_face.png; choose a photo that shows Little Tom's face."]
    assert statuses[-1] == warnings[0]
    assert library.people.get(person).reference_face_id == face
    assert library.people.get(person).reference_image is None

    unreadable = tmp_path / "broken.png"
    unreadable.write_bytes(b"not a picture")
    panel.references.set_reference_image(person, unreadable)
    qtbot.waitUntil(lambda: len(warnings) == 2, timeout=5000)
    assert "broken.png" in warnings[1]
    assert library.people.get(person).reference_face_id == face


def test_counts_of_one_read_in_the_singular_and_the_reference_is_explained_in_plain_words(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]  # three bright faces, then two dark ones
    anna = library.people.create("Anna", faces[:2])
    library.people.create("Bob", faces[3:4])
    panel.refresh()
    qtbot.waitUntil(lambda: sorted(r.text.text() for r in panel.group_suggestions.rows) == [
        "1 unnamed face looks like Anna.", "1 unnamed face looks like Bob."], timeout=5000)
    assert [panel.people.item(i).text().splitlines()[1] for i in range(2)] == [
        "2 faces · no reference", "1 face · no reference"]
    panel.select_person(anna)
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert panel.detail.text() == ("<b>Anna</b><br>No reference yet. Suggested: the clearest photo of Anna, facing "
                                   "the camera and shown largest.")
    assert panel.detail.toolTip().startswith("Details: sharpness ")  # the numbers, for whoever wants them
    assert panel.detail.toolTip().endswith("higher is sharper.")


# -- managing people: rename, merge, delete, "Not <name>" -----------------------------------------------

def on_next_dialog(handle, seen=None):
    """Call ``handle(dialog)`` on the next modal dialog once its exec() shows it (``seen`` collects them)."""
    def look(tries=500):
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            if tries:
                QTimer.singleShot(10, lambda: look(tries - 1))
            return
        if seen is not None:
            seen.append(dialog)
        handle(dialog)

    QTimer.singleShot(0, look)


def click(label):
    """A handler clicking the message box button labelled ``label``, after the box's texts were kept."""
    def handle(box):
        next(b for b in box.buttons() if b.text().replace("&", "") == label).click()
    return handle


def type_name(name):
    def handle(dialog):
        dialog.setTextValue(name)
        dialog.accept()
    return handle


def press(qtbot, widget, key):
    """A key pressed while the list has the focus, as the user would."""
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=5000)
    qtbot.keyClick(widget, key)


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr("ented_desktop.gui.people_panel.QMessageBox.warning",
                        lambda parent, title, text: shown.append(text))
    return shown


def test_the_people_menu_offers_rename_merge_and_delete(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]
    library.people.create("Anna", faces[:1])
    bob = library.people.create("Bob", faces[3:4])
    panel.refresh()
    menus = []

    def read_and_close():
        menu = QApplication.activePopupWidget()
        menus.append([(a.text(), a.shortcut().toString(), a.isEnabled()) for a in menu.actions()])
        menu.close()

    QTimer.singleShot(50, read_and_close)
    viewport = panel.people.viewport()
    point = panel.people.visualItemRect(panel.people.item(1)).center()
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point,
                                                       viewport.mapToGlobal(point)))
    assert panel.current_person_id() == bob  # the person right-clicked
    assert menus == [[("Rename person…", "F2", True), ("Merge person into…", "", True), ("", "", True),
                      ("Delete person…", "Del", True)]]
    library.people.delete(bob)
    panel.refresh()
    assert not panel.act_merge.isEnabled()  # nobody else to merge with


def test_renaming_to_a_name_someone_has_asks_to_merge_and_keeps_their_reference(qtbot, panel, library, tmp_path):
    faces = [f.id for f in library.faces.of_person(None)]
    anna = library.people.create("Anna", faces[:2])
    library.references.set_face(anna, faces[1])
    ann = library.people.create("Ann", faces[3:4])
    ann_image = library.references.set_image(ann, make_photo(tmp_path / "ann.png", 180))
    panel.refresh()
    panel.select_person(ann)
    seen = []
    on_next_dialog(type_name(" anna "))
    on_next_dialog(click("Cancel"), seen)
    press(qtbot, panel.people, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=5000)
    question = seen[0]
    assert question.text() == ("Someone is already called Anna. Merge Ann into Anna?\n"
                               "To keep them apart, cancel and choose another name.")
    assert question.informativeText() == (
        "Ann's 1 face becomes Anna's. Anna keeps their reference (Ann's is dropped). Ann is removed from the "
        "people. This cannot be undone.")
    assert question.defaultButton().text() == "Cancel"
    assert [(p.name, p.face_count) for p in library.people.all()] == [("Ann", 1), ("Anna", 2)]  # cancelled

    statuses = []
    panel.message.connect(statuses.append)
    changed = []
    panel.calls.changed.connect(changed.append)
    on_next_dialog(type_name("Anna"))
    on_next_dialog(click("Merge"))
    panel.rename.click()
    qtbot.waitUntil(lambda: statuses == ["Ann merged into Anna."], timeout=5000)
    assert [(p.id, p.name, p.face_count) for p in library.people.all()] == [(anna, "Anna", 3)]
    assert library.people.get(anna).reference_face_id == faces[1]
    assert library.people.get(anna).reference_image is None
    assert not ann_image.exists()
    assert panel.current_person_id() == anna
    assert panel.people.count() == 1
    assert changed == [Changed.PEOPLE]


def test_renaming_to_a_new_name_runs_in_the_background(qtbot, panel, library):
    person = library.people.create("Gran", [library.faces.of_person(None)[0].id])
    panel.refresh()
    threads = []
    rename = library.people.rename
    library.people.rename = lambda *args: threads.append(threading.current_thread()) or rename(*args)
    on_next_dialog(type_name("  Grandma   Rose "))
    panel.act_rename.trigger()
    qtbot.waitUntil(lambda: library.people.get(person).name == "Grandma Rose", timeout=5000)
    assert threads
    assert threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: panel.people.item(0).text().startswith("Grandma Rose\n"), timeout=5000)


def test_merge_into_a_person_without_reference_gives_them_the_merged_ones(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]
    grandma = library.people.create("Grandma", faces[:2])
    library.references.set_face(grandma, faces[0])
    rose = library.people.create("Grandma Rose", faces[2:3])
    library.people.create("Tom", faces[3:4])
    panel.refresh()
    panel.select_person(grandma)
    seen = []
    on_next_dialog(lambda dialog: dialog.reject(), seen)  # cancelled
    panel.act_merge.trigger()
    assert [d.people.item(i).text() for d in seen for i in range(d.people.count())] == [
        "Grandma Rose (1 face)", "Tom (1 face)"]
    assert not seen[0].merge.isEnabled()  # no one is picked for the user
    assert len(library.people.all()) == 3

    def pick_rose(dialog):
        seen.append(dialog)
        dialog.people.setCurrentRow(0)
        dialog.merge.click()

    on_next_dialog(pick_rose)
    panel.act_merge.trigger()
    assert seen[1].outcome.text() == ("Grandma's 2 faces become Grandma Rose's. Grandma Rose takes Grandma's "
                                      "reference. Grandma is removed from the people. This cannot be undone.")
    qtbot.waitUntil(lambda: len(library.people.all()) == 2, timeout=5000)
    assert library.people.get(rose).face_count == 3
    assert library.people.get(rose).reference_face_id == faces[0]
    qtbot.waitUntil(lambda: panel.current_person_id() == rose, timeout=5000)


def test_delete_says_what_happens_and_where_the_model_stays(qtbot, panel, library, tmp_path):
    faces = [f.id for f in library.faces.of_person(None)]
    tom = library.people.create("Tom", faces[:2])
    model = tmp_path / "models" / "tom.safetensors"
    model.parent.mkdir()
    model.write_bytes(b"weights")
    library.people.set_personal_model(tom, model)
    panel.refresh()
    seen = []
    on_next_dialog(click("Cancel"), seen)
    press(qtbot, panel.people, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=5000)
    assert seen[0].text() == "Delete Tom?"
    assert seen[0].informativeText() == (
        "Their 2 faces become unnamed. The photos, their originals and restored versions are kept.\n\n"
        f"Their personal model is not deleted; it stays on disk at:\n{model}")
    assert [p.name for p in library.people.all()] == ["Tom"]

    on_next_dialog(click("Delete"))
    panel.act_delete.trigger()
    qtbot.waitUntil(lambda: library.people.all() == [], timeout=5000)
    assert {f.id for f in library.faces.of_person(None)} == set(faces)
    assert model.exists()
    qtbot.waitUntil(lambda: panel.people.count() == 0 and not panel.faces.isVisible(), timeout=5000)


def test_not_name_takes_selected_faces_away_and_does_not_suggest_them_back(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]  # three bright faces, then two dark ones
    anna = library.people.create("Anna", faces[:3])
    library.references.set_face(anna, faces[0])
    panel.refresh()
    panel.select_person(anna)
    assert panel.faces_title.text() == "<b>Faces of Anna</b>"
    assert [panel.faces.item(i).data(FaceIdRole) for i in range(panel.faces.count())] == faces[:3]
    assert not panel.act_not_person.isEnabled()  # nothing selected
    for row in (0, 1):
        panel.faces.item(row).setSelected(True)
    assert [(a.text(), a.isEnabled()) for a in panel.person_faces.faces_menu().actions()] == [("Not Anna", True)]
    statuses = []
    panel.message.connect(statuses.append)
    panel.act_not_person.trigger()
    qtbot.waitUntil(lambda: bool(statuses), timeout=5000)
    assert statuses == ["Took 2 faces away from Anna; unnamed now. Anna has no reference now."]
    assert [f.id for f in library.faces.of_person(anna)] == [faces[2]]
    assert library.people.get(anna).reference_face_id is None
    assert panel.faces.count() == 1
    assert not panel.act_not_person.isEnabled()
    # The two faces still look like Anna but are offered only as someone new.
    assert sorted((s.person_id, s.face_ids) for s in library.grouping.suggest()) == [
        (None, tuple(faces[:2])), (None, tuple(faces[3:]))]


def test_a_person_removed_meanwhile_is_reported_not_merged(qtbot, panel, library, warnings):
    faces = [f.id for f in library.faces.of_person(None)]
    ann = library.people.create("Ann", faces[:1])
    anna = library.people.create("Anna", faces[1:2])
    panel.refresh()
    panel.select_person(ann)

    def removed_while_choosing(dialog):
        dialog.people.setCurrentRow(0)
        library.people.delete(anna)  # in another part of the window, say
        dialog.merge.click()

    on_next_dialog(removed_while_choosing)
    panel.act_merge.trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert warnings == ["Ann was not merged into Anna. That person is no longer in the library."]
    assert [p.name for p in library.people.all()] == ["Ann"]
    assert panel.people.count() == 1


def test_naming_a_suggestion_with_a_name_taken_adds_the_faces_to_that_person(qtbot, panel, library, monkeypatch):
    faces = [f.id for f in library.faces.of_person(None)]
    anna = library.people.create("Anna", faces[3:4])
    panel.refresh()
    qtbot.waitUntil(lambda: any(s.person_id is None for s in panel.group_suggestions.suggestions), timeout=5000)
    new = next(i for i, s in enumerate(panel.group_suggestions.suggestions) if s.person_id is None)
    monkeypatch.setattr("ented_desktop.gui.people_panel.QInputDialog.getText", lambda *a, **k: ("ANNA", True))
    panel.group_suggestions.rows[new].confirm.click()
    qtbot.waitUntil(panel.calls.idle, timeout=5000)
    assert [(p.id, p.face_count) for p in library.people.all()] == [(anna, 4)]


def test_a_new_face_after_a_deleted_one_shows_its_own_crop(qtbot, tmp_path):
    lib = make_library(tmp_path, (200, 40))
    panel = PeoplePanel(lib, fake_face_check)
    qtbot.addWidget(panel)
    try:
        dark_face = lib.faces.of_photo(2)[0].id
        lib.people.create("Anna", [dark_face])
        panel.refresh()
        qtbot.waitUntil(lambda: ("face", dark_face) in panel.crops, timeout=5000)
        lib.albums.remove_photos(lib.albums.all()[0].id, [2])
        (tmp_path / "later").mkdir()
        for _ in lib.photos.import_paths(lib.albums.all()[0].id, [make_photo(tmp_path / "later" / "bright.jpg", 250)]):
            pass
        photo = max(lib.photos.all(), key=lambda p: p.id)
        finder = FakeFaceFinder()
        lib.faces.record(photo.id, *finder.find(read_image_rgb8(photo.path)), finder.name)
        new_face = lib.faces.of_photo(photo.id)[0].id
        assert new_face != dark_face  # ids are never given again (schema version 5)
        lib.people.assign_faces([new_face], lib.people.all()[0].id)
        panel.refresh(faces_changed=True)
        qtbot.waitUntil(lambda: ("face", new_face) in panel.crops, timeout=5000)
        crop = panel.crops[("face", new_face)].toImage()
        centre = crop.pixelColor(crop.width() // 2, crop.height() // 2)
        assert centre.red() > 200  # the bright new face, not the dark one it replaced
    finally:
        panel.calls.shutdown()
        lib.close()


def test_a_refresh_after_faces_were_named_elsewhere_shows_a_current_suggestion(qtbot, panel, library):
    person = library.people.create("Colin P")  # their album was deleted: no faces
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: "no usable face to suggest" in panel.detail.text(), timeout=5000)
    library.people.assign_faces([f.id for f in library.faces.of_person(None)][:2], person)  # in the Faces tab
    panel.refresh()  # as the main window does after naming
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert "No reference yet. Suggested:" in panel.detail.text()


def test_a_suggestion_worked_out_before_a_refresh_is_not_shown_after_it(qtbot, panel, library, monkeypatch):
    person = library.people.create("Colin P")
    suggest = library.references.suggest
    gate = threading.Event()
    calls = []

    def slow_suggest(person_id):
        calls.append(person_id)
        answer = suggest(person_id)  # worked out now, before the faces are named
        gate.wait(5)
        return answer

    monkeypatch.setattr(library.references, "suggest", slow_suggest)
    panel.refresh()
    panel.select_person(person)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    library.people.assign_faces([f.id for f in library.faces.of_person(None)][:2], person)
    panel.refresh()
    gate.set()
    qtbot.waitUntil(lambda: panel.use_suggested.isEnabled(), timeout=5000)
    assert len(calls) == 2


def test_a_second_change_to_a_person_still_being_saved_is_refused_with_a_message(qtbot, panel, library,
                                                                                 warnings):
    faces = [f.id for f in library.faces.of_person(None)]
    person = library.people.create("Tony", faces[:2])
    library.people.create("Anna", faces[3:4])
    panel.refresh()
    panel.select_person(person)
    statuses = []
    panel.message.connect(statuses.append)
    rename = library.people.rename
    gate = threading.Event()
    library.people.rename = lambda *args: gate.wait(5) and rename(*args)  # a busy library makes it wait
    on_next_dialog(type_name("Colin P"))
    panel.act_rename.trigger()
    asked = []

    def close_dialogs():
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            asked.append(dialog)
            dialog.reject()

    closer = QTimer()
    closer.timeout.connect(close_dialogs)
    closer.start(10)
    panel.act_rename.trigger()  # refused before asking for a name
    panel.act_delete.trigger()
    panel.faces.item(0).setSelected(True)
    panel.act_not_person.trigger()
    closer.stop()
    panel.references.set_reference_face(person, faces[0])  # written at once, it would race the rename
    assert warnings == ["Still renaming Tony to Colin P; try again in a moment."] * 4
    gate.set()
    qtbot.waitUntil(lambda: "Renamed to Colin P." in statuses, timeout=5000)
    assert not asked
    assert library.people.get(person).name == "Colin P"
    assert library.people.get(person).face_count == 2
    assert len(library.people.all()) == 2
    assert library.people.get(person).reference_face_id is None
    on_next_dialog(type_name("Colin Powell"))
    panel.act_rename.trigger()  # once saved, the next change goes through
    qtbot.waitUntil(lambda: library.people.get(person).name == "Colin Powell", timeout=5000)
    qtbot.waitUntil(panel.calls.idle, timeout=5000)
    assert len(warnings) == 4


def test_face_tooltips_and_not_name_follow_a_rename(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]
    tony = library.people.create("Tony", faces[:2])
    panel.refresh()
    panel.select_person(tony)
    assert [panel.faces.item(i).toolTip() for i in range(2)] == [
        "In p0.jpg. Right-click or Del: Not Tony.", "In p1.jpg. Right-click or Del: Not Tony."]
    panel.faces.item(1).setSelected(True)
    library.people.rename(tony, "Anthony")
    panel.refresh()
    assert [panel.faces.item(i).toolTip() for i in range(2)] == [
        "In p0.jpg. Right-click or Del: Not Anthony.", "In p1.jpg. Right-click or Del: Not Anthony."]
    assert panel.act_not_person.text() == "Not Anthony"
    assert panel.person_faces.selected_face_ids() == [faces[1]]


def test_restoring_a_person_without_faces_says_they_have_none(qtbot, panel, library):
    library.people.create("Colin P")
    panel.refresh()
    statuses, asked = [], []
    panel.message.connect(statuses.append)
    panel.restorePersonRequested.connect(asked.append)
    panel.restore.click()
    assert statuses == ["Colin P has no faces yet, so there are no photos of them to restore."]
    assert not asked
    library.people.assign_faces([library.faces.of_person(None)[0].id], library.people.all()[0].id)
    panel.restore.click()
    assert asked == [library.people.all()[0].id]


def test_delete_in_the_faces_list_takes_the_selected_faces_away(qtbot, panel, library):
    faces = [f.id for f in library.faces.of_person(None)]
    anna = library.people.create("Anna", faces[:3])
    panel.refresh()
    panel.select_person(anna)
    assert panel.act_not_person.shortcut().toString() == "Del"
    panel.faces.item(1).setSelected(True)
    statuses = []
    panel.message.connect(statuses.append)
    press(qtbot, panel.faces, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(statuses), timeout=5000)
    assert statuses == ["Took 1 face away from Anna; unnamed now."]
    assert [f.id for f in library.faces.of_person(anna)] == [faces[0], faces[2]]
    assert [p.name for p in library.people.all()] == ["Anna"]  # the person is not deleted

