"""People panel, Suggestions tab: every face of a suggestion is seen, each with a tick to leave it out; Confirm names
the ticked faces only, and the latest confirm can be undone (button, Ctrl+Z)."""

import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from ented_desktop.core.library import Library, ReferenceCandidate
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.people_panel import PeoplePanel
from ented_desktop.gui.reference_words import ReferenceAdvice, reason

from .fakes import central_face
from .test_people_panel import fake_face_check, make_library

LFW = Path(__file__).resolve().parents[3] / "shared" / "data" / "lfw" / "images_deepfunneled"


DOCK_WIDTH = 290  # the People dock's width in a new window


def open_panel(qtbot, library, size=(DOCK_WIDTH, 640)):
    panel = PeoplePanel(library, fake_face_check)
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    panel.tabs.setCurrentWidget(panel.suggestions)
    return panel


@pytest.fixture
def eleven(qtbot, tmp_path):
    """Two faces named Al and eleven more unnamed ones that look like him, in a panel as narrow as the dock."""
    library = make_library(tmp_path, (200,) * 13)
    al = library.people.create("Al", [f.id for f in library.faces.of_person(None)][:2])
    panel = open_panel(qtbot, library)
    yield panel, library, al
    panel.calls.shutdown()
    library.close()


def laid_out(card):
    """The card is as tall as its width needs and its faces are placed side by side: no face or line is cut."""
    rects = [tick.geometry() for tick in card.ticks.values()]
    return (all(card.faces_box.rect().contains(r) for r in rects)
            and not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
            and card.height() >= card.heightForWidth(card.width())
            and all(label.height() >= label.heightForWidth(label.width()) for label in (card.text, card.outcome)))


def inside(widget, area):
    """``widget``'s rectangle in ``area``'s coordinates, and whether it lies wholly within ``area``."""
    top_left = widget.mapTo(area, QPoint(0, 0))
    rect = widget.rect().translated(top_left)
    return rect, area.rect().contains(rect)


def test_every_face_of_a_suggestion_is_shown_whole_and_its_sentence_is_not_clipped(qtbot, eleven):
    panel, library, al = eleven
    assert panel.minimumSizeHint().width() <= DOCK_WIDTH  # the buttons wrap rather than widen the dock
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    assert panel.tabs.tabText(1) == "Suggestions (1)"
    card = panel.group_suggestions.rows[0]
    assert card.text.text() == "11 unnamed faces look like Al."
    qtbot.waitUntil(lambda: laid_out(card), timeout=5000)
    cards = panel.suggestions.widget()
    rects = []
    for tick in card.ticks.values():
        rect, whole = inside(tick, cards)
        assert whole and not tick.isHidden()
        assert rect.width() >= 64 and rect.right() < panel.suggestions.viewport().width()  # no sideways scroll
        rects.append(rect)
    assert len(rects) == 11
    assert inside(card.confirm, cards)[1] and inside(card.reject, cards)[1]


def test_confirm_names_only_the_ticked_faces_and_the_others_are_not_offered_again(qtbot, eleven):
    panel, library, al = eleven
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    card = panel.group_suggestions.rows[0]
    faces = list(card.ticks)
    assert card.ticked() == faces  # all ticked at first
    stranger = card.ticks[faces[3]]
    qtbot.mouseClick(stranger, Qt.MouseButton.LeftButton)
    assert not stranger.isChecked()
    assert stranger.toolTip().endswith("Left out: not Al. Click to tick it again.")
    assert card.outcome.text() == "10 ticked faces will be named Al; the other 1 is left out."
    qtbot.waitUntil(lambda: laid_out(card), timeout=5000)  # the longer sentence is not cut
    statuses = []
    panel.message.connect(statuses.append)
    changed = []
    panel.calls.changed.connect(changed.append)
    card.confirm.click()
    qtbot.waitUntil(lambda: statuses == ["10 faces named. 1 left out."], timeout=5000)
    assert library.people.get(al).face_count == 12
    assert library.faces.get(faces[3]).person_id is None
    assert changed == [Changed.PEOPLE | Changed.FACES]
    assert all(faces[3] not in s.face_ids for s in library.grouping.suggest() if s.person_id == al)


def test_a_suggestion_with_no_face_ticked_cannot_be_confirmed(qtbot, eleven):
    panel, library, al = eleven
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    card = panel.group_suggestions.rows[0]
    for tick in card.ticks.values():
        tick.click()
    assert not card.confirm.isEnabled()
    assert card.outcome.text() == "No face is ticked: tick those that are Al, or click Not them."
    card.reject.click()  # "Not them" turns the whole suggestion down
    qtbot.waitUntil(lambda: [s.person_id for s in panel.group_suggestions.suggestions] == [None], timeout=5000)
    assert library.people.get(al).face_count == 2
    assert panel.group_suggestions.rows[0].text.text() == "11 unnamed faces look like the same person."


