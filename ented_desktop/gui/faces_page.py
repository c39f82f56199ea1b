"""The Faces tab: the photo's faces, boxed and listed with how each will be restored, and naming them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Person
from ented_desktop.core.restore_wording import face_plan
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.face_images import cut_face
from ented_desktop.gui.face_overlay import FaceMark, FaceOverlayView, box_rect, face_label
from ented_desktop.gui.name_face_dialog import NameFaceDialog

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class FacesPage:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def _people(self) -> dict[int, Person]:
        return {p.id: p for p in self.window.library.people.all()}

    def face_marks(self) -> list[FaceMark]:
        if self.window.current_photo is None:
            return []
        people = self._people()
        marks = []
        for face in self.window.library.faces.of_photo(self.window.current_photo):
            label, named = face_label(face, people)
            marks.append(FaceMark(face.id, box_rect(face.box), label, named))
        return marks

    def refresh_faces(self) -> None:
        self.window.face_list.clear()
        if self.window.current_photo is None:
            return
        photo = self.window.library.photos.get(self.window.current_photo)
        faces = self.window.library.faces.of_photo(self.window.current_photo)
        people = self._people()
        if photo.faces_detector is None:
            self.window.face_list.addItem("Looking for faces…")
        elif not faces:
            self.window.face_list.addItem("No faces found in this photo.")
        for number, face in enumerate(faces, 1):
            item = QListWidgetItem(f"Face {number} — {face_plan(face, people)}")
            item.setData(Qt.ItemDataRole.UserRole, face.id)
            self.window.face_list.addItem(item)
        if self.window.photo_image is not None:
            self.window.faces_view.set_faces(self.face_marks())
        self.window.compare.set_faces([box_rect(f.box) for f in faces])

    def name_selected_face(self) -> None:
        face_id = self.window.faces_view.selected_face()
        if face_id is None:
            marks = self.window.faces_view.faces()
            unnamed = [m for m in marks if not m.named] or marks
            if not unnamed:
                self.window.status("This photo has no faces to name.")
                return
            face_id = unnamed[0].face_id
            self.window.faces_view.select_face(face_id)
        self.name_face(face_id)

    def name_face(self, face_id: int | None) -> None:
        if face_id is None:
            return
        try:
            face = self.window.library.faces.get(face_id)
        except UserError as exc:
            self.window.status(str(exc))
            return
        # Cut from the photo the Faces tab already decoded: no file is read here on the main thread.
        # Naming needs no pixels, so an unreadable or still-loading photo just gives no picture.
        loaded = self.window.photo_image if face.photo_id == self.window.current_photo else None
        crop = cut_face(loaded, face.box, 1.0, 96) if loaded is not None else None
        dialog = NameFaceDialog(self.window.library.people.all(), face.person_id, crop, self.window)
        if dialog.exec() != NameFaceDialog.DialogCode.Accepted:
            return
        library, name, person_id = self.window.library, dialog.new_name(), dialog.person_id()
        what = Changed.PEOPLE  # the face's name: the faces themselves stay
        if dialog.unname:
            self.window.calls.change(lambda: library.people.unassign_faces([face_id]), what,
                              lambda _: self.window.status("The face has no name now."), self.window.warn)
        elif person_id is not None:
            self.window.calls.change(lambda: library.people.assign_faces([face_id], person_id), what,
                              lambda _: self.window.status(f"Named {name}."), self.window.warn)
        else:
            self.window.calls.change(lambda: library.people.create(name, [face_id]), what,
                              lambda new_id: self._person_added(new_id, name), self.window.warn)

    def _person_added(self, person_id: int, name: str) -> None:
        self.window.status(f"Added {name}.")
        self.window.people_panel.select_person(person_id)

    def build(self) -> QWidget:
        """The photo with its face boxes, and the list of its faces."""
        self.window.faces_view = FaceOverlayView()
        self.window.faces_view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the page's keys: next, previous photo
        self.window.faces_view.faceClicked.connect(self.name_face)
        self.window.face_list = QListWidget()
        self.window.face_list.setWordWrap(True)
        self.window.face_list.setSpacing(3)
        self.window.face_list.itemActivated.connect(
            lambda item: self.name_face(item.data(Qt.ItemDataRole.UserRole)))
        faces_side = QWidget()
        side_layout = QVBoxLayout(faces_side)
        side_layout.setContentsMargins(4, 0, 0, 0)
        side_layout.addWidget(QLabel("<b>Faces</b> — click a box to name it"))
        side_layout.addWidget(self.window.face_list, 1)
        faces_page = QSplitter()
        faces_page.addWidget(self.window.faces_view)
        faces_page.addWidget(faces_side)
        faces_page.setStretchFactor(0, 4)
        faces_page.setStretchFactor(1, 1)
        return faces_page
