"""Fine-tune a personal model for one person: progress, ETA, live loss plot, cancel, keep or discard.

The run is a "finetune" job of the job queue (:func:`ented_desktop.gui.tasks.finetune_work`): it is recorded in
the library, shown in the Jobs panel, waits for a running restore, and shows as interrupted when the program
ended during it. The dialog starts the job and shows it; the user then keeps the new model for the person or
discards it, advised by the rule ``ented finetune`` follows too (:mod:`ented_desktop.core.finetune_verdict`):
only a gain on the held-out photo larger than one photo can tell from noise recommends keeping it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
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
from ented_desktop.gui.job_queue import JobQueue
from ented_desktop.gui.loss_plot import LossPlot
from ented_desktop.gui.tasks import FINETUNE_MIN_PHOTOS, FinetuneProgress, Outcome
from ented_desktop.gui.wording import count, format_eta

RESULT_COLUMNS = ["", "Degraded input", "General model", "Personal model"]


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
                             f"{FINETUNE_MIN_PHOTOS}). The last two are held out: one picks the best weights, "
                             "the other checks the personal model (with three photos, one does both).")
        photos_note.setWordWrap(True)
        photos_note.setStyleSheet("color: #555")
        form.addRow(photos_note)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel(self._idle_text())
        self.status.setWordWrap(True)
        self.plot = LossPlot(val_label="validation PSNR, dB")
        self.plot.empty_text = ("Start trains a personal model on the chosen person's photos for the time budget; "
                                "its loss and validation PSNR are drawn here as it learns.")
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
        self.close_button.setVisible(phase != "running")

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
        self.progress.setRange(0, 0)  # busy until the first report gives a total
        self.status.setText(f"Fine-tuning on {count(len(candidate.photos), 'photo')} of {candidate.name}: loading "
                            "the model and finding the faces…")
        self._set_phase("running")
        self.job_id = self._queue.submit("finetune", {
            "person_id": candidate.person_id, "minutes": self.minutes.value(),
            "title": f"Fine-tune a personal model for {candidate.name}"})
        self._on_job_changed(self.job_id)

    def show_job(self, job_id: int) -> None:
        """Show a fine-tune job started elsewhere (re-run from the Jobs panel) and, when it is done, its
        result for the user to keep or discard."""
        entry = self._queue.entries[job_id]
        self.job_id = job_id
        self._person_id = int(entry.payload["person_id"])
        self.person.setCurrentIndex(max(0, self.person.findData(self._person_id)))
        if entry.state in ("done", "failed", "cancelled"):
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
        if entry.state == "queued" and self._queue.waiting(job_id):
            self.status.setText("Waiting for the job before it in the Jobs panel to finish…")
        elif entry.state == "paused":
            self.status.setText("Paused from the Jobs panel; resume it there. The time budget keeps counting.")

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
        loss = report.get("loss")
        where = f"iteration {iteration}" + (f" of about {total}" if total else "")
        parts = [where, format_eta(report.get("eta_s"))]
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        if report.get("val") is not None:
            parts.append(f"validation PSNR {report['val']:.2f} dB")
        self.status.setText(" · ".join(parts))

    def _on_job_finished(self, job_id: int, state: str) -> None:
        entry = self._queue.entries.get(job_id)
        if job_id != self.job_id or entry is None:
            return
        self.progress.setRange(0, 1)
        if state == "done" and isinstance(entry.result, Outcome):
            self._show_result(entry.result.value)
            return
        self.progress.setValue(0)
        if state == "failed":
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
        self.results.setVisible(True)
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
            self.status.setText(f"{verdict.sentence()} {advice}")
        self._set_phase("finished")
        self.keep_button.setEnabled(result.model_path is not None)
        self.runFinished.emit(result)

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
        if self.phase == "running":
            self.cancel()
            return
        if self._result is not None:
            self.discard()  # closing without choosing must not leave an unused model behind
        super().reject()
