"""Which model and which reference restore each face of a library photo.

A face named for a person who has a personal (fine-tuned) model is restored by that model, every other face by
the general model. A named person's reference is the face picked for them (aligned from its stored landmarks) or
the image added for them (its face is found by the detector); a face nobody is named for, or whose person has no
reference yet, is its own reference (``None``, see :mod:`ented_desktop.core.pipeline`), and so is a face whose
person's reference cannot be used (deleted, unreadable, no face in it), with the reason why.

Aligning a reference means reading a whole photo, so :class:`ReferenceCrops` makes each person's crop once and
hands the same crop to every photo of a batch, until the person's reference changes. Likewise a personal model
that cannot be loaded is tried once per batch (:class:`FailedModels`), not once per photo.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ented_desktop.core.errors import ImageReadError, ModelError, UserError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import FaceRecord, Library, Person

# core.pipeline.prepare_reference(image, detector, resolution): the largest face of an image, aligned
ReferencePreparer = Callable[[np.ndarray, Any, int], np.ndarray]
Loaded = TypeVar("Loaded")


@dataclass(frozen=True)
class RestorePass:
    """The faces of a photo that one model restores, in the photo's face order."""

    model: Path | None  # a personal model's file; None: the general model
    faces: tuple[int, ...]  # indices into the photo's faces
    people: tuple[Person | None, ...]  # who each of those faces is (None: nobody is named for it)


def person_of(face: FaceRecord, people: Mapping[int, Person]) -> Person | None:
    return people.get(face.person_id) if face.person_id is not None else None


def plan_passes(faces: Sequence[FaceRecord], people: Mapping[int, Person]) -> list[RestorePass]:
    """Group a photo's faces by the model that restores them (in order of each model's first face).

    Each pass restores only its own faces, but is given all of them (``Restorer.restore``'s ``only``) so that
    its pastes keep to their faces' territories, and crops from the original photo while pasting onto the
    previous pass's result (``canvas``), so that no face is restored from a neighbour's restoration."""
    groups: dict[Path | None, list[int]] = {}
    for index, face in enumerate(faces):
        person = person_of(face, people)
        groups.setdefault(person.personal_model if person else None, []).append(index)
    return [RestorePass(model, tuple(indices), tuple(person_of(faces[i], people) for i in indices))
            for model, indices in groups.items()]


class ReferenceCrops:
    """People's references aligned at a model's resolution, made once and reused (one instance per batch).

    A crop is remembered with what it was made from (the picked face and its landmarks, or the added image's
    file, and the resolution); when the person's reference is changed, the next request makes a new crop. A
    reference that cannot be used (unreadable, no face found) fails every request with the same error, without
    reading it again."""

    def __init__(self, library: Library, prepare: ReferencePreparer) -> None:
        self._library = library
        self._prepare = prepare
        self._made: dict[int, tuple[tuple, np.ndarray | UserError]] = {}  # person id -> (source, crop or error)

    def crop(self, person: Person | None, detector: Any, resolution: int) -> np.ndarray | None:
        """``person``'s reference aligned at ``resolution``, or None when there is no person or no reference."""
        if person is None:
            return None
        if person.reference_image is not None:
            image = person.reference_image
            source: tuple = ("image", str(image), resolution)

            def make() -> np.ndarray:
                return self._prepare(read_image_rgb8(image), detector, resolution)
        elif person.reference_face_id is not None:
            face = self._library.face(person.reference_face_id)
            source = ("face", face.id, face.photo_id, face.landmarks.tobytes(), resolution)

            def make() -> np.ndarray:
                photo = read_image_rgb8(self._library.photo(face.photo_id).path)
                return align_face(photo, face.landmarks, resolution)[0]
        else:
            return None
        made = self._made.get(person.id)
        if made is None or made[0] != source:
            try:
                made = (source, make())
            except UserError as exc:
                made = (source, exc)
            self._made[person.id] = made
        if isinstance(made[1], UserError):
            raise made[1]
        return made[1]

    def for_pass(self, restore_pass: RestorePass, detector: Any,
                 resolution: int) -> tuple[list[np.ndarray | None], list[str | None]]:
        """One reference (or None) per face of ``restore_pass``, as ``Restorer.restore`` takes them, and for each
        face why its person's reference is left out (None when it is not). A reference that cannot be used
        leaves its face without one rather than failing the photo, whose other faces have nothing to do with it."""
        crops: list[np.ndarray | None] = []
        problems: list[str | None] = []
        for person in restore_pass.people:
            crop, problem = None, None
            if person is not None:
                try:
                    crop = self.crop(person, detector, resolution)
                except UserError as exc:
                    verb = "read" if isinstance(exc, ImageReadError) else "used"
                    problem = (f"the reference photo of {person.name} cannot be {verb}: {str(exc).rstrip('.')}; "
                               "restored without it")
            crops.append(crop)
            problems.append(problem)
        return crops, problems


def _file_stamp(path: Path) -> tuple[int, int] | None:
    """The file's modification time and size, or None when it cannot be looked at (missing, no permission)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class FailedModels:
    """Personal models that failed to load during one batch, with their error (one instance per batch).

    Loading a model reads and hashes the whole file (7.5 MB for the shipped size), so a damaged one would be read
    again, and fail again, for every photo of its person. Its error is remembered with the file's modification time
    and size and raised again without touching the file; a file replaced since (re-exported, restored from a
    backup, put back) is tried again, and so is every model in the next batch. Successful loads are not kept here:
    the caller's loader caches those."""

    def __init__(self) -> None:
        self._failed: dict[Path, tuple[tuple[int, int] | None, ModelError]] = {}

    def load(self, path: Path, loader: Callable[[Path], Loaded]) -> Loaded:
        """``loader(path)``, or the ModelError it raised for this same file earlier in the batch."""
        stamp = _file_stamp(path)
        failed = self._failed.get(path)
        if failed is not None and failed[0] == stamp:
            raise failed[1].with_traceback(None)  # else each raise would lengthen the kept traceback
        try:
            return loader(path)
        except ModelError as exc:
            self._failed[path] = (stamp, exc)
            raise
