"""The job queue panel: one row per job with progress, what it is doing, and pause/cancel/retry; a job with a
window of its own (a fine-tune's progress and plot) has Show, and a double-click on its row does the same."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.library import JobState
from ented_desktop.gui.elided_label import ElidedLabel
from ented_desktop.gui.icons import icon
from ented_desktop.gui.job_queue import JobEntry, JobQueue

STATE_WORDS = {
    JobState.QUEUED: "Waiting",
    JobState.RUNNING: "Running",
    JobState.PAUSED: "Paused",
    JobState.DONE: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
    JobState.INTERRUPTED: "Interrupted",
}
SHOWN_KINDS = ("finetune",)  # kinds of job whose progress has a window of its own, reopened with Show


class JobRow(QWidget):
    """One job. Buttons show only when their action is possible in the job's state."""

    showRequested = Signal(int)

    def __init__(self, queue: JobQueue, job_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.job_id = job_id
        self.setObjectName(f"job-{job_id}")
        self.title = ElidedLabel()  # a long title must not push the state and buttons out of view
        self.state = QLabel()
        self.state.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)  # never squeezed
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = self._button("pause", "Pause this job", lambda: queue.pause(job_id))
        self.resume_button = self._button("resume", "Resume this job", lambda: queue.resume(job_id))
        self.cancel_button = self._button("cancel", "Cancel this job", lambda: queue.cancel(job_id))
        self.retry_button = self._button("retry", "Run this job again", lambda: queue.retry(job_id))
        self.show_button = QToolButton()
        self.show_button.setText("Show")
        self.show_button.setToolTip("Show this job's progress and plot in its own window")
        self.show_button.setAccessibleName("Show this job's progress")
        self.show_button.clicked.connect(lambda: self.showRequested.emit(job_id))
        self._alarming = False
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.state)
        top.addWidget(self.show_button)
        for button in (self.pause_button, self.resume_button, self.retry_button, self.cancel_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.text)
        self.refresh()

    def _button(self, icon_name: str, tip: str, action: object) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(icon_name))
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        button.clicked.connect(action)
        return button

    def refresh(self) -> None:
        entry: JobEntry = self.queue.entries[self.job_id]
        self.title.setText(entry.title)
        self.state.setText(STATE_WORDS.get(entry.state, entry.state))
        if entry.fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(entry.fraction * 1000)))
        self.text.setText(entry.error or entry.text)
        alarming = entry.state in ("failed", "interrupted")
        if alarming != self._alarming:  # restyling is slow: only when the colour really changes
            self._alarming = alarming
            self.text.setStyleSheet("color: #b03a2e" if alarming else "")
        self.pause_button.setVisible(entry.can_pause())
        self.resume_button.setVisible(entry.can_resume())
        self.cancel_button.setVisible(entry.can_cancel())
        self.retry_button.setVisible(entry.can_retry())
        self.show_button.setVisible(self.can_show())

    def can_show(self) -> bool:
        """Whether the job has a window to show now: a fine-tune that is waiting, running or paused (a finished one
        shows its result by itself)."""
        entry = self.queue.entries[self.job_id]
        return entry.kind in SHOWN_KINDS and entry.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self.can_show():
            self.showRequested.emit(self.job_id)
        super().mouseDoubleClickEvent(event)


class JobQueuePanel(QWidget):
    """Newest job on top. ``showRequested(job_id)``: the user asked to see a job's own window (:data:`SHOWN_KINDS`)."""

    showRequested = Signal(int)

    def __init__(self, queue: JobQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.rows: dict[int, JobRow] = {}
        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(0)
        self._list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        self.empty = QLabel("No jobs yet. Restoring, finding faces, fine-tuning and exporting run here in the "
                            "background.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        queue.added.connect(self._add)
        queue.changed.connect(self._changed)
        for job_id in queue.entries:
            self._add(job_id)
        self._sync_empty()

    def _add(self, job_id: int) -> None:
        if job_id in self.rows:
            return
        row = JobRow(self.queue, job_id)
        row.showRequested.connect(self.showRequested)
        self.rows[job_id] = row
        self._list_layout.insertWidget(0, row)
        self._sync_empty()

    def _changed(self, job_id: int) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            row.refresh()

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        for job_id in [j for j in self.rows if j not in self.queue.entries]:
            self.rows.pop(job_id).deleteLater()
        self._sync_empty()

    def _sync_empty(self) -> None:
        self.empty.setVisible(not self.rows)
