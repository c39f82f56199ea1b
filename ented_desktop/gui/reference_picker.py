"""Pick a person's reference among their faces, shown as pictures ranked best first with the reasons in plain
words (the measured numbers in each face's tooltip)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.library import Library, ReferenceCandidate
from ented_desktop.gui.background_calls import BackgroundCalls
from ented_desktop.gui.face_images import face_crop
from ented_desktop.gui.icons import icon
from ented_desktop.gui.reference_words import ReferenceAdvice, details, short_reason

PICK_SIZE = 112
FaceIdRole = Qt.ItemDataRole.UserRole + 30


class ReferencePicker(QDialog):
    """After OK, :meth:`face_id` is the chosen face."""

    def __init__(self, library: Library, person_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        person = library.people.get(person_id)
        self.setWindowTitle(f"Reference for {person.name}")
        self.library = library
        self.person_id = person_id
        self.reference_face_id = person.reference_face_id
        self._picked = False  # a face clicked before the ranking arrived stays chosen
        self.calls = BackgroundCalls(self)
        self.faces = QListWidget()
        self.faces.setViewMode(QListView.ViewMode.IconMode)
        self.faces.setIconSize(QSize(PICK_SIZE, PICK_SIZE))
        self.faces.setGridSize(QSize(PICK_SIZE + 60, PICK_SIZE + 56))
        self.faces.setResizeMode(QListView.ResizeMode.Adjust)
        self.faces.setMovement(QListView.Movement.Static)
        self.faces.setWordWrap(True)
        self.faces.itemDoubleClicked.connect(lambda _: self.accept())
        self.faces.itemPressed.connect(self._on_pressed)
        self.note = QLabel("Finding the clearest, largest faces that face the camera…")
        self.note.setWordWrap(True)
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.faces.currentItemChanged.connect(lambda item, _: self.ok.setEnabled(item is not None))
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.faces, 1)
        layout.addWidget(buttons)
        self.resize(640, 460)

        placeholder = QIcon(icon("person").pixmap(PICK_SIZE, PICK_SIZE))
        for number, face in enumerate(library.faces.of_person(person_id), 1):
            item = QListWidgetItem(placeholder, f"Face {number}")
            item.setData(FaceIdRole, face.id)
            self.faces.addItem(item)
            self.calls.query(lambda fid=face.id: face_crop(library, fid, PICK_SIZE),
                             lambda image, fid=face.id: self._show_crop(fid, image))
            if face.id == self.reference_face_id:
                self.faces.setCurrentItem(item)
        self.ok.setEnabled(self.faces.currentItem() is not None)
        self.calls.query(lambda: library.references.candidates(person_id), self._show_ranking, self.note.setText)

    def _on_pressed(self, _item: QListWidgetItem) -> None:
        self._picked = True

    def _item(self, face_id: int) -> QListWidgetItem | None:
        for row in range(self.faces.count()):
            if self.faces.item(row).data(FaceIdRole) == face_id:
                return self.faces.item(row)
        return None

    def _show_crop(self, face_id: int, image: QImage | None) -> None:
        item = self._item(face_id)
        if item is not None and isinstance(image, QImage):
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _show_ranking(self, ranked: list[ReferenceCandidate]) -> None:
        """Best first; the best is marked as the suggestion and each face says why it ranks there.

        The current face becomes the person's reference, else the suggestion (so Enter takes it), unless
        the user already clicked one. Whatever Qt made current meanwhile (the first face, on focus) is no
        choice: it would make Enter take an arbitrary face."""
        ranked = list(ranked)
        chosen = self.face_id() if self._picked else self.reference_face_id
        if chosen is None and ranked:
            chosen = ranked[0].face_id
        for position, candidate in enumerate(ranked):
            item = self._item(candidate.face_id)
            if item is None:
                continue
            self.faces.takeItem(self.faces.row(item))
            self.faces.insertItem(position, item)
            current = " (current reference)" if candidate.face_id == self.reference_face_id else ""
            words = short_reason(ReferenceAdvice.of(candidate, ranked))
            item.setText(("★ Suggested\n" if position == 0 else "") + words + current)
            item.setToolTip(details(candidate))
        self.note.setText("Best first: clear, large faces that face the camera make the best references. "
                          "Double-click a face to use it." if ranked else
                          "None of these faces could be measured; any of them can still be chosen.")
        item = self._item(chosen) if chosen is not None else None
        if item is not None:
            self.faces.setCurrentItem(item)
        elif self.faces.currentItem() is None and self.faces.count():
            self.faces.setCurrentRow(0)

    def face_id(self) -> int | None:
        item = self.faces.currentItem()
        return None if item is None else int(item.data(FaceIdRole))

    def done(self, result: int) -> None:
        self.calls.shutdown()
        super().done(result)
