"""Edit the application settings; validation and storage belong to ``core.settings``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
from ented_desktop.core.settings import (
    EXPORT_PATTERN_FIELDS,
    JPEG_QUALITY_RANGE,
    THUMBNAIL_SIZE_RANGE,
    Settings,
    default_settings_path,
    export_pattern_problem,
    save_settings,
)

DEVICE_LABELS = {"auto": "Automatic (GPU when available)", "cpu": "CPU only", "cuda": "GPU (CUDA)"}
ENGINE_LABELS = {"torch": "PyTorch", "onnx": "ONNX Runtime"}
FORMAT_LABELS = {"png": "PNG (lossless)", "jpeg": "JPEG"}


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
        self.device = _combo(DEVICE_LABELS, settings.device)
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
        self.export_format = _combo(FORMAT_LABELS, settings.export_format)
        self.jpeg_quality = QSpinBox()
        self.jpeg_quality.setRange(*JPEG_QUALITY_RANGE)
        self.jpeg_quality.setValue(settings.jpeg_quality)
        self.export_format.currentIndexChanged.connect(self._sync_quality)
        self.export_pattern = QLineEdit(settings.export_pattern)
        self.export_pattern.setToolTip("Fields: " + ", ".join("{" + f + "}" for f in EXPORT_PATTERN_FIELDS))
        self.export_pattern.textChanged.connect(self._validate)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b03a2e")
        self.problem.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Device:", self.device)
        form.addRow("Engine:", self.engine)
        form.addRow("Model folder:", model_row)
        form.addRow("Thumbnail size:", self.thumbnail_size)
        form.addRow("Export format:", self.export_format)
        form.addRow("JPEG quality:", self.jpeg_quality)
        form.addRow("Export file name:", self.export_pattern)
        buttons = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(buttons.Ok | buttons.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._sync_quality()
        self._validate()

    def _browse(self) -> None:
        start = self.model_dir.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Model folder", start)
        if folder:
            self.model_dir.setText(folder)

    def _sync_quality(self) -> None:
        self.jpeg_quality.setEnabled(self.export_format.currentData() == "jpeg")

    def _validate(self) -> None:
        problem = export_pattern_problem(self.export_pattern.text())
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def edited(self) -> Settings:
        """The settings as currently shown in the dialog."""
        return dataclasses.replace(
            self._result,
            device=self.device.currentData(),
            engine=self.engine.currentData(),
            model_dir=self.model_dir.text().strip() or None,
            thumbnail_size=self.thumbnail_size.value(),
            export_format=self.export_format.currentData(),
            jpeg_quality=self.jpeg_quality.value(),
            export_pattern=self.export_pattern.text(),
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
