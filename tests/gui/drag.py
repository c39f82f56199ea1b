"""Drags from a file manager, as events: enter, move, drop (Qt ignores a drop no accepted drag-enter announced)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

COPY = Qt.DropAction.CopyAction
COPY_OR_MOVE = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
NO_KEY = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier  # with copy or move offered, a file manager then proposes a move


@dataclass(frozen=True)
class Dropped:
    """How the target answered the drop (read before the event and its data are gone)."""

    accepted: bool
    proposed: Qt.DropAction
    action: Qt.DropAction


def drag_and_drop(target: QWidget, paths: list[Path], point: QPoint | None = None,
                  actions: Qt.DropAction = COPY, modifiers: Qt.KeyboardModifier = NO_KEY) -> Dropped:
    """Send the three events to ``target`` (at its centre unless ``point``); how it answered the drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    at = target.rect().center() if point is None else point
    args = (actions, mime, Qt.MouseButton.NoButton, modifiers)
    QApplication.sendEvent(target, QDragEnterEvent(at, *args))
    QApplication.sendEvent(target, QDragMoveEvent(at, *args))
    drop = QDropEvent(QPointF(at), *args)
    QApplication.sendEvent(target, drop)
    return Dropped(drop.isAccepted(), drop.proposedAction(), drop.dropAction())
