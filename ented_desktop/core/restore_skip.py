"""Restoring a photo again the same way makes an identical version: say so, and skip it.

A restored version records how it was made in its ``settings`` (see :func:`restore_record`): the general model
(name and sha256 of its weights), the engine, CodeFormer's fidelity, and for each face where it was found, the
person it belongs to, that person's reference (a face of the library, or an image file with its size and
modification time) and personal model. Two restores with equal records give the same result, so the second is
skipped (:func:`plan_restore`), and the user is told in a sentence how many photos are skipped and how many restored.

Versions made before records were kept (``settings == {}``) never count as the same: how they were made is unknown.

May import the standard library and ``ented_desktop.core``: ``core.weights`` (and so torch) only inside
:func:`model_sha256`, because the library imports this module to compare records. Never Qt, the GUI or the CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Recorded to tell how a version was made, but the engine and device give the same picture (to rounding): a change
# of them alone is no reason to restore again.
NOT_COMPARED = frozenset({"engine", "device"})


def file_stamp(path: Path | None) -> str | None:
    """``"name:size:mtime_ns"`` of a file (a reference image, a personal model): it changes when the file does.
    None for no file; a file that cannot be looked at gets ``"name:missing"``, which matches no earlier stamp of
    a file that was there."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return f"{Path(path).name}:missing"
    return f"{Path(path).name}:{st.st_size}:{st.st_mtime_ns}"


def model_sha256(path: Path) -> str:
    """The sha256 of a model's weights file: from its folder's manifest when listed there (hashing a 300 MB file
    takes seconds), else computed."""
    from ented_desktop.core.weights import read_manifest, sha256_file  # brings in torch: only when asked

    listed = read_manifest(Path(path).parent).get(Path(path).name)
    return listed or sha256_file(Path(path))


def face_recipe(face: Any, person: Any | None) -> dict[str, Any]:
    """What decides how one face is restored: the face record (``core.library.FaceRecord``: its id, and its box to
    the pixel, which moves when the face is found again another way), its person (``core.library.Person``, None
    when unnamed), the person's reference and personal model."""
    found = {"face": face.id, "box": [round(v) for v in face.box]}
    if person is None:
        return {**found, "person": None, "reference": None, "personal_model": None}
    if person.reference_image is not None:
        reference = f"image:{file_stamp(person.reference_image)}"
    elif person.reference_face_id is not None:
        reference = f"face:{person.reference_face_id}"
    else:
        reference = None
    return {**found, "person": person.id, "reference": reference, "personal_model": file_stamp(person.personal_model)}


def restore_record(*, model: str, model_sha256: str, engine: str, fidelity: float | None,
                   faces: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ``settings`` a restored version keeps: the general model's name and the sha256 of its weights, the
    engine, CodeFormer's fidelity w (None: the model's default or a model without one) and one
    :func:`face_recipe` per face, in the photo's face order."""
    return {"model": model, "model_sha256": model_sha256, "engine": engine,
            "fidelity": None if fidelity is None else float(fidelity), "faces": list(faces)}


def _compared(record: Mapping[str, Any]) -> Any:
    # Through JSON so that a record read back from the library (lists) equals one made now (tuples, ints as floats).
    return json.loads(json.dumps({k: v for k, v in record.items() if k not in NOT_COMPARED}, sort_keys=True))


def same_way(made: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether a version whose record is ``made`` was restored as ``wanted`` would restore it now."""
    return bool(made) and bool(wanted) and _compared(made) == _compared(wanted)


@dataclass(frozen=True)
class RestoreSkipPlan:
    """Which of the photos a restore was asked for are skipped and which are restored."""

    skipped: tuple[int, ...]  # restored this way already
    to_restore: tuple[int, ...]
    again: tuple[int, ...]  # those of ``to_restore`` that have a version made another way

    def sentence(self) -> str:
        """The plan in plain words, e.g. "12 photos were already restored this way and are skipped; 3 will be
        restored." """
        skipped, todo = len(self.skipped), len(self.to_restore)
        again = ""
        if self.again:
            n = len(self.again)
            again = (" (it was restored before, another way)" if todo == 1 else
                     f" ({n} of them {'was' if n == 1 else 'were'} restored before, another way)")
        if not skipped:
            return f"{_photos(todo)} will be restored{again}."
        were = "was" if skipped == 1 else "were"
        if not todo:
            return f"{_photos(skipped)} {were} already restored this way, so there is nothing to restore."
        are = "is" if skipped == 1 else "are"
        return f"{_photos(skipped)} {were} already restored this way and {are} skipped; {todo} will be restored{again}."


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


def plan_restore(photo_ids: Sequence[int], wanted: Mapping[int, Mapping[str, Any]],
                 made: Mapping[int, Sequence[Mapping[str, Any]]]) -> RestoreSkipPlan:
    """Split ``photo_ids`` (order kept, repeats dropped) into those already restored the way ``wanted[photo]`` would
    restore them now, by one of the records of their versions in ``made[photo]``, and the others."""
    skipped, todo, again = [], [], []
    for photo_id in dict.fromkeys(photo_ids):
        records = made.get(photo_id, ())
        if photo_id in wanted and any(same_way(record, wanted[photo_id]) for record in records):
            skipped.append(photo_id)
            continue
        todo.append(photo_id)
        if records:
            again.append(photo_id)
    return RestoreSkipPlan(tuple(skipped), tuple(todo), tuple(again))


def _with_faces(base: Mapping[str, Any], faces: Sequence[Any], people: Mapping[int, Any]) -> dict[str, Any]:
    return {**base, "faces": [face_recipe(f, people.get(f.person_id)) for f in faces]}


def photo_record(library: Any, photo_id: int, base: Mapping[str, Any]) -> dict[str, Any]:
    """The record restoring library photo ``photo_id`` now would keep: ``base`` (a :func:`restore_record` for the
    run, its ``faces`` ignored) with the recipe of each of the photo's recorded faces."""
    people = {p.id: p for p in library.people.all()}
    return _with_faces(base, library.faces.of_photo(photo_id), people)


def plan_library_restore(library: Any, photo_ids: Sequence[int], base: Mapping[str, Any]) -> RestoreSkipPlan:
    """:func:`plan_restore` for library photos restored as the run ``base`` describes (see :func:`photo_record`);
    a version with a face that fell back (its report's ``fallback``) never counts as the same."""
    people = {p.id: p for p in library.people.all()}
    wanted = {i: _with_faces(base, library.faces.of_photo(i), people) for i in dict.fromkeys(photo_ids)}
    made = {i: [v.settings if _as_planned(v.report) else {} for v in library.versions.of_photo(i)] for i in wanted}
    return plan_restore(photo_ids, wanted, made)


def _as_planned(report: Mapping[str, Any]) -> bool:
    """Whether every face of a version was restored as its record says: one that fell back to the general model or
    its own face (a damaged personal model, an unreadable reference) may come out better next time, once fixed."""
    return not any(face.get("fallback") for face in report.get("faces", ()))
