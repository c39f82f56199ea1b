"""A photo with its detected faces drawn as boxes; clicking a box selects that face for naming."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ented_desktop.core.library import FaceRecord, Person

NAMED = QColor(60, 200, 120)
UNNAMED = QColor(255, 190, 40)
SELECTED = QColor(80, 160, 255)


@dataclass(frozen=True)
class FaceMark:
    """One face box to draw, in image pixels; ``label`` is the person's name or why it has none."""

    face_id: int
    box: QRectF
    label: str
    named: bool


def box_rect(box: tuple[float, float, float, float]) -> QRectF:
    """A library face box (x0, y0, x1, y1) as a rectangle."""
    x0, y0, x1, y1 = box
    return QRectF(x0, y0, x1 - x0, y1 - y0)


def face_label(face: FaceRecord, people: dict[int, Person]) -> tuple[str, bool]:
    """What a face's box says (its person's name, or "Unnamed") and whether it is named."""
    person = people.get(face.person_id) if face.person_id is not None else None
    return (person.name, True) if person else ("Unnamed", False)


class FaceOverlayView(QWidget):
    """Paints the photo fitted into the widget and the face boxes over it."""

    faceClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setMouseTracking(True)
        self._image = QImage()
        self._faces: list[FaceMark] = []
        self._selected: int | None = None
        self._message = "Select a photo"

    def set_photo(self, image: QImage, faces: list[FaceMark]) -> None:
        self._image = image
        self._faces = list(faces)
        self._selected = None
        self.update()

    def set_faces(self, faces: list[FaceMark]) -> None:
        self._faces = list(faces)
        self.update()

    def set_message(self, text: str) -> None:
        """Shown when there is no photo (nothing selected, or it could not be read)."""
        self._image = QImage()
        self._faces = []
        self._message = text
        self.update()

    def faces(self) -> list[FaceMark]:
        return list(self._faces)

    def selected_face(self) -> int | None:
        return self._selected

    def select_face(self, face_id: int | None) -> None:
        self._selected = face_id
        self.update()

    def image_to_widget_scale(self) -> float:
        if self._image.isNull():
            return 1.0
        return min(self.width() / self._image.width(), self.height() / self._image.height())

    def target_rect(self) -> QRectF:
        scale = self.image_to_widget_scale()
        w, h = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def widget_box(self, box: QRectF) -> QRectF:
        target, scale = self.target_rect(), self.image_to_widget_scale()
        return QRectF(target.left() + box.left() * scale, target.top() + box.top() * scale,
                      box.width() * scale, box.height() * scale)

    def face_at(self, point: QPointF) -> int | None:
        # the smallest box under the point wins, so a face inside a bigger false detection stays clickable
        hits = [f for f in self._faces if self.widget_box(f.box).contains(point)]
        if not hits:
            return None
        return min(hits, key=lambda f: f.box.width() * f.box.height()).face_id

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        over = self.face_at(event.position()) is not None
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            face_id = self.face_at(event.position())
            if face_id is not None:
                self.select_face(face_id)
                self.faceClicked.emit(face_id)
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self._image.isNull():
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect(), flags, self._message)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.target_rect(), self._image, QRectF(self._image.rect()))
        metrics = painter.fontMetrics()
        for face in self._faces:
            colour = SELECTED if face.face_id == self._selected else (NAMED if face.named else UNNAMED)
            rect = self.widget_box(face.box)
            painter.setPen(QPen(colour, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            tag = QRectF(rect.left(), rect.top() - metrics.height() - 4,
                         metrics.horizontalAdvance(face.label) + 10, metrics.height() + 4)
            if tag.top() < 0:
                tag.moveTop(rect.bottom())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRect(tag)
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, face.label)
