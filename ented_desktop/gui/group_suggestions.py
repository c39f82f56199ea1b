"""The panel's grouping suggestions: "these unnamed faces look like Anna", each with all its faces to tick or leave
out, confirmed (the ticked faces only) or turned down; asked for again in the background whenever people change.
The latest confirm can be undone (the Undo button, Ctrl+Z)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog

from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Confirm, Library, Suggestion
from ented_desktop.core.wording import count
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.face_images import face_crop
from ented_desktop.gui.people_list import CROP_SIZE
from ented_desktop.gui.people_names import same_name
from ented_desktop.gui.suggestion_card import SuggestionCard

if TYPE_CHECKING:
    from ented_desktop.gui.people_panel import PeoplePanel

SUGGESTIONS_SHOWN = 8  # the best ones; confirming or rejecting one brings up the next


@dataclass(frozen=True)
class Shown:
    """A suggestion and the file name of each of its faces' photos (for the faces' tooltips)."""

    suggestion: Suggestion
    photos: dict[int, str]


def suggest_with_photos(library: Library) -> list[Shown]:
    """The best suggestions and where their faces are (runs in the background; a face removed meanwhile has no
    file name, and the change that removed it asks for suggestions again)."""
    shown = []
    for suggestion in library.grouping.suggest()[:SUGGESTIONS_SHOWN]:
        photos = {}
        for face_id in suggestion.face_ids:
            with contextlib.suppress(UserError):
                photos[face_id] = library.photos.get(library.faces.get(face_id).photo_id).path.name
        shown.append(Shown(suggestion, photos))
    return shown


def undo_text(confirm: Confirm, name: str) -> str:
    """What undoing the confirm does, as the Undo button says it: "Undo: 4 faces named Al"."""
    return f"Undo: {count(len(confirm.named), 'face')} named {name}"


class GroupSuggestions:
    def __init__(self, panel: PeoplePanel) -> None:
        self.panel = panel
        self.suggestions: list[Suggestion] = []
        self.rows: list[SuggestionCard] = []
        self.stale = False  # asked for again while an answer was on its way: that answer is out of date
        self.last_confirm: Confirm | None = None  # the confirm Undo undoes

    def refresh_suggestions(self) -> None:
        """Ask for grouping suggestions; one asked for while another runs replaces its (stale) answer."""
        library = self.panel.library
        if not self.panel.calls.query(lambda: suggest_with_photos(library), self._groups_suggested,
                                      self._groups_not_suggested, key="groups"):
            self.stale = True

    def _groups_suggested(self, shown: list[Shown]) -> None:
        if self.stale:
            self.stale = False
            self.refresh_suggestions()
        else:
            self._show_suggestions(shown)

    def _groups_not_suggested(self, message: str) -> None:
        if self.stale:
            self.stale = False
            self.refresh_suggestions()
        else:
            self.panel.message.emit(message)

    def _show_suggestions(self, shown: list[Shown]) -> None:
        suggestions = [s.suggestion for s in shown]
        if suggestions == self.suggestions and self.rows:
            return  # unchanged: rebuilding the cards would only cost time, and lose the user's ticks
        self.suggestions = suggestions
        for card in self.rows:
            self.panel.suggestions_layout.removeWidget(card)
            card.deleteLater()
        self.rows = []
        names = {p.id: p.name for p in self.panel.library.people.all()}
        for index, item in enumerate(shown):
            suggestion = item.suggestion
            n = len(suggestion.face_ids)
            who = (names.get(suggestion.person_id, "a named person") if suggestion.person_id is not None
                   else "the same person")
            card = SuggestionCard(f"{count(n, 'unnamed face')} {'looks' if n == 1 else 'look'} like {who}.",
                                  who, suggestion.person_id is None)
            for face_id in suggestion.face_ids:
                card.add_face(face_id, item.photos.get(face_id, "a photo"))
                self._fill_face(card, face_id)
            card.confirm.clicked.connect(lambda _=False, i=index: self.accept_suggestion(i))
            card.reject.clicked.connect(lambda _=False, i=index: self.reject_suggestion(i))
            self.panel.suggestions_layout.insertWidget(index, card)
            self.rows.append(card)
        self.panel.suggestions_empty.setVisible(not suggestions)
        self.panel.show_suggestion_count(len(suggestions))

    def _fill_face(self, card: SuggestionCard, face_id: int) -> None:
        pixmap = self.panel.crops.get(("face", face_id))
        if pixmap is not None:
            card.ticks[face_id].set_face(pixmap)
            return
        library = self.panel.library
        self.panel.load_crop(("face", face_id), lambda: face_crop(library, face_id, CROP_SIZE))

    def accept_suggestion(self, index: int) -> None:
        """Name the suggestion's ticked faces; the others are recorded as not that person."""
        suggestion, card = self.suggestions[index], self.rows[index]
        face_ids = card.ticked()
        if not face_ids:
            return
        name = None
        if suggestion.person_id is None:
            name, ok = QInputDialog.getText(self.panel, "New person", "Who is this?")
            if not ok or not name.strip():
                return
            # A name someone already has means that person (as in the name dialog), not a second one.
            twin = next((p for p in self.panel.library.people.all() if same_name(p.name, name)), None)
            if twin is not None:
                suggestion = replace(suggestion, person_id=twin.id)
        grouping, chosen = self.panel.library.grouping, suggestion
        left_out = len(suggestion.face_ids) - len(face_ids)
        done = f"{count(len(face_ids), 'face')} named." + (f" {left_out} left out." if left_out else "")
        self.panel.change(lambda: grouping.accept(chosen, name, face_ids=face_ids), done,
                          "The faces were not named.", "Still saving a change",
                          (chosen.person_id,) if chosen.person_id is not None else (),
                          what=Changed.PEOPLE | Changed.FACES)

    def reject_suggestion(self, index: int) -> None:
        suggestion = self.suggestions[index]
        grouping = self.panel.library.grouping
        self.panel.write(lambda: grouping.reject(suggestion), "Suggestion dismissed.")

    # -- undo ------------------------------------------------------------------------------------
    def refresh_undo(self) -> None:
        """Offer to undo the latest confirm still in the library's history, saying which it is."""
        history = self.panel.library.grouping.history()
        self.last_confirm = history[0] if history else None
        button = self.panel.undo
        if self.last_confirm is None:
            button.setVisible(False)
            return
        name = self._name(self.last_confirm.person_id)
        button.setText(undo_text(self.last_confirm, name))
        tip = f"The {count(len(self.last_confirm.named), 'face')} become unnamed again"
        if self.last_confirm.created_person:
            tip += f", and {name} is removed unless you have given them more since"
        button.setToolTip(tip + " (Ctrl+Z).")
        button.setVisible(True)

    def _name(self, person_id: int) -> str:
        try:
            return self.panel.library.people.get(person_id).name
        except UserError:
            return "someone"

    def undo_last_confirm(self) -> None:
        """Undo the confirm the Undo button names; a refusal (CannotUndoError) is said in a message box."""
        confirm = self.last_confirm
        if confirm is None:
            self.panel.message.emit("There is no confirm to undo.")
            return
        name = self._name(confirm.person_id)
        grouping = self.panel.library.grouping
        self.panel.change(lambda: grouping.undo(confirm.id),
                          f"Undone: {count(len(confirm.named), 'face')} no longer named {name}.", "",
                          f"Still saving a change to {name}", (confirm.person_id,),
                          what=Changed.PEOPLE | Changed.FACES)
