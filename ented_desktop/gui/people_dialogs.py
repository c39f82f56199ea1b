"""What merging or deleting a person does, in words, and the dialog that picks whom to merge into."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.library import Person
from ented_desktop.core.wording import count
from ented_desktop.gui.people_list import CROP_SIZE, PersonIdRole


def _faces_become(n: int, what: str) -> str:
    return f"{count(n, 'face')} {'becomes' if n == 1 else 'become'} {what}"


def _has_reference(person: Person) -> bool:
    return person.reference_face_id is not None or person.reference_image is not None


def merge_outcome(source: Person, target: Person) -> str:
    """What merging ``source`` into ``target`` does (core ``Library.people.merge``), in a few sentences."""
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
    """What deleting the person does (core ``Library.people.delete``), in a few sentences."""
    lines = [f"Their {_faces_become(person.face_count, 'unnamed')}." if person.face_count else "They have no faces.",
             "The photos, their originals and restored versions are kept."]
    if person.reference_image is not None:
        lines.append("The reference image added for them is deleted from the library (the file it came from is "
                     "not touched).")
    text = " ".join(lines)
    if person.personal_model is not None:
        text += f"\n\nTheir personal model is not deleted; it stays on disk at:\n{person.personal_model}"
    return text


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
