"""Face boxes over a photo: clicking a box selects that face; the smallest box under the cursor wins."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt

from ented_desktop.gui.face_overlay import NAMED, UNNAMED, FaceMark, FaceOverlayView
from ented_desktop.gui.qimage import qimage_from_rgb, rgb_from_qimage


@pytest.fixture
def view(qtbot):
    widget = FaceOverlayView()
    qtbot.addWidget(widget)
    widget.resize(400, 400)
    widget.show()
    qtbot.waitExposed(widget)
    photo = qimage_from_rgb(np.full((100, 200, 3), 128, np.uint8))
    widget.set_photo(photo, [
        FaceMark(7, QRectF(10, 10, 40, 40), "Anna", True),
        FaceMark(9, QRectF(120, 30, 50, 50), "Unnamed", False),
        FaceMark(11, QRectF(130, 40, 10, 10), "Unnamed", False),
    ])
    return widget


def test_photo_is_fitted_and_boxes_are_mapped(view):
    assert view.target_rect() == QRectF(0, 100, 400, 200)
    assert view.widget_box(QRectF(10, 10, 40, 40)) == QRectF(20, 120, 80, 80)


def test_click_on_a_box_emits_its_face(qtbot, view):
    with qtbot.waitSignal(view.faceClicked) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(60, 160))
    assert blocker.args == [7]
    assert view.selected_face() == 7


def test_nested_boxes_pick_the_smallest(view):
    assert view.face_at(QPointF(270, 190)) == 11
    assert view.face_at(QPointF(300, 220)) == 9
    assert view.face_at(QPointF(200, 350)) is None


def test_named_and_unnamed_boxes_use_distinct_colours(view):
    rgb = rgb_from_qimage(view.grab().toImage())
    assert rgb[160, 20].tolist() == [NAMED.red(), NAMED.green(), NAMED.blue()]
    assert rgb[200, 240].tolist() == [UNNAMED.red(), UNNAMED.green(), UNNAMED.blue()]


def test_message_replaces_the_photo(view):
    view.set_message("This photo could not be read.")
    assert view.faces() == []
    assert view.face_at(QPointF(60, 160)) is None
