"""A person's reference: the suggested face (said in plain words, worked out in the background), one picked among
their faces, or an image file checked for a face first (in the background)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES
from ented_desktop.core.library import Library, Person
from ented_desktop.gui.reference_picker import ReferencePicker
from ented_desktop.gui.reference_words import ReferenceAdvice, details, reason
from ented_desktop.gui.view_state import start_folder

if TYPE_CHECKING:
    from ented_desktop.gui.people_panel import PeoplePanel


def suggest_reference(library: Library, person_id: int) -> ReferenceAdvice | None:
    """The suggested reference and how it compares with the person's other faces (reads photos: background)."""
    best = library.references.suggest(person_id)
    return None if best is None else ReferenceAdvice.of(best, library.references.candidates(person_id))


def is_suggested(person: Person, suggestion: ReferenceAdvice | None) -> bool:
    """The person's reference is the suggested face (however it was chosen)."""
    return (suggestion is not None and person.reference_image is None
            and person.reference_face_id == suggestion.candidate.face_id)


def reference_text(person: Person, suggestion: ReferenceAdvice | None, pending: bool) -> str:
    why = reason(suggestion, person.name) if suggestion is not None else ""
    if suggestion is not None and is_suggested(person, suggestion):
        return f"Reference: the suggested face ({why})."
    current = ("Reference: an image you added." if person.reference_image is not None else
               "Reference: a face you picked." if person.reference_face_id is not None else None)
    if current is not None:
        return current + (f" Suggested: {why}." if suggestion is not None else "")
    if pending:
        return "No reference yet; looking for the best face…"
    if suggestion is not None:
        return f"No reference yet. Suggested: {why}."
    return "No reference yet, and no usable face to suggest."


class PersonReference:
    def __init__(self, panel: PeoplePanel) -> None:
        self.panel = panel
        self.suggested: dict[int, ReferenceAdvice | None] = {}  # by person
        self.stale: set[int] = set()  # people whose suggestion on its way was asked for before a refresh

    def forget_suggestions(self, people: list[Person]) -> None:
        """Faces may have been named elsewhere: every suggestion is worked out again (one on its way is stale)."""
        self.suggested.clear()
        self.stale |= {p.id for p in people if self.panel.calls.busy(("suggest", p.id))}

    def show(self, person: Person) -> None:
        """Say the person's reference and the suggested one (asked for in the background when not known)."""
        panel = self.panel
        pending = panel.calls.busy(("suggest", person.id))
        if person.id not in self.suggested and not pending:
            library, person_id = panel.library, person.id
            panel.calls.query(lambda: suggest_reference(library, person_id),
                              lambda advice: self._suggested(person_id, advice),
                              lambda message: self._not_suggested(person_id, message),
                              key=("suggest", person_id))
            pending = True
        suggestion = self.suggested.get(person.id)
        panel.detail.setText(f"<b>{person.name}</b><br>{reference_text(person, suggestion, pending)}")
        panel.detail.setToolTip(details(suggestion.candidate) if suggestion is not None else "")
        panel.use_suggested.setEnabled(suggestion is not None and not is_suggested(person, suggestion))

    def _suggested(self, person_id: int, suggestion: ReferenceAdvice | None) -> None:
        if person_id in self.stale:
            self.stale.discard(person_id)
        else:
            self.suggested[person_id] = suggestion
        if self.panel.current_person_id() == person_id:  # a stale answer: asked again for the person shown
            self.panel.update_detail()

    def _not_suggested(self, person_id: int, message: str) -> None:
        if person_id in self.stale:
            self.stale.discard(person_id)  # failed on the library as it was: asked again
            if self.panel.current_person_id() == person_id:
                self.panel.update_detail()
            return
        try:
            self.panel.library.people.get(person_id)
        except UserError:  # merged or deleted meanwhile: the change that did it reloads the list and says so
            return
        self.panel.message.emit(message)
        self.suggested[person_id] = None
        self.panel.update_detail()

    def accept_suggested_reference(self) -> None:
        person_id = self.panel.current_person_id()
        suggestion = self.suggested.get(person_id) if person_id is not None else None
        if person_id is None or suggestion is None:
            return
        references, face_id = self.panel.library.references, suggestion.candidate.face_id
        why = reason(suggestion, self.panel.library.people.get(person_id).name)
        self.panel.write(lambda: references.set_face(person_id, face_id), f"Reference set: {why}.", person_id)

    def set_reference_face(self, person_id: int, face_id: int) -> None:
        suggestion = self.suggested.get(person_id)
        done = ("Reference set: the suggested face." if suggestion is not None
                and suggestion.candidate.face_id == face_id else "Reference face set.")
        references = self.panel.library.references
        self.panel.write(lambda: references.set_face(person_id, face_id), done, person_id)

    def choose_reference_face(self) -> None:
        person_id = self.panel.current_person_id()
        if person_id is None:
            return
        if not self.panel.library.faces.of_person(person_id):
            self.panel.message.emit("This person has no faces to choose from yet.")
            return
        picker = ReferencePicker(self.panel.library, person_id, self.panel)
        if picker.exec() == QDialog.DialogCode.Accepted and picker.face_id() is not None:
            self.set_reference_face(person_id, picker.face_id())

    def choose_reference_file(self) -> None:
        person_id = self.panel.current_person_id()
        if person_id is None:
            return
        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        start = start_folder(self.panel.folders, "reference")
        name, _ = QFileDialog.getOpenFileName(self.panel, "Reference photo", start, f"Photos ({patterns})")
        if name:
            self.panel.folders["reference"] = str(Path(name).parent)
            self.set_reference_image(person_id, Path(name))

    def set_reference_image(self, person_id: int, path: Path) -> None:
        """Checked for a face first, in the background: an image without one would only fail the restores."""
        check = self.panel.face_check
        if self.panel.calls.query(lambda: check(path), lambda found: self.on_checked(person_id, path, bool(found)),
                                  self.panel.refuse, key=("check", person_id, path)):  # the core's sentence says why
            self.panel.message.emit(f'Looking for a face in "{path.name}"…')

    def on_checked(self, person_id: int, path: Path, has_face: bool) -> None:
        if has_face:
            library = self.panel.library
            self.panel.write(lambda: library.references.set_image(person_id, path),
                        f'"{path.name}" is now the reference.', person_id)
            return
        try:
            name = self.panel.library.people.get(person_id).name
        except UserError:  # removed meanwhile: nothing to refuse
            return
        self.panel.refuse(f"No face was found in {path.name}; choose a photo that shows {name}'s face.")
