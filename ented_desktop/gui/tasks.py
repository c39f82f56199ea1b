"""What each kind of background job does, as generators of :class:`Step` built from core calls.

Nothing here touches a widget: every function runs on a worker thread and talks to the library, the
face detector and the restorer. The heavy objects (detector, identity embedder, restorers) live in
:class:`Services`, created on first use on the thread of the job that needs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8, read_photo
from ented_desktop.core.library import Library, Person
from ented_desktop.core.settings import Settings
from ented_desktop.gui.job_queue import Step, WorkFactory
from ented_desktop.gui.wording import count
from ented_desktop.gui.workers import WorkCancelled, WorkControl

log = logging.getLogger(__name__)


# -- what jobs report ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """A finished job's result: a sentence for the queue panel plus the details."""

    text: str
    value: Any = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def summary(self) -> str:
        return self.text


@dataclass(frozen=True)
class PhotosArrived:
    """Some photos of a running import are in the library: their faces can be looked for already."""

    count: int


@dataclass(frozen=True)
class FacesFound:
    photo_id: int
    count: int


@dataclass(frozen=True)
class VersionMade:
    photo_id: int
    version_id: int


@dataclass(frozen=True)
class Exported:
    path: Path
    renamed: bool  # a file of the wanted name existed, so a free name was taken


# -- the heavy objects --------------------------------------------------------------------------------
class FaceFinder(Protocol):
    name: str

    def find(self, rgb: np.ndarray) -> tuple[list[Face], list[np.ndarray | None]]:
        """Faces in a photo and an identity embedding for each (None where none could be made)."""
        ...


class Restorer(Protocol):
    """core.pipeline.Restorer, as the jobs use it."""

    resolution: int
    detector: Any
    engine: Any  # has .model_name

    def restore(self, pixels: np.ndarray, *, faces: list[Face] | None = None,
                references: list[np.ndarray | None] | None = None, grayscale: bool = False,
                progress: Callable[[int, int], None] | None = None,
                aborted: Callable[[], bool] | None = None) -> Any: ...


RestorerLoader = Callable[..., Restorer]  # core.pipeline.load_restorer
ReferencePreparer = Callable[..., np.ndarray]  # core.pipeline.prepare_reference(image, detector, resolution)


class CoreFaceFinder:
    """The core detector plus the identity embedder: what the library needs to group faces."""

    def __init__(self, model_dir: Path | None, device: str) -> None:
        from ented_desktop.core.face.detect import create_detector
        from ented_desktop.core.identity import IdentityEmbedder

        detector_device = "cuda" if device == "cuda" else "cpu"
        self.detector = create_detector("auto", model_dir=model_dir, device=detector_device)
        self.embedder = IdentityEmbedder()
        self.name = self.detector.name

    def find(self, rgb: np.ndarray) -> tuple[list[Face], list[np.ndarray | None]]:
        faces = self.detector.detect(rgb)
        return faces, [self.embedder.embed(rgb, face.landmarks) for face in faces]


class Services:
    """Creates and caches the detector and the restorers. ``settings`` is read each time, so a settings
    change (device, engine, model folder) takes effect for the next job after :meth:`reset`."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        face_finder: Callable[[Settings], FaceFinder] | None = None,
        restorer_loader: RestorerLoader | None = None,
        reference_preparer: ReferencePreparer | None = None,
    ) -> None:
        self.settings = settings
        self._make_finder = face_finder or (lambda s: CoreFaceFinder(_model_dir(s), s.device))
        self._loader = restorer_loader
        self._preparer = reference_preparer
        self._lock = threading.Lock()
        self._finder: FaceFinder | None = None
        self._restorers: dict[tuple, Restorer] = {}

    def reset(self) -> None:
        with self._lock:
            self._finder = None
            self._restorers.clear()

    def face_finder(self) -> FaceFinder:
        with self._lock:
            if self._finder is None:
                self._finder = self._make_finder(self.settings())
            return self._finder

    def restorer(self, model: Path | None) -> Restorer:
        """The general model (None) or a personal one, loaded once per settings."""
        s = self.settings()
        key = (str(model) if model else None, s.engine, s.device, s.model_dir)
        with self._lock:
            if key not in self._restorers:
                loader = self._loader or _core_loader()
                self._restorers[key] = loader(model, engine=s.engine, device=s.device,
                                              model_dir=_model_dir(s))
            return self._restorers[key]

    def prepare_reference(self, image: np.ndarray, restorer: Any) -> np.ndarray:
        """An aligned reference crop, at ``restorer``'s resolution, from any image of the person (the core
        finds the face with the restorer's detector)."""
        preparer = self._preparer or _core_preparer()
        return preparer(image, restorer.detector, restorer.resolution)


