"""Hooks that let a test drive the real application in another process (under a virtual X server, or offscreen).

They live in the tests, never in the shipped package: :mod:`tests.gui.launch_app` starts the application with
them. Each is inert unless its environment variable is set:

- ``ENTED_TEST_DROP=<path>[:<path>...]``: once the window is shown, a real ``QDropEvent`` carrying
  those paths as file URLs is sent to the window, so the drop goes through the same handler as a drag
  from a file manager (which xdotool cannot perform).
- ``ENTED_TEST_STATE=<file>``: every 250 ms the window writes a JSON snapshot of what a test needs to
  click on and check (screen rectangles of face boxes, buttons and the compare view; people, jobs,
  versions, the compare split, exported files). Written atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ented_desktop.core.atomic import write_text_atomic
from ented_desktop.gui.main_window import MainWindow

from .drag import drag_and_drop

STATE_INTERVAL_MS = 250


def _screen_rect(widget: QWidget, x: float = 0, y: float = 0, w: float | None = None,
                 h: float | None = None) -> list[int]:
    top_left = widget.mapToGlobal(QPoint(int(x), int(y)))
    return [top_left.x(), top_left.y(), int(widget.width() if w is None else w),
            int(widget.height() if h is None else h)]


def snapshot(window: MainWindow) -> dict[str, Any]:
    library = window.library
    faces = []
    for mark in window.faces_view.faces():
        box = window.faces_view.widget_box(mark.box)
        faces.append({"face_id": mark.face_id, "label": mark.label, "named": mark.named,
                      "screen": _screen_rect(window.faces_view, box.x(), box.y(), box.width(), box.height())})
    panel = window.people_panel
    grid_items = []
    viewport = window.grid.viewport()
    for row in range(min(window.thumbnails.rowCount(), 8)):
        rect = window.grid.visualRect(window.thumbnails.index(row))
        item = window.thumbnails.items()[row]
        grid_items.append({"photo_id": item.photo_id, "name": item.name,
                           "screen": _screen_rect(viewport, rect.x(), rect.y(), rect.width(), rect.height())})
    return {
        "window": _screen_rect(window),
        "tab": window.tabs.currentIndex(),
        "album": window.current_album,
        "photos": window.thumbnails.rowCount(),
        "grid_items": grid_items if window.grid.isVisible() else [],
        "current_photo": window.current_photo,
        "faces": faces,
        "people": [{"id": p.id, "name": p.name, "faces": p.face_count,
                    "reference": p.reference_face_id is not None or p.reference_image is not None}
                   for p in library.people.all()],
        "use_suggested": {"enabled": panel.use_suggested.isEnabled(),
                          "screen": _screen_rect(panel.use_suggested)},
        "jobs": [{"id": e.job_id, "kind": e.kind, "state": e.state, "text": e.text, "error": e.error}
                 for e in window.queue.entries.values()],
        "versions": [v.id for v in library.versions.of_photo(window.current_photo)] if window.current_photo else [],
        "compare": {"screen": _screen_rect(window.compare), "split": window.compare.split(),
                    "scale": window.compare.scale(), "mode": window.compare.mode().value,
                    "faces": [_screen_rect(window.compare, r.x(), r.y(), r.width(), r.height())
                              for r in map(window.compare.transform().mapRect, window.compare.faces())],
                    "has_after": window.compare.has_after(), "visible": window.compare.isVisible()},
        "problems": window.problems_panel.rows(),
        "exported": [str(p) for p in window.last_export],
        "status": window.statusBar().currentMessage(),
        "modal": (QApplication.activeModalWidget().windowTitle()
                  if QApplication.activeModalWidget() is not None else None),
    }


def _write_state(window: MainWindow, path: Path) -> None:
    write_text_atomic(path, json.dumps(snapshot(window), indent=1))


def install_test_hooks(window: MainWindow) -> None:
    drop = os.environ.get("ENTED_TEST_DROP")
    if drop:
        paths = [Path(p) for p in drop.split(os.pathsep) if p]
        QTimer.singleShot(500, lambda: drag_and_drop(window, paths))
    state = os.environ.get("ENTED_TEST_STATE")
    if state:
        timer = QTimer(window)
        timer.setInterval(STATE_INTERVAL_MS)
        timer.timeout.connect(lambda: _write_state(window, Path(state)))
        timer.start()
