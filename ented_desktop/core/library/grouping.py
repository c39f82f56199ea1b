"""Grouping suggestions: unnamed faces that look like a named person, or like one another, for the user to confirm.

Faces the user turned down for a person, or for a new group, are remembered (table ``rejections``) and not
suggested there again. The user confirms a suggestion's faces one by one or all at once (:meth:`Grouping.accept`);
the latest confirms are remembered (tables ``confirms``, ``confirm_faces``) so that one can be undone, also after a
restart (:meth:`Grouping.undo`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

from ented_desktop.core import people_suggest
from ented_desktop.core.errors import UserError
from ented_desktop.core.library import references
from ented_desktop.core.library.connection import LibraryConnection, UnknownItemError, clean_name, now
from ented_desktop.core.library.faces import measure_sharpness
from ented_desktop.core.library.records import Confirm, Suggestion, Undone

# How many confirms can be undone (the latest ones).
HISTORY_SIZE = 20


class Grouping:
    """``Library.grouping``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def suggest(self, threshold: float | None = None) -> list[Suggestion]:
        """Groupings of unnamed faces for the user to confirm (:func:`people_suggest.suggest`): first faces
        that look like a named person as a whole (score below ``threshold``, by default
        :data:`people_suggest.ATTACH_THRESHOLD`), then groups of unnamed faces that look like one new person.
        Faces too small or blurry to tell apart are never suggested; the sharpness of a face that would be is
        measured from its photo once and remembered. Faces the user turned down for a person, or for a new
        group, are not suggested there again.
        """
        conn = self._db.conn()
        rows = conn.execute(
            "SELECT id, photo_id, person_id, embedding, landmarks, sharpness FROM faces "
            "WHERE embedding IS NOT NULL ORDER BY id"
        ).fetchall()
        if not any(r["person_id"] is None for r in rows):
            return []
        faces = [
            people_suggest.FaceInfo(
                r["id"],
                r["photo_id"],
                np.frombuffer(r["embedding"], dtype=np.float32),
                r["person_id"],
                references.face_size_px(np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2)),
                r["sharpness"],
            )
            for r in rows
        ]
        chosen = {
            r["id"]: r["reference_face_id"]
            for r in conn.execute("SELECT id, reference_face_id FROM people WHERE reference_face_id IS NOT NULL")
        }
        rejected = {(r["face_id"], r["person_id"]) for r in conn.execute("SELECT face_id, person_id FROM rejections")}
        offers = people_suggest.suggest(
            faces,
            chosen,
            rejected,
            measure=self._measure_sharpness,
            threshold=people_suggest.ATTACH_THRESHOLD if threshold is None else threshold,
        )
        return [Suggestion(o.face_ids, o.person_id, o.distance) for o in offers]

    def _measure_sharpness(self, face_ids: list[int]) -> dict[int, float]:
        """references.detail_sharpness of these faces (reading each photo once), remembered in the library.
        Faces whose photo is missing or unreadable are left out."""
        rows = self._db.conn().execute(
            f"SELECT f.id, f.photo_id, f.landmarks, p.path FROM faces f JOIN photos p ON p.id = f.photo_id "
            f"WHERE f.id IN ({','.join('?' * len(face_ids))}) AND p.missing = 0 ORDER BY f.photo_id, f.id",
            face_ids,
        ).fetchall()
        return measure_sharpness(self._db, rows)

    def accept(
        self, suggestion: Suggestion, name: str | None = None, face_ids: Iterable[int] | None = None
    ) -> int:
        """Name the suggested faces (``face_ids``: only those; None: all) as the suggested person, or as a new
        person called ``name``. The suggestion's other faces are turned down for that person, as :meth:`reject`
        does, so they are not offered to them again. Faces named or deleted since the suggestion are left alone.
        The confirm goes into the undo history (:meth:`history`, :meth:`undo`). Returns the person's id."""
        chosen = _chosen(suggestion, face_ids)
        if suggestion.person_id is None:
            if name is None:
                raise UserError("A new person needs a name.")
            name = clean_name(name, "A person")
        with self._db.write() as conn:
            person_id = suggestion.person_id
            if person_id is None:
                cursor = conn.execute("INSERT INTO people (name, created) VALUES (?, ?)", (name, now()))
                person_id = int(cursor.lastrowid)
            elif conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
                raise UnknownItemError("That person is no longer in the library.")
            named = [
                f
                for f in chosen
                if conn.execute(
                    "UPDATE faces SET person_id = ? WHERE id = ? AND person_id IS NULL", (person_id, f)
                ).rowcount
            ]
            turned_down = _turn_down(conn, [f for f in suggestion.face_ids if f not in chosen], person_id)
            if named or turned_down or suggestion.person_id is None:
                _remember(conn, person_id, suggestion.person_id is None, named, turned_down)
        return person_id

    def reject(self, suggestion: Suggestion) -> None:
        """Remember that these faces are not this person (or not to be grouped as a new person)."""
        if not suggestion.face_ids:
            return
        with self._db.write() as conn:
            if (
                suggestion.person_id is not None
                and conn.execute("SELECT 1 FROM people WHERE id = ?", (suggestion.person_id,)).fetchone() is None
            ):
                return
            _turn_down(conn, suggestion.face_ids, suggestion.person_id)

    def history(self) -> list[Confirm]:
        """The confirms that can still be undone, the latest first (at most :data:`HISTORY_SIZE`; a person's go
        when the person is deleted or merged into another)."""
        return _history(self._db.conn())

    def undo(self, confirm_id: int) -> Undone:
        """Put the library back as it was before the confirm: its faces that are still the person's become
        unnamed, the faces it turned down may be offered to the person again, and a person it made is removed
        unless the user has given them more since (other faces, a reference image, a personal model: then they
        stay, without the confirm's faces). The person's reference is never changed: when one of the confirm's
        faces has since become it, nothing is undone (CannotUndoError says so). The confirm leaves the history."""
        undone = self._undo(confirm_id)
        if undone is None:
            raise UnknownItemError("That confirm is no longer in the undo history.")
        return undone

    def undo_last(self) -> Undone | None:
        """:meth:`undo` the latest confirm in the history; None when there is none."""
        return self._undo(None)

    def _undo(self, confirm_id: int | None) -> Undone | None:
        """Undo the confirm (None: the latest) in one transaction; None when it is not in the history."""
        with self._db.write() as conn:
            found = _history(conn, confirm_id)
            if not found:
                return None
            confirm = found[0]
            person = conn.execute(
                "SELECT name, reference_face_id FROM people WHERE id = ?", (confirm.person_id,)
            ).fetchone()
            if person["reference_face_id"] in confirm.named:
                raise CannotUndoError(
                    f"One of these faces has since become {person['name']}'s reference: choose another "
                    f"reference for {person['name']} first, then undo."
                )
            unnamed = tuple(
                f
                for f in confirm.named
                if conn.execute(
                    "UPDATE faces SET person_id = NULL WHERE id = ? AND person_id = ?", (f, confirm.person_id)
                ).rowcount
            )
            conn.executemany(
                "DELETE FROM rejections WHERE face_id = ? AND person_id = ?",
                [(f, confirm.person_id) for f in confirm.turned_down],
            )
            conn.execute("DELETE FROM confirms WHERE id = ?", (confirm.id,))
            removed = confirm.created_person and _is_empty(conn, confirm.person_id)
            if removed:
                conn.execute("DELETE FROM people WHERE id = ?", (confirm.person_id,))
        return Undone(confirm, unnamed, removed)