def test_undo_says_which_confirm_it_undoes_and_ctrl_z_undoes_it_too(qtbot, eleven, monkeypatch):
    panel, library, al = eleven
    warnings = []
    monkeypatch.setattr("ented_desktop.gui.people_panel.QMessageBox.warning",
                        lambda parent, title, text: warnings.append(text))
    assert panel.undo.isHidden()  # nothing to undo yet
    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    panel.group_suggestions.rows[0].confirm.click()
    qtbot.waitUntil(lambda: panel.undo.text() == "Undo: 11 faces named Al", timeout=5000)
    assert not panel.undo.isHidden()
    assert panel.undo.toolTip() == "The 11 faces become unnamed again (Ctrl+Z)."
    changed = []
    panel.calls.changed.connect(changed.append)
    panel.undo.click()
    qtbot.waitUntil(lambda: library.people.get(al).face_count == 2, timeout=5000)
    qtbot.waitUntil(lambda: panel.undo.isHidden() and panel.calls.idle(), timeout=5000)
    assert changed == [Changed.PEOPLE | Changed.FACES]

    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    panel.group_suggestions.rows[0].confirm.click()
    qtbot.waitUntil(lambda: not panel.undo.isHidden() and panel.calls.idle(), timeout=5000)
    assert library.people.get(al).face_count == 13
    panel.tabs.setCurrentIndex(0)
    panel.window().activateWindow()
    panel.people.setFocus()
    qtbot.waitUntil(panel.people.hasFocus, timeout=5000)
    qtbot.keyClick(panel.people, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: library.people.get(al).face_count == 2, timeout=5000)
    qtbot.waitUntil(lambda: panel.undo.isHidden() and panel.calls.idle(), timeout=5000)

    qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 1, timeout=5000)
    panel.group_suggestions.rows[0].confirm.click()
    qtbot.waitUntil(lambda: not panel.undo.isHidden() and panel.calls.idle(), timeout=5000)
    confirmed = library.grouping.history()[0].named
    library.references.set_face(al, confirmed[0])  # since made his reference: undoing would take it away
    panel.undo.click()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert warnings == ["One of these faces has since become Al's reference: choose another reference for Al "
                        "first, then undo."]
    assert library.people.get(al).face_count == 13


def candidate(face_id, sharpness, size, frontal=1.0):
    return ReferenceCandidate(face_id, 0.5, sharpness, size, frontal, "", sharpness < 15)


def test_the_reason_for_a_reference_is_said_in_plain_words():
    blurry = [candidate(1, 12, 200), candidate(2, 8, 100, 0.5)]
    assert reason(ReferenceAdvice.of(blurry[0], blurry), "Anna") == (
        "all Anna's photos are blurry; this one is the clearest, facing the camera and shown largest")
    assert reason(ReferenceAdvice.of(blurry[1], blurry), "Anna") == "a blurry photo of Anna, turned a little"
    mixed = [candidate(1, 33, 100), candidate(2, 20, 300, 0.8)]
    assert reason(ReferenceAdvice.of(mixed[0], mixed), "Al") == "the clearest photo of Al, facing the camera"
    assert reason(ReferenceAdvice.of(mixed[1], mixed), "Al") == (
        "a clear photo of Al, almost facing the camera and shown largest")
    alone = ReferenceAdvice.of(blurry[1], blurry[1:])
    assert reason(alone, "Al") == "Al's only photo, which is blurry, turned a little"


def lfw_face(rgb, stem):
    """The face in the middle of an LFW photo (they are centred), with an embedding that makes the suggestion
    known: Colin Powell's photos and Tony Blair's look alike (a stranger among them), Donald Rumsfeld's do not."""
    embedding = np.zeros(128, np.float32)
    embedding[0] = 5.0 if stem.startswith("Donald") else 9.0 if stem.startswith("George") else 1.0
    embedding[1:4] = np.random.default_rng(zlib.crc32(stem.encode())).normal(0, 0.05, 3)
    return [central_face(rgb)], [embedding]


@pytest.mark.skipif(not LFW.is_dir(), reason="LFW photos (../shared/data/lfw) are not here")
def test_screenshot_of_a_suggestion_with_its_faces_ticks_and_undo(qtbot, tmp_path, screenshot_dir):
    from ented_desktop.core.imageio import read_image_rgb8

    colin = sorted((LFW / "Colin_Powell").glob("*.jpg"))[:9]
    tony = sorted((LFW / "Tony_Blair").glob("*.jpg"))[0]
    donald = sorted((LFW / "Donald_Rumsfeld").glob("*.jpg"))[:2]
    george = sorted((LFW / "George_W_Bush").glob("*.jpg"))[:3]  # nobody named yet: a new person to name
    library = Library(tmp_path / "lib")
    album = library.albums.create("Family")
    for _ in library.photos.import_paths(album, [*colin, tony, *donald, *george]):
        pass
    for photo in library.photos.all():
        library.faces.record(photo.id, *lfw_face(read_image_rgb8(photo.path), photo.path.stem), "lfw-centre")
    faces = {library.photos.get(f.photo_id).path.stem: f.id for f in library.faces.of_person(None)}
    library.people.create("Colin", [faces[p.stem] for p in colin[:3]])
    donald_id = library.people.create("Donald", [faces[donald[0].stem]])
    earlier = next(s for s in library.grouping.suggest() if s.person_id == donald_id)
    library.grouping.accept(earlier)  # an earlier confirm, so that Undo says what it would undo
    panel = open_panel(qtbot, library, size=(DOCK_WIDTH, 620))
    try:
        qtbot.waitUntil(lambda: len(panel.group_suggestions.rows) == 2, timeout=5000)
        card, new = panel.group_suggestions.rows
        assert card.text.text() == "7 unnamed faces look like Colin."
        assert new.text.text() == "3 unnamed faces look like the same person."
        qtbot.waitUntil(lambda: all(("face", f) in panel.crops for c in (card, new) for f in c.ticks), timeout=5000)
        card.ticks[faces[tony.stem]].click()  # Tony Blair is not Colin
        assert panel.undo.text() == "Undo: 1 face named Donald"
        qtbot.waitUntil(lambda: laid_out(card) and laid_out(new), timeout=5000)
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        assert panel.grab().save(str(screenshot_dir / "16_suggestions.png"))
    finally:
        panel.calls.shutdown()
        library.close()
    if os.environ.get("ENTED_SCREENSHOT_DIR"):
        assert (screenshot_dir / "16_suggestions.png").stat().st_size > 10_000
