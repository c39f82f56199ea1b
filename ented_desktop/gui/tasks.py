"""What each kind of background job does, as generators of :class:`Step` built from core calls.

Nothing here touches a widget: every function runs on a worker thread and talks to the library, the
face detector, the restorer and the fine-tuner. The heavy objects (detector, identity embedder, restorers)
live in :class:`Services`, created on first use on the thread of the job that needs them.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.detect import Face
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.library import Library, UnknownItemError
from ented_desktop.core.library.versions import EXPORT_SUFFIXES
from ented_desktop.core.personal_models import (
    FINETUNE_MIN_PHOTOS,
    finetune_photos,
    finetune_summary,
    personal_model_name,
    too_few_photos,
)
from ented_desktop.core.restore_job import IdentityChecks, RestoreSettings, restore_library_photo, start_run
from ented_desktop.core.restore_plan import FailedModels, ReferenceCrops, ReferencePreparer
from ented_desktop.core.restore_skip import plan_library_restore
from ented_desktop.core.settings import Settings
from ented_desktop.core.wording import count
from ented_desktop.gui.job_queue import Step, WorkFactory
from ented_desktop.gui.restore_again import skipped_sentence
from ented_desktop.gui.wording import format_eta
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


# (model, *, engine, device, model_dir[, fidelity]): RestoreSettings.load's stand-in
RestorerLoader = Callable[..., Restorer]
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
        self._restorers: dict[RestoreSettings, Restorer] = {}
        if face_finder is None:
            import_dlib_on_this_thread()

    def reset(self) -> None:
        with self._lock:
            self._finder = None
            self._restorers.clear()

    def release_models(self) -> None:
        """Drop the loaded restorers with their weights and ONNX Runtime's memory (0.7 GB for a 512 px model) when
        no job is left, so an idle app does not hold them; the next restore loads them again. Called on the GUI
        thread, so it never waits: while a model is being loaded, work is on its way and nothing is dropped."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._restorers.clear()
        finally:
            self._lock.release()

    def face_finder(self) -> FaceFinder:
        with self._lock:
            if self._finder is None:
                self._finder = self._make_finder(self.settings())
            return self._finder

    def restorer(self, model: Path | str | None) -> Restorer:
        """The general model (None), a personal one (its file) or an installed one (its name), loaded once per
        settings."""
        s = self.settings()
        return self.load(RestoreSettings(model, s.engine, s.device, _model_dir(s)))

    def load(self, wanted: RestoreSettings) -> Restorer:
        """The restorer of ``wanted`` (one model's settings), loaded once."""
        with self._lock:
            if wanted not in self._restorers:
                extra = {"fidelity": wanted.fidelity} if wanted.fidelity is not None else {}
                self._restorers[wanted] = wanted.load() if self._loader is None else self._loader(
                    wanted.model, engine=wanted.engine, device=wanted.device, model_dir=wanted.model_dir, **extra)
            return self._restorers[wanted]

    def loaded(self, wanted: RestoreSettings) -> bool:
        """Whether the restorer of ``wanted`` is in memory already."""
        with self._lock:
            return wanted in self._restorers

    def restore_settings(self, choice: Mapping[str, Any]) -> RestoreSettings:
        """The settings of a restore job: the app's engine, device and model folder with the job's choice of model,
        fidelity and background (:func:`restore_choice`)."""
        s = self.settings()
        return RestoreSettings(choice.get("model"), s.engine, s.device, _model_dir(s),
                               fidelity=choice.get("fidelity"), background=choice.get("background"),
                               background_model=choice.get("background_model"))

    def identity_checks(self) -> IdentityChecks:
        """The identity check of restored faces, with the face finder's identity embedder (none: no check)."""
        return IdentityChecks(lambda: getattr(self.face_finder(), "embedder", None))

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


def _core_preparer() -> ReferencePreparer:
    from ented_desktop.core.pipeline import prepare_reference

    return prepare_reference


# -- import -------------------------------------------------------------------------------------------
ARRIVAL_BATCH = 50  # photos indexed between two "look for faces" nudges during a long import


