"""What the library hands out: frozen snapshots of its rows, taken when read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ented_desktop.core.library.job_state import JobState


@dataclass(frozen=True)
class Album:
    id: int
    name: str
    created: float
    photo_count: int


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    path: Path
    content_hash: str
    size_bytes: int
    width: int  # as displayed (EXIF orientation applied)
    height: int
    format: str
    taken: str  # "YYYY-MM-DD HH:MM:SS"
    taken_source: str  # "exif" or "mtime"
    missing: bool
    faces_detector: str | None  # None: faces not looked for yet


@dataclass(frozen=True)
class FaceRecord:
    id: int
    photo_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # 5 x 2 float32
    score: float
    embedding: np.ndarray | None
    detector: str
    person_id: int | None


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    created: float
    reference_face_id: int | None
    reference_image: Path | None  # a copy in the library directory
    personal_model: Path | None
    face_count: int


@dataclass(frozen=True)
class Suggestion:
    """Faces that look like one person: a new person (``person_id`` None) or a named one."""

    face_ids: tuple[int, ...]
    person_id: int | None
    distance: float  # mean identity distance of the faces to the person's nearest face / the group's centre


@dataclass(frozen=True)
class Confirm:
    """A suggestion the user confirmed, kept so that it can be undone (``Library.grouping.history``)."""

    id: int
    person_id: int
    created_person: bool  # the confirm made the person (a new group the user named)
    named: tuple[int, ...]  # the faces it named as the person (still in the library)
    turned_down: tuple[int, ...]  # the suggestion's faces it recorded as not the person
    created: float


@dataclass(frozen=True)
class Undone:
    """What undoing a confirm did."""

    confirm: Confirm
    unnamed: tuple[int, ...]  # faces made unnamed again (those of the confirm still the person's)
    person_removed: bool  # the person the confirm made was removed with it


@dataclass(frozen=True)
class Version:
    id: int
    photo_id: int
    path: Path
    model: str
    reference_people: tuple[dict[str, Any], ...]  # {"id", "name"} as they were when restored
    created: float
    report: dict[str, Any]
    settings: dict[str, Any]  # the settings that made it ({} for versions made before they were recorded)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    state: JobState
    payload: dict[str, Any]
    progress: float
    error: str | None
    created: float
    started: float | None
    finished: float | None
    updated: float


@dataclass(frozen=True)
class Problem:
    """A file that could not be used, and why."""

    id: int
    path: str  # as the step that failed named it: a full path (import) or a file name
    reason: str
    source: str  # what was being done: the dropped folder, "face detection", "restoring"
    seen: float  # when it was last found


@dataclass
class RefreshReport:
    missing: list[int]  # photos newly found to be gone
    found: list[int]  # missing photos back at their path
    moved: list[int]  # missing photos found under a new path in an imported folder
