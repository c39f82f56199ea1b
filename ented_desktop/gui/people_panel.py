"""People: their faces, their reference (picked, suggested with reasons, or dropped in as an image), and, on a
tab of their own, the app's suggestions for grouping unnamed faces, every face shown with a tick to leave it out;
the latest confirm can be undone (Undo, Ctrl+Z). A person can be renamed, merged into another or deleted
(right-click, F2, Delete), and faces taken away from them.

Everything slow (suggesting groups or a reference reads photos) runs as a background query, and every change
(naming, renaming, merging, deleting, references) as a background change (:mod:`background`); the panel reloads on
the library's ``changed`` signal, and itself only reads lists from the library.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Library, Person
from ented_desktop.core.wording import count
from ented_desktop.gui.background_calls import BackgroundCalls, Changed
from ented_desktop.gui.face_images import face_crop, image_file_thumbnail
from ented_desktop.gui.flow_layout import FlowLayout
from ented_desktop.gui.group_suggestions import GroupSuggestions
from ented_desktop.gui.icons import icon
from ented_desktop.gui.people_dialogs import MergeDialog, delete_consequences, merge_outcome
from ented_desktop.gui.people_list import CROP_SIZE, FaceIdRole, PeopleList, PersonIdRole
from ented_desktop.gui.people_names import clean_name, same_name
from ented_desktop.gui.person_faces import FACE_ICON_SIZE, FACE_ROWS_SHOWN, PersonFaces
from ented_desktop.gui.person_reference import PersonReference


@dataclass(frozen=True)
class _Change:
    """A change the user asked for, running in the background: what to say when it is done or has failed."""

    done: str
    failed: str
    busy: str  # "Still renaming Tony to Colin P": said when another change to these people is asked meanwhile
    people: tuple[int, ...]  # the people it writes to
    select: int | None = None  # the person to show afterwards


class PeoplePanel(QWidget):
    personSelected = Signal(int)
    restorePersonRequested = Signal(int)
    message = Signal(str)  # a one-line outcome or error for the status bar

    def __init__(self, library: Library, face_check: Callable[[Path], bool], calls: BackgroundCalls | None = None,
                 *, folders: dict[str, str] | None = None, parent: QWidget | None = None) -> None:
        """``face_check(path)`` says whether an image shows a face (gui.reference_check.shows_a_face); it runs
        off the main thread. ``folders`` remembers where file dialogs were last (the main window's, so it is
        kept between runs)."""
        super().__init__(parent)
        self.library = library
        self.references = PersonReference(self)
        self.person_faces = PersonFaces(self)
        self.group_suggestions = GroupSuggestions(self)
        self.face_check = face_check
        self.folders = folders if folders is not None else {}
        self.calls = calls or BackgroundCalls(self)
        self.calls.changed.connect(self._on_library_changed)
        self.crops: dict[object, QPixmap] = {}
        self._changes: dict[int, _Change] = {}  # by serial number
        self._serial = itertools.count()
        self._select_wanted: int | None = None  # a person to show once the list has them (just added)

        self.people = PeopleList()
        self.people.currentItemChanged.connect(self._on_current)
        self.people.imageDropped.connect(self.references.set_reference_image)
        self.people.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.people.customContextMenuRequested.connect(self._show_people_menu)
        self.act_rename = self._list_action(self.people, "Rename person…", self.rename_person, "F2")
        self.act_merge = self._list_action(self.people, "Merge person into…", self.merge_person)
        self.act_delete = self._list_action(self.people, "Delete person…", self.delete_person,
                                            QKeySequence.StandardKey.Delete)
        self.detail = QLabel("Name faces on a photo to add people. Drop a photo onto a person to use it as "
                             "their reference.")
        self.detail.setWordWrap(True)
        self.use_suggested = QPushButton(icon("reference"), "Use suggested reference")
        self.use_suggested.setToolTip("Use the face that shows them clearest, largest and most facing the camera.")
        self.use_suggested.clicked.connect(self.references.accept_suggested_reference)
        self.choose = QPushButton("Choose face…")
        self.choose.clicked.connect(self.references.choose_reference_face)
        self.from_file = QPushButton("From file…")
        self.from_file.clicked.connect(self.references.choose_reference_file)
        self.rename = QPushButton("Rename…")
        self.rename.clicked.connect(self.rename_person)
        self.restore = QPushButton(icon("restore"), "Restore their photos")
        self.restore.clicked.connect(self.restore_person)
        buttons = FlowLayout(spacing=4)  # wrapping, so the panel fits a narrow dock
        for button in (self.use_suggested, self.choose, self.from_file, self.rename, self.restore):
            buttons.addWidget(button)

        self.faces_title = QLabel()
        self.faces = QListWidget()
        self.faces.setViewMode(QListView.ViewMode.IconMode)
        self.faces.setIconSize(QSize(FACE_ICON_SIZE, FACE_ICON_SIZE))
        self.faces.setGridSize(QSize(FACE_ICON_SIZE + 6, FACE_ICON_SIZE + 6))
        self.faces.setResizeMode(QListView.ResizeMode.Adjust)
        self.faces.setMovement(QListView.Movement.Static)
        self.faces.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.faces.setMaximumHeight(FACE_ROWS_SHOWN * (FACE_ICON_SIZE + 6) + 2 * self.faces.frameWidth() + 4)
        self.faces.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.faces.customContextMenuRequested.connect(self.person_faces.show_faces_menu)
        self.faces.itemSelectionChanged.connect(self.person_faces.update_face_actions)
        self.act_not_person = self._list_action(self.faces, "Not this person", self.person_faces.not_this_person,
                                                QKeySequence.StandardKey.Delete)
        self.act_not_person.setEnabled(False)

        people_page = QWidget()
        people_layout = QVBoxLayout(people_page)
        people_layout.setContentsMargins(0, 4, 0, 0)
        people_layout.addWidget(self.people, 3)
        people_layout.addWidget(self.detail)
        people_layout.addLayout(buttons)
        people_layout.addWidget(self.faces_title)
        people_layout.addWidget(self.faces, 1)

        # Suggestions get the panel's whole height: every face of every suggestion is seen before a confirm.
        self.suggestions_empty = QLabel("No grouping suggestions right now.")
        self.suggestions_empty.setWordWrap(True)
        cards = QWidget()
        self.suggestions_layout = QVBoxLayout(cards)
        self.suggestions_layout.setContentsMargins(0, 0, 0, 0)
        self.suggestions_layout.addWidget(self.suggestions_empty)
        self.suggestions_layout.addStretch(1)
        self.suggestions = QScrollArea()
        self.suggestions.setWidgetResizable(True)
        self.suggestions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.suggestions.setFrameShape(QScrollArea.Shape.NoFrame)
        self.suggestions.setWidget(cards)

        self.tabs = QTabWidget()
        self.tabs.addTab(people_page, "People")
        self.tabs.addTab(self.suggestions, "Suggestions")
        self.undo = QPushButton()
        self.undo.clicked.connect(lambda: self.group_suggestions.undo_last_confirm())
        self.undo.setVisible(False)
        self.act_undo = QAction("Undo the last confirm", self)
        self.act_undo.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.act_undo.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.act_undo.triggered.connect(lambda _=False: self.group_suggestions.undo_last_confirm())
        self.addAction(self.act_undo)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.undo)
        self.refresh()

    def show_suggestion_count(self, n: int) -> None:
        self.tabs.setTabText(1, f"Suggestions ({n})" if n else "Suggestions")

    def _list_action(self, view: QListWidget, text: str, slot: Callable[[], None],
                     key: str | QKeySequence.StandardKey | None = None) -> QAction:
        """An action of ``view``'s context menu; its key works only while the list has the focus (elsewhere in
        the window Delete removes photos or albums)."""
        action = QAction(text, view)
        if key is not None:
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _=False: slot())
        view.addAction(action)
        return action

    # -- people ----------------------------------------------------------------------------------
    def _on_library_changed(self, what: Changed) -> None:
        if what & (Changed.PEOPLE | Changed.FACES):
            self.refresh(faces_changed=bool(what & Changed.FACES))

    def refresh(self, faces_changed: bool = False) -> None:
        """Reload people (cheap) and ask for new grouping suggestions (in the background). Suggested references
        are dropped (faces may have been named elsewhere); the shown person's is worked out again in the
        background. ``faces_changed``: faces were deleted or found again, and SQLite gives a deleted face's id
        to the next new face, so the crops kept by face id are dropped too."""
        if faces_changed:
            self.crops = {k: v for k, v in self.crops.items() if not (isinstance(k, tuple) and k[0] == "face")}
        current = self.current_person_id()
        people = self.library.people.all()
        self.references.forget_suggestions(people)
        self.people.blockSignals(True)
        self.people.clear()
        for person in people:
            item = QListWidgetItem(self._person_text(person))
            item.setData(PersonIdRole, person.id)
            item.setIcon(QIcon(self._person_pixmap(person)))
            item.setToolTip("Drop a photo here to make it this person's reference. Right-click to rename, "
                            "merge or delete.")
            self.people.addItem(item)
            if person.id == current:
                self.people.setCurrentItem(item)
        self.people.blockSignals(False)
        if self._select_wanted is not None:
            self.select_person(self._select_wanted)
        if self.people.currentItem() is None and self.people.count():
            self.people.setCurrentRow(0)
        self.update_detail()
        self.group_suggestions.refresh_suggestions()
        self.group_suggestions.refresh_undo()

    def _person_text(self, person: Person) -> str:
        faces = count(person.face_count, "face")
        has_reference = person.reference_face_id is not None or person.reference_image is not None
        extras = [faces, "reference set" if has_reference else "no reference"]
        if person.personal_model is not None:
            extras.append("personal model")
        return f"{person.name}\n" + " · ".join(extras)

    def _person_pixmap(self, person: Person) -> QPixmap:
        key: object
        if person.reference_image is not None:
            key = ("image", str(person.reference_image))
            path = person.reference_image
            fn = lambda: image_file_thumbnail(path, CROP_SIZE)  # noqa: E731
        else:
            face_id = person.reference_face_id
            if face_id is None:
                faces = self.library.faces.of_person(person.id)
                face_id = faces[0].id if faces else None
            if face_id is None:
                return icon("person").pixmap(CROP_SIZE, CROP_SIZE)
            key = ("face", face_id)
            library = self.library
            fn = lambda: face_crop(library, face_id, CROP_SIZE)  # noqa: E731
        pixmap = self.crops.get(key)
        if pixmap is None:
            self.load_crop(key, fn)
            return icon("person").pixmap(CROP_SIZE, CROP_SIZE)
        return pixmap

    def load_crop(self, key: tuple, load: Callable[[], QImage | None]) -> None:
        self.calls.query(load, lambda image: self._crop_loaded(key, image), key=key)

    def _crop_loaded(self, key: tuple, image: QImage | None) -> None:
        if isinstance(image, QImage):
            pixmap = QPixmap.fromImage(image)
            self.crops[key] = pixmap
            self._place_crop(key, pixmap)

    def current_person(self) -> Person | None:
        """The selected person as the library has them now; None (and the list reloaded) when they are gone."""
        person_id = self.current_person_id()
        if person_id is None:
            return None
        try:
            return self.library.people.get(person_id)
        except UserError as exc:
            self.message.emit(str(exc))
            self.refresh()
            return None

    def current_person_id(self) -> int | None:
        item = self.people.currentItem()
        return None if item is None else int(item.data(PersonIdRole))

    def select_person(self, person_id: int) -> None:
        """Show the person; one the list does not have yet (just added) is shown once it does."""
        for row in range(self.people.count()):
            if self.people.item(row).data(PersonIdRole) == person_id:
                self._select_wanted = None
                self.people.setCurrentRow(row)
                return
        self._select_wanted = person_id

    def _on_current(self, *_: object) -> None:
        self.update_detail()
        person_id = self.current_person_id()
        if person_id is not None:
            self.personSelected.emit(person_id)

    def restore_person(self) -> None:
        """Ask for the selected person's photos to be restored; one with no faces has none, which is said."""
        person = self.current_person()
        if person is None:
            return
        if not person.face_count:
            self.message.emit(f"{person.name} has no faces yet, so there are no photos of them to restore.")
            return
        self.restorePersonRequested.emit(person.id)

    def update_detail(self) -> None:
        person_id = self.current_person_id()
        has_person = person_id is not None
        for widget in (self.choose, self.from_file, self.rename, self.restore, self.act_rename, self.act_delete):
            widget.setEnabled(has_person)
        self.act_merge.setEnabled(has_person and self.people.count() > 1)
        if person_id is None:
            self.use_suggested.setEnabled(False)
            self.person_faces.show_faces(None)
            return
        try:
            person = self.library.people.get(person_id)
        except UserError:
            self.refresh()
            return
        self.person_faces.show_faces(person)
        self.references.show(person)

    def _show_people_menu(self, pos: QPoint) -> None:
        item = self.people.itemAt(pos)
        if item is not None:
            self.people.setCurrentItem(item)
            self.pop_up(self.people_menu(), self.people, pos)

    @staticmethod
    def pop_up(menu: QMenu, view: QListWidget, pos: QPoint) -> None:
        menu.exec(view.viewport().mapToGlobal(pos))
        menu.deleteLater()  # one is made per right-click

    def people_menu(self) -> QMenu:
        """The people list's context menu (for the selected person)."""
        menu = QMenu(self)
        menu.addAction(self.act_rename)
        menu.addAction(self.act_merge)
        menu.addSeparator()
        menu.addAction(self.act_delete)
        return menu

    # -- rename, merge, delete -------------------------------------------------------------------
    def rename_person(self) -> None:
        """Rename the selected person; a name someone else has offers to merge the two."""
        person = self.current_person()
        if person is None or self.still_saving(person.id):
            return
        name, ok = QInputDialog.getText(self, "Rename", f"New name for {person.name}:", text=person.name)
        if not ok or clean_name(name) == person.name:
            return
        twin = next((p for p in self.library.people.all() if p.id != person.id and same_name(p.name, name)), None)
        if twin is None:
            library = self.library
            self.change(lambda: library.people.rename(person.id, name),
                         f"Renamed to {clean_name(name)}.", f"{person.name} was not renamed.",
                         f"Still renaming {person.name} to {clean_name(name)}", (person.id,))
        elif self._ask_merge(person, twin):
            self._merge(person, twin)

    def _ask_merge(self, source: Person, target: Person) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Merge people?",
                          f"Someone is already called {target.name}. Merge {source.name} into {target.name}?\n"
                          "To keep them apart, cancel and choose another name.", parent=self)
        box.setInformativeText(merge_outcome(source, target))
        merge = box.addButton("Merge", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is merge

    def merge_person(self) -> None:
        """Merge the selected person into another one the user picks."""
        person = self.current_person()
        if person is None or self.still_saving(person.id):
            return
        others = [p for p in self.library.people.all() if p.id != person.id]
        if not others:
            self.message.emit("There is nobody else to merge with.")
            return
        dialog = MergeDialog(person, others, self._person_pixmap, self)
        target = dialog.target() if dialog.exec() == QDialog.DialogCode.Accepted else None
        if target is not None:
            self._merge(person, target)

    def _merge(self, source: Person, target: Person) -> None:
        library = self.library
        self.change(lambda: library.people.merge(source.id, target.id),
                     f"{source.name} merged into {target.name}.", f"{source.name} was not merged into {target.name}.",
                     f"Still merging {source.name} into {target.name}", (source.id, target.id), select=target.id)

    def delete_person(self) -> None:
        """Delete the selected person, after saying what that does."""
        person = self.current_person()
        if person is None or self.still_saving(person.id):
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete person?", f"Delete {person.name}?", parent=self)
        box.setInformativeText(delete_consequences(person))
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        if box.clickedButton() is delete:
            library = self.library
            self.change(lambda: library.people.delete(person.id),
                         f"{person.name} deleted; their faces are unnamed now.", f"{person.name} was not deleted.",
                         f"Still deleting {person.name}", (person.id,))

    def change(self, change: Callable[[], object], done: str, failed: str, busy: str,
               people: tuple[int, ...], select: int | None = None, what: Changed = Changed.PEOPLE) -> None:
        """Run a change the user asked for in the background (a busy library makes a write wait, a merge may
        copy a reference image); every view showing people reloads when it is done. One change at a time per
        person (the calls run on more than one thread, so two would land in either order)."""
        if self.still_saving(*people):
            return
        serial = next(self._serial)
        self._changes[serial] = _Change(done, failed, busy, people, select)
        self.calls.change(change, what, lambda _: self._change_done(self._changes.pop(serial)),
                          lambda message: self._change_failed(self._changes.pop(serial), message))

    def still_saving(self, *person_ids: int) -> bool:
        """Refuse, saying so, a change to people a change the user asked for is still being saved for."""
        running = next((c for c in self._changes.values() if set(c.people) & set(person_ids)), None)
        if running is not None:
            self.refuse(f"{running.busy}; try again in a moment.")
        return running is not None

    def _change_done(self, change: _Change) -> None:
        self.message.emit(change.done)
        if change.select is not None:
            self.select_person(change.select)

    def _change_failed(self, change: _Change, message: str) -> None:
        self.refuse(f"{change.failed} {message}".strip())

    # -- saying things, and crops arriving -----------------------------------------------------
    def refuse(self, text: str) -> None:
        self.message.emit(text)
        QMessageBox.warning(self, "ENTED Desktop", text)

    def write(self, change: Callable[[], object], done_text: str, person_id: int | None = None) -> None:
        """Run one library change the user asked for (to ``person_id``: refused while a change to them is still
        being saved); its failure is said in a message box."""
        people = (person_id,) if person_id is not None else ()
        self.change(change, done_text, "", "Still saving a change", people)

    def _place_crop(self, key: tuple, pixmap: QPixmap) -> None:
        for i in range(self.faces.count()):
            item = self.faces.item(i)
            if key == ("face", item.data(FaceIdRole)):
                item.setIcon(QIcon(pixmap))
        for card in self.group_suggestions.rows:
            if key[0] == "face" and key[1] in card.ticks:
                card.ticks[key[1]].set_face(pixmap)
        for i in range(self.people.count()):
            item = self.people.item(i)
            try:
                person = self.library.people.get(int(item.data(PersonIdRole)))
            except UserError:
                continue
            wanted = (("image", str(person.reference_image)) if person.reference_image is not None
                      else ("face", person.reference_face_id))
            if wanted == key or (person.reference_face_id is None and person.reference_image is None
                                 and key[0] == "face" and self._first_face(person.id) == key[1]):
                item.setIcon(QIcon(pixmap))

    def _first_face(self, person_id: int) -> int | None:
        faces = self.library.faces.of_person(person_id)
        return faces[0].id if faces else None
