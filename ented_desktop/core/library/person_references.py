"""Each person's reference: one of their faces, or an image copied into the library; and ranking the candidates.

The ranking itself is pure and lives in :mod:`references`; this module reads the faces and remembers their sharpness.

Only the user sets a reference (:meth:`References.set_face`, :meth:`References.set_image`, or a merge keeping one
they set); nothing sets it by itself, and a person without one is restored with each face as its own reference
(:mod:`ented_desktop.core.restore_plan`). The reference suggested, and every candidate, is one of the person's
faces, and a face becomes the person's only when the user names it or confirms it in a suggestion that showed it
(:meth:`Grouping.accept <ented_desktop.core.library.grouping.Grouping.accept>` names only the faces confirmed).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from ented_desktop.core import people_suggest
from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import read_photo
from ented_desktop.core.library import references
from ented_desktop.core.library.connection import (
    LibraryConnection,
    UnknownItemError,
    copy_file_atomic,
    delete_files,
)
from ented_desktop.core.library.faces import measure_sharpness
from ented_desktop.core.library.people import People


class References:
    """``Library.references``."""

    def __init__(self, db: LibraryConnection, people: People) -> None:
        self._db = db
        self._people = people

    def set_face(self, person_id: int, face_id: int) -> None:
        """Use one of the person's faces as their reference."""
        with self._db.write() as conn:
            row = conn.execute("SELECT person_id FROM faces WHERE id = ?", (face_id,)).fetchone()
            if row is None:
                raise UnknownItemError("That face is no longer in the library.")
            if row["person_id"] != person_id:
                raise UserError("The reference must be one of this person's faces.")
            old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            conn.execute(
                "UPDATE people SET reference_face_id = ?, reference_image = NULL WHERE id = ?",
                (face_id, person_id),
            )
        if old is not None and old["reference_image"]:
            delete_files([self._db.abs(old["reference_image"])])

    def set_image(self, person_id: int, image_path: str | os.PathLike[str]) -> Path:
        """Use an image file as the person's reference. The file is checked to be a readable photo and
        copied into the library (the original is not referenced); returns the copy's path."""
        source = Path(image_path)
        read_photo(source)  # raises ImageReadError with the reason
        self._people.get(person_id)
        folder = self._db.directory / "references" / str(person_id)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{secrets.token_hex(8)}{source.suffix.lower()}"
        copy_file_atomic(source, dest)
        try:
            with self._db.write() as conn:
                old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
                if old is None:
                    raise UnknownItemError("That person is no longer in the library.")
                conn.execute(
                    "UPDATE people SET reference_image = ?, reference_face_id = NULL WHERE id = ?",
                    (self._db.rel(dest), person_id),
                )
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        if old["reference_image"]:
            delete_files([self._db.abs(old["reference_image"])])
        return dest

    def clear(self, person_id: int) -> None:
        """The person has no reference any more (a copied image is deleted)."""
        with self._db.write() as conn:
            old = conn.execute("SELECT reference_image FROM people WHERE id = ?", (person_id,)).fetchone()
            if old is None:
                raise UnknownItemError("That person is no longer in the library.")
            conn.execute(
                "UPDATE people SET reference_image = NULL, reference_face_id = NULL WHERE id = ?",
                (person_id,),
            )
        if old["reference_image"]:
            delete_files([self._db.abs(old["reference_image"])])

    def candidates(self, person_id: int) -> list[references.ReferenceCandidate]:
        """The person's faces ranked as references, best first (reads each photo once, the first time:
        sharpness is remembered). Faces whose photo is missing or unreadable are left out."""
        self._people.get(person_id)
        rows = (
            self._db.conn()
            .execute(
                "SELECT f.id, f.photo_id, f.landmarks, f.sharpness, p.path FROM faces f "
                "JOIN photos p ON p.id = f.photo_id WHERE f.person_id = ? AND p.missing = 0 "
                "ORDER BY f.photo_id, f.id",
                (person_id,),
            )
            .fetchall()
        )
        measured = measure_sharpness(self._db, [r for r in rows if r["sharpness"] is None])
        measures = []
        for r in rows:
            sharpness = r["sharpness"] if r["sharpness"] is not None else measured.get(r["id"])
            if sharpness is None:
                continue
            landmarks = np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2)
            measures.append(
                references.FaceMeasure(
                    r["id"], sharpness, references.face_size_px(landmarks), references.frontalness(landmarks)
                )
            )
        return references.rank_candidates(measures)

    def suggest(self, person_id: int) -> references.ReferenceCandidate | None:
        """The best reference among the person's faces that agree with the majority of them (or with the
        reference the user chose: :func:`people_suggest.trusted_faces`), with the reasons (``.why``), or None.
        A face confirmed by mistake is outvoted, so the suggestion never turns to someone else by itself."""
        rows = self._db.conn().execute(
            "SELECT f.id, f.embedding, p.reference_face_id FROM faces f JOIN people p ON p.id = f.person_id "
            "WHERE f.person_id = ? AND f.embedding IS NOT NULL ORDER BY f.id",
            (person_id,),
        ).fetchall()
        ids = [r["id"] for r in rows]
        anchor = ids.index(rows[0]["reference_face_id"]) if rows and rows[0]["reference_face_id"] in ids else None
        trusted = (
            people_suggest.trusted_faces(np.stack([np.frombuffer(r["embedding"], np.float32) for r in rows]), anchor)
            if rows
            else []
        )
        outvoted = {face_id for face_id, ok in zip(ids, trusted, strict=True) if not ok}
        return next((c for c in self.candidates(person_id) if c.face_id not in outvoted), None)
