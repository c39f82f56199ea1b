"""What each kind of background job does, as generators of :class:`Step` built from core calls.

Nothing here touches a widget: every function runs on a worker thread and talks to the library, the
face detector, the restorer and the fine-tuner. The heavy objects (detector, identity embedder, restorers)
live in :class:`Services`, created on first use on the thread of the job that needs them.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
import time
from collections.abc import Callable, Collection, Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.detect import Face
from ented_desktop.core.finetune_verdict import assess  # the rule the dialog and `ented finetune` follow too
from ented_desktop.core.imageio import read_image_rgb8, read_photo
from ented_desktop.core.library import Library, Person, UnknownItemError
from ented_desktop.core.restore_plan import FailedModels, ReferenceCrops, ReferencePreparer, plan_passes
from ented_desktop.core.settings import Settings
from ented_desktop.gui.job_queue import Step, WorkFactory
from ented_desktop.gui.wording import count, format_eta
from ented_desktop.gui.workers import WorkCancelled, WorkControl


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
class FinetuneProgress:
    """One progress report of a running fine-tune (``training.finetune.finetune_person``'s dict)."""

    report: dict[str, Any]


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
                references: list[np.ndarray | None] | None = None, only: Collection[int] | None = None,
                canvas: np.ndarray | None = None, grayscale: bool = False,
                progress: Callable[[int, int], None] | None = None,
                aborted: Callable[[], bool] | None = None) -> Any: ...


RestorerLoader = Callable[..., Restorer]  # core.pipeline.load_restorer
Finetuner = Callable[..., Any]  # training.finetune.finetune_person


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


def import_dlib_on_this_thread() -> None:
    """Import dlib (the identity embedder's binding) now, on the main thread. First imported on a pool thread, it
    deadlocks on the interpreter lock in the next job that pool thread runs: the app froze when faces were found
    twice within the pool's 30 s thread expiry (tests/gui/test_tasks.py has the reproduction)."""
    with contextlib.suppress(ImportError):  # without dlib, finding faces says so when it starts
        importlib.import_module("dlib")


class Services:
    """Creates and caches the detector and the restorers, and knows the fine-tuner, the general model and
    where personal models go. ``settings`` is read each time, so a settings change (device, engine, model
    folder) takes effect for the next job after :meth:`reset`. Made on the main thread, before any job runs."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        *,
        face_finder: Callable[[Settings], FaceFinder] | None = None,
        restorer_loader: RestorerLoader | None = None,
        reference_preparer: ReferencePreparer | None = None,
        finetuner: Finetuner | None = None,
    ) -> None:
        self.settings = settings
        self._make_finder = face_finder or (lambda s: CoreFaceFinder(_model_dir(s), s.device))
        self._loader = restorer_loader
        self._preparer = reference_preparer
        self._finetuner = finetuner
        self._lock = threading.Lock()
        self._finder: FaceFinder | None = None
        self._restorers: dict[tuple, Restorer] = {}
        if face_finder is None:
            import_dlib_on_this_thread()

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

    def reference_preparer(self) -> ReferencePreparer:
        """core.pipeline.prepare_reference: an image's largest face, aligned for a restorer."""
        return self._preparer or _core_preparer()

    def finetuner(self) -> Finetuner:
        if self._finetuner is not None:
            return self._finetuner
        from training.finetune import finetune_person  # brings in torch: only when a fine-tune runs

        return finetune_person

    def general_model(self) -> Path:
        """The general model's weights file (raises ModelError with the core's sentence when none)."""
        from ented_desktop.core.weights import resolve_model

        return resolve_model(None, _model_dir(self.settings()))

    def personal_models_dir(self) -> Path:
        from ented_desktop.core.paths import model_dir

        return model_dir(_model_dir(self.settings())) / "personal"

    def training_device(self) -> str:
        from ented_desktop.core.engines.torch_engine import pick_torch_device

        return str(pick_torch_device(self.settings().device))


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
            except UnknownItemError:  # removed from the library since the job was queued
                continue
            try:
                library.refresh_photo(photo_id)  # an edited file is indexed again before its faces are found
                photo = library.photo(photo_id)
                rgb = read_image_rgb8(photo.path)
                faces, embeddings = finder.find(rgb)
                library.set_faces(photo_id, faces, embeddings, finder.name)
            except UserError as exc:  # one unreadable photo must not stop the others
                problems.append((photo.path.name, str(exc)))
                continue
            found += len(faces)
            yield Step(done / len(ids), f"{count(len(faces), 'face')} in {photo.path.name}",
                       event=FacesFound(photo_id, len(faces)))
        text = f"Looked for faces in {count(len(ids), 'photo')}; found {found}."
        if problems:
            text += f" {count(len(problems), 'photo')} could not be read."
        return Outcome(text, found, problems)

    return work


