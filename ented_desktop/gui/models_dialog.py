"""The Models dialog: the installed models and the catalogue, with download (progress, ETA, cancel, the licence
question for CodeFormer), import of a file, verification and removal; the same functions as `ented models`.

Listing (which hashes every file), downloading, importing and verifying run on a worker thread
(:mod:`ented_desktop.gui.workers`); the dialog only presents them and runs one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.models.catalogue import CATALOGUE, CatalogueEntry
from ented_desktop.core.models.download import DownloadCancelled, DownloadProgress
from ented_desktop.core.models.store import InstalledModel
from ented_desktop.core.wording import count
from ented_desktop.gui.wording import format_eta
from ented_desktop.gui.workers import GeneratorWorker, WorkCancelled, WorkControl

COLUMNS = ["Name", "Architecture", "Resolution", "Size", "Licence", "SHA256", "Where"]
IMPORT_FILTER = "Model files (*.pth *.ckpt *.pt *.bin *.safetensors);;All files (*)"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _resolution(resolution: int, scale: int) -> str:
    return f"{resolution} px" if resolution else f"enlarges {scale}x"


@dataclass(frozen=True)
class Row:
    """One line of the table: an installed model, or a catalogued one that is not installed yet."""

    name: str
    installed: InstalledModel | None
    entry: CatalogueEntry | None

    def cells(self) -> list[str]:
        m, e = self.installed, self.entry
        if m is None and e is not None:
            return [e.name, e.architecture, _resolution(e.resolution, e.scale), _megabytes(e.size_bytes),
                    e.licence, "—", "not installed"]
        assert m is not None  # a row is built from an installed model or a catalogue entry (table_rows)
        sha = "verified" if m.verified else ("not listed" if "not listed" in m.problem else "damaged")
        where = f"{m.path.parent} (shipped)" if m.shipped else str(m.path.parent)
        return [m.name, m.architecture, _resolution(m.resolution, m.scale), _megabytes(m.size_bytes), m.licence,
                sha, where]


def table_rows(installed: list[InstalledModel]) -> list[Row]:
    names = {m.name for m in installed}
    entries = {e.name: e for e in CATALOGUE}
    rows = [Row(m.name, m, entries.get(m.name)) for m in installed]
    return rows + [Row(e.name, None, e) for e in CATALOGUE if e.name not in names]


def ask_licence(parent: QWidget, entry: CatalogueEntry) -> bool:
    answer = QMessageBox.question(
        parent, "Licence",
        f"{entry.display} is under the {entry.licence}:\n{entry.licence_url}\n\n"
        "It may not be used commercially. Accept this licence and download it?",
    )
    return answer == QMessageBox.StandardButton.Yes


def confirm_removal(parent: QWidget, model: InstalledModel) -> bool:
    answer = QMessageBox.question(parent, "Remove model",
                                  f"Remove {model.name} ({_megabytes(model.size_bytes)}) from {model.path.parent}?")
    return answer == QMessageBox.StandardButton.Yes


def choose_model_file(parent: QWidget) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Import a model file", str(Path.home()), IMPORT_FILTER)
    return Path(path) if path else None


class ModelsDialog(QDialog):
    """Lists the models and runs the model manager's actions; ``modelsChanged`` fires after an install or a
    removal so that model choices elsewhere can refresh."""

    modelsChanged = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        model_dir: Path | None = None,
        url_base: str | None = None,
        pool: QThreadPool | None = None,
        licence_question: Callable[[QWidget, CatalogueEntry], bool] = ask_licence,
        removal_question: Callable[[QWidget, InstalledModel], bool] = confirm_removal,
        file_chooser: Callable[[QWidget], Path | None] = choose_model_file,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(980, 420)
        self._model_dir, self._url_base, self._pool = model_dir, url_base, pool
        self._licence_question, self._removal_question = licence_question, removal_question
        self._file_chooser = file_chooser
        self._rows: list[Row] = []
        self._worker: GeneratorWorker | None = None
        self._on_done: Callable[[Any], None] = lambda _: None  # what the current work's result goes to

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.download_button = QPushButton("Download")
        self.import_button = QPushButton("Import a file…")
        self.verify_button = QPushButton("Verify")
        self.remove_button = QPushButton("Remove")
        self.cancel_button = QPushButton("Cancel")
        close_button = QPushButton("Close")
        self.download_button.clicked.connect(self.download_selected)
        self.import_button.clicked.connect(self.import_file)
        self.verify_button.clicked.connect(self.verify)
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.reject)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (self.download_button, self.import_button, self.verify_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(busy)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.refresh()

    # -- what is selected ------------------------------------------------------------------------------------
    def selected_row(self) -> Row | None:
        rows = self.table.selectionModel().selectedRows()
        return self._rows[rows[0].row()] if rows else None

    def select(self, name: str) -> None:
        for i, row in enumerate(self._rows):
            if row.name == name:
                self.table.selectRow(i)
                return
        raise KeyError(name)

    def busy(self) -> bool:
        return self._worker is not None

    def _update_buttons(self) -> None:
        row, idle = self.selected_row(), not self.busy()
        downloadable = row is not None and row.installed is None and row.entry is not None
        removable = row is not None and row.installed is not None and not row.installed.shipped
        self.download_button.setEnabled(idle and downloadable)
        self.remove_button.setEnabled(idle and removable)
        self.import_button.setEnabled(idle)
        self.verify_button.setEnabled(idle)

    def _show(self, installed: list[InstalledModel]) -> None:
        selected = self.selected_row()
        self._rows = table_rows(installed)
        self.table.setRowCount(len(self._rows))
        for i, row in enumerate(self._rows):
            for j, text in enumerate(row.cells()):
                item = QTableWidgetItem(text)
                problem = row.installed.problem if row.installed else ""
                item.setToolTip(problem or (row.entry.licence_url if row.entry and j == 4 else text))
                self.table.setItem(i, j, item)
        if selected is not None and any(r.name == selected.name for r in self._rows):
            self.select(selected.name)
        self._update_buttons()

    # -- background work -------------------------------------------------------------------------------------
    def _run(self, work: Callable[[WorkControl], Any], message: str, on_done: Callable[[Any], None],
             progress: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("")
        self.progress.setVisible(progress)
        self.progress.setValue(0)
        self.cancel_button.setVisible(progress)
        worker = GeneratorWorker(work)
        self._worker, self._on_done = worker, on_done
        # Slots of the dialog, not lambdas: a dialog deleted while its work runs is then simply not told.
        worker.signals.progress.connect(self._on_progress)
        worker.signals.finished.connect(self._on_finished)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.cancelled.connect(self._on_cancelled)
        (self._pool or QThreadPool.globalInstance()).start(worker)  # after connecting: no signal is missed
        self._update_buttons()

    def _from_current_work(self) -> bool:
        return self._worker is not None and self.sender() is self._worker.signals

    def _on_finished(self, result: object) -> None:
        if self._from_current_work():
            on_done = self._on_done
            self._finish(lambda: on_done(result))

    def _on_failed(self, text: str) -> None:
        if self._from_current_work():
            self._finish(lambda: self._fail(text))

    def _on_cancelled(self) -> None:
        if self._from_current_work():
            self._finish(lambda: self._note("Cancelled; nothing was kept."))

    def _finish(self, then: Callable[[], None]) -> None:
        self._worker = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        then()
        self._update_buttons()

    def _note(self, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)

    def _fail(self, text: str) -> None:
        self.status.setStyleSheet("color: #b00020")
        self.status.setText(text)

    def _on_progress(self, value: object) -> None:
        if not isinstance(value, DownloadProgress):
            return
        self.progress.setValue(int(1000 * value.fraction))
        if value.done >= value.total:  # verifying and importing cannot stop half-way: no more cancelling
            self.cancel_button.setVisible(False)
            self.status.setText("Downloaded; checking it and preparing it for use…")
        else:
            self.status.setText(f"Downloading: {_megabytes(value.done)} of {_megabytes(value.total)}, "
                                f"{format_eta(value.eta_s)}")

    def cancel(self) -> None:
        if self._worker is not None and not self.cancel_button.isHidden():
            self._worker.abort()
            self.status.setText("Cancelling…")

    def done(self, result: int) -> None:
        self.cancel()  # closing stops a download: it would go on invisibly otherwise
        super().done(result)

    # -- the actions -----------------------------------------------------------------------------------------
    def refresh(self, then: Callable[[list[InstalledModel]], None] | None = None) -> None:
        """List the models again, hashing their files in the background."""
        from ented_desktop.core.models.store import installed_models

        model_dir = self._model_dir

        def work(control: WorkControl) -> list[InstalledModel]:
            return installed_models(model_dir)

        def shown(installed: list[InstalledModel]) -> None:
            self._show(installed)
            self._note("")
            if then is not None:
                then(installed)

        self._run(work, "Checking the installed models…", shown)

    def download_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.entry is None or row.installed is not None or self.busy():
            return
        entry = row.entry
        if entry.non_commercial and not self._licence_question(self, entry):
            self._note(f"{entry.display} was not downloaded: its licence was not accepted.")
            return
        from ented_desktop.core.models.install import install_from_catalogue

        model_dir, url_base = self._model_dir, self._url_base

        def work(control: WorkControl) -> InstalledModel:
            try:
                return install_from_catalogue(entry.name, model_dir=model_dir, accept_licence=True,
                                              progress=control.report, abort=control.should_stop,
                                              url_base=url_base)
            except DownloadCancelled:
                raise WorkCancelled from None

        self._run(work, f"Downloading {entry.display}…", self._installed, progress=True)

    def import_file(self) -> None:
        if self.busy():
            return
        path = self._file_chooser(self)
        if path is None:
            return
        from ented_desktop.core.models.importer import import_model

        model_dir = self._model_dir

        def work(control: WorkControl) -> InstalledModel:
            return import_model(path, model_dir=model_dir)

        self._run(work, f"Importing {path.name}: checking it and preparing it for use…", self._installed)

    def _installed(self, model: InstalledModel) -> None:
        use = ("it cleans and enlarges backgrounds" if model.purpose == "background"
               else "choose it in the restore settings")
        self.modelsChanged.emit()
        self.refresh(lambda _: self._note(f"Installed {model.name} ({model.architecture}); {use}."))

    def verify(self) -> None:
        if self.busy():
            return
        from ented_desktop.core.models.store import verify_installed

        model_dir = self._model_dir

        def work(control: WorkControl) -> list[InstalledModel]:
            return verify_installed(model_dir)

        def verified(models: list[InstalledModel]) -> None:
            self._show(models)
            bad = [m for m in models if not m.verified]
            if bad:
                self._fail(f"{count(len(bad), 'model')} failed the check: "
                           + " ".join(m.problem for m in bad) + " Remove and install them again.")
            else:
                self._note(f"All {count(len(models), 'model')} match their sha256.")

        self._run(work, "Verifying every model file against its sha256…", verified)

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.installed is None or row.installed.shipped or self.busy():
            return
        if not self._removal_question(self, row.installed):
            return
        from ented_desktop.core.errors import UserError
        from ented_desktop.core.models.store import remove_installed

        try:
            removed = remove_installed(row.name, self._model_dir)
        except (UserError, OSError) as exc:
            self._fail(str(exc))
            return
        self.modelsChanged.emit()
        self.refresh(lambda _: self._note(f"Removed {removed.name}."))
