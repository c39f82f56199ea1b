"""One grouping suggestion as the user checks it: its sentence, every one of its faces at a readable size, each
with a tick (on at first) the user clicks off for a face that is not the person, and Confirm / Not them."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from ented_desktop.core.wording import count
from ented_desktop.gui.flow_layout import FlowLayout
from ented_desktop.gui.icons import icon

FACE_SIZE = 64
BADGE = 20  # the tick / cross mark's diameter


class FaceTick(QToolButton):
    """A face of a suggestion: ticked (the default) it is confirmed with the others; clicked off it shows an
    "x" and is left out (and not suggested for that person again)."""

    def __init__(self, face_id: int, who: str, where: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face_id = face_id
        self.who = who  # "Al", or "this person" for a new group
        self.where = where  # the photo's file name
        self.setCheckable(True)
        self.setChecked(True)
        self.setAutoRaise(True)
        self.setIconSize(QSize(FACE_SIZE, FACE_SIZE))
        self.setIcon(icon("person"))
        self.setFixedSize(FACE_SIZE + 8, FACE_SIZE + 8)
        self.toggled.connect(self._describe)
        self._describe(True)

    def set_face(self, pixmap: QPixmap) -> None:
        self.setIcon(QIcon(pixmap))

    def _describe(self, ticked: bool) -> None:
        state = (f"Ticked: named {self.who} on Confirm. Click to leave this face out." if ticked else
                 f"Left out: not {self.who}. Click to tick it again.")
        self.setToolTip(f"In {self.where}. {state}")
        self.setAccessibleName(f"Face in {self.where}, {'ticked' if ticked else 'left out'}")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.isChecked():  # dimmed: plainly not part of the confirm
            painter.fillRect(self.rect().adjusted(4, 4, -4, -4), QColor(255, 255, 255, 150))
        badge = QRect(self.width() - BADGE - 2, 2, BADGE, BADGE)
        painter.setPen(QPen(QColor("white"), 2))
        painter.setBrush(QColor("#2e7d32") if self.isChecked() else QColor("#c62828"))
        painter.drawEllipse(badge)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(BADGE - 6)
        painter.setFont(font)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "✓" if self.isChecked() else "✕")
        painter.end()


class SuggestionCard(QFrame):
    """"4 unnamed faces look like Al." over all the faces, with what Confirm will do and the two buttons."""

    ticksChanged = Signal()

    def __init__(self, text: str, who: str, new_person: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.who = who
        self.new_person = new_person
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        font = self.text.font()
        font.setBold(True)
        self.text.setFont(font)
        self.faces_box = QWidget()
        self.faces = FlowLayout(self.faces_box, spacing=2)
        self.faces.setContentsMargins(0, 0, 0, 0)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.confirm = QPushButton("Name…" if new_person else "Confirm")
        self.reject = QPushButton("Not them")
        self.reject.setToolTip("None of these faces is " + ("one person to name." if new_person else f"{who}."))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.text)
        layout.addWidget(self.faces_box)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)
        self.ticks: dict[int, FaceTick] = {}

    def add_face(self, face_id: int, where: str) -> FaceTick:
        tick = FaceTick(face_id, self.who if not self.new_person else "this person", where)
        tick.toggled.connect(self._on_ticked)
        self.faces.addWidget(tick)
        self.ticks[face_id] = tick
        self._on_ticked()
        return tick

    def ticked(self) -> list[int]:
        """The faces to confirm, in the suggestion's order."""
        return [face_id for face_id, tick in self.ticks.items() if tick.isChecked()]

    def _on_ticked(self) -> None:
        n, total = len(self.ticked()), len(self.ticks)
        self.confirm.setEnabled(n > 0)
        named = "go to the person you name" if self.new_person else f"will be named {self.who}"
        if n == total:
            self.outcome.setText("Click a face that does not belong with the others to leave it out."
                                 if self.new_person else f"Click a face that is not {self.who} to leave it out.")
        elif n == 0:
            self.outcome.setText("No face is ticked: tick those that are "
                                 + ("one person" if self.new_person else self.who) + ", or click Not them.")
        else:
            left = total - n
            self.outcome.setText(f"{count(n, 'ticked face')} {named}; the other {left} "
                                 f"{'is' if left == 1 else 'are'} left out.")
        self.ticksChanged.emit()
