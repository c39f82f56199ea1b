"""Looking for faces in the photos that have none recorded yet: one "Find faces" job at a time, which also takes the
photos that arrive while it runs (tasks.detect_work with no list)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ented_desktop.core.wording import count

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class FaceDetection:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.tried: set[int] = set()  # photos a detect job was given (or found faces in) this session

    def request_face_detection(self) -> None:
        """Look for faces in photos that have none recorded yet.

        Called as photos arrive (during an import), when an import ends, and at start. A running detect job takes
        the photos that arrive meanwhile, so an import of any size gives one job. A photo is given to a new job
        once per session, so an unreadable one cannot start job after job."""
        if any(e.kind == "detect" for e in self.window.queue.active()):
            return
        ids = [i for i in self.window.library.photos.needing_faces() if i not in self.tried]
        if ids:
            self.tried.update(ids)
            self.window.queue.submit("detect", {"photo_ids": None, "title": "Find faces"})

    def submit_detection(self, photo_ids: list[int]) -> None:
        title = f"Find faces in {count(len(photo_ids), 'photo')}"
        self.window.queue.submit("detect", {"photo_ids": photo_ids, "title": title})
