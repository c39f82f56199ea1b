"""Where folders of photos can be dropped: the large dashed area an empty album shows, and the highlight laid
over the window while files are dragged over it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ented_desktop.gui.icons import icon

DROP_TITLE = "Drop folders of old photos here"
DROP_SENTENCE = ("Each folder becomes an album. Your originals stay where they are: ENTED Desktop only reads "
                 "them, and keeps its restored versions apart.")
HIGHLIGHT_TEXT = "Drop to add these photos as a new album"


def _dashed_frame(painter: QPainter, rect: QRectF, colour: QColor, fill: QColor | None) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, 2.5, Qt.PenStyle.DashLine)
    pen.setDashPattern([6.0, 4.0])
    painter.setPen(pen)
    painter.setBrush(fill if fill is not None else Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect, 14, 14)


class DropArea(QWidget):
    """What an album without photos shows: a large dashed area saying what to drop, and an "Add folder…"
    button for those who would rather choose. Dropping itself is handled by the window."""

    def __init__(self, add_folder: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._highlighted = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        picture = QLabel()
        picture.setPixmap(icon("add-folder").pixmap(64, 64))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(DROP_TITLE)
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sentence = QLabel(DROP_SENTENCE)
        self.sentence.setWordWrap(True)
        self.sentence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sentence.setFixedWidth(440)
        # a wrapped label placed by alignment gets only its one-line height: give it the height its lines need
        self.sentence.setMinimumHeight(self.sentence.heightForWidth(440))
        self.add_button = QPushButton(icon("add-folder"), "Add folder…")
        self.add_button.clicked.connect(lambda _=False: add_folder())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 48, 48, 48)
        layout.addStretch(1)
        for widget in (picture, self.title, self.sentence):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def highlighted(self) -> bool:
        return self._highlighted

    def set_highlighted(self, on: bool) -> None:
        if on != self._highlighted:
            self._highlighted = on
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        palette = self.palette()
        if self._highlighted:
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(40)
            _dashed_frame(painter, QRectF(self.rect()).adjusted(16, 16, -16, -16),
                          palette.color(QPalette.ColorRole.Highlight), fill)
        else:
            _dashed_frame(painter, QRectF(self.rect()).adjusted(16, 16, -16, -16),
                          palette.color(QPalette.ColorRole.Mid), None)
        painter.end()


class DropHighlight(QWidget):
    """A translucent dashed frame over ``target`` (kept to its size) while files are dragged over the window;
    it takes no mouse events, so the drag goes on to the widgets below."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()
        target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False

    def set_shown(self, on: bool) -> None:
        if on:
            self.setGeometry(self.parentWidget().rect())
            self.raise_()
        self.setVisible(on)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        colour = self.palette().color(QPalette.ColorRole.Highlight)
        fill = QColor(colour)
        fill.setAlpha(45)
        _dashed_frame(painter, QRectF(self.rect()).adjusted(6, 6, -6, -6), colour, fill)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(colour.darker(130))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, HIGHLIGHT_TEXT)
        painter.end()