def _model_dir(settings: Settings) -> Path | None:
    return Path(settings.model_dir) if settings.model_dir else None


def _core_loader() -> RestorerLoader:
    from ented_desktop.core.pipeline import load_restorer

    return load_restorer


def _core_preparer() -> ReferencePreparer:
    from ented_desktop.core.pipeline import prepare_reference

    return prepare_reference


# -- import -------------------------------------------------------------------------------------------
ARRIVAL_BATCH = 50  # photos indexed between two "look for faces" nudges during a long import


def import_work(library: Library, album_id: int, paths: list[str]) -> Callable[[WorkControl], Generator]:
    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        gen = library.import_paths(album_id, paths)
        while True:
            try:
                progress = next(gen)
            except StopIteration as stop:
                report = stop.value
                break
            if progress.phase == "scanning":
                yield Step(None, f"Looking through {progress.current}")
                continue
            arrived = PhotosArrived(progress.done) if progress.done % ARRIVAL_BATCH == 0 else None
            yield Step(progress.done / max(1, progress.total), f"Reading {Path(progress.current).name}",
                       event=arrived)
        new = len(report.added) + len(report.updated) + len(report.moved)
        text = f"{count(new, 'new photo')}"
        if report.unchanged:
            text += f", {len(report.unchanged)} already in the library"
        if report.problems:
            text += f"; {count(len(report.problems), 'file')} could not be imported (see Problems)"
        return Outcome(text + ".", report, [(p.path, p.reason) for p in report.problems])

    return work


# -- faces --------------------------------------------------------------------------------------------
def detect_work(library: Library, services: Services, photo_ids: list[int] | None) -> Callable:
    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        finder = services.face_finder()
        ids = photo_ids if photo_ids else library.photos_needing_faces(finder.name)
        problems: list[tuple[str, str]] = []
        found = 0
        for done, photo_id in enumerate(ids, 1):
            try:
                photo = library.photo(photo_id)
                rgb = read_image_rgb8(photo.path)
                faces, embeddings = finder.find(rgb)
                library.set_faces(photo_id, faces, embeddings, finder.name)
            except UserError as exc:  # one unreadable photo must not stop the others
                problems.append((str(photo_id), str(exc)))
                continue
            found += len(faces)
            yield Step(done / len(ids), f"{len(faces)} faces in {photo.path.name}",
                       event=FacesFound(photo_id, len(faces)))
        text = f"Looked for faces in {count(len(ids), 'photo')}; found {found}."
        if problems:
            text += f" {count(len(problems), 'photo')} could not be read."
        return Outcome(text, found, problems)

    return work


# -- restoring ----------------------------------------------------------------------------------------
def reference_crop(library: Library, person: Person, services: Services, restorer: Any) -> np.ndarray | None:
    """The person's reference aligned for ``restorer``, or None when they have none (the face is then its
    own reference). A picked face is aligned from its stored landmarks; an added image is searched for
    its face by the core."""
    if person.reference_image is not None:
        return services.prepare_reference(read_image_rgb8(person.reference_image), restorer)
    if person.reference_face_id is not None:
        face = library.face(person.reference_face_id)
        crop, _ = align_face(read_image_rgb8(library.photo(face.photo_id).path), face.landmarks,
                             restorer.resolution)
        return crop
    return None


