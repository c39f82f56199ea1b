"""The desktop app's photo library (Qt-free): albums, photos, faces, people, versions and jobs."""

from ented_desktop.core.library.database import (
    Album,
    FaceRecord,
    Job,
    JobStateError,
    Library,
    Person,
    PhotoRecord,
    RefreshReport,
    Suggestion,
    UnknownItemError,
    Version,
    default_library_dir,
)
from ented_desktop.core.library.importer import ImportProblem, ImportProgress, ImportReport
from ented_desktop.core.library.lock import LibraryInUseError
from ented_desktop.core.library.references import ReferenceCandidate
from ented_desktop.core.library.schema import JOB_KINDS, JOB_STATES, SCHEMA_VERSION, LibraryVersionError

__all__ = [
    "JOB_KINDS",
    "JOB_STATES",
    "SCHEMA_VERSION",
    "Album",
    "FaceRecord",
    "ImportProblem",
    "ImportProgress",
    "ImportReport",
    "Job",
    "JobStateError",
    "Library",
    "LibraryInUseError",
    "LibraryVersionError",
    "Person",
    "PhotoRecord",
    "ReferenceCandidate",
    "RefreshReport",
    "Suggestion",
    "UnknownItemError",
    "Version",
    "default_library_dir",
]