# -- restoring ----------------------------------------------------------------------------------------
def restore_photo(library: Library, photo_id: int, services: Services, aborted: Callable[[], bool],
                  crops: ReferenceCrops, job_id: int | None = None,
                  failed_models: FailedModels | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Restore one photo into a new version (made by job ``job_id``); returns its id and one report per face.

    Each face gets its person's personal model and reference when they have them (core.restore_plan), or,
    when that model or reference cannot be used, the general model or itself as reference, and its report's
    ``fallback`` says why. ``crops`` keeps the aligned references, and ``failed_models`` the personal models that
    could not be loaded, for the other photos of the batch (without it, this photo is a batch of its own). Raises
    UserError, and makes no version, when the photo's file changed since its faces were found (the stored
    face positions belong to the old image), when it has no face recorded, or when none of its faces could be
    restored."""
    changed = library.refresh_photo(photo_id)
    record = library.photo(photo_id)
    stored = library.faces_of_photo(photo_id)
    if changed or (record.faces_detector is None and stored):
        raise UserError("this photo changed on disk since its faces were found; find faces again")
    if record.faces_detector is None:
        raise UserError("its faces have not been looked for yet; find faces first")
    if not stored:
        raise UserError("no face found")
    photo = read_photo(record.path)
    pixels = photo.pixels
    faces = [Face(box=face.box, landmarks=face.landmarks, score=face.score) for face in stored]
    reports: list[dict[str, Any]] = [{} for _ in stored]
    models_used = []
    people = {p.id: p for p in library.people()}
    named = {face.person_id for face in stored} & people.keys()
    model_problems = _unusable_personal_models(services, [people[i] for i in named], failed_models or FailedModels())
    people = {i: replace(p, personal_model=None) if i in model_problems else p for i, p in people.items()}
    for restore_pass in plan_passes(stored, people):
        restorer = services.restorer(restore_pass.model)
        references: list[np.ndarray | None] = [None] * len(stored)
        pass_references, reference_problems = crops.for_pass(restore_pass, restorer.detector, restorer.resolution)
        for index, crop in zip(restore_pass.faces, pass_references, strict=True):
            references[index] = crop
        try:  # every pass sees all faces (their territories) and the original pixels, see core.pipeline
            result = restorer.restore(photo.pixels, faces=faces, references=references, only=restore_pass.faces,
                                      canvas=pixels, grayscale=photo.grayscale, aborted=aborted)
        except _cancelled() as exc:
            raise WorkCancelled from exc
        pixels = result.pixels
        models_used.append(restorer.engine.model_name)
        for face_report, index, person, problem in zip(result.faces, restore_pass.faces, restore_pass.people,
                                                       reference_problems, strict=True):
            problems = (problem, model_problems.get(person.id) if person else None)
            fallback = ("; ".join(p for p in problems if p) or None) if face_report.restored else None
            reports[index] = _face_report(index, stored[index].id, person, face_report, restore_pass.model, fallback)
    if not any(r["restored"] for r in reports):
        raise UserError(f"no face could be restored ({'; '.join(r['reason'] for r in reports)})")
    used_people = sorted({r["person_id"] for r in reports
                          if r.get("reference") == "person" and r["person_id"] is not None})
    version_id = library.add_version(
        photo_id, pixels, model=" + ".join(models_used), reference_people=used_people,
        report={"faces": reports}, grayscale=photo.grayscale, exif=photo.exif, icc_profile=photo.icc_profile,
        job_id=job_id,
    )
    return version_id, reports


def _unusable_personal_models(services: Services, people: list[Person], failed: FailedModels) -> dict[int, str]:
    """Why each of ``people``'s personal models cannot be loaded (person id -> a sentence for the face report).
    Their faces are restored with the general model: one damaged personal model must not stop a batch. A model
    that failed earlier in the batch is not read again (``failed``); its faces' reports still say why."""
    problems: dict[int, str] = {}
    for person in people:
        if person.personal_model is not None:
            try:
                failed.load(person.personal_model, services.restorer)
            except ModelError as exc:
                problems[person.id] = (f"the personal model of {person.name} cannot be used: "
                                       f"{str(exc).rstrip('.')}; restored with the general model")
    return problems