def restore_photo(library: Library, photo_id: int, services: Services,
                  aborted: Callable[[], bool]) -> tuple[int, list[dict[str, Any]]]:
    """Restore one photo into a new version; returns the version id and one report per face.

    Faces of a person with a personal (fine-tuned) model are restored by that model, the others by the
    general one; each pass only touches its own faces, so the passes compose."""
    photo = read_photo(library.photo(photo_id).path)
    pixels = photo.pixels
    stored = library.faces_of_photo(photo_id)
    people = {p.id: p for p in library.people()}
    groups: dict[Path | None, list[int]] = {}
    for index, face in enumerate(stored):
        person = people.get(face.person_id) if face.person_id is not None else None
        groups.setdefault(person.personal_model if person else None, []).append(index)
    reports: list[dict[str, Any]] = [{} for _ in stored]
    models_used = []
    for model, indices in groups.items():
        restorer = services.restorer(model)
        crops: dict[int, np.ndarray | None] = {}
        references: list[np.ndarray | None] = []
        for index in indices:
            person_id = stored[index].person_id
            if person_id in people and person_id not in crops:
                crops[person_id] = reference_crop(library, people[person_id], services, restorer)
            references.append(crops.get(person_id) if person_id is not None else None)
        faces = [Face(box=stored[i].box, landmarks=stored[i].landmarks, score=stored[i].score)
                 for i in indices]
        try:
            result = restorer.restore(pixels, faces=faces, references=references, grayscale=photo.grayscale,
                                      aborted=aborted)
        except _cancelled() as exc:
            raise WorkCancelled from exc
        pixels = result.pixels
        models_used.append(restorer.engine.model_name)
        for face_report, index in zip(result.faces, indices, strict=True):
            person_id = stored[index].person_id
            reports[index] = {
                "index": index, "face_id": stored[index].id, "person_id": person_id,
                "person": people[person_id].name if person_id in people else None,
                "restored": bool(face_report.restored), "reference": face_report.reference,
                "reason": face_report.reason, "model": model.name if model else "general",
            }
    used_people = sorted({r["person_id"] for r in reports
                          if r.get("reference") == "person" and r["person_id"] is not None})
    version_id = library.add_version(
        photo_id, pixels, model=" + ".join(models_used) or "ENTED", reference_people=used_people,
        report={"faces": reports}, grayscale=photo.grayscale, exif=photo.exif, icc_profile=photo.icc_profile,
    )
    return version_id, reports


def restore_work(library: Library, services: Services, photo_ids: list[int]) -> Callable:
    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        problems: list[tuple[str, str]] = []
        made = 0
        yield Step(0.0, "Loading the model…")
        services.restorer(None)  # a missing model fails the job here with the core's message
        for done, photo_id in enumerate(photo_ids, 1):
            name = str(photo_id)
            try:
                name = library.photo(photo_id).path.name
                version_id, _ = restore_photo(library, photo_id, services, control.should_stop)
            except UserError as exc:
                if isinstance(exc, ModelError):
                    raise  # the model is the problem, not this photo: stop with its message
                problems.append((name, str(exc)))
                continue
            control.checkpoint()  # a stop asked for during that photo: do not start the next
            made += 1
            yield Step(done / len(photo_ids), f"Restored {name}", event=VersionMade(photo_id, version_id))
        text = f"Restored {made} of {count(len(photo_ids), 'photo')}."
        if problems:
            text += " " + "; ".join(f"{n}: {reason}" for n, reason in problems[:3])
        return Outcome(text, made, problems)

    return work


def _cancelled() -> type[Exception]:
    """core.pipeline.Cancelled, imported when a restore runs (the pipeline brings in torch)."""
    from ented_desktop.core.pipeline import Cancelled

    return Cancelled


# -- exporting ----------------------------------------------------------------------------------------
def export_work(library: Library, version_ids: list[int], dest: str, fmt: str, quality: int,
                pattern: str) -> Callable:
    suffix = ".png" if fmt == "png" else ".jpg"

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        written: list[Exported] = []
        for done, version_id in enumerate(version_ids, 1):
            wanted = Path(dest) / (library.export_name(version_id, pattern) + suffix)
            path = library.export_version(version_id, dest, fmt=fmt, quality=quality, pattern=pattern)
            written.append(Exported(path, path != wanted))
            yield Step(done / len(version_ids), f"Wrote {path.name}")
        renamed = [w for w in written if w.renamed]
        text = f"Exported {count(len(written), 'photo')} to {dest}."
        if renamed:
            text += (f" {count(len(renamed), 'file')} got a new name because one of that name existed: "
                     + ", ".join(w.path.name for w in renamed[:3]) + ".")
        return Outcome(text, written)

    return work


# -- wiring -------------------------------------------------------------------------------------------
def factories(library: Library, services: Services) -> dict[str, WorkFactory]:
    """Job kind -> (payload -> work), for :class:`~ented_desktop.gui.job_queue.JobQueue`."""
    return {
        "import": lambda p: import_work(library, int(p["album_id"]), list(p["paths"])),
        "detect": lambda p: detect_work(library, services, p.get("photo_ids")),
        "restore": lambda p: restore_work(library, services, list(p["photo_ids"])),
        "export": lambda p: export_work(library, list(p["version_ids"]), p["dest"], p["format"],
                                        int(p["quality"]), p["pattern"]),
    }
