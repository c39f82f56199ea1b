"""Choose where and how to export restored versions (the core writes the files, never over another)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.settings import (
    EXPORT_PATTERN_FIELDS,
    JPEG_QUALITY_RANGE,
    Settings,
    export_pattern_problem,
)
from ented_desktop.gui.settings_dialog import FORMAT_LABELS


@dataclass(frozen=True)
class ExportScope:
    """Restored versions the user may export together, e.g. "This photo (a.jpg)" or "10 restored photos in
    Family"."""

    label: str
    version_ids: tuple[int, ...]


@dataclass(frozen=True)
class ExportChoice:
    dest: str
    format: str
    quality: int
    pattern: str
    version_ids: tuple[int, ...]


class ExportDialog(QDialog):
    """``scopes`` (at least one) are offered as a choice when there are several; the first is chosen."""

    def __init__(self, scopes: list[ExportScope], settings: Settings, folder: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export restored photos")
        self.scopes = scopes
        self.scope_buttons = QButtonGroup(self)
        what = QVBoxLayout()
        if len(scopes) == 1:
            what.addWidget(QLabel(scopes[0].label))
        else:
            for index, scope in enumerate(scopes):
                button = QRadioButton(scope.label.replace("&", "&&"))  # "&" would mark a shortcut
                button.setChecked(index == 0)
                self.scope_buttons.addButton(button, index)
                what.addWidget(button)
        self.folder = QLineEdit(folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.format = QComboBox()
        for value, label in FORMAT_LABELS.items():
            self.format.addItem(label, value)
        self.format.setCurrentIndex(max(0, self.format.findData(settings.export_format)))
        self.quality = QSpinBox()
        self.quality.setRange(*JPEG_QUALITY_RANGE)
        self.quality.setValue(settings.jpeg_quality)
        self.pattern = QLineEdit(settings.export_pattern)
        self.pattern.setToolTip("Fields: " + ", ".join("{" + f + "}" for f in EXPORT_PATTERN_FIELDS))
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b03a2e")
        self.problem.setWordWrap(True)
        note = QLabel("Each photo is written with its original's EXIF data and colour profile. Existing files "
                      "are never replaced: a free name is taken.")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Export:", what)
        form.addRow("Folder:", folder_row)
        form.addRow("Format:", self.format)
        form.addRow("JPEG quality:", self.quality)
        form.addRow("File name:", self.pattern)
        standard = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._validate)
        self.folder.textChanged.connect(self._validate)
        self.pattern.textChanged.connect(self._validate)
        self._validate()
        self.resize(520, 240)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text() or str(Path.home()))
        if folder:
            self.folder.setText(folder)

    def problem_text(self) -> str | None:
        if not self.folder.text().strip():
            return "Choose a folder to export to."
        return export_pattern_problem(self.pattern.text())

    def _validate(self) -> None:
        self.quality.setEnabled(self.format.currentData() == "jpeg")
        problem = self.problem_text()
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def choice(self) -> ExportChoice:
        scope = self.scopes[max(0, self.scope_buttons.checkedId())]  # -1: one scope, so no buttons
        return ExportChoice(self.folder.text().strip(), self.format.currentData(), self.quality.value(),
                            self.pattern.text(), scope.version_ids)
