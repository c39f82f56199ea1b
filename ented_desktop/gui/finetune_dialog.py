"""Fine-tune a personal model for one person: progress, ETA, live loss plot, cancel, keep or discard.

The run is a "finetune" job of the job queue (:func:`ented_desktop.gui.tasks.finetune_work`): it is recorded in
the library, shown in the Jobs panel, waits for a running restore, and shows as interrupted when the program
ended during it. The dialog starts the job and shows it; the user then keeps the new model for the person or
discards it, advised by the rule ``ented finetune`` follows too (:mod:`ented_desktop.core.finetune_verdict`):
only a gain on the held-out photo larger than one photo can tell from noise recommends keeping it.

Nothing here is modal: the window stays usable while it trains. Closing the dialog only hides it (the Jobs panel's
Show brings it back, and it comes back by itself when the run ends, for the keep-or-discard choice); Cancel is a
button. Figures (PSNR, dB) are behind Details; the rest says in plain words what the held-out photo showed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.finetune_verdict import assess
from ented_desktop.core.library import JobState
from ented_desktop.core.wording import count
from ented_desktop.gui.job_queue import JobQueue
from ented_desktop.gui.loss_plot import LossPlot
from ented_desktop.gui.tasks import FINETUNE_MIN_PHOTOS, FinetuneProgress, Outcome
from ented_desktop.gui.wording import format_eta

RESULT_COLUMNS = ["", "Degraded input", "General model", "Personal model"]
ACTIVE = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)
PLAIN_VERDICTS = {  # core.finetune_verdict.Verdict.outcome -> what it means, in words a family member reads
    "better": "On a photo of {name} it did not learn from, the personal model came out sharper and closer to the "
              "original than the general model.",
    "worse": "On a photo of {name} it did not learn from, the personal model came out worse than the general model.",
    "too close to tell": "On a photo of {name} it did not learn from, the personal model and the general model came "
                         "out too close to tell apart.",
}


def _figure_text(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "—"


@dataclass(frozen=True)
class FinetuneCandidate:
    person_id: int
    name: str
    photo_count: int  # photos with a face of the person
    photos: tuple[Path, ...]  # those of them it can learn from (tasks.finetune_photos)

    @property
    def eligible(self) -> bool:
        return len(self.photos) >= FINETUNE_MIN_PHOTOS


class FinetuneDialog(QDialog):
    """Starts a "finetune" job on ``queue`` and shows it; hands its result to ``on_keep`` or ``on_discard``
    (closing without choosing discards)."""

    runFinished = Signal(object)

    def __init__(
        self,
        candidates: list[FinetuneCandidate],
        *,
        queue: JobQueue,
        on_keep: Callable[[int, Any], None],
        on_discard: Callable[[int, Any], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a personal model")
        self.setModal(False)  # the window stays usable (the Jobs panel, browsing photos) while it trains
        self.resize(640, 580)
        self._candidates = candidates
        self._queue = queue
        self._on_keep = on_keep
        self._on_discard = on_discard
        self.job_id: int | None = None
        self._person_id: int | None = None
        self._result: Any = None
        queue.changed.connect(self._on_job_changed)
        queue.event.connect(self._on_job_event)
        queue.finished.connect(self._on_job_finished)

        self.person = QComboBox()
        for candidate in candidates:
            label = f"{candidate.name} ({count(candidate.photo_count, 'photo')}"
            if len(candidate.photos) < candidate.photo_count:  # else the listed count would not add up
                label += f", the largest face in {len(candidate.photos)}"
            label += ")"
            if not candidate.eligible:
                label += f" — needs at least {FINETUNE_MIN_PHOTOS}"
            self.person.addItem(label, candidate.person_id)
            if not candidate.eligible:
                self.person.model().item(self.person.count() - 1).setEnabled(False)
        first = next((i for i, c in enumerate(candidates) if c.eligible), -1)
        self.person.setCurrentIndex(first)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.1, 24 * 60)
        self.minutes.setDecimals(1)
        self.minutes.setSingleStep(1.0)
        self.minutes.setValue(15)
        self.minutes.setSuffix(" min")
        form = QFormLayout()
        form.addRow("Person:", self.person)
        form.addRow("Time budget:", self.minutes)
        photos_note = QLabel(f"Only photos in which the person is the largest face are used (at least "
                             f"{FINETUNE_MIN_PHOTOS}). Two of them are kept aside to check the result: one to pick "
                             "the best moment, one to compare it with the general model (with three photos, one "
                             "does both). You can close this window while it learns: the Jobs panel shows it.")
        photos_note.setWordWrap(True)
        photos_note.setStyleSheet("color: #555")
        form.addRow(photos_note)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel(self._idle_text())
        self.status.setWordWrap(True)
        self.plot = LossPlot(val_label="likeness on a photo it did not learn from", loss_label="learning error")
        self.plot.empty_text = ("Start trains a personal model on the chosen person's photos for the time budget; "
                                "how well it learns is drawn here as it goes.")
        self.results = QTableWidget(1, len(RESULT_COLUMNS))
        self.results.setHorizontalHeaderLabels(RESULT_COLUMNS)
        header = self.results.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.results.verticalHeader().setVisible(False)
        self.results.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.results.setToolTip("PSNR of the held-out photo (not used for training) against its degraded copies "
                                "and their restorations; higher is closer to the original.")
        self.results.setVisible(False)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show the figures behind the advice")
        self.details_button.toggled.connect(self._show_details)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: #555")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(False)

        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.keep_button = QPushButton("Keep personal model")
        self.discard_button = QPushButton("Discard")
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.keep_button.clicked.connect(self.keep)
        self.discard_button.clicked.connect(self.discard)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.keep_button, self.discard_button,
                       self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.results)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self._set_phase("choose")

    def _idle_text(self) -> str:
        if not any(c.eligible for c in self._candidates):
            return (f"Fine-tuning needs a named person with at least {FINETUNE_MIN_PHOTOS} photos. "
                    "Name more faces first.")
        return "Pick a person and a time budget, then press Start."

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        choosing = phase == "choose"
        self.person.setEnabled(choosing)
        self.minutes.setEnabled(choosing)
        self.start_button.setVisible(choosing)
        self.start_button.setEnabled(choosing and self.person.currentIndex() >= 0
                                     and self._candidates[self.person.currentIndex()].eligible)
        self.cancel_button.setVisible(phase == "running")
        self.cancel_button.setEnabled(True)
        self.keep_button.setVisible(phase == "finished")
        self.discard_button.setVisible(phase == "finished")
        self.close_button.setText("Close" if phase != "running" else "Close (keeps learning)")
        self.details_button.setVisible(phase == "finished")
        if phase != "finished":
            self.details_button.setChecked(False)

    def _name(self) -> str:
        return next((c.name for c in self._candidates if c.person_id == self._person_id), "this person")

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        candidate = self._candidates[self.person.currentIndex()]
        if not candidate.eligible:
            return
        self._person_id = candidate.person_id
        self.plot.clear()
        self.plot.empty_text = "Waiting for the first iterations…"
        self.results.setVisible(False)
        self.details.setText("")
        self.progress.setRange(0, 0)  # busy until the first report gives a total
        self.status.setText(f"Fine-tuning on {count(len(candidate.photos), 'photo')} of {candidate.name}: loading "
                            "the model and finding the faces…")
        self._set_phase("running")
        self.job_id = self._queue.submit("finetune", {
            "person_id": candidate.person_id, "minutes": self.minutes.value(),
            "title": f"Fine-tune for {candidate.name}"})
        self._on_job_changed(self.job_id)

    def show_job(self, job_id: int) -> None:
        """Show a fine-tune job started elsewhere (re-run from the Jobs panel) and, when it is done, its
        result for the user to keep or discard."""
        entry = self._queue.entries[job_id]
        self.job_id = job_id
        self.plot.clear()
        self._person_id = int(entry.payload["person_id"])
        self.person.setCurrentIndex(max(0, self.person.findData(self._person_id)))
        if entry.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED):
            self._on_job_finished(job_id, entry.state)
        else:
            self._set_phase("running")
            self._on_job_changed(job_id)

    def cancel(self) -> None:
        if self.job_id is not None and self.phase == "running":
            self.status.setText("Stopping after the current iteration…")
            self.cancel_button.setEnabled(False)
            self._queue.cancel(self.job_id)

    def _on_job_changed(self, job_id: int) -> None:
        entry = self._queue.entries.get(job_id)
        if job_id != self.job_id or entry is None or self.phase != "running":
            return
        if entry.state == JobState.QUEUED and self._queue.waiting(job_id):
            self.status.setText("Waiting for the job before it in the Jobs panel to finish…")
        elif entry.state == JobState.PAUSED:
            self.status.setText("Paused from the Jobs panel; resume it there. The time budget keeps counting.")
        elif entry.state == JobState.RUNNING and self.progress.maximum() == 0 and entry.text:
            self.status.setText(entry.text)  # shown again from the Jobs panel: what it does until the next report

    def _on_job_event(self, job_id: int, event: object) -> None:
        if job_id == self.job_id and isinstance(event, FinetuneProgress):
            self._on_progress(event.report)

    def _on_progress(self, report: dict[str, Any]) -> None:
        total = int(report.get("total") or 0)
        iteration = int(report.get("iteration") or 0)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(iteration, total))
            self.plot.set_total(total)
        self.plot.add(iteration, report.get("loss"), report.get("val"))
        where = f"Learning: step {iteration}" + (f" of about {total}" if total else "")
        self.status.setText(f"{where} · {format_eta(report.get('eta_s'))}")

    def _on_job_finished(self, job_id: int, state: str) -> None:
        entry = self._queue.entries.get(job_id)
        if job_id != self.job_id or entry is None:
            return
        self.progress.setRange(0, 1)
        if state == JobState.DONE and isinstance(entry.result, Outcome):
            self._show_result(entry.result.value)
            return
        self.progress.setValue(0)
        if state == JobState.FAILED:
            self.status.setText(f"Fine-tuning failed: {entry.error}")
        else:
            self.status.setText("Fine-tuning was cancelled; nothing was kept.")
        self._set_phase("choose")

    def _show_result(self, result: Any) -> None:
        self._result = result
        figures = ["Held-out photo, PSNR (dB)", result.before.get("input_psnr"), result.before.get("val_psnr"),
                   result.after.get("val_psnr")]
        for column, value in enumerate(figures):
            item = QTableWidgetItem(value if column == 0 else _figure_text(value))
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.results.setItem(0, column, item)
        self.results.resizeRowsToContents()
        self.results.setFixedHeight(self.results.horizontalHeader().sizeHint().height() + self.results.rowHeight(0)
                                    + 2 * self.results.frameWidth())
        if result.history:
            self.plot.set_validation([(h["iteration"], h["val_psnr"]) for h in result.history])
        self.progress.setValue(1)
        name = self._name()
        if result.model_path is None:
            self.status.setText("Fine-tuning stopped before its first iteration, so there is no model to keep.")
        else:
            verdict = assess(result.before, result.after)
            if verdict.keep:
                advice = f"Keep it to use it for {name}'s faces."
            else:
                advice = (f"The general model is recommended: discard the personal model, or keep it anyway to use "
                          f"it for {name}'s faces.")
            self.status.setText(f"{PLAIN_VERDICTS[verdict.outcome].format(name=name)} {advice}")
            self.details.setText(verdict.sentence())
        self._set_phase("finished")
        self.keep_button.setEnabled(result.model_path is not None)
        self.runFinished.emit(result)

    def _show_details(self, shown: bool) -> None:
        self.results.setVisible(shown)
        self.details.setVisible(shown and bool(self.details.text()))

    # -- shown, hidden, reopened -------------------------------------------------------------------
    @staticmethod
    def of_job(parent: QWidget, job_id: int) -> FinetuneDialog | None:
        """The dialog of ``parent`` that shows fine-tune job ``job_id`` (perhaps hidden), if any."""
        return next((d for d in parent.findChildren(FinetuneDialog)
                     if d.job_id == job_id and d.phase in ("running", "finished")), None)

    def reopen(self) -> None:
        """Show the dialog again (from the Jobs panel, or when its run ended while it was hidden)."""
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.phase == "running":  # hidden, not closed: it is shown again from the Jobs panel
            event.ignore()
            self.hide()
            return
        super().closeEvent(event)

    # -- ending ---------------------------------------------------------------------------------
    def keep(self) -> None:
        if self._result is not None and self._person_id is not None:
            try:
                self._on_keep(self._person_id, self._result)
            except UserError as exc:
                self.status.setText(str(exc))
                return
            self.status.setText(f"The personal model is kept and will be used for {self._name()}'s faces.")
            self._result = None
        self._set_phase("choose")

    def discard(self) -> None:
        if self._result is not None and self._person_id is not None:
            if self._result.model_path is not None:
                self._on_discard(self._person_id, self._result)
            self.status.setText("The personal model was discarded.")
            self._result = None
        self._set_phase("choose")

    def reject(self) -> None:
        if self.phase == "running":  # closing never cancels (Cancel does): the run goes on, the dialog hides
            self.hide()
            return
        if self._result is not None:
            self.discard()  # closing without choosing must not leave an unused model behind
        super().reject()
