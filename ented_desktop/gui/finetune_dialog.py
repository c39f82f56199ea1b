"""Fine-tune a personal model for one person: progress, ETA, live loss plot, cancel, keep or discard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.gui.loss_plot import LossPlot
from ented_desktop.gui.workers import GeneratorWorker, WorkControl

MINIMUM_PHOTOS = 3
FinetuneFn = Callable[..., Any]  # training.finetune.finetune_person's signature


@dataclass(frozen=True)
class FinetuneCandidate:
    person_id: int
    name: str
    photos: tuple[Path, ...]

    @property
    def eligible(self) -> bool:
        return len(self.photos) >= MINIMUM_PHOTOS


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


def default_finetune_fn() -> FinetuneFn:
    from training.finetune import finetune_person  # heavy (torch); only when a run starts

    return finetune_person


class FinetuneDialog(QDialog):
    """Runs ``finetune_fn`` in the background and hands the result to ``on_keep`` or ``on_discard``.

    ``base_model`` finds the general model's file; it runs on the worker thread (resolving a model
    imports the network code, which would stall the window)."""

    runFinished = Signal(object)

    def __init__(
        self,
        candidates: list[FinetuneCandidate],
        *,
        base_model: Callable[[], Path],
        out_dir_for: Callable[[int], Path],
        on_keep: Callable[[int, Any], None],
        on_discard: Callable[[int, Any], None],
        finetune_fn: FinetuneFn | None = None,
        pool: QThreadPool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a personal model")
        self.resize(620, 560)
        self._candidates = candidates
        self._base_model = base_model
        self._out_dir_for = out_dir_for
        self._on_keep = on_keep
        self._on_discard = on_discard
        self._finetune_fn = finetune_fn
        self._pool = pool or QThreadPool.globalInstance()
        self._worker: GeneratorWorker | None = None
        self._result: Any = None
        self._person_id: int | None = None

        self.person = QComboBox()
        for candidate in candidates:
            label = f"{candidate.name} ({len(candidate.photos)} photos)"
            if not candidate.eligible:
                label += f" — needs at least {MINIMUM_PHOTOS}"
            self.person.addItem(label, candidate.person_id)
            if not candidate.eligible:
                self.person.model().item(self.person.count() - 1).setEnabled(False)
        first = next((i for i, c in enumerate(candidates) if c.eligible), -1)
        self.person.setCurrentIndex(first)
        self.minutes = QSpinBox()
        self.minutes.setRange(1, 24 * 60)
        self.minutes.setValue(15)
        self.minutes.setSuffix(" min")
        form = QFormLayout()
        form.addRow("Person:", self.person)
        form.addRow("Time budget:", self.minutes)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel(self._idle_text())
        self.status.setWordWrap(True)
        self.plot = LossPlot()
        self.results = QTableWidget(0, 3)
        self.results.setHorizontalHeaderLabels(["Validation", "Before", "After"])
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.results.verticalHeader().setVisible(False)
        self.results.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results.setVisible(False)
        self.results.setMaximumHeight(110)

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
            return (f"Fine-tuning needs a named person with at least {MINIMUM_PHOTOS} photos. "
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
        self.keep_button.setVisible(phase == "finished")
        self.discard_button.setVisible(phase == "finished")
        self.close_button.setVisible(phase != "running")

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        candidate = self._candidates[self.person.currentIndex()]
        if not candidate.eligible:
            return
        self._person_id = candidate.person_id
        fn = self._finetune_fn
        minutes = self.minutes.value()
        resolve_base, out_dir = self._base_model, self._out_dir_for(candidate.person_id)
        photos = list(candidate.photos)

        def work(control: WorkControl) -> Any:
            finetune = fn or default_finetune_fn()
            return finetune(photos, base_model=resolve_base(), out_dir=out_dir, minutes=minutes,
                            progress_fn=control.report, abort_fn=control.should_stop)

        self.plot.clear()
        self.results.setVisible(False)
        self.status.setText(f"Fine-tuning on {len(photos)} photos of {candidate.name}…")
        self.progress.setRange(0, 0)  # busy until the first report gives a total
        worker = GeneratorWorker(work)
        worker.signals.progress.connect(self._on_progress)
        worker.signals.finished.connect(self._on_finished)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.cancelled.connect(self._on_cancelled)
        self._worker = worker
        self._set_phase("running")
        self._pool.start(worker)

    def cancel(self) -> None:
        if self._worker is not None:
            self.status.setText("Stopping after the current iteration…")
            self.cancel_button.setEnabled(False)
            self._worker.abort()

    def _on_progress(self, report: dict[str, Any]) -> None:
        total = int(report.get("total") or 0)
        iteration = int(report.get("iteration") or 0)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(iteration, total))
            self.plot.set_total(total)
        self.plot.add(iteration, report.get("loss"), report.get("val"))
        loss = report.get("loss")
        where = f"iteration {iteration}" + (f" of {total}" if total else "")
        parts = [where, format_eta(report.get("eta_s"))]
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        if report.get("val") is not None:
            parts.append(f"validation {report['val']:.4g}")
        self.status.setText(" · ".join(parts))

    def _on_finished(self, result: Any) -> None:
        self._worker = None
        self._result = result
        self.cancel_button.setEnabled(True)
        self.results.setRowCount(0)
        for key in sorted(set(result.before) | set(result.after)):
            row = self.results.rowCount()
            self.results.insertRow(row)
            self.results.setItem(row, 0, QTableWidgetItem(key))
            for column, figures in ((1, result.before), (2, result.after)):
                value = figures.get(key)
                text = f"{value:.4g}" if isinstance(value, float) else ("—" if value is None else str(value))
                self.results.setItem(row, column, QTableWidgetItem(text))
        self.results.setVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if result.model_path is None:
            self.status.setText("Fine-tuning produced no model to keep.")
        elif result.improved:
            self.status.setText("The personal model scores better than the base model on held-out photos. "
                                "Keep it to use it for this person's faces.")
        else:
            self.status.setText("The personal model did not score better than the base model on held-out "
                                "photos; discarding it is recommended.")
        self._set_phase("finished")
        self.keep_button.setEnabled(result.model_path is not None)
        self.runFinished.emit(result)

    def _on_failed(self, message: str) -> None:
        self._worker = None
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Fine-tuning failed: {message}")
        self._set_phase("choose")

    def _on_cancelled(self) -> None:
        self._worker = None
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText("Fine-tuning was cancelled; nothing was kept.")
        self._set_phase("choose")

    # -- ending ---------------------------------------------------------------------------------
    def keep(self) -> None:
        if self._result is not None and self._person_id is not None:
            self._on_keep(self._person_id, self._result)
            self.status.setText("The personal model is kept and will be used for this person's faces.")
            self._result = None
        self._set_phase("choose")

    def discard(self) -> None:
        if self._result is not None and self._person_id is not None:
            self._on_discard(self._person_id, self._result)
            self.status.setText("The personal model was discarded.")
            self._result = None
        self._set_phase("choose")

    def reject(self) -> None:
        if self._worker is not None:
            self.cancel()
            return
        if self._result is not None and self._person_id is not None:
            self.discard()  # closing without choosing must not leave an unregistered model behind
        super().reject()
