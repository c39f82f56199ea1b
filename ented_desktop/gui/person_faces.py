"""The faces of the person chosen in the panel, and taking some away from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QListWidgetItem,
    QMenu,
)

from ented_desktop.core.library import Person, Suggestion
from ented_desktop.core.wording import count
from ented_desktop.gui.face_images import face_crop
from ented_desktop.gui.icons import icon
from ented_desktop.gui.people_list import CROP_SIZE, FaceIdRole

if TYPE_CHECKING:
    from ented_desktop.gui.people_panel import PeoplePanel

FACE_ICON_SIZE = 48
FACE_ROWS_SHOWN = 2  # the person's faces list scrolls beyond that




class PersonFaces:
    def __init__(self, panel: PeoplePanel) -> None:
        self.panel = panel
        self.shown: tuple[int | None, list[int]] = (None, [])  # whose faces the list shows, and which
        self.name = ""  # the name the faces' tooltips say

    def show_faces(self, person: Person | None) -> None:
        """List the person's faces; rebuilt only when they changed, so a selection survives other updates."""
        faces = self.panel.library.faces.of_person(person.id) if person is not None else []
        shown = (person.id if person is not None else None, [f.id for f in faces])
        name = person.name if person is not None else ""
        self.panel.faces_title.setText(f"<b>Faces of {name}</b>")
        self.panel.faces_title.setVisible(person is not None)
        self.panel.faces.setVisible(person is not None)
        self.panel.act_not_person.setText(f"Not {name}")
        if shown == self.shown:
            if name != self.name:  # renamed: the tooltips follow, the selection stays
                self.name = name
                for i, face in enumerate(faces):
                    self.panel.faces.item(i).setToolTip(self._face_tip(face.photo_id, name))
            return
        selected = set(self.selected_face_ids())
        self.shown = shown
        self.name = name
        self.panel.faces.clear()
        for face in faces:
            item = QListWidgetItem(QIcon(self._face_pixmap(face.id)), "")
            item.setData(FaceIdRole, face.id)
            item.setToolTip(self._face_tip(face.photo_id, name))
            self.panel.faces.addItem(item)
            item.setSelected(face.id in selected)
        self.update_face_actions()

    def _face_tip(self, photo_id: int, name: str) -> str:
        return f"In {self.panel.library.photos.get(photo_id).path.name}. Right-click or Del: Not {name}."

    def _face_pixmap(self, face_id: int) -> QPixmap:
        pixmap = self.panel.crops.get(("face", face_id))
        if pixmap is not None:
            return pixmap
        library = self.panel.library
        self.panel.load_crop(("face", face_id), lambda: face_crop(library, face_id, CROP_SIZE))
        return icon("person").pixmap(FACE_ICON_SIZE, FACE_ICON_SIZE)

    def selected_face_ids(self) -> list[int]:
        return [int(item.data(FaceIdRole)) for item in self.panel.faces.selectedItems()]

    def update_face_actions(self) -> None:
        self.panel.act_not_person.setEnabled(bool(self.panel.faces.selectedItems()))

    def show_faces_menu(self, pos: QPoint) -> None:
        item = self.panel.faces.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():  # right-clicking a face outside the selection means that face
            self.panel.faces.setCurrentItem(item)
        self.panel.pop_up(self.faces_menu(), self.panel.faces, pos)

    def faces_menu(self) -> QMenu:
        """The context menu of the selected person's faces."""
        menu = QMenu(self.panel)
        menu.addAction(self.panel.act_not_person)
        return menu

    def not_this_person(self) -> None:
        """Take the selected faces away from the person: they become unnamed."""
        person = self.panel.current_person()
        face_ids = self.selected_face_ids()
        if person is None or not face_ids or self.panel.still_saving(person.id):
            return
        library = self.panel.library

        def unname() -> None:
            library.people.unassign_faces(face_ids)
            # Also turned down for the person: they look alike, so the faces would be suggested right back.
            library.grouping.reject(Suggestion(tuple(face_ids), person.id, 0.0))

        done = f"Took {count(len(face_ids), 'face')} away from {person.name}; unnamed now."
        if person.reference_face_id in face_ids:
            done += f" {person.name} has no reference now."
        self.panel.change(unname, done,
                     f"The faces were not taken away from {person.name}.",
                     f"Still taking faces away from {person.name}", (person.id,))
