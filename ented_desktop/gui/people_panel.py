"""People: their faces, their reference (picked, suggested with reasons, or dropped in as an image),
and the app's suggestions for grouping unnamed faces, confirmed or rejected with one click. A person can be
renamed, merged into another or deleted (right-click, F2, Delete), and faces taken away from them.

Everything slow (suggesting groups or a reference reads photos) runs through :class:`AsyncCalls`, and so
do renaming, merging, deleting and un-naming; the panel itself only reads lists from the library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES
from ented_desktop.core.library import Library, Person, ReferenceCandidate, Suggestion
from ented_desktop.core.view_state import start_folder
from ented_desktop.gui.async_calls import AsyncCalls
from ented_desktop.gui.face_images import face_crop, image_file_thumbnail
from ented_desktop.gui.icons import icon
from ented_desktop.gui.reference_picker import ReferencePicker
from ented_desktop.gui.wording import SHARPNESS_TIP, count

CROP_SIZE = 64
SUGGESTION_CROP_SIZE = 52
SUGGESTION_FACES_SHOWN = 4
SUGGESTIONS_SHOWN = 8  # the best ones; confirming or rejecting one brings up the next
FACE_ICON_SIZE = 48
FACE_ROWS_SHOWN = 2  # the person's faces list scrolls beyond that
PersonIdRole = Qt.ItemDataRole.UserRole + 10
FaceIdRole = Qt.ItemDataRole.UserRole + 11


def dropped_image(paths: list[Path]) -> Path | None:
    """The first dropped file that looks like a photo (the core checks it for real)."""
    return next((p for p in paths if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES), None)


def is_suggested(person: Person, suggestion: ReferenceCandidate | None) -> bool:
    """The person's reference is the suggested face (however it was chosen)."""
    return suggestion is not None and person.reference_image is None and person.reference_face_id == suggestion.face_id


def reference_text(person: Person, suggestion: ReferenceCandidate | None, pending: bool) -> str:
    if suggestion is not None and is_suggested(person, suggestion):
        return f"Reference: the suggested face ({suggestion.why})."
    current = ("Reference: an image you added." if person.reference_image is not None else
               "Reference: a face you picked." if person.reference_face_id is not None else None)
    if current is not None:
        return current + (f" Suggested: {suggestion.why}." if suggestion is not None else "")
    if pending:
        return "No reference yet; looking for the best face…"
    if suggestion is not None:
        return f"No reference yet. Suggested: {suggestion.why}."
    return "No reference yet, and no usable face to suggest."


def clean_name(name: str) -> str:
    """A name as the library saves it: no spaces around it, single spaces inside."""
    return " ".join(name.split())


def same_name(a: str, b: str) -> bool:
    """Whether two names mean one person to the user: equal but for case and spaces. The one rule for the panel
    and the name dialog."""
    return clean_name(a).casefold() == clean_name(b).casefold()


def _faces_become(n: int, what: str) -> str:
    return f"{count(n, 'face')} {'becomes' if n == 1 else 'become'} {what}"


def _has_reference(person: Person) -> bool:
    return person.reference_face_id is not None or person.reference_image is not None


def merge_outcome(source: Person, target: Person) -> str:
    """What merging ``source`` into ``target`` does (core ``Library.merge_people``), in a few sentences."""
    s, t = source.name, target.name
    theirs = f"{t}'s"
    lines = [f"{s}'s {_faces_become(source.face_count, theirs)}." if source.face_count else f"{s} has no faces."]
    if _has_reference(target):
        lines.append(f"{t} keeps their reference" + (f" ({s}'s is dropped)." if _has_reference(source) else "."))
    elif _has_reference(source):
        lines.append(f"{t} takes {s}'s reference.")
    if target.personal_model is not None:
        lines.append(f"{t} keeps their personal model.")
    elif source.personal_model is not None:
        lines.append(f"{t} takes {s}'s personal model.")
    lines.append(f"{s} is removed from the people. This cannot be undone.")
    text = " ".join(lines)
    if target.personal_model is not None and source.personal_model is not None:
        text += f"\n\n{s}'s personal model is not deleted; it stays on disk at:\n{source.personal_model}"
    return text


