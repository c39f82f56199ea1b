"""Name a face: pick one of the people or type a new name."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.library import Person
from ented_desktop.gui.people_names import clean_name, same_name


class NameFaceDialog(QDialog):
    """After OK: :meth:`person_id` is an existing person, or None with :meth:`new_name` to create one;
    :attr:`unname` is True when the user chose to remove the face's name."""

    def __init__(self, people: list[Person], current: int | None = None, crop: QImage | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Who is this?")
        self._people = people
        self.unname = False
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for person in people:
            self.name.addItem(person.name, person.id)
        self.name.setCurrentIndex(self.name.findData(current) if current is not None else -1)
        if current is None:
            self.name.setEditText("")
        self.name.lineEdit().setPlaceholderText("Type a name or pick a person")
        self.face = QLabel()
        self.face.setFixedSize(96, 96)
        self.face.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if crop is not None and not crop.isNull():
            self.face.setPixmap(QPixmap.fromImage(crop))
        hint = QLabel("Unnamed faces are restored without a reference: the face itself is used instead.")
        hint.setWordWrap(True)
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        if current is not None:
            remove = buttons.addButton("Remove name", QDialogButtonBox.ButtonRole.DestructiveRole)
            remove.clicked.connect(self._unname)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.name.editTextChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        self.ok.setEnabled(bool(self.name.currentText().strip()))
        row = QHBoxLayout()
        row.addWidget(self.face)
        form = QVBoxLayout()
        form.addWidget(QLabel("Name:"))
        form.addWidget(self.name)
        form.addWidget(hint)
        row.addLayout(form, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(420, 160)

    def _unname(self) -> None:
        self.unname = True
        self.accept()

    def new_name(self) -> str:
        """The name as it is saved: the chosen person's own, or the typed one with its spaces cleaned up."""
        person = self._person()
        return person.name if person is not None else clean_name(self.name.currentText())

    def person_id(self) -> int | None:
        """The existing person whose name was chosen or typed (matched as :func:`same_name` does), else None."""
        person = self._person()
        return None if person is None else person.id

    def _person(self) -> Person | None:
        typed = self.name.currentText()
        return next((p for p in self._people if same_name(p.name, typed)), None)
