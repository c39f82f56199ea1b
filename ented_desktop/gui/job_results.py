"""What the window does when a job reports: new photos and faces are looked at, the views told what changed,
problems listed (the library keeps them; the panel shows its list again), a finished fine-tune offered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ented_desktop.core.library import JobState
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.finetune_dialog import FinetuneDialog
from ented_desktop.gui.tasks import (
    FacesFound,
    Outcome,
    PhotosArrived,
    VersionMade,
)

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class JobResults:
    """What the window does with long jobs' events and ends. Nothing once the window is closing: the jobs it
    stopped still report, and the library may be closed already."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def on_job_event(self, job_id: int, event: object) -> None:
        if self.window.queue.closing:
            return
        if isinstance(event, PhotosArrived):
            self.window.detection.request_face_detection()
        elif isinstance(event, FacesFound):
            self.window.detection.tried.add(event.photo_id)  # taken by a running job: not given to a new one
            if event.photo_id == self.window.current_photo:
                self.window.faces_page.refresh_faces()
            self.window.suggest_timer.start()
        elif isinstance(event, VersionMade):
            self.window.photos_page.mark_restored(event.photo_id, True)
            if event.photo_id == self.window.current_photo:
                self.window.compare_tab.refresh_versions(choose=event.version_id)

    def on_job_finished(self, job_id: int, state: str) -> None:
        entry = self.window.queue.entries.get(job_id)
        if entry is None or self.window.queue.closing:
            return
        outcome = entry.result if isinstance(entry.result, Outcome) else None
        if outcome is not None and outcome.problems:
            self.window.problems_panel.reload_now()  # the job listed them in the library; the dock shows itself
        if entry.kind == "import" and outcome is not None:
            self.window.calls.announce(Changed.ALBUMS | Changed.PHOTOS)
            self.window.detection.tried.difference_update(outcome.value.updated)  # changed: their faces again
            self.window.detection.request_face_detection()
        elif entry.kind == "detect":
            self.window.calls.announce(Changed.FACES)
            self.window.detection.request_face_detection()  # photos that arrived after it ended, if any
        elif entry.kind == "export" and outcome is not None:
            self.window.last_export = [e.path for e in outcome.value]
        elif entry.kind == "finetune" and state == JobState.DONE:
            dialog = FinetuneDialog.of_job(self.window, job_id)
            if dialog is None:
                self.window.show_finetune_job(job_id)  # re-run from the Jobs panel: its result still needs a choice
            else:
                dialog.reopen()  # closed while it learned: the result still needs a choice
        if state == JobState.FAILED:
            self.window.status(f"{entry.title} failed: {entry.error}")
        elif state == JobState.DONE:
            self.window.status(entry.text)
