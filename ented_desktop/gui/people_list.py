"""The people list: an image file dropped onto a person becomes that person's reference."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from ented_desktop.core.imageio import SUPPORTED_SUFFIXES
from ented_desktop.gui.drops import accept_as_copy, dropped_paths

CROP_SIZE = 64
PersonIdRole = Qt.ItemDataRole.UserRole + 10
FaceIdRole = Qt.ItemDataRole.UserRole + 11


def dropped_image(paths: list[Path]) -> Path | None:
    """The first dropped file that looks like a photo (the core checks it for real)."""
    return next((p for p in paths if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES), None)


class PeopleList(QListWidget):
    """The people list; an image file dropped onto a person becomes that person's reference."""

    imageDropped = Signal(int, Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setIconSize(QSize(CROP_SIZE, CROP_SIZE))
        self.setWordWrap(True)
        self.setSpacing(2)

    def _target(self, event: QDropEvent | QDragMoveEvent) -> QListWidgetItem | None:
        if not event.mimeData().hasUrls():
            return None
        return self.itemAt(event.position().toPoint())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        accept_as_copy(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._target(event) is not None:
            accept_as_copy(event)
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        item = self._target(event)
        image = dropped_image(dropped_paths(event.mimeData()))
        if item is None or image is None:
            event.ignore()
        elif accept_as_copy(event):
            self.imageDropped.emit(int(item.data(PersonIdRole)), image)
