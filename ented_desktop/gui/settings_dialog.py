"""Edit the application settings; validation and storage belong to ``core.settings``.

Settings says which device restoring actually runs on ("NVIDIA GPU: <name>", "This computer's processor (CPU)"),
found in the background because it means loading PyTorch. The engine and the model folder are behind Details. How
exported files are made (format, quality, names) is not here: the Export dialog offers it and remembers the last
choice.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core import paths
from ented_desktop.core.errors import UserError
from ented_desktop.core.settings import THUMBNAIL_SIZE_RANGE, Settings, default_settings_path, save_settings
from ented_desktop.gui.workers import GeneratorWorker

DEVICE_LABELS = {"auto": "Automatic: the fastest this computer has", "cpu": "This computer's processor (CPU)",
                 "cuda": "The NVIDIA graphics card (GPU)"}
ENGINE_LABELS = {"torch": "PyTorch (standard)", "onnx": "ONNX Runtime"}
CPU_WORDS = "This computer's processor (CPU)"
NO_GPU = "No NVIDIA graphics card was found, so restoring cannot run; choose Automatic or the processor."


def _gpu_words(index: int = 0) -> str:
    try:
        import torch

        return f"NVIDIA GPU: {torch.cuda.get_device_name(index)}"
    except (ImportError, RuntimeError, AssertionError):  # a name is a nicety: the device is still a GPU
        return "NVIDIA GPU"


def device_in_use(device: str, engine: str) -> str:
    """What restoring runs on with these settings, in words: "NVIDIA GPU: <name>", "Apple GPU",
    "This computer's processor (CPU)", or why it cannot run (a GPU asked for that is absent)."""
    if engine == "onnx":
        import onnxruntime as ort

        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if device == "cuda" and not cuda:
            return NO_GPU
        return _gpu_words() if cuda and device != "cpu" else CPU_WORDS
    from ented_desktop.core.engines.torch_engine import pick_torch_device

    try:
        chosen = pick_torch_device(device)
    except UserError:
        return NO_GPU
    if chosen.type == "cuda":
        return _gpu_words(chosen.index or 0)
    return "Apple GPU" if chosen.type == "mps" else CPU_WORDS


def _combo(labels: dict[str, str], current: str) -> QComboBox:
    combo = QComboBox()
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


class SettingsDialog(QDialog):
    """Shows ``settings``; on OK writes them to ``path`` (the user's settings file by default)."""

    def __init__(self, settings: Settings, parent: QWidget | None = None, path: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self._path = path
        self._result = settings
        self._checks: set[GeneratorWorker] = set()  # kept alive until they answer
        self._pool = QThreadPool(self)  # its own: never queued behind long work on the global pool
        self._pool.setMaxThreadCount(1)
        self._asked = 0
        self.device = _combo(DEVICE_LABELS, settings.device)
        self.in_use = QLabel("Restoring runs on: finding out…")
        self.in_use.setWordWrap(True)
        self.in_use.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.engine = _combo(ENGINE_LABELS, settings.engine)
        self.model_dir = QLineEdit(settings.model_dir or "")
        self.model_dir.setPlaceholderText(str(paths.model_dir()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_dir, 1)
        model_row.addWidget(browse)
        self.thumbnail_size = QSpinBox()
        self.thumbnail_size.setRange(*THUMBNAIL_SIZE_RANGE)
        self.thumbnail_size.setSuffix(" px")
        self.thumbnail_size.setValue(settings.thumbnail_size)

        form = QFormLayout()
        form.addRow("Restore with:", self.device)
        form.addRow("", self.in_use)
        form.addRow("Thumbnail size:", self.thumbnail_size)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details = QWidget()
        details_form = QFormLayout(self.details)
        details_form.setContentsMargins(0, 0, 0, 0)
        details_form.addRow("Engine:", self.engine)
        details_form.addRow("Model folder:", model_row)
        self.details.setVisible(False)
        self.details_button.toggled.connect(self.details.setVisible)
        buttons = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(buttons.Ok | buttons.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details)
        layout.addWidget(self.buttons)
        self.device.currentIndexChanged.connect(self._check_device)
        self.engine.currentIndexChanged.connect(self._check_device)
        self._check_device()

    def _check_device(self) -> None:
        """Find out in the background which device the chosen settings use (loading PyTorch takes a while)."""
        self._asked += 1
        asked, device, engine = self._asked, self.device.currentData(), self.engine.currentData()
        self.in_use.setText("Restoring runs on: finding out…")
        worker = GeneratorWorker(lambda control: device_in_use(device, engine))
        self._checks.add(worker)

        def answered(words: object) -> None:
            self._checks.discard(worker)
            if asked == self._asked:
                with contextlib.suppress(RuntimeError):  # the dialog was closed and deleted meanwhile
                    self.in_use.setText(f"Restoring runs on: {words}")

        worker.signals.finished.connect(answered)
        worker.signals.failed.connect(lambda message: answered(f"unknown ({message})"))
        self._pool.start(worker)  # once connected: a quick answer must not come before anyone listens

    def _browse(self) -> None:
        start_folder = self.model_dir.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Model folder", start_folder)
        if folder:
            self.model_dir.setText(folder)

    def edited(self) -> Settings:
        """The settings as currently shown in the dialog."""
        return dataclasses.replace(
            self._result,
            device=self.device.currentData(),
            engine=self.engine.currentData(),
            model_dir=self.model_dir.text().strip() or None,
            thumbnail_size=self.thumbnail_size.value(),
        )

    def settings(self) -> Settings:
        """The settings after the dialog closed: the edited ones if OK was pressed."""
        return self._result

    def accept(self) -> None:
        edited = self.edited()
        try:
            save_settings(edited, self._path)
        except OSError as exc:  # stay open, so the user can try again or cancel
            path = self._path or default_settings_path()
            QMessageBox.warning(self, "Settings",
                                f"The settings could not be saved to {path}: {exc.strerror or exc}.")
            return
        self._result = edited
        super().accept()