def delete_consequences(person: Person) -> str:
    """What deleting the person does (core ``Library.delete_person``), in a few sentences."""
    lines = [f"Their {_faces_become(person.face_count, 'unnamed')}." if person.face_count else "They have no faces.",
             "The photos, their originals and restored versions are kept."]
    if person.reference_image is not None:
        lines.append("The reference image added for them is deleted from the library (the file it came from is "
                     "not touched).")
    text = " ".join(lines)
    if person.personal_model is not None:
        text += f"\n\nTheir personal model is not deleted; it stays on disk at:\n{person.personal_model}"
    return text


@dataclass(frozen=True)
class _Change:
    """A change the user asked for, running in the background: what to say when it is done or has failed."""

    done: str
    failed: str
    busy: str  # "Still renaming Tony to Colin P": said when another change to these people is asked meanwhile
    people: tuple[int, ...]  # the people it writes to
    select: int | None = None  # the person to show afterwards


class PeopleList(QListWidget):
    """The people list; an image file dropped onto a person becomes that person's reference."""

    imageDropped = Signal(int, Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setIconSize(QSize(CROP_SIZE, CROP_SIZE))
        self.setWordWrap(True)
        self.setSpacing(2)

    def _target(self, event: QDropEvent | QDragMoveEvent) -> QListWidgetItem | None:
        if not event.mimeData().hasUrls():
            return None
        return self.itemAt(event.position().toPoint())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._target(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        item = self._target(event)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        image = dropped_image(paths)
        if item is None or image is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.imageDropped.emit(int(item.data(PersonIdRole)), image)


class MergeDialog(QDialog):
    """Pick the person to merge ``source`` into; what the merge does is said for the one picked. After
    "Merge", :meth:`target` is the person picked."""

    def __init__(self, source: Person, others: list[Person], pixmap: Callable[[Person], QPixmap],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Merge {source.name}")
        self.source = source
        self.others = {p.id: p for p in others}
        self.people = QListWidget()
        self.people.setIconSize(QSize(CROP_SIZE // 2, CROP_SIZE // 2))
        for person in others:
            item = QListWidgetItem(QIcon(pixmap(person)), f"{person.name} ({count(person.face_count, 'face')})")
            item.setData(PersonIdRole, person.id)
            self.people.addItem(item)
        self.people.itemDoubleClicked.connect(lambda _: self.accept())
        self.outcome = QLabel(f"Choose who {source.name} really is: the two become one person.")
        self.outcome.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge = buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        self.merge.setEnabled(False)  # nothing is picked for the user: a merge cannot be undone
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # The selection, not the current item: Qt makes the first person current when the list gets the focus.
        self.people.itemSelectionChanged.connect(self._on_picked)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Merge <b>{source.name}</b> into:"))
        layout.addWidget(self.people, 1)
        layout.addWidget(self.outcome)
        layout.addWidget(buttons)
        self.resize(420, 360)

    def _on_picked(self) -> None:
        target = self.target()
        self.merge.setEnabled(target is not None)
        if target is not None:
            self.outcome.setText(merge_outcome(self.source, target))

    def target(self) -> Person | None:
        picked = self.people.selectedItems()
        return self.others[int(picked[0].data(PersonIdRole))] if picked else None


class SuggestionRow(QWidget):
    """"These faces look like Anna" with the faces and Confirm / Not them."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.faces = QHBoxLayout()
        self.faces.setSpacing(2)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.confirm = QPushButton("Confirm")
        self.reject = QPushButton("Not them")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(self.faces)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.face_labels: dict[int, QLabel] = {}

    def add_face(self, face_id: int) -> None:
        label = QLabel()
        label.setFixedSize(SUGGESTION_CROP_SIZE, SUGGESTION_CROP_SIZE)
        label.setScaledContents(True)
        label.setStyleSheet("background: palette(mid); border-radius: 4px")
        self.faces.addWidget(label)
        self.face_labels[face_id] = label

    def finish_faces(self, extra: int) -> None:
        if extra > 0:
            self.faces.addWidget(QLabel(f"+{extra}"))
        self.faces.addStretch(1)


class PeoplePanel(QWidget):
    personSelected = Signal(int)
    peopleChanged = Signal()  # names or faces changed: face boxes elsewhere need redrawing
    restorePersonRequested = Signal(int)
    message = Signal(str)  # a one-line outcome or error for the status bar

    def __init__(self, library: Library, face_check: Callable[[Path], bool], calls: AsyncCalls | None = None,
                 *, folders: dict[str, str] | None = None, parent: QWidget | None = None) -> None:
        """``face_check(path)`` says whether an image shows a face (gui.reference_check.shows_a_face); it runs
        off the main thread. ``folders`` remembers where file dialogs were last (the main window's, so it is
        kept between runs)."""
        super().__init__(parent)
        self.library = library
        self.face_check = face_check
        self.folders = folders if folders is not None else {}
        self.calls = calls or AsyncCalls(self)
        self.calls.done.connect(self._on_done)
        self.calls.failed.connect(self._on_failed)
        self._crops: dict[object, QPixmap] = {}
        self._suggested: dict[int, ReferenceCandidate | None] = {}
        self._suggested_stale: set[int] = set()  # people whose suggestion on its way was asked for before a refresh
        self._suggestions: list[Suggestion] = []
        self._suggestion_rows: list[SuggestionRow] = []
        self._groups_stale = False
        self._changes: dict[tuple, _Change] = {}
        self._faces_shown: tuple[int | None, list[int]] = (None, [])
        self._faces_name = ""  # the name the faces' tooltips say

        self.people = PeopleList()
        self.people.currentItemChanged.connect(self._on_current)
        self.people.imageDropped.connect(self.set_reference_image)
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
        self.use_suggested.setToolTip("Use the face ranked best for sharpness, size and pose. " + SHARPNESS_TIP)
        self.use_suggested.clicked.connect(self.accept_suggested_reference)
        self.choose = QPushButton("Choose face…")
        self.choose.clicked.connect(self.choose_reference_face)
        self.from_file = QPushButton("From file…")
        self.from_file.clicked.connect(self.choose_reference_file)
        self.rename = QPushButton("Rename…")
        self.rename.clicked.connect(self.rename_person)
        self.restore = QPushButton(icon("restore"), "Restore their photos")
        self.restore.clicked.connect(self.restore_person)
        row1 = QHBoxLayout()
        row1.addWidget(self.use_suggested)
        row1.addWidget(self.choose)
        row1.addWidget(self.from_file)
        row2 = QHBoxLayout()
        row2.addWidget(self.rename)
        row2.addWidget(self.restore)
        row2.addStretch(1)

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
        self.faces.customContextMenuRequested.connect(self._show_faces_menu)
        self.faces.itemSelectionChanged.connect(self._update_face_actions)
        self.act_not_person = self._list_action(self.faces, "Not this person", self.not_this_person,
                                                QKeySequence.StandardKey.Delete)
        self.act_not_person.setEnabled(False)

        self.suggestions_title = QLabel("<b>Suggestions</b>")
        self.suggestions = QListWidget()
        self.suggestions.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.suggestions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.suggestions.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.suggestions_empty = QLabel("No grouping suggestions right now.")
        self.suggestions_empty.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.people, 3)
        layout.addWidget(self.detail)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.faces_title)
        layout.addWidget(self.faces, 1)
        layout.addWidget(self.suggestions_title)
        layout.addWidget(self.suggestions_empty)
        layout.addWidget(self.suggestions, 2)
        self.refresh()

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
    def refresh(self, faces_changed: bool = False) -> None:
        """Reload people (cheap) and ask for new grouping suggestions (in the background). Suggested references
        are dropped (faces may have been named elsewhere); the shown person's is worked out again in the
        background. ``faces_changed``: faces were deleted or found again, and SQLite gives a deleted face's id
        to the next new face, so the crops kept by face id are dropped too."""
        if faces_changed:
            self._crops = {k: v for k, v in self._crops.items() if not (isinstance(k, tuple) and k[0] == "face")}
        self._suggested.clear()
        current = self.current_person_id()
        self.people.blockSignals(True)
        self.people.clear()
        for person in self.library.people():
            if self.calls.busy(("suggest", person.id)):
                self._suggested_stale.add(person.id)  # its answer may predate the change: asked again then
            item = QListWidgetItem(self._person_text(person))
            item.setData(PersonIdRole, person.id)
            item.setIcon(QIcon(self._person_pixmap(person)))
            item.setToolTip("Drop a photo here to make it this person's reference. Right-click to rename, "
                            "merge or delete.")
            self.people.addItem(item)
            if person.id == current:
                self.people.setCurrentItem(item)
        self.people.blockSignals(False)
        if self.people.currentItem() is None and self.people.count():
            self.people.setCurrentRow(0)
        self._update_detail()
        self.refresh_suggestions()

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
                faces = self.library.faces_of_person(person.id)
                face_id = faces[0].id if faces else None
            if face_id is None:
                return icon("person").pixmap(CROP_SIZE, CROP_SIZE)
            key = ("face", face_id)
            library = self.library
            fn = lambda: face_crop(library, face_id, CROP_SIZE)  # noqa: E731
        pixmap = self._crops.get(key)
        if pixmap is None:
            self.calls.call(key, fn)
            return icon("person").pixmap(CROP_SIZE, CROP_SIZE)
        return pixmap

    def _current_person(self) -> Person | None:
        """The selected person as the library has them now; None (and the list reloaded) when they are gone."""
        person_id = self.current_person_id()
        if person_id is None:
            return None
        try:
            return self.library.person(person_id)
        except UserError as exc:
            self.message.emit(str(exc))
            self.refresh()
            return None

    def current_person_id(self) -> int | None:
        item = self.people.currentItem()
        return None if item is None else int(item.data(PersonIdRole))

    def select_person(self, person_id: int) -> None:
        for row in range(self.people.count()):
            if self.people.item(row).data(PersonIdRole) == person_id:
                self.people.setCurrentRow(row)
                return

    def _on_current(self, *_: object) -> None:
        self._update_detail()
        person_id = self.current_person_id()
        if person_id is not None:
            self.personSelected.emit(person_id)

    def restore_person(self) -> None:
        """Ask for the selected person's photos to be restored; one with no faces has none, which is said."""
        person = self._current_person()
        if person is None:
            return
        if not person.face_count:
            self.message.emit(f"{person.name} has no faces yet, so there are no photos of them to restore.")
            return
        self.restorePersonRequested.emit(person.id)

    def _update_detail(self) -> None:
        person_id = self.current_person_id()
        has_person = person_id is not None
        for widget in (self.choose, self.from_file, self.rename, self.restore, self.act_rename, self.act_delete):
            widget.setEnabled(has_person)
        self.act_merge.setEnabled(has_person and self.people.count() > 1)
        if person_id is None:
            self.use_suggested.setEnabled(False)
            self._show_faces(None)
            return
        try:
            person = self.library.person(person_id)
        except UserError:
            self.refresh()
            return
        self._show_faces(person)
        pending = self.calls.busy(("suggest", person_id))
        if person_id not in self._suggested and not pending:
            library = self.library
            self.calls.call(("suggest", person_id), lambda: library.suggest_reference(person_id))
            pending = True
        suggestion = self._suggested.get(person_id)
        self.detail.setText(f"<b>{person.name}</b><br>{reference_text(person, suggestion, pending)}")
        self.detail.setToolTip(SHARPNESS_TIP if suggestion is not None else "")
        self.use_suggested.setEnabled(suggestion is not None and not is_suggested(person, suggestion))

    def _show_people_menu(self, pos: QPoint) -> None:
        item = self.people.itemAt(pos)
        if item is not None:
            self.people.setCurrentItem(item)
            self._pop_up(self.people_menu(), self.people, pos)

    @staticmethod
    def _pop_up(menu: QMenu, view: QListWidget, pos: QPoint) -> None:
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

    # -- the selected person's faces -------------------------------------------------------------
    def _show_faces(self, person: Person | None) -> None:
        """List the person's faces; rebuilt only when they changed, so a selection survives other updates."""
        faces = self.library.faces_of_person(person.id) if person is not None else []
        shown = (person.id if person is not None else None, [f.id for f in faces])
        name = person.name if person is not None else ""
        self.faces_title.setText(f"<b>Faces of {name}</b>")
        self.faces_title.setVisible(person is not None)
        self.faces.setVisible(person is not None)
        self.act_not_person.setText(f"Not {name}")
        if shown == self._faces_shown:
            if name != self._faces_name:  # renamed: the tooltips follow, the selection stays
                self._faces_name = name
                for i, face in enumerate(faces):
                    self.faces.item(i).setToolTip(self._face_tip(face.photo_id, name))
            return
        selected = set(self.selected_face_ids())
        self._faces_shown = shown
        self._faces_name = name
        self.faces.clear()
        for face in faces:
            item = QListWidgetItem(QIcon(self._face_pixmap(face.id)), "")
            item.setData(FaceIdRole, face.id)
            item.setToolTip(self._face_tip(face.photo_id, name))
            self.faces.addItem(item)
            item.setSelected(face.id in selected)
        self._update_face_actions()

    def _face_tip(self, photo_id: int, name: str) -> str:
        return f"In {self.library.photo(photo_id).path.name}. Right-click or Del: Not {name}."

    def _face_pixmap(self, face_id: int) -> QPixmap:
        pixmap = self._crops.get(("face", face_id))
        if pixmap is not None:
            return pixmap
        library = self.library
        self.calls.call(("face", face_id), lambda: face_crop(library, face_id, CROP_SIZE))
        return icon("person").pixmap(FACE_ICON_SIZE, FACE_ICON_SIZE)

    def selected_face_ids(self) -> list[int]:
        return [int(item.data(FaceIdRole)) for item in self.faces.selectedItems()]

    def _update_face_actions(self) -> None:
        self.act_not_person.setEnabled(bool(self.faces.selectedItems()))

    def _show_faces_menu(self, pos: QPoint) -> None:
        item = self.faces.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():  # right-clicking a face outside the selection means that face
            self.faces.setCurrentItem(item)
        self._pop_up(self.faces_menu(), self.faces, pos)

    def faces_menu(self) -> QMenu:
        """The context menu of the selected person's faces."""
        menu = QMenu(self)
        menu.addAction(self.act_not_person)
        return menu

    def not_this_person(self) -> None:
        """Take the selected faces away from the person: they become unnamed."""
        person = self._current_person()
        face_ids = self.selected_face_ids()
        if person is None or not face_ids or self._still_saving(person.id):
            return
        library = self.library

        def unname() -> None:
            library.unassign_faces(face_ids)
            # Also turned down for the person: they look alike, so the faces would be suggested right back.
            library.reject_suggestion(Suggestion(tuple(face_ids), person.id, 0.0))

        done = f"Took {count(len(face_ids), 'face')} away from {person.name}; unnamed now."
        if person.reference_face_id in face_ids:
            done += f" {person.name} has no reference now."
        self._change(("unname", person.id, *face_ids), unname, done,
                     f"The faces were not taken away from {person.name}.",
                     f"Still taking faces away from {person.name}", (person.id,))

    # -- rename, merge, delete -------------------------------------------------------------------
    def rename_person(self) -> None:
        """Rename the selected person; a name someone else has offers to merge the two."""
        person = self._current_person()
        if person is None or self._still_saving(person.id):
            return
        name, ok = QInputDialog.getText(self, "Rename", f"New name for {person.name}:", text=person.name)
        if not ok or clean_name(name) == person.name:
            return
        twin = next((p for p in self.library.people() if p.id != person.id and same_name(p.name, name)), None)
        if twin is None:
            self._change(("rename", person.id), lambda: self.library.rename_person(person.id, name),
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
        person = self._current_person()
        if person is None or self._still_saving(person.id):
            return
        others = [p for p in self.library.people() if p.id != person.id]
        if not others:
            self.message.emit("There is nobody else to merge with.")
            return
        dialog = MergeDialog(person, others, self._person_pixmap, self)
        target = dialog.target() if dialog.exec() == QDialog.DialogCode.Accepted else None
        if target is not None:
            self._merge(person, target)

    def _merge(self, source: Person, target: Person) -> None:
        self._change(("merge", source.id, target.id), lambda: self.library.merge_people(source.id, target.id),
                     f"{source.name} merged into {target.name}.", f"{source.name} was not merged into {target.name}.",
                     f"Still merging {source.name} into {target.name}", (source.id, target.id), select=target.id)

    def delete_person(self) -> None:
        """Delete the selected person, after saying what that does."""
        person = self._current_person()
        if person is None or self._still_saving(person.id):
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete person?", f"Delete {person.name}?", parent=self)
        box.setInformativeText(delete_consequences(person))
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        if box.clickedButton() is delete:
            self._change(("delete", person.id), lambda: self.library.delete_person(person.id),
                         f"{person.name} deleted; their faces are unnamed now.", f"{person.name} was not deleted.",
                         f"Still deleting {person.name}", (person.id,))

    def _change(self, key: tuple, change: Callable[[], object], done: str, failed: str, busy: str,
                people: tuple[int, ...], select: int | None = None) -> None:
        """Run a change the user asked for in the background (a busy library makes a write wait, a merge may
        copy a reference image); the panel is reloaded and ``peopleChanged`` emitted when it is done. One change
        at a time per person (the calls run on more than one thread, so two would land in either order)."""
        if self._still_saving(*people):
            return
        key = ("change", *key)
        self._changes[key] = _Change(done, failed, busy, people, select)
        self.calls.call(key, change)

    def _still_saving(self, *person_ids: int) -> bool:
        """Refuse, saying so, a change to people a change the user asked for is still being saved for."""
        running = next((c for c in self._changes.values() if set(c.people) & set(person_ids)), None)
        if running is not None:
            self._refuse(f"{running.busy}; try again in a moment.")
        return running is not None

    def _change_done(self, change: _Change) -> None:
        self.message.emit(change.done)
        self.refresh()
        if change.select is not None:
            self.select_person(change.select)
        self.peopleChanged.emit()

    def _change_failed(self, change: _Change, message: str) -> None:
        self._refuse(f"{change.failed} {message}")
        self.refresh()  # a person deleted meanwhile leaves the list

    # -- references ------------------------------------------------------------------------------
    def accept_suggested_reference(self) -> None:
        person_id = self.current_person_id()
        suggestion = self._suggested.get(person_id) if person_id is not None else None
        if person_id is None or suggestion is None:
            return
        self._write(lambda: self.library.set_reference_face(person_id, suggestion.face_id),
                    "Reference set: " + suggestion.why + ".", person_id)

    def set_reference_face(self, person_id: int, face_id: int) -> None:
        suggestion = self._suggested.get(person_id)
        done = ("Reference set: the suggested face." if suggestion is not None and suggestion.face_id == face_id
                else "Reference face set.")
        self._write(lambda: self.library.set_reference_face(person_id, face_id), done, person_id)

    def choose_reference_face(self) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        if not self.library.faces_of_person(person_id):
            self.message.emit("This person has no faces to choose from yet.")
            return
        picker = ReferencePicker(self.library, person_id, self)
        if picker.exec() == QDialog.DialogCode.Accepted and picker.face_id() is not None:
            self.set_reference_face(person_id, picker.face_id())

    def choose_reference_file(self) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        name, _ = QFileDialog.getOpenFileName(self, "Reference photo", start_folder(self.folders, "reference"),
                                              f"Photos ({patterns})")
        if name:
            self.folders["reference"] = str(Path(name).parent)
            self.set_reference_image(person_id, Path(name))

    def set_reference_image(self, person_id: int, path: Path) -> None:
        """Checked for a face first, in the background: an image without one would only fail the restores."""
        check = self.face_check
        if self.calls.call(("check", person_id, path), lambda: check(path)):
            self.message.emit(f'Looking for a face in "{path.name}"…')

    def _on_checked(self, person_id: int, path: Path, has_face: bool) -> None:
        if has_face:
            self._write(lambda: self.library.set_reference_image(person_id, path),
                        f'"{path.name}" is now the reference.', person_id)
            return
        try:
            name = self.library.person(person_id).name
        except UserError:  # removed meanwhile: nothing to refuse
            return
        self._refuse(f"No face was found in {path.name}; choose a photo that shows {name}'s face.")

    def _refuse(self, text: str) -> None:
        self.message.emit(text)
        QMessageBox.warning(self, "ENTED Desktop", text)

    def _write(self, change: Callable[[], object], done_text: str, person_id: int | None = None) -> bool:
        """Run one library change the user asked for (to ``person_id``: refused while a change to them is still
        being saved); its UserError becomes a message, not a crash."""
        if person_id is not None and self._still_saving(person_id):
            return False
        try:
            change()
        except UserError as exc:
            QMessageBox.warning(self, "ENTED Desktop", str(exc))
            return False
        self.message.emit(done_text)
        self.refresh()
        self.peopleChanged.emit()
        return True

    # -- grouping suggestions --------------------------------------------------------------------
    def refresh_suggestions(self) -> None:
        """Ask for grouping suggestions; one asked for while another runs replaces its (stale) answer."""
        if not self.calls.call("groups", self.library.suggest_groups):
            self._groups_stale = True

    def _show_suggestions(self, suggestions: list[Suggestion]) -> None:
        suggestions = suggestions[:SUGGESTIONS_SHOWN]
        if suggestions == self._suggestions and self._suggestion_rows:
            return  # unchanged: rebuilding the rows would only cost time
        self._suggestions = suggestions
        self.suggestions.clear()
        self._suggestion_rows = []
        names = {p.id: p.name for p in self.library.people()}
        for index, suggestion in enumerate(suggestions):
            n = len(suggestion.face_ids)
            who = (names.get(suggestion.person_id, "a named person") if suggestion.person_id is not None
                   else "the same person")
            text = f"{count(n, 'unnamed face')} {'looks' if n == 1 else 'look'} like {who}."
            row = SuggestionRow(text)
            for face_id in suggestion.face_ids[:SUGGESTION_FACES_SHOWN]:
                row.add_face(face_id)
                self._fill_face(row, face_id)
            row.finish_faces(n - SUGGESTION_FACES_SHOWN)
            row.confirm.setText("Confirm" if suggestion.person_id is not None else "Name…")
            row.confirm.clicked.connect(lambda _=False, i=index: self.accept_suggestion(i))
            row.reject.clicked.connect(lambda _=False, i=index: self.reject_suggestion(i))
            item = QListWidgetItem()
            item.setSizeHint(QSize(0, row.sizeHint().height()))  # as wide as the list, never wider
            self.suggestions.addItem(item)
            self.suggestions.setItemWidget(item, row)
            self._suggestion_rows.append(row)
        self.suggestions_empty.setVisible(not suggestions)
        self.suggestions.setVisible(bool(suggestions))

    def _fill_face(self, row: SuggestionRow, face_id: int) -> None:
        pixmap = self._crops.get(("face", face_id))
        if pixmap is not None:
            row.face_labels[face_id].setPixmap(pixmap)
            return
        library = self.library
        self.calls.call(("face", face_id), lambda: face_crop(library, face_id, CROP_SIZE))

    def accept_suggestion(self, index: int) -> None:
        suggestion = self._suggestions[index]
        name = None
        if suggestion.person_id is None:
            name, ok = QInputDialog.getText(self, "New person", "Who is this?")
            if not ok or not name.strip():
                return
            # A name someone already has means that person (as in the name dialog), not a second one.
            twin = next((p for p in self.library.people() if same_name(p.name, name)), None)
            if twin is not None:
                suggestion = replace(suggestion, person_id=twin.id)
        self._write(lambda: self.library.accept_suggestion(suggestion, name), "Faces named.", suggestion.person_id)

    def reject_suggestion(self, index: int) -> None:
        suggestion = self._suggestions[index]
        self._write(lambda: self.library.reject_suggestion(suggestion), "Suggestion dismissed.")

    # -- background results ----------------------------------------------------------------------
    def _on_done(self, key: object, value: object) -> None:
        if key in self._changes:
            self._change_done(self._changes.pop(key))  # type: ignore[arg-type]
        elif key == "groups":
            if self._groups_stale:
                self._groups_stale = False
                self.refresh_suggestions()
                return
            self._show_suggestions(list(value))  # type: ignore[call-overload]
        elif isinstance(key, tuple) and key[0] == "check":
            self._on_checked(key[1], key[2], bool(value))
        elif isinstance(key, tuple) and key[0] == "suggest":
            if key[1] in self._suggested_stale:
                self._suggested_stale.discard(key[1])
            else:
                self._suggested[key[1]] = value  # type: ignore[assignment]
            if self.current_person_id() == key[1]:  # a stale answer: asked again for the person shown
                self._update_detail()
        elif isinstance(key, tuple) and key[0] in ("face", "image") and isinstance(value, QImage):
            pixmap = QPixmap.fromImage(value)
            self._crops[key] = pixmap
            self._place_crop(key, pixmap)

    def _place_crop(self, key: tuple, pixmap: QPixmap) -> None:
        for i in range(self.faces.count()):
            item = self.faces.item(i)
            if key == ("face", item.data(FaceIdRole)):
                item.setIcon(QIcon(pixmap))
        for row in self._suggestion_rows:
            if key[0] == "face" and key[1] in row.face_labels:
                row.face_labels[key[1]].setPixmap(pixmap)
        for i in range(self.people.count()):
            item = self.people.item(i)
            try:
                person = self.library.person(int(item.data(PersonIdRole)))
            except UserError:
                continue
            wanted = (("image", str(person.reference_image)) if person.reference_image is not None
                      else ("face", person.reference_face_id))
            if wanted == key or (person.reference_face_id is None and person.reference_image is None
                                 and key[0] == "face" and self._first_face(person.id) == key[1]):
                item.setIcon(QIcon(pixmap))

    def _first_face(self, person_id: int) -> int | None:
        faces = self.library.faces_of_person(person_id)
        return faces[0].id if faces else None

    def _on_failed(self, key: object, message: str) -> None:
        if key in self._changes:
            self._change_failed(self._changes.pop(key), message)  # type: ignore[arg-type]
        elif isinstance(key, tuple) and key[0] == "check":
            self._refuse(message)  # the core's sentence names the file and the reason
        elif key == "groups" and self._groups_stale:
            self._groups_stale = False
            self.refresh_suggestions()
        elif isinstance(key, tuple) and key[0] == "suggest" and key[1] in self._suggested_stale:
            self._suggested_stale.discard(key[1])  # failed on the library as it was: asked again
            if self.current_person_id() == key[1]:
                self._update_detail()
        elif key == "groups" or (isinstance(key, tuple) and key[0] == "suggest"):
            self.message.emit(message)
            if isinstance(key, tuple):
                self._suggested[key[1]] = None
                self._update_detail()
