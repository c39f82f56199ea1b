"""Faces: what a detector found in each photo, kept across detections so that a face keeps its person."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from ented_desktop.core.errors import ImageReadError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import references
from ented_desktop.core.library.connection import LibraryConnection, UnknownItemError
from ented_desktop.core.library.records import FaceRecord

# Two detections of one photo are the same face (and keep its person) above this box overlap.
SAME_FACE_IOU = 0.5

_FACE_COLUMNS = "f.id, f.photo_id, f.x0, f.y0, f.x1, f.y1, f.landmarks, f.score, f.embedding, f.detector, f.person_id"


def measure_sharpness(db: LibraryConnection, rows: Sequence[sqlite3.Row]) -> dict[int, float]:
    """references.detail_sharpness of the faces of ``rows`` (id, photo_id, landmarks, path; ordered by photo, so
    each photo is read once), remembered in the library. Faces whose photo is unreadable, or whose landmarks are
    degenerate, are left out."""
    measured: dict[int, float] = {}
    image: np.ndarray | None = None
    image_photo: int | None = None
    for r in rows:
        if image_photo != r["photo_id"]:
            image_photo = r["photo_id"]
            try:
                image = read_image_rgb8(r["path"])
            except ImageReadError:
                image = None
        if image is None:
            continue
        landmarks = np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2)
        try:
            crop, _ = align_face(image, landmarks, references.SHARPNESS_CROP_SIZE)
        except ValueError:
            continue
        measured[r["id"]] = references.detail_sharpness(crop)
    if measured:
        with db.write() as conn:
            conn.executemany("UPDATE faces SET sharpness = ? WHERE id = ?", [(s, f) for f, s in measured.items()])
    return measured


def _face(r: sqlite3.Row) -> FaceRecord:
    embedding = None if r["embedding"] is None else np.frombuffer(r["embedding"], dtype=np.float32).copy()
    return FaceRecord(
        r["id"],
        r["photo_id"],
        (r["x0"], r["y0"], r["x1"], r["y1"]),
        np.frombuffer(r["landmarks"], dtype=np.float32).reshape(5, 2).copy(),
        r["score"],
        embedding,
        r["detector"],
        r["person_id"],
    )


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _blob(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.ascontiguousarray(array, dtype=np.float32).tobytes()


class Faces:
    """``Library.faces``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def get(self, face_id: int) -> FaceRecord:
        return _face(self._db.one(f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.id = ?", (face_id,), "face"))

    def of_photo(self, photo_id: int) -> list[FaceRecord]:
        rows = self._db.conn().execute(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.photo_id = ? ORDER BY f.x0", (photo_id,)
        )
        return [_face(r) for r in rows]

    def of_person(self, person_id: int | None) -> list[FaceRecord]:
        """A person's faces; ``None``: faces nobody was named for."""
        condition = "f.person_id IS NULL" if person_id is None else "f.person_id = ?"
        rows = self._db.conn().execute(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE {condition} ORDER BY f.photo_id, f.id",
            () if person_id is None else (person_id,),
        )
        return [_face(r) for r in rows]

    def record(
        self, photo_id: int, faces: Sequence[Face], embeddings: Sequence[np.ndarray | None], detector: str
    ) -> list[int]:
        """Record what ``detector`` found in a photo (boxes in the upright photo's pixels); returns the
        face ids in the order given.

        A face overlapping a previously recorded one (IoU above :data:`SAME_FACE_IOU`) keeps that
        record's id, person and reference role; recorded faces not found again are removed.
        """
        if len(faces) != len(embeddings):
            raise ValueError(f"{len(faces)} faces but {len(embeddings)} embeddings")
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
                raise UnknownItemError("That photo is no longer in the library.")
            old = {
                r["id"]: (r["x0"], r["y0"], r["x1"], r["y1"])
                for r in conn.execute("SELECT id, x0, y0, x1, y1 FROM faces WHERE photo_id = ?", (photo_id,))
            }
            pairs = sorted(
                ((_iou(face.box, box), i, fid) for i, face in enumerate(faces) for fid, box in old.items()),
                reverse=True,
            )
            keep: dict[int, int] = {}  # new index -> old face id
            for iou, i, fid in pairs:
                if iou > SAME_FACE_IOU and i not in keep and fid not in keep.values():
                    keep[i] = fid
            gone = set(old) - set(keep.values())
            conn.executemany("DELETE FROM faces WHERE id = ?", [(fid,) for fid in gone])
            ids = []
            for i, (face, embedding) in enumerate(zip(faces, embeddings, strict=True)):
                landmarks = np.asarray(face.landmarks, dtype=np.float32)
                if landmarks.shape != (5, 2):
                    raise ValueError(f"landmarks must be 5 x 2, got {landmarks.shape}")
                values = (
                    *map(float, face.box),
                    _blob(landmarks),
                    float(face.score),
                    _blob(embedding),
                    detector,
                )
                if i in keep:
                    conn.execute(
                        "UPDATE faces SET x0 = ?, y0 = ?, x1 = ?, y1 = ?, landmarks = ?, score = ?, "
                        "embedding = ?, detector = ?, sharpness = NULL WHERE id = ?",
                        (*values, keep[i]),
                    )
                    ids.append(keep[i])
                else:
                    cursor = conn.execute(
                        "INSERT INTO faces (photo_id, x0, y0, x1, y1, landmarks, score, embedding, detector) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (photo_id, *values),
                    )
                    ids.append(int(cursor.lastrowid))
            conn.execute("UPDATE photos SET faces_detector = ? WHERE id = ?", (detector, photo_id))
        return ids
