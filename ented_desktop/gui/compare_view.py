"""Before/after comparison: both images painted with one transform and a draggable vertical split.

Because a single image-to-widget transform is used for both sides, zoom and pan can never drift
apart. The "after" image is stretched onto the "before" image's rectangle, so a restored version of
a different resolution still lines up pixel for pixel. Either side may be any version of the photo (its name
in the corner tag, :meth:`CompareView.set_labels`). When the original cannot be read (its drive was removed),
the restored version is shown alone.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

HANDLE_GRAB_PX = 8  # how close to the divider a press starts dragging it instead of panning
MIN_SCALE = 0.02
MAX_SCALE = 32.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 units)
CLICK_SLOP_PX = 4  # a press and release closer than this is a click, not a pan
FACE_ZOOM_MIN_STEP = 2.0  # a click on a face zooms in at least this much, even when the face fills the view
TAG_MAX_WIDTH = 0.45  # a corner tag takes at most this fraction of the width; longer names are elided


class CompareMode(Enum):
    SPLIT = "split"
    BEFORE = "before"
    AFTER = "after"


class CompareView(QWidget):
    """Shows ``before`` left of the divider and ``after`` right of it; wheel zooms, drag pans."""

    splitChanged = Signal(float)
    viewChanged = Signal()
    modeChanged = Signal(str)
    faceClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 150)
        self._before = QImage()
        self._after = QImage()
        self._faces: list[QRectF] = []
        self._split = 0.5
        self._mode = CompareMode.SPLIT
        self._scale = 1.0
        self._offset = QPointF(0.0, 0.0)
        self._fit_on_resize = True
        self._drag: str | None = None  # "split" or "pan"
        self._press_pos = QPointF()
        self._last_pos = QPointF()
        self._labels = ("Before", "After")

    # -- content ---------------------------------------------------------------------------------
    def set_images(self, before: QImage, after: QImage | None = None) -> None:
        """Show a pair; without ``after`` (not restored yet) both sides show ``before``; with a null
        ``before`` (the original cannot be read) ``after`` is shown alone.

        Another ``before`` (another photo) puts the divider in its middle; the same one with another ``after``
        (a version of the same photo) keeps the divider where the user left it."""
        new_photo = before.cacheKey() != self._before.cacheKey()
        self._before = before
        self._after = after if after is not None and not after.isNull() else QImage()
        self._faces = []
        self.fit()
        if new_photo:
            self._place_split(centre=True)

    def set_labels(self, before: str, after: str) -> None:
        """The names in the corner tags of the two sides (by default "Before" and "After")."""
        self._labels = (before, after)
        self.update()

    def labels(self) -> tuple[str, str]:
        return self._labels

    def set_faces(self, boxes: list[QRectF]) -> None:
        """Face boxes in image pixels; clicking one zooms to it (per-face comparison)."""
        self._faces = list(boxes)
        self.update()

    def faces(self) -> list[QRectF]:
        return list(self._faces)

    def has_before(self) -> bool:
        return not self._before.isNull()

    def has_after(self) -> bool:
        return not self._after.isNull()

    def _base(self) -> QImage:
        """The image whose pixels the view is laid out in: the original, else the version alone."""
        return self._before if not self._before.isNull() else self._after

    # -- split and mode --------------------------------------------------------------------------
    def split(self) -> float:
        """Divider position as a fraction of the widget width."""
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if fraction != self._split:
            self._split = fraction
            self.splitChanged.emit(fraction)
            self.update()

    def split_x(self) -> float:
        return self._split * self.width()

    def _place_split(self, x: float | None = None, *, centre: bool = False) -> None:
        """Put the divider at ``x`` (its place when None), or the image's middle, kept over the visible image:
        off it, only one side would show and the handle could not be found."""
        target = self.target_rect()
        left, right = max(0.0, target.left()), min(float(self.width()), target.right())
        if self._base().isNull() or left >= right:
            return
        x = (left + right) / 2 if centre else self.split_x() if x is None else x
        self.set_split(min(right, max(left, x)) / self.width())

    def mode(self) -> CompareMode:
        return self._mode

    def set_mode(self, mode: CompareMode) -> None:
        if mode != self._mode:
            self._mode = mode
            self.modeChanged.emit(mode.value)
            self.update()

    def toggle(self) -> None:
        """Flip between the whole before and the whole after image (from split, start with before)."""
        self.set_mode(CompareMode.AFTER if self._mode == CompareMode.BEFORE else CompareMode.BEFORE)

    # -- view transform --------------------------------------------------------------------------
    def scale(self) -> float:
        return self._scale

    def transform(self) -> QTransform:
        """Image pixel -> widget pixel, shared by both sides."""
        return QTransform(self._scale, 0, 0, self._scale, self._offset.x(), self._offset.y())

    def image_rect(self) -> QRectF:
        return QRectF(0, 0, self._base().width(), self._base().height())

    def target_rect(self) -> QRectF:
        """Where the image lands in the widget (both sides use this one rectangle)."""
        return self.transform().mapRect(self.image_rect())

    def widget_to_image(self, point: QPointF) -> QPointF:
        return QPointF((point.x() - self._offset.x()) / self._scale,
                       (point.y() - self._offset.y()) / self._scale)

    def fit(self) -> None:
        """Whole image visible, centred."""
        self._fit_on_resize = True
        base = self._base()
        if base.isNull() or self.width() <= 0 or self.height() <= 0:
            self.update()
            return
        scale = min(self.width() / base.width(), self.height() / base.height())
        self._set_view(scale, self._centred_offset(scale, self.image_rect().center()))
        self._place_split()

    def actual_size(self) -> None:
        """One image pixel per screen pixel, keeping the image point at the widget centre in place."""
        centre = QPointF(self.width() / 2, self.height() / 2)
        self.zoom_at(1.0 / self._scale, centre)

    def zoom_at(self, factor: float, anchor: QPointF) -> None:
        """Multiply the scale by ``factor`` keeping the image point under ``anchor`` fixed."""
        new_scale = min(MAX_SCALE, max(MIN_SCALE, self._scale * factor))
        image_point = self.widget_to_image(anchor)
        offset = QPointF(anchor.x() - image_point.x() * new_scale, anchor.y() - image_point.y() * new_scale)
        self._fit_on_resize = False
        self._set_view(new_scale, offset)

    def pan(self, dx: float, dy: float) -> None:
        self._fit_on_resize = False
        self._set_view(self._scale, self._offset + QPointF(dx, dy))

    def zoom_to(self, rect: QRectF, margin: float = 0.35) -> None:
        """Fill the view with ``rect`` (image pixels) plus a margin: the per-face comparison. It always zooms in,
        at least :data:`FACE_ZOOM_MIN_STEP` times: a face that fills the photo would otherwise be shown smaller."""
        if rect.isEmpty() or self.width() <= 0:
            return
        grown = rect.adjusted(-rect.width() * margin, -rect.height() * margin,
                              rect.width() * margin, rect.height() * margin)
        fill = min(self.width() / grown.width(), self.height() / grown.height())
        scale = min(MAX_SCALE, max(fill, self._scale * FACE_ZOOM_MIN_STEP))
        self._fit_on_resize = False
        self._set_view(scale, self._centred_offset(scale, grown.center()))

    def _centred_offset(self, scale: float, image_point: QPointF) -> QPointF:
        return QPointF(self.width() / 2 - image_point.x() * scale,
                       self.height() / 2 - image_point.y() * scale)

    def _set_view(self, scale: float, offset: QPointF) -> None:
        self._scale = scale
        self._offset = offset
        self.viewChanged.emit()
        self.update()

    # -- events ----------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        if self._fit_on_resize:
            self.fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_at(WHEEL_STEP**steps, event.position())
        event.accept()

    def _near_divider(self, x: float) -> bool:
        return self._mode == CompareMode.SPLIT and abs(x - self.split_x()) <= HANDLE_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pos = event.position()
        self._drag = "split" if self._near_divider(pos.x()) else "pan"
        self._press_pos = pos
        self._last_pos = pos
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._drag == "split":
            self._place_split(pos.x())
        elif self._drag == "pan":
            self.pan(pos.x() - self._last_pos.x(), pos.y() - self._last_pos.y())
        elif self._near_divider(pos.x()):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        self._last_pos = pos
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        moved = (pos - self._press_pos).manhattanLength()
        if self._drag == "pan" and moved <= CLICK_SLOP_PX:
            image_point = self.widget_to_image(pos)
            for index, box in enumerate(self._faces):
                if box.contains(image_point):
                    self.zoom_to(box)
                    self.faceClicked.emit(index)
                    break
        self._drag = None
        self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.fit()
        event.accept()

    # -- painting --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self._base().isNull():
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Select a photo to compare")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 2.0)
        target = self.target_rect()
        if self._before.isNull():
            painter.drawImage(target, self._after, QRectF(self._after.rect()))
            self._paint_faces(painter)
            self._tag(painter, QPointF(8, 8), f"{self._labels[1]} (the original photo cannot be read)", left=True)
            return
        after = self._after if not self._after.isNull() else self._before
        width, height = float(self.width()), float(self.height())
        if self._mode == CompareMode.SPLIT:
            sx = self.split_x()
            painter.save()
            painter.setClipRect(QRectF(0, 0, sx, height))
            painter.drawImage(target, self._before, QRectF(self._before.rect()))
            painter.restore()
            painter.save()
            painter.setClipRect(QRectF(sx, 0, width - sx, height))
            painter.drawImage(target, after, QRectF(after.rect()))
            painter.restore()
        else:
            image = self._before if self._mode == CompareMode.BEFORE else after
            painter.drawImage(target, image, QRectF(image.rect()))
        self._paint_faces(painter)
        self._paint_labels(painter)

    def _paint_faces(self, painter: QPainter) -> None:
        if not self._faces:
            return
        painter.setPen(QPen(QColor(255, 210, 0, 170), 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        transform = self.transform()
        for box in self._faces:
            painter.drawRect(transform.mapRect(box))

    def _paint_labels(self, painter: QPainter) -> None:
        before_name = self._labels[0]
        after_name = self._labels[1] if self.has_after() else "Not restored yet"
        if self._mode == CompareMode.SPLIT:
            sx = self.split_x()
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(sx, 0), QPointF(sx, self.height()))
            painter.setBrush(QColor(255, 255, 255))
            painter.drawEllipse(QPointF(sx, self.height() / 2), 7, 7)
            self._tag(painter, QPointF(8, 8), before_name, left=True)
            self._tag(painter, QPointF(self.width() - 8, 8), after_name, left=False)
        else:
            name = before_name if self._mode == CompareMode.BEFORE else after_name
            self._tag(painter, QPointF(8, 8), name, left=True)

    def _tag(self, painter: QPainter, corner: QPointF, text: str, *, left: bool) -> None:
        metrics = painter.fontMetrics()
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(self.width() * TAG_MAX_WIDTH))
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 12, metrics.height() + 6)
        box.moveTop(corner.y())
        if left:
            box.moveLeft(corner.x())
        else:
            box.moveRight(corner.x())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