def _face_report(index: int, face_id: int, person: Person | None, outcome: Any, model: Path | None,
                 fallback: str | None) -> dict[str, Any]:
    """What a version records about one face (core.pipeline.FaceReport plus who, which model, and why the
    person's reference or model was not used when it was not)."""
    return {"index": index, "face_id": face_id, "person_id": person.id if person else None,
            "person": person.name if person else None, "restored": bool(outcome.restored),
            "reference": outcome.reference, "reason": outcome.reason, "model": model.name if model else "general",
            "fallback": fallback, "detail_only": outcome.detail_only}


def restore_work(library: Library, services: Services, photo_ids: list[int], job_id: int | None = None) -> Callable:
    """Restore each photo into a new version. A job run again (after it was interrupted, failed or cancelled)
    skips the photos its earlier runs restored: no second version, no second long wait."""

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        problems: list[tuple[str, str]] = []
        made = 0
        restored_before = library.photos_restored_by_job(job_id) if job_id is not None else set()
        todo = [i for i in photo_ids if i not in restored_before]
        yield Step(0.0, "Loading the model…")
        services.restorer(None)  # a missing model fails the job here with the core's message
        crops = ReferenceCrops(library, services.reference_preparer())
        failed_models = FailedModels()
        removed = 0
        for done, photo_id in enumerate(todo, 1):
            try:
                name = library.photo(photo_id).path.name
            except UnknownItemError:  # removed from the library since the job was queued: nothing to do
                removed += 1
                continue
            try:
                version_id, _ = restore_photo(library, photo_id, services, control.should_stop, crops, job_id,
                                              failed_models)
            except UserError as exc:
                if isinstance(exc, ModelError):
                    raise  # the general model is the problem, not this photo: stop with its message
                problems.append((name, str(exc)))
                continue
            control.checkpoint()  # a stop asked for during that photo: do not start the next
            made += 1
            yield Step(done / len(todo), f"Restored {name}", event=VersionMade(photo_id, version_id))
        text = f"Restored {made} of {count(len(todo) - removed, 'photo')}."
        if len(todo) < len(photo_ids):
            text += f" Skipped {count(len(photo_ids) - len(todo), 'photo')} this job had already restored."
        if removed:
            text += f" {count(removed, 'photo')} had left the library meanwhile."
        if problems:
            text += " " + "; ".join(f"{n}: {reason}" for n, reason in problems[:3])
        return Outcome(text, made, problems)

    return work


def _cancelled() -> type[Exception]:
    """core.pipeline.Cancelled, imported when a restore runs (the pipeline brings in torch)."""
    from ented_desktop.core.pipeline import Cancelled

    return Cancelled


# -- fine-tuning --------------------------------------------------------------------------------------
FINETUNE_MIN_PHOTOS = 3  # training.finetune.MIN_PHOTOS (not imported: it brings in torch)


def finetune_photos(library: Library, person_id: int) -> list[Path]:
    """The photos a personal model of the person learns from: those where their face is the largest one,
    since the fine-tuner trains on each photo's largest face. Missing photos are left out."""
    photos: list[Path] = []
    for face in library.faces_of_person(person_id):
        photo = library.photo(face.photo_id)
        if photo.missing or photo.path in photos:
            continue
        largest = max(library.faces_of_photo(face.photo_id),
                      key=lambda f: Face(f.box, f.landmarks, f.score).size)
        if largest.id == face.id:
            photos.append(photo.path)
    return photos


