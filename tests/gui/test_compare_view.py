"""Compare view: the split follows a drag, zoom and pan keep both sides aligned, fit and 100%."""

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
