"""Compare view: the split follows a drag, zoom and pan keep both sides aligned, fit and 100%; the Compare tab
shows any two versions side by side, each in plain words with its identity check."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QImage

from ented_desktop.gui.compare_view import CompareMode, CompareView
from ented_desktop.gui.qimage import qimage_from_rgb, rgb_from_qimage


def line_image(width, height, row, background):
    rgb = np.full((height, width, 3), background, np.uint8)
    rgb[row : row + 2, :] = 0
    return qimage_from_rgb(rgb)


@pytest.fixture
def view(qtbot):
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_images(line_image(200, 100, 40, 220), line_image(200, 100, 40, 120))
    return widget


def black_rows(rgb, column):
    return [y for y in range(rgb.shape[0]) if rgb[y, column].max() < 30]


def test_fit_shows_whole_image_centred(view):
    assert view.scale() == pytest.approx(2.0)  # 400/200 wide, 300/100 high: width limits
    assert view.target_rect() == QRectF(0, 50, 400, 200)


def test_actual_size_is_one_to_one_and_keeps_centre(view):
    view.actual_size()
    assert view.scale() == pytest.approx(1.0)
    assert view.widget_to_image(QPointF(200, 150)).x() == pytest.approx(100)
    view.fit()
    assert view.scale() == pytest.approx(2.0)


def test_dragging_the_divider_changes_the_split(qtbot, view):
    assert view.split() == 0.5
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(view, QPoint(300, 150))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(300, 150))
    assert view.split() == pytest.approx(0.75)
    assert view.scale() == pytest.approx(2.0)  # the drag moved the divider, not the image


def test_dragging_elsewhere_pans_both_sides(qtbot, view):
    before = view.target_rect()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(50, 150))
    qtbot.mouseMove(view, QPoint(80, 170))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(80, 170))
    assert view.target_rect().translated(-30, -20) == before
    assert view.split() == 0.5


def test_zoom_and_pan_keep_both_sides_aligned_in_pixels(view):
    view.zoom_at(3.0, QPointF(120, 90))
    view.pan(-37, 23)
    rgb = rgb_from_qimage(view.grab().toImage())
    left, right = black_rows(rgb, 100), black_rows(rgb, 300)
    assert left and left == right
    # the line sits where the shared transform says it does
    expected = view.transform().map(QPointF(0, 40)).y()
    assert abs(left[0] - expected) <= 1
    # and the two sides really show different images: before left, after right
    row = int(view.transform().map(QPointF(0, 20)).y())
    assert rgb[row, 100].tolist() == [220, 220, 220]
    assert rgb[row, 300].tolist() == [120, 120, 120]


def test_wheel_zoom_keeps_point_under_cursor(qtbot, view):
    anchor = QPointF(150, 120)
    under = view.widget_to_image(anchor)
    view.zoom_at(1.25**2, anchor)
    assert view.widget_to_image(anchor).x() == pytest.approx(under.x())
    assert view.widget_to_image(anchor).y() == pytest.approx(under.y())
    assert view.scale() == pytest.approx(2.0 * 1.5625)


def test_toggle_switches_between_before_and_after(view):
    assert view.mode() == CompareMode.SPLIT
    view.toggle()
    assert view.mode() == CompareMode.BEFORE
    rgb = rgb_from_qimage(view.grab().toImage())
    assert rgb[150, 300].tolist() == [220, 220, 220]
    view.toggle()
    assert view.mode() == CompareMode.AFTER
    rgb = rgb_from_qimage(view.grab().toImage())
    assert rgb[150, 100].tolist() == [120, 120, 120]


def test_clicking_a_face_zooms_to_it(qtbot, view):
    view.set_faces([QRectF(20, 10, 20, 20), QRectF(150, 50, 30, 30)])
    clicked = []
    view.faceClicked.connect(clicked.append)
    point = view.transform().map(QPointF(165, 65)).toPoint()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert clicked == [1]
    centre = view.widget_to_image(QPointF(200, 150))
    assert (centre.x(), centre.y()) == (pytest.approx(165), pytest.approx(65))
    assert view.scale() > 2.0


def test_after_of_other_resolution_is_stretched_onto_before(view):
    small_after = QImage(100, 50, QImage.Format.Format_RGB888)
    small_after.fill(0)
    view.set_images(line_image(200, 100, 40, 220), small_after)
    rgb = rgb_from_qimage(view.grab().toImage())
    assert rgb[100, 399].tolist() == [0, 0, 0]  # right edge of the fitted image is after-black


def drag_divider(qtbot, view, to_x):
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.split_x()), 150))
    qtbot.mouseMove(view, QPoint(to_x, 150))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(to_x, 150))


def test_a_new_photo_puts_the_divider_in_its_middle_and_a_new_version_keeps_it(qtbot, view):
    drag_divider(qtbot, view, 60)
    assert view.split_x() == pytest.approx(60)
    portrait = line_image(100, 300, 40, 200)  # fitted at 1:1, from x = 150 to 250
    view.set_images(QImage())  # what the window shows while the next photo loads
    view.set_images(portrait)
    assert view.split_x() == pytest.approx(200)
    drag_divider(qtbot, view, 170)
    view.set_images(portrait, line_image(100, 300, 40, 90))  # its restored version arrives
    assert view.split_x() == pytest.approx(170)


def test_the_divider_stays_on_the_image(qtbot, view):
    view.set_images(line_image(100, 300, 40, 200))
    drag_divider(qtbot, view, 20)  # left of the image, which starts at x = 150
    assert view.split_x() == pytest.approx(150)
    view.zoom_at(4.0, QPointF(200, 150))  # the image now fills the width
    drag_divider(qtbot, view, 20)
    assert view.split_x() == pytest.approx(20)
    view.fit()  # back to x = 150 .. 250: the divider comes along
    assert view.split_x() == pytest.approx(150)


def test_clicking_a_face_that_fills_the_photo_zooms_in(qtbot, view):
    """A face crop (the face is the whole photo): the face plus its margin is larger than the photo, which used to
    make the click zoom out (issue 18, item 5)."""
    view.set_faces([QRectF(0, 0, 200, 100)])
    fitted = view.scale()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.transform().map(QPointF(120, 60)).toPoint())
    assert view.scale() >= 2 * fitted
    centre = view.widget_to_image(QPointF(200, 150))
    assert (centre.x(), centre.y()) == (pytest.approx(100), pytest.approx(50))
    zoomed = view.scale()
    view.zoom_to(QRectF(0, 0, 200, 100))  # a second click on it (a quick one would be a double-click: fit)
    assert view.scale() > zoomed


def test_the_tags_name_the_two_versions_shown(view):
    view.set_labels("ENTED with Anna's reference", "CodeFormer")
    assert view.labels() == ("ENTED with Anna's reference", "CodeFormer")
    rgb = rgb_from_qimage(view.grab().toImage())
    view.set_labels("x", "y")
    shorter = rgb_from_qimage(view.grab().toImage())
    # the longer names take wider dark tags in both top corners
    assert (rgb[12, 8:200] < 100).sum() > (shorter[12, 8:200] < 100).sum()
    assert (rgb[12, 200:392] < 100).sum() > (shorter[12, 200:392] < 100).sum()


# -- the Compare tab: two versions side by side, in plain words ------------------------------------------------
ANNA_BOX = (40.0, 30.0, 120.0, 90.0)


def face_report(face_id, person_id, **fields):
    report = {"index": 0, "face_id": face_id, "person_id": person_id, "person": "Anna", "restored": True,
              "reference": "person", "reason": "", "model": "general", "fallback": None, "detail_only": False,
              "model_name": "ented-lfw128", "identity_before": None, "identity_after": None, "moved_away": None,
              "notes": []}
    return {**report, **fields}


def run_record(model, **fields):
    record = {"model": model, "model_sha256": "ab" * 32, "engine": "onnx", "fidelity": None, "faces": [],
              "large_faces_model": None, "large_faces_model_sha256": None, "background": None,
              "background_model": None, "background_model_sha256": None, "device": "cpu"}
    return {**record, **fields}


@pytest.fixture
def two_versions(qtbot, tmp_path):
    """A window on a library holding one photo of Anna restored twice: with ENTED and her reference (a large face:
    only fine detail added; her likeness unchanged), then with CodeFormer, which moved her face away from her."""
    from ented_desktop.core.face.detect import Face
    from ented_desktop.core.identity_check import explain, judge
    from ented_desktop.core.library import Library
    from ented_desktop.core.settings import Settings
    from ented_desktop.gui.main_window import MainWindow
    from ented_desktop.gui.tasks import Services

    from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference, make_photo

    library = Library(tmp_path / "lib")
    album = library.albums.create("Family")
    photo_path = make_photo(tmp_path / "anna.png", 150)
    for _ in library.photos.import_paths(album, [photo_path]):
        pass
    (photo,) = library.photos.all()
    x0, y0, x1, y1 = ANNA_BOX
    landmarks = np.array([[60, 50], [100, 50], [80, 62], [65, 75], [95, 75]], np.float32)
    (face_id,) = library.faces.record(photo.id, [Face(ANNA_BOX, landmarks, 0.99)], [None], "fake")
    anna = library.people.create("Anna", [face_id])
    pixels = np.full((120, 160, 3), 90, np.uint8)
    ented = library.versions.add(
        photo.id, np.where(pixels, 30, 0).astype(np.uint8), model="ented-lfw128", reference_people=[anna],
        report={"faces": [face_report(face_id, anna, model="ented-lfw128", detail_only=True,  # forced: its name
                                      identity_before=0.42, identity_after=0.4, moved_away=False)]},
        settings=run_record("ented-lfw128"))
    check = judge(0.42, 0.55)
    codeformer = library.versions.add(
        photo.id, np.where(pixels, 230, 0).astype(np.uint8), model="codeformer",
        report={"faces": [face_report(face_id, anna, reference="unused", model="codeformer", model_name="codeformer",
                                      reason="restored with codeformer, which restores from the face alone; the "
                                             "person's reference was not used; the face is larger than the model's "
                                             "512 px, so only fine detail the photo lacks was added",
                                      detail_only=True,
                                      identity_before=0.42, identity_after=0.55, moved_away=True,
                                      notes=[explain(check, "Anna", uses_reference=False, fidelity=0.5)])]},
        settings=run_record("codeformer", fidelity=0.5))
    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        reference_preparer=fake_prepare_reference)
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.photos_page.select_photo(photo.id)
    window.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: window.compare.has_after() and window.compare.has_before(), timeout=5000)
    yield window, ented, codeformer
    window.shutdown()


def side_colours(window):
    """The colour near the bottom left and the bottom right corner of the shown image (away from tags and face)."""
    rgb = rgb_from_qimage(window.compare.grab().toImage())
    target = window.compare.target_rect()
    y = int(target.top() + target.height() * 0.9)
    return [rgb[y, int(target.left() + 8)].tolist(), rgb[y, int(target.right() - 8)].tolist()]


def combo_texts(combo):
    """The whole name of each entry (a long one is elided on screen, whole in its tooltip)."""
    return [combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or combo.itemText(i) for i in range(combo.count())]


def test_compare_shows_any_two_versions_side_by_side(qtbot, two_versions, screenshot_dir):
    window, ented, codeformer = two_versions
    left, right = combo_texts(window.left_combo), combo_texts(window.version_combo)
    assert left[0] == "Original" and [t.split(",")[0] for t in left[1:]] == [
        "1: ENTED with Anna's reference", "2: CodeFormer"]
    assert right == left[1:] and window.current_version == codeformer
    assert window.compare.labels() == ("Original", "CodeFormer")
    assert side_colours(window)[1] == [230, 230, 230]
    window.left_combo.setCurrentIndex(1)
    assert window.left_version == ented
    qtbot.waitUntil(lambda: window.left_image is not None, timeout=5000)
    assert window.compare.labels() == ("ENTED with Anna's reference", "CodeFormer")
    assert side_colours(window) == [[30, 30, 30], [230, 230, 230]]
    window.version_combo.setCurrentIndex(0)  # the same on both sides is allowed: nothing breaks
    qtbot.waitUntil(lambda: side_colours(window) == [[30, 30, 30], [30, 30, 30]], timeout=5000)
    window.version_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: side_colours(window)[1] == [230, 230, 230], timeout=5000)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(screenshot_dir / "compare_two_versions.png"))


def test_each_version_is_said_in_plain_words_with_details_behind_a_toggle(qtbot, two_versions):
    window, ented, _ = two_versions
    window.left_combo.setCurrentIndex(window.left_combo.findData(ented))
    assert window.left_about.text().startswith("Left: ENTED with Anna's reference.")
    assert "Large faces were only lightly touched up" in window.left_about.text()
    assert window.right_about.text() == ("Right: CodeFormer. CodeFormer's setting: balanced between sharp and like "
                                         "the original. Background left as is.")
    assert window.compare_details.isHidden()
    window.details_button.click()
    assert not window.compare_details.isHidden() and window.details_button.text() == "Hide details"
    details = window.compare_details.text()
    assert "CodeFormer fidelity w = 0.50" in details and "Engine: onnx on cpu" in details
    assert "identity distance to the reference 0.420 before, 0.550 after" in details
    for text in (window.left_about.text(), window.right_about.text()):
        assert "sha256" not in text and "w =" not in text


def test_the_identity_check_is_shown_for_each_named_face(qtbot, two_versions):
    window, ented, _ = two_versions
    (line,) = [window.compare_report.item(i).text() for i in range(window.compare_report.count())]
    assert line.startswith("Face 1 — Anna: restored with CodeFormer, from the face alone; looks like Anna's "
                           "reference: less than the original did. The restored face looks less like Anna")
    assert "Try a higher fidelity setting (now 0.50" in line
    window.left_combo.setCurrentIndex(window.left_combo.findData(ented))
    lines = [window.compare_report.item(i).text() for i in range(window.compare_report.count())]
    assert lines[1] == ("Face 1 (ENTED with Anna's reference, left) — Anna: restored with Anna's reference; looks "
                        "like Anna's reference: about the same as the original")
    assert lines[0].startswith("Face 1 (CodeFormer, right) — ")
    assert not any("larger than the model" in text for text in lines)
    window.compare_report.setCurrentRow(-1)
    window.compare.faceClicked.emit(0)
    assert window.compare_report.currentRow() == 0


def test_a_version_without_faces_records_keeps_its_model_name_and_says_less(qtbot, two_versions):
    window, _, _ = two_versions
    library = window.library
    photo_id = window.current_photo
    old = library.versions.add(photo_id, np.zeros((120, 160, 3), np.uint8), model="ented-lfw128")
    window.compare_tab.refresh_versions(choose=old)
    assert window.version_combo.currentText().startswith("3: ented-lfw128, ")
    assert window.right_about.text() == "Right: ented-lfw128."
    assert "made before the app kept how each version was made" in window.compare_details.text()


def test_a_personal_model_is_named_as_such_and_a_forced_model_is_not():
    from ented_desktop.core.library import Version
    from ented_desktop.gui.version_words import face_line, version_label

    personal = face_report(1, 1, model="Anna-personal-20261205", model_name="Anna-personal-20261205")
    version = Version(1, 1, Path("v.png"), "Anna-personal-20261205", (), 0.0, {"faces": [personal]},
                      run_record("ented-lfw128"))
    assert version_label(version) == "ENTED, personal model with Anna's reference"
    assert face_line(1, personal, version.settings).endswith("restored with Anna's reference, with the personal model")
    forced = face_report(1, 1, model="ented-lfw128")
    version = Version(2, 1, Path("v.png"), "ented-lfw128", (), 0.0, {"faces": [forced]}, run_record("ented-lfw128"))
    assert version_label(version) == "ENTED with Anna's reference"
    assert face_line(1, forced, version.settings) == "Face 1 — Anna: restored with Anna's reference"
