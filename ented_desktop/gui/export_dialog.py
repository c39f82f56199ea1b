"""Choose where and how to export restored versions (the core writes the files, never over another).

The dialog keeps its last choice of format, JPEG quality and file names in the settings, and speaks of file names
in plain words ("Same name as the original"); the name pattern behind them is under Details.
"""

from __future__ import annotations

import dataclasses
import logging
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

from ented_desktop.core.library.versions import EXPORT_SUFFIXES
from ented_desktop.core.settings import (
    JPEG_QUALITY_RANGE,
    Settings,
    default_settings_path,
    export_pattern_problem,
    save_settings,
)
from ented_desktop.core.wording import count

log = logging.getLogger(__name__)

FORMAT_LABELS = {
    "png": "PNG (exact copy)",
    "jpeg": "JPEG (smaller files, for sharing)",
    "tiff": "TIFF (exact copy, for printing and photo editors)",
}
# pattern -> what it does, in words; the patterns of core.library.Versions.export_name
NAME_CHOICES = {
    "{stem}_restored": "Original name + “_restored”",
    "{stem}": "Same name as the original",
    "{date} {stem}": "Date taken + original name",
}
OWN_PATTERN = "Your own pattern (see Details)"
FIELD_HELP = ("{stem}: the original's name without its ending; {album}: the album; {date}: the date taken "
              "(YYYY-MM-DD); {version}: 1 for a photo's first restored version, 2 for its second…; {model}: the "
              "model that restored it.")
_EXAMPLE_FIELDS = {"stem": "Grandma 1952", "album": "Family", "date": "1952-07-14", "version": "1",
                   "model": "ENTED"}


def selection_label(selected: int, restored: int) -> str:
    """What exporting the selection exports, when ``restored`` of the ``selected`` photos have a restored version:
    "The 8 selected photos", "The 1 restored photo of the 8 selected (the other 7 are not restored yet)"."""
    if restored >= selected:
        return "The selected photo" if selected == 1 else f"The {selected} selected photos"
    others = selected - restored
    rest = "the other one is" if others == 1 else f"the other {others} are"
    return f"The {count(restored, 'restored photo')} of the {selected} selected ({rest} not restored yet)"


def example_name(pattern: str, fmt: str) -> str:
    """The file name ``pattern`` gives an example photo, "Grandma 1952_restored.png"; "" for a pattern with a
    problem."""
    if export_pattern_problem(pattern):
        return ""
    return pattern.format(**_EXAMPLE_FIELDS) + EXPORT_SUFFIXES[fmt]


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
    """``scopes`` (at least one) are offered as a choice when there are several; the first is chosen. Starts from
    the format, quality and file names of ``settings`` and, on Export, keeps the ones chosen in the settings file
    ``settings_path`` (default: the user's); :meth:`settings` gives them to the caller."""

    def __init__(self, scopes: list[ExportScope], settings: Settings, folder: str,
                 parent: QWidget | None = None, settings_path: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export restored photos")
        self.scopes = scopes
        self._settings = settings
        self._settings_path = settings_path
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
        self.names = QComboBox()
        for pattern, label in NAME_CHOICES.items():
            self.names.addItem(label, pattern)
        self.example = QLabel()
        self.details = QPushButton("Details")
        self.details.setCheckable(True)
        self.pattern = QLineEdit(settings.export_pattern)
        self.fields = QLabel(FIELD_HELP)
        self.fields.setWordWrap(True)
        detail_box = QWidget()
        detail_form = QFormLayout(detail_box)
        detail_form.setContentsMargins(0, 0, 0, 0)
        detail_form.addRow("Name pattern:", self.pattern)
        detail_form.addRow(self.fields)
        detail_box.setVisible(False)
        self.details.toggled.connect(detail_box.setVisible)
        self.detail_box = detail_box
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b03a2e")
        self.problem.setWordWrap(True)
        note = QLabel("Each photo is written with its original's date, camera details and colour profile. "
                      "Existing files are never replaced: a free name is taken.")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Export:", what)
        form.addRow("Folder:", folder_row)
        form.addRow("Format:", self.format)
        form.addRow("JPEG quality:", self.quality)
        form.addRow("File names:", self.names)
        form.addRow("", self.example)
        standard = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        self.buttons.addButton(self.details, QDialogButtonBox.ButtonRole.HelpRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(detail_box)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show_pattern(settings.export_pattern)
        self.format.currentIndexChanged.connect(self._validate)
        self.folder.textChanged.connect(self._validate)
        self.names.currentIndexChanged.connect(self._name_chosen)
        self.pattern.textChanged.connect(self._pattern_edited)
        self.scope_buttons.idToggled.connect(lambda _id, _on: self._validate())
        self._validate()
        self.resize(560, 280)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text() or str(Path.home()))
        if folder:
            self.folder.setText(folder)

    def _show_pattern(self, pattern: str) -> None:
        """Select the plain-words choice for ``pattern``, or "your own pattern" (added when first needed)."""
        index = self.names.findData(pattern)
        if index < 0:
            index = self.names.findText(OWN_PATTERN)
            if index < 0:
                self.names.addItem(OWN_PATTERN, None)
                index = self.names.count() - 1
        self.names.blockSignals(True)
        self.names.setCurrentIndex(index)
        self.names.blockSignals(False)

    def _name_chosen(self) -> None:
        pattern = self.names.currentData()
        if pattern is None:  # "your own pattern": it is written under Details
            self.details.setChecked(True)
        else:
            self.pattern.setText(pattern)

    def _pattern_edited(self, pattern: str) -> None:
        self._show_pattern(pattern)
        self._validate()

    def scope(self) -> ExportScope:
        return self.scopes[max(0, self.scope_buttons.checkedId())]  # -1: one scope, so no buttons

    def problem_text(self) -> str | None:
        if not self.folder.text().strip():
            return "Choose a folder to export to."
        return export_pattern_problem(self.pattern.text())

    def _validate(self) -> None:
        fmt = self.format.currentData()
        self.quality.setEnabled(fmt == "jpeg")
        example = example_name(self.pattern.text(), fmt)
        self.example.setText(f"For example: {example}" if example else "")
        problem = self.problem_text()
        self.problem.setText(problem or "")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(f"Export {count(len(self.scope().version_ids), 'photo')}")
        ok.setEnabled(problem is None)

    def choice(self) -> ExportChoice:
        return ExportChoice(self.folder.text().strip(), self.format.currentData(), self.quality.value(),
                            self.pattern.text(), self.scope().version_ids)

    def settings(self) -> Settings:
        """The settings with this export's format, quality and file names once Export was pressed."""
        return self._settings

    def accept(self) -> None:
        choice = self.choice()
        chosen = dataclasses.replace(self._settings, export_format=choice.format, jpeg_quality=choice.quality,
                                     export_pattern=choice.pattern)
        if chosen != self._settings:
            self._settings = chosen
            try:
                save_settings(chosen, self._settings_path)
            except OSError as exc:  # only next time's starting point is lost: the export itself goes ahead
                log.warning("export choices not kept in %s: %s", self._settings_path or default_settings_path(),
                            exc)
        super().accept()