class CannotUndoError(UserError):
    """Undoing a confirm would throw away something the user did since."""


def _chosen(suggestion: Suggestion, face_ids: Iterable[int] | None) -> tuple[int, ...]:
    """The faces of the suggestion the user confirmed, in the order given, once each."""
    if face_ids is None:
        return suggestion.face_ids
    chosen = tuple(dict.fromkeys(int(f) for f in face_ids))
    if any(f not in suggestion.face_ids for f in chosen):
        raise UserError("Only faces of this suggestion can be confirmed with it.")
    if not chosen:
        raise UserError("Pick at least one face to confirm, or turn the whole suggestion down.")
    return chosen


def _turn_down(conn: sqlite3.Connection, face_ids: Sequence[int], person_id: int | None) -> list[int]:
    """Record the faces still in the library as not ``person_id`` (None: not to be grouped as a new person);
    returns those not already recorded so."""
    added = []
    for f in face_ids:
        if conn.execute("SELECT 1 FROM faces WHERE id = ?", (f,)).fetchone() is None:
            continue
        if conn.execute(
            "INSERT OR IGNORE INTO rejections (face_id, person_id, created) VALUES (?, ?, ?)", (f, person_id, now())
        ).rowcount:
            added.append(f)
    return added


def _remember(
    conn: sqlite3.Connection, person_id: int, created_person: bool, named: list[int], turned_down: list[int]
) -> None:
    """Add a confirm to the undo history and forget those beyond the last :data:`HISTORY_SIZE`."""
    confirm_id = conn.execute(
        "INSERT INTO confirms (person_id, created_person, created) VALUES (?, ?, ?)",
        (person_id, int(created_person), now()),
    ).lastrowid
    conn.executemany(
        "INSERT INTO confirm_faces (confirm_id, face_id, named) VALUES (?, ?, ?)",
        [(confirm_id, f, 1) for f in named] + [(confirm_id, f, 0) for f in turned_down],
    )
    conn.execute("DELETE FROM confirms WHERE id NOT IN (SELECT id FROM confirms ORDER BY id DESC LIMIT ?)",
                 (HISTORY_SIZE,))


def _history(conn: sqlite3.Connection, confirm_id: int | None = None) -> list[Confirm]:
    """The confirms in the history (only ``confirm_id`` when given: none when it is not there), the latest first."""
    rows = conn.execute(
        "SELECT c.id, c.person_id, c.created_person, c.created, cf.face_id, cf.named FROM confirms c "
        "LEFT JOIN confirm_faces cf ON cf.confirm_id = c.id "
        + ("" if confirm_id is None else "WHERE c.id = ? ")
        + "ORDER BY c.id DESC, cf.face_id",
        () if confirm_id is None else (confirm_id,),
    ).fetchall()
    faces: dict[int, tuple[list[int], list[int]]] = {}
    heads: dict[int, sqlite3.Row] = {}
    for r in rows:
        heads.setdefault(r["id"], r)
        named, turned_down = faces.setdefault(r["id"], ([], []))
        if r["face_id"] is not None:
            (named if r["named"] else turned_down).append(r["face_id"])
    return [
        Confirm(i, r["person_id"], bool(r["created_person"]), tuple(faces[i][0]), tuple(faces[i][1]), r["created"])
        for i, r in heads.items()
    ]


def _is_empty(conn: sqlite3.Connection, person_id: int) -> bool:
    """The person has nothing the user gave them: no face, reference or personal model."""
    return (
        conn.execute(
            "SELECT 1 FROM people p WHERE p.id = ? AND p.reference_face_id IS NULL AND p.reference_image IS NULL "
            "AND p.personal_model IS NULL AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = p.id)",
            (person_id,),
        ).fetchone()
        is not None
    )