def import_work(library: Library, album_id: int, paths: list[str], source: str = "") -> Callable[
        [WorkControl], Generator]:
    """Import ``paths`` into the album; the files that could not be imported are listed in ``library.problems``
    under ``source`` (what was dropped or chosen)."""

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        gen = library.photos.import_paths(album_id, paths)
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
        problems = [(str(p.path), p.reason) for p in report.problems]
        library.problems.add(problems, source)
        return Outcome(text + ".", report, problems)

    return work


# -- faces --------------------------------------------------------------------------------------------
def detect_work(library: Library, services: Services, photo_ids: list[int] | None) -> Callable:
    """Find the faces of ``photo_ids``; with None, of every photo that needs it, including those that arrive (an
    import still running) before it ends, each once: one "Find faces" job for a whole import. The photos that
    could not be read are listed in ``library.problems``."""

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        finder = services.face_finder()
        ids = list(photo_ids) if photo_ids else library.photos.needing_faces(finder.name)
        given = set(ids)
        problems: list[tuple[str, str]] = []
        found = looked = 0
        while looked < len(ids) or photo_ids is None and _more(library, finder.name, given, ids):
            photo_id = ids[looked]
            looked += 1
            try:
                photo = library.photos.get(photo_id)
            except UnknownItemError:  # removed from the library since the job was queued
                continue
            try:
                library.photos.refresh(photo_id)  # an edited file is indexed again before its faces are found
                photo = library.photos.get(photo_id)
                rgb = read_image_rgb8(photo.path)
                faces, embeddings = finder.find(rgb)
                library.faces.record(photo_id, faces, embeddings, finder.name)
            except UserError as exc:  # one unreadable photo must not stop the others
                problems.append((str(photo.path), str(exc)))
                continue
            found += len(faces)
            yield Step(looked / len(ids), f"{count(len(faces), 'face')} in {photo.path.name}",
                       event=FacesFound(photo_id, len(faces)),
                       done=f"looking for faces in {looked} of {count(len(ids), 'photo')}")
        text = f"Looked for faces in {count(len(ids), 'photo')}; found {found}."
        if problems:
            text += f" {count(len(problems), 'photo')} could not be read (see Problems)."
            library.problems.add(problems, "face detection")
        return Outcome(text, found, problems)

    return work


def _more(library: Library, detector: str, given: set[int], ids: list[int]) -> bool:
    """Append to ``ids`` the photos that need their faces found and were not given yet; whether there were any."""
    more = [i for i in library.photos.needing_faces(detector) if i not in given]
    given.update(more)
    ids.extend(more)
    return bool(more)


# -- restoring ----------------------------------------------------------------------------------------
RESTORE_CHOICE = ("model", "fidelity", "background", "background_model")  # a restore job's payload keys for them


