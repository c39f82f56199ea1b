"""The albums list: every photo first, then each album with its photo count. Folders dropped on an album are
added to it; dropped anywhere else they make a new album, named by :func:`album_name_for`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QListWidget, QWidget

from ented_desktop.gui.drops import accept_as_copy, dropped_paths

ALL_PHOTOS = -1  # the albums list entry showing every photo
AlbumIdRole = Qt.ItemDataRole.UserRole + 20


def album_name_for(paths: list[Path]) -> str:
    """A dropped folder names its album; loose files get a dated name."""
    folders = [p for p in paths if p.is_dir()]
    if len(folders) == 1 and folders[0].name:
        return folders[0].name
    return time.strftime("Photos %Y-%m-%d %H:%M")


class AlbumList(QListWidget):
    """Albums; folders dropped on an album are added to it (elsewhere they make a new album)."""

    def __init__(self, on_drop: Callable[[list[Path], int | None], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_drop = on_drop
        self.setAcceptDrops(True)
        self.setIconSize(QSize(20, 20))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        accept_as_copy(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        accept_as_copy(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        if not accept_as_copy(event):
            return
        item = self.itemAt(event.position().toPoint())
        album_id = item.data(AlbumIdRole) if item is not None else None
        self._on_drop(dropped_paths(event.mimeData()), album_id if album_id != ALL_PHOTOS else None)
