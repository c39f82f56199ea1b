"""Which model and which reference restore each face of a photo.

Which model (:class:`ModelRule`): a model the user forced (``ented restore --model NAME``, the app's model choice)
restores every face. Otherwise, the default rule: ENTED restores the faces its resolution R covers (128 px for the
shipped model; larger faces would only gain fine detail), with the person's reference and their personal
(fine-tuned) model when they have one; an installed 512 px face model restores the larger faces, from the face
alone (:func:`large_face_model` picks it: CodeFormer, then GFPGAN, RestoreFormer++, RestoreFormer). With no such
model installed, ENTED restores every face, as before.

A person's reference is the face picked for them (aligned from its stored landmarks) or the image added for them
(its face is found by the detector); a face nobody is named for, or whose person has no reference yet, is its own
reference (``None``, see :mod:`ented_desktop.core.pipeline`), and so is a face whose
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
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import FaceRecord, Library, Person
from ented_desktop.core.restore_wording import reference_unusable

# core.pipeline.prepare_reference(image, detector, resolution): the largest face of an image, aligned
ReferencePreparer = Callable[[np.ndarray, Any, int], np.ndarray]
Loaded = TypeVar("Loaded")


# The 512 px face models the default rule gives large faces, best first when several are installed: CodeFormer
# (w = 0.5 balances quality and fidelity, and the user can move it), GFPGAN v1.4 (faithful, least invention),
# RestoreFormer++ and then RestoreFormer (sharper, but they alter a face more).
REFERENCE_SIZE = 512  # side at which a person's reference is aligned once, then resized for each model and check
LARGE_FACE_PREFERENCE = ("codeformer", "gfpgan", "restoreformer++", "restoreformer")

# A pass's model: a personal model's file (Path), an installed model's name or a file the user named (str: the
# large-face model, or the forced one), or None: the general ENTED model.
PassModel = Path | str | None


@dataclass(frozen=True)
class RestorePass:
    """The faces of a photo that one model restores, in the photo's face order."""

    model: PassModel
    faces: tuple[int, ...]  # indices into the photo's faces
    people: tuple[Person | None, ...]  # who each of those faces is (None: nobody is named for it)


@dataclass(frozen=True)
class ModelRule:
    """Which model restores a face: ``forced`` for every face when given; else a face larger than ``covers``
    (ENTED's resolution R, in the pixels of the photo being restored) goes to ``large_faces`` when one is
    installed, and every other face to its person's personal model, or the general model (None)."""

    forced: str | Path | None = None
    large_faces: str | None = None
    covers: float = 0.0

    def model_for(self, size: float, personal: Path | None = None) -> PassModel:
        """The model of a face whose aligned crop is ``size`` pixels (Face.size) and whose person's personal
        model is ``personal``."""
        if self.forced is not None:
            return self.forced
        if self.large_faces is not None and size > self.covers:
            return self.large_faces
        return personal

    def takes_fidelity(self, model: PassModel) -> bool:
        """Whether the run's fidelity setting goes to ``model``: the forced or the large-face model (a personal or
        the general ENTED model has none)."""
        return model is not None and model in (self.forced, self.large_faces)


def large_face_model(model_dir: str | os.PathLike[str] | None = None) -> Any | None:
    """The installed 512 px face model (core.models.store.InstalledModel) the default rule gives faces larger than
    ENTED covers: the first architecture of :data:`LARGE_FACE_PREFERENCE`, the user's copy before a shipped one,
    then by name. Only models listed in their folder's manifest count; their files are hashed when loaded."""
    from ented_desktop.core.models.store import installed_models

    usable = [m for m in installed_models(model_dir, verify=False)
              if m.purpose == "face" and m.architecture in LARGE_FACE_PREFERENCE and m.verified]
    if not usable:
        return None
    return min(usable, key=lambda m: (LARGE_FACE_PREFERENCE.index(m.architecture), m.shipped, m.name))


def person_of(face: FaceRecord, people: Mapping[int, Person]) -> Person | None:
    return people.get(face.person_id) if face.person_id is not None else None


def _grouped(models: Sequence[PassModel], people: Sequence[Person | None]) -> list[RestorePass]:
    groups: dict[PassModel, list[int]] = {}
    for index, model in enumerate(models):
        groups.setdefault(model, []).append(index)
    return [RestorePass(model, tuple(indices), tuple(people[i] for i in indices)) for model, indices in groups.items()]


def face_size(face: FaceRecord | Face) -> float:
    """The side of a face's aligned crop in photo pixels (Face.size), for a library face record too."""
    return face.size if isinstance(face, Face) else Face(face.box, face.landmarks, face.score).size


def plan_passes(faces: Sequence[FaceRecord], people: Mapping[int, Person], rule: ModelRule = ModelRule(),
                scale: float = 1.0) -> list[RestorePass]:
    """Group a photo's faces by the model ``rule`` gives them (in order of each model's first face); ``scale``:
    the restored photo's size over the photo's (2 when its background is enlarged 2x: faces grow with it).

    Each pass restores only its own faces, but is given all of them (``Restorer.restore``'s ``only``) so that
    its pastes keep to their faces' territories, and crops from the original photo while pasting onto the
    previous pass's result (``canvas``), so that no face is restored from a neighbour's restoration."""
    whose = [person_of(face, people) for face in faces]
    models = [rule.model_for(face_size(face) * scale, person.personal_model if person else None)
              for face, person in zip(faces, whose, strict=True)]
    return _grouped(models, whose)


def plan_detected(faces: Sequence[Face], rule: ModelRule = ModelRule()) -> list[RestorePass]:
    """:func:`plan_passes` for faces found by the detector (``ented restore``): nobody is named for them. Their
    sizes are in the pixels of the photo being restored."""
    return _grouped([rule.model_for(face.size) for face in faces], [None] * len(faces))


class ReferenceCrops:
    """People's references aligned at a model's resolution, made once and reused (one instance per batch).

    Each person's reference is aligned once, at :data:`REFERENCE_SIZE`, and brought to each resolution asked for
    (ENTED's 128 px, a 512 px model, the identity check's 256 px) by area averaging, so that a photo whose faces go
    to several models, and the check, read the reference once. The crop is remembered with what it was made from
    (the picked face and its landmarks, or the added image's file); when the person's reference is changed, the
    next request makes a new crop. A reference that cannot be used (unreadable, no face found) fails every request
    with the same error, without reading it again."""

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
            source: tuple = ("image", str(image))

            def make() -> np.ndarray:
                return self._prepare(read_image_rgb8(image), detector, REFERENCE_SIZE)
        elif person.reference_face_id is not None:
            face = self._library.faces.get(person.reference_face_id)
            source = ("face", face.id, face.photo_id, face.landmarks.tobytes())

            def make() -> np.ndarray:
                photo = read_image_rgb8(self._library.photos.get(face.photo_id).path)
                return align_face(photo, face.landmarks, REFERENCE_SIZE)[0]
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
        from ented_desktop.core.pipeline import resize_square  # the pipeline pulls in the engines (torch)

        return resize_square(made[1], resolution)

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
                    problem = reference_unusable(person.name, exc, unreadable=isinstance(exc, ImageReadError))
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
