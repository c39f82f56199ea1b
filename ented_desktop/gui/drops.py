"""Files dropped from a file manager. A drop is always taken as a copy: a source told "move" may delete what
it dropped, and those are the user's originals."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QDropEvent


def dropped_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders a drag carries."""
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def accept_as_copy(event: QDropEvent) -> bool:
    """Accept a drag-enter, drag-move or drop of files as a copy, whatever the source proposed; refuse it (False)
    when the source cannot copy, since any other action could cost the user the files."""
    if not event.mimeData().hasUrls() or not event.possibleActions() & Qt.DropAction.CopyAction:
        event.ignore()
        return False
    event.setDropAction(Qt.DropAction.CopyAction)
    event.accept()
    return True