def restore_choice(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A restore job's choice of model, fidelity and background from its payload (absent or None: the default
    rule, CodeFormer's default fidelity, no background); see core.restore_job.RestoreSettings."""
    choice = {key: payload.get(key) for key in RESTORE_CHOICE}
    if choice["fidelity"] is not None:
        choice["fidelity"] = float(choice["fidelity"])
    return choice


def restore_work(library: Library, services: Services, photo_ids: list[int], job_id: int | None = None,
                 choice: Mapping[str, Any] | None = None, skip_same: bool = False) -> Callable:
    """Restore each photo into a new version, with the model, fidelity and background of ``choice``
    (:func:`restore_choice`). A job run again (after it was interrupted, failed or cancelled) skips the photos
    its earlier runs restored: no second version, no second long wait. With ``skip_same`` (the payload's
    ``skip_same``: what the app's Restore asks for, unless the user chose to restore them again), it also skips the
    photos already restored this way (core.restore_skip: same models, people, references) and says which; checked
    when the job runs, so that a second click on Restore before the first job ended makes no duplicates."""

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        problems: list[tuple[str, str]] = []
        made = 0
        restored_before = library.versions.photos_restored_by_job(job_id) if job_id is not None else set()
        todo = [i for i in photo_ids if i not in restored_before]
        # A missing model, or a setting no model of the run takes, fails the job here with the core's message.
        run = start_run(services.restore_settings(choice or {}), _saying_when_loading(services, control))
        same = plan_library_restore(library, todo, run.record).skipped if skip_same else ()
        todo = [i for i in todo if i not in same]
        identity = services.identity_checks()
        crops = ReferenceCrops(library, services.reference_preparer())
        failed_models = FailedModels()
        removed = 0
        for done, photo_id in enumerate(todo, 1):
            try:
                path = library.photos.get(photo_id).path
            except UnknownItemError:  # removed from the library since the job was queued: nothing to do
                removed += 1
                continue
            name = path.name
            try:
                version_id, _ = restore_library_photo(library, photo_id, run.restorer_for, crops,
                                                      failed_models=failed_models, aborted=control.should_stop,
                                                      job_id=job_id, run=run, identity=identity)
            except UserError as exc:
                if isinstance(exc, ModelError):
                    raise  # the general model is the problem, not this photo: stop with its message
                problems.append((name, str(exc)))
                library.problems.add([(str(path), str(exc))], "restoring")
                continue
            except _cancelled() as exc:
                raise WorkCancelled from exc
            control.checkpoint()  # a stop asked for during that photo: do not start the next
            made += 1
            yield Step(done / len(todo), f"Restored {name}", event=VersionMade(photo_id, version_id),
                       done=f"restoring {made} of {count(len(todo), 'photo')}")
        text = f"Restored {made} of {count(len(todo) - removed, 'photo')}." if todo or not same else ""
        if len(todo) + len(same) < len(photo_ids):
            text += f" Skipped {count(len(photo_ids) - len(todo) - len(same), 'photo')} this job had already restored."
        if same:
            text = f"{text} {skipped_sentence(library, same)}".strip()
        if removed:
            text += f" {count(removed, 'photo')} had left the library meanwhile."
        if problems:
            text += " " + "; ".join(f"{n}: {reason}" for n, reason in problems[:3])
        return Outcome(text, made, problems)

    return work


def _saying_when_loading(services: Services, control: WorkControl) -> Callable[[RestoreSettings], Restorer]:
    """``services.load`` that says "Loading the model…" when it really loads one (not when it is in memory)."""

    def load(wanted: RestoreSettings) -> Restorer:
        if not services.loaded(wanted):
            control.report(Step(None, "Loading the model…"))
        return services.load(wanted)

    return load


def _cancelled() -> type[Exception]:
    """core.pipeline.Cancelled, imported when a restore runs (the pipeline brings in torch)."""
    from ented_desktop.core.pipeline import Cancelled

    return Cancelled


# -- fine-tuning --------------------------------------------------------------------------------------
def finetune_work(library: Library, services: Services, person_id: int, minutes: float) -> Callable:
    """Fine-tune a personal model for one person within ``minutes``. The fine-tuner reports through
    callbacks, so this work is a plain function that sends its steps with ``control.report``; its outcome's
    value is the fine-tuner's result, for the user to keep or discard. A stopped run keeps nothing."""

    def work(control: WorkControl) -> Outcome:
        person = library.people.get(person_id)
        photos = finetune_photos(library, person_id)
        if len(photos) < FINETUNE_MIN_PHOTOS:
            raise UserError(too_few_photos(person.name, len(photos)))
        base = services.general_model()
        seconds = minutes * 60.0

        def progress(report: dict[str, Any]) -> None:
            left = report.get("eta_s")
            fraction = None if left is None else min(1.0, max(0.0, 1.0 - left / seconds))
            control.report(Step(fraction, f"Learning: step {report.get('iteration', 0)}, {format_eta(left)}",
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
    suffix = EXPORT_SUFFIXES[fmt]

    def work(control: WorkControl) -> Generator[Step, None, Outcome]:
        written: list[Exported] = []
        deleted = 0
        for done, version_id in enumerate(version_ids, 1):
            try:
                wanted = Path(dest) / (library.versions.export_name(version_id, pattern) + suffix)
                path = library.versions.export(version_id, dest, fmt=fmt, quality=quality, pattern=pattern)
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
        "import": lambda p: import_work(library, int(p["album_id"]), list(p["paths"]), p.get("source", "")),
        "detect": lambda p: detect_work(library, services, p.get("photo_ids")),
        "restore": lambda p: restore_work(library, services, list(p["photo_ids"]), p.get("job_id"),
                                          restore_choice(p), bool(p.get("skip_same"))),
        "finetune": lambda p: finetune_work(library, services, int(p["person_id"]), float(p["minutes"])),
        "export": lambda p: export_work(library, list(p["version_ids"]), p["dest"], p["format"],
                                        int(p["quality"]), p["pattern"]),
    }
