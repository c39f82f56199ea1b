"""The desktop app's photo library, in SQLite: albums, photos, faces, people, restored versions, jobs and problems.

Owns the library folder (database, restored versions, reference copies, thumbnails) and everything that reads or
writes it. :class:`Library` is the one entry point; it hands out an object per concern (``lib.albums``,
``lib.photos``, ``lib.faces``, ``lib.people``, ``lib.grouping``, ``lib.references``, ``lib.versions``, ``lib.jobs``,
``lib.maintenance``, ``lib.problems``), each in the module of that name, all sharing the connections and
transactions of :mod:`connection`. Records (:mod:`records`), job states (:mod:`job_state`), the schema and its
migrations (:mod:`schema`), and the pure parts (scanning and indexing files in :mod:`importer`, thumbnails,
ranking references) have modules of their own.

May import: the standard library, numpy, Pillow and ``ented_desktop.core`` (images, faces, identity, settings,
paths, errors). Never Qt, the GUI, the CLI or training.
"""

from ented_desktop.core.library.connection import UnknownItemError
from ented_desktop.core.library.database import Library, default_library_dir
from ented_desktop.core.library.grouping import CannotUndoError
from ented_desktop.core.library.importer import ImportProblem, ImportProgress, ImportReport
from ented_desktop.core.library.job_state import TRANSITIONS, JobState, JobStateError, can_move
from ented_desktop.core.library.lock import LibraryInUseError
from ented_desktop.core.library.records import (
    Album,
    Confirm,
    FaceRecord,
    Job,
    Person,
    PhotoRecord,
    Problem,
    RefreshReport,
    Suggestion,
    Undone,
    Version,
)
from ented_desktop.core.library.references import ReferenceCandidate
from ented_desktop.core.library.schema import JOB_KINDS, JOB_STATES, SCHEMA_VERSION, LibraryVersionError

__all__ = [
    "JOB_KINDS",
    "JOB_STATES",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "Album",
    "CannotUndoError",
    "Confirm",
    "FaceRecord",
    "ImportProblem",
    "ImportProgress",
    "ImportReport",
    "Job",
    "JobState",
    "JobStateError",
    "Library",
    "LibraryInUseError",
    "LibraryVersionError",
    "Person",
    "PhotoRecord",
    "Problem",
    "ReferenceCandidate",
    "RefreshReport",
    "Suggestion",
    "Undone",
    "UnknownItemError",
    "Version",
    "can_move",
    "default_library_dir",
]