def personal_model_name(person_name: str, now: float, folder: Path) -> str:
    """A name for a new personal model in ``folder``: the person's name and the time, and a number when
    that file exists, so a new model never replaces the one the person uses until the user keeps it."""
    stem = re.sub(r"[^\w-]+", "-", person_name).strip("-_") or "person"
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
    taken = {p.stem for p in folder.glob("*.safetensors")} if folder.is_dir() else set()
    return next(n for n in (name, *(f"{name}-{i}" for i in range(2, len(taken) + 3))) if n not in taken)


def finetune_summary(person_name: str, result: Any) -> str:
    if result.model_path is None:
        return f"Fine-tuning for {person_name} stopped before its first iteration; no model was made."
    outcome = assess(result.before, result.after).outcome
    verdict = "too close to the general model to tell" if outcome == "too close to tell" else (
        f"{outcome} than the general model")
    return (f"Personal model for {person_name}: {result.before['val_psnr']:.2f} → "
            f"{result.after['val_psnr']:.2f} dB on a held-out photo ({verdict}).")


def finetune_work(library: Library, services: Services, person_id: int, minutes: float) -> Callable:
    """Fine-tune a personal model for one person within ``minutes``. The fine-tuner reports through
    callbacks, so this work is a plain function that sends its steps with ``control.report``; its outcome's
    value is the fine-tuner's result, for the user to keep or discard. A stopped run keeps nothing."""

    def work(control: WorkControl) -> Outcome:
        person = library.person(person_id)
        photos = finetune_photos(library, person_id)
        if len(photos) < FINETUNE_MIN_PHOTOS:
            raise UserError(f"Fine-tuning needs at least {FINETUNE_MIN_PHOTOS} photos in which {person.name} "
                            f"is the largest face; there are {len(photos)}.")
        base = services.general_model()
        seconds = minutes * 60.0

        def progress(report: dict[str, Any]) -> None:
            left = report.get("eta_s")
            fraction = None if left is None else min(1.0, max(0.0, 1.0 - left / seconds))
            control.report(Step(fraction, f"Iteration {report.get('iteration', 0)}, {format_eta(left)}",
                                event=FinetuneProgress(report)))

        out_dir = services.personal_models_dir() / f"person-{person_id}"
        result = services.finetuner()(
            photos, base_model=base, out_dir=out_dir, minutes=minutes,
            name=personal_model_name(person.name, time.time(), out_dir),
            device=services.training_device(), progress_fn=progress, abort_fn=control.should_stop)
        if control.aborted():  # the fine-tuner stops early and may have saved what it had: not wanted
            if result.model_path is not None:
                from ented_desktop.core.weights import remove_model

                remove_model(result.model_path)
            raise WorkCancelled
        return Outcome(finetune_summary(person.name, result), result)

    return work


# -- exporting ----------------------------------------------------------------------------------------
def export_work(library: Library, version_ids: list[int], dest: str, fmt: str, quality: int,
                pattern: str) -> Callable:
    suffix = ".png" if fmt == "png" else ".jpg"

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        written: list[Exported] = []
        deleted = 0
        for done, version_id in enumerate(version_ids, 1):
            try:
                wanted = Path(dest) / (library.export_name(version_id, pattern) + suffix)
                path = library.export_version(version_id, dest, fmt=fmt, quality=quality, pattern=pattern)
            except UnknownItemError:  # deleted since the export was queued; the others still go out
                deleted += 1
                continue
            written.append(Exported(path, path != wanted))
            yield Step(done / len(version_ids), f"Wrote {path.name}")
        renamed = [w for w in written if w.renamed]
        text = f"Exported {count(len(written), 'photo')} to {dest}."
        if deleted:
            text += f" {count(deleted, 'restored version')} had been deleted meanwhile."
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
        "restore": lambda p: restore_work(library, services, list(p["photo_ids"]), p.get("job_id")),
        "finetune": lambda p: finetune_work(library, services, int(p["person_id"]), float(p["minutes"])),
        "export": lambda p: export_work(library, list(p["version_ids"]), p["dest"], p["format"],
                                        int(p["quality"]), p["pattern"]),
    }
