"""People: naming faces, renaming, merging and forgetting people, and each person's fine-tuned model.

A person's reference lives in :mod:`person_references`, grouping suggestions in :mod:`grouping`.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ented_desktop.core.errors import UserError
from ented_desktop.core.library.connection import (
    LibraryConnection,
    UnknownItemError,
    clean_name,
    copy_file_atomic,
    delete_files,
    now,
)
from ented_desktop.core.library.records import Person

_PERSON_SQL = (
    "SELECT p.id, p.name, p.created, p.reference_face_id, p.reference_image, p.personal_model, "
    "(SELECT COUNT(*) FROM faces f WHERE f.person_id = p.id) AS n FROM people p"
)


class People:
    """``Library.people``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def _person(self, r: sqlite3.Row) -> Person:
        return Person(
            r["id"],
            r["name"],
            r["created"],
            r["reference_face_id"],
            self._db.abs(r["reference_image"]) if r["reference_image"] else None,
            Path(r["personal_model"]) if r["personal_model"] else None,
            r["n"],
        )

    def get(self, person_id: int) -> Person:
        return self._person(self._db.one(_PERSON_SQL + " WHERE p.id = ?", (person_id,), "person"))

    def all(self) -> list[Person]:
        return [self._person(r) for r in self._db.conn().execute(_PERSON_SQL + " ORDER BY p.name, p.id")]

    def create(self, name: str, face_ids: Iterable[int] = ()) -> int:
        """A new person, named for ``face_ids``; returns their id."""
        name = clean_name(name, "A person")
        with self._db.write() as conn:
            person_id = int(conn.execute("INSERT INTO people (name, created) VALUES (?, ?)", (name, now())).lastrowid)
            conn.executemany("UPDATE faces SET person_id = ? WHERE id = ?", [(person_id, f) for f in face_ids])
        return person_id

    def rename(self, person_id: int, name: str) -> None:
        name = clean_name(name, "A person")
        with self._db.write() as conn:
            if conn.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id)).rowcount == 0:
                raise UnknownItemError("That person is no longer in the library.")

    def delete(self, person_id: int) -> None:
        """Forget a person; their faces become unnamed. A personal model file is left where it is."""
        with self._db.write() as conn:
            row = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.execute("DELETE FROM people WHERE id = ?", (person_id,))
        if row["reference_image"]:
            delete_files([self._db.abs(row["reference_image"])])

    def merge(self, source_id: int, target_id: int) -> None:
        """Make two people one: every face of the source becomes the target's and the source is forgotten.

        The target keeps its reference and personal model; one it lacks is taken from the source (a
        reference image is copied into the target's folder before the change is committed; one whose file
        is gone is not taken). Faces turned down for the source are turned down for the target. A personal
        model file is left where it is.
        """
        if source_id == target_id:
            raise UserError("A person cannot be merged with themselves.")
        moved: Path | None = None
        try:
            with self._db.write() as conn:
                rows = {
                    r["id"]: r
                    for r in conn.execute(
                        "SELECT id, reference_face_id, reference_image, personal_model FROM people "
                        "WHERE id IN (?, ?)",
                        (source_id, target_id),
                    )
                }
                if len(rows) < 2:
                    raise UnknownItemError("That person is no longer in the library.")
                source, target = rows[source_id], rows[target_id]
                image = source["reference_image"]
                # Moving the faces clears the source's reference face (trigger faces_leave_person).
                conn.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (target_id, source_id))
                # A face turned down for both keeps the target's row; the source's goes with the source.
                conn.execute(
                    "UPDATE OR IGNORE rejections SET person_id = ? WHERE person_id = ?", (target_id, source_id)
                )
                # "Not the target" said of a face the source had (or the other way round) no longer holds.
                conn.execute(
                    "DELETE FROM rejections WHERE person_id = ? "
                    "AND face_id IN (SELECT id FROM faces WHERE person_id = ?)",
                    (target_id, target_id),
                )
                if target["reference_face_id"] is None and target["reference_image"] is None:
                    if source["reference_face_id"] is not None:
                        conn.execute(
                            "UPDATE people SET reference_face_id = ? WHERE id = ?",
                            (source["reference_face_id"], target_id),
                        )
                    elif image is not None and self._db.abs(image).is_file():
                        moved = self._db.directory / "references" / str(target_id) / (
                            secrets.token_hex(8) + Path(image).suffix
                        )
                        moved.parent.mkdir(parents=True, exist_ok=True)
                        copy_file_atomic(self._db.abs(image), moved)
                        conn.execute(
                            "UPDATE people SET reference_image = ? WHERE id = ?", (self._db.rel(moved), target_id)
                        )
                if target["personal_model"] is None and source["personal_model"] is not None:
                    conn.execute(
                        "UPDATE people SET personal_model = ? WHERE id = ?", (source["personal_model"], target_id)
                    )
                conn.execute("DELETE FROM people WHERE id = ?", (source_id,))
        except BaseException:
            if moved is not None:
                moved.unlink(missing_ok=True)
            raise
        if image is not None:
            delete_files([self._db.abs(image)])

    def assign_faces(self, face_ids: Iterable[int], person_id: int) -> None:
        """Name the faces as the person."""
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.executemany("UPDATE faces SET person_id = ? WHERE id = ?", [(person_id, f) for f in face_ids])

    def unassign_faces(self, face_ids: Iterable[int]) -> None:
        """Make the faces nobody's."""
        with self._db.write() as conn:
            conn.executemany("UPDATE faces SET person_id = NULL WHERE id = ?", [(f,) for f in face_ids])

    def set_personal_model(self, person_id: int, model_path: str | os.PathLike[str] | None) -> None:
        """Remember the person's fine-tuned model (None: back to the general model)."""
        value = None
        if model_path is not None:
            path = Path(model_path).absolute()
            if not path.is_file():
                raise UserError(f'The personal model "{path}" does not exist.')
            value = str(path)
        with self._db.write() as conn:
            if conn.execute("UPDATE people SET personal_model = ? WHERE id = ?", (value, person_id)).rowcount == 0:
                raise UnknownItemError("That person is no longer in the library.")
