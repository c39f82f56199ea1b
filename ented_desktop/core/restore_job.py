"""Restoring the faces of one photo, for the command line and the app alike.

Decides which model and which reference each face gets, falls back to the general model when a person's personal
model cannot be loaded and to the face itself when a person's reference cannot be used, checks that a restored face
of a person with a reference still looks like them (:mod:`ented_desktop.core.identity_check`), and reports each
face (:class:`FaceReport`, in the words of :mod:`ented_desktop.core.restore_wording`).

A run starts with :func:`start_run`: it loads the models once and decides the rule that gives each face its model
(:class:`~ented_desktop.core.restore_plan.ModelRule`: the model the user forced, or by default ENTED for the faces
its 128 px cover and the best installed 512 px face model for larger ones), the background upscaler when asked
for, and the record each version keeps of how it was made (:mod:`ented_desktop.core.restore_skip`).

- ``ented restore`` restores the faces the detector finds, giving a reference photo to the face it belongs to
  (:func:`restore_detected`).
- The app restores a library photo's recorded faces, each with its person's personal model and reference
  (:mod:`ented_desktop.core.restore_plan`), into a new version (:func:`restore_library_photo`).
Both run :func:`restore_faces`: one pass per model over the whole photo (see :mod:`ented_desktop.core.pipeline`),
onto the enlarged or cleaned background when there is one (:mod:`ented_desktop.core.background`).

May import the standard library, numpy and ``ented_desktop.core``; torch only through the loaders, when a model
is loaded. Never Qt, the GUI or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.detect import Face
from ented_desktop.core.reference_match import ReferenceMatcher, offline_embedder
from ented_desktop.core.restore_plan import (
    FailedModels,
    ModelRule,
    PassModel,
    ReferenceCrops,
    RestorePass,
    large_face_model,
    plan_detected,
    plan_passes,
)
from ented_desktop.core.restore_wording import (
    BACKGROUND_MODEL_ALONE,
    CHANGED_ON_DISK,
    FACES_NOT_LOOKED_FOR,
    GENERAL_MODEL,
    NO_FACE,
    UNNAMED_PERSON,
    fidelity_without_codeformer,
    large_model_unusable,
    nothing_restored,
    personal_model_unusable,
)

# a pass's model (restore_plan.PassModel: None is the general model of the run) -> core.pipeline.Restorer
RestorerFor = Callable[[PassModel], Any]
# (pass, its restorer) -> one aligned reference or None per face of the pass, and why a person's reference is
# left out (None when it is not)
PassReferences = Callable[[RestorePass, Any], tuple[list[np.ndarray | None], list[str | None]]]


@dataclass(frozen=True)
class RestoreSettings:
    """How faces are restored: the model (a name in the model directory, a file, or None for the default rule:
    ENTED, and an installed 512 px face model for the faces larger than ENTED covers), the engine and device it
    runs on, the face detector, CodeFormer's fidelity weight w (None: upstream's 0.5; models without one refuse
    one), and the background (None, or a core.background mode, "clean" or "enlarge", with the installed upscaler
    ``background_model``, None for the catalogue's). Hashable: the app keeps one restorer per settings."""

    model: str | Path | None = None
    engine: str = "torch"
    device: str = "auto"
    model_dir: Path | None = None
    detector: str = "auto"
    fidelity: float | None = None
    background: str | None = None
    background_model: str | None = None

    def load(self) -> Any:
        """A core.pipeline.Restorer for these settings' model; raises ModelError when it cannot be loaded."""
        from ented_desktop.core.pipeline import load_restorer

        return load_restorer(self.model, self.engine, self.device, self.model_dir, self.detector,
                             fidelity=self.fidelity)

    def for_model(self, model: PassModel, rule: ModelRule) -> RestoreSettings:
        """The settings that load one pass's model: these settings' engine, device and folders, with the fidelity
        where ``rule`` says it applies (the forced or the large-face model), and no background (the restorer of a
        model is the same whatever the background)."""
        return replace(self, model=model, fidelity=self.fidelity if rule.takes_fidelity(model) else None,
                       background=None, background_model=None)


Loader = Callable[[RestoreSettings], Any]  # RestoreSettings -> core.pipeline.Restorer (the app's caches them)


def cached_loader(load: Loader | None = None) -> Loader:
    """``load`` (by default RestoreSettings.load) that loads each settings' restorer once (the command line's
    cache for one run)."""
    made: dict[RestoreSettings, Any] = {}

    def loader(settings: RestoreSettings) -> Any:
        if settings not in made:
            made[settings] = settings.load() if load is None else load(settings)
        return made[settings]

    return loader


@dataclass(frozen=True)
class RestoreRun:
    """The models of one restore run, loaded at its start (:func:`start_run`): the rule that gives each face its
    model, the background upscaler, and the record each restored version keeps of how it was made (a
    core.restore_skip.restore_record without its faces, plus ``large_faces_model``, ``large_faces_model_sha256``,
    ``background``, ``background_model``, ``background_model_sha256`` and ``device``)."""

    settings: RestoreSettings
    rule: ModelRule
    record: dict[str, Any]
    load: Loader
    upscaler: Any | None = None  # core.background.Upscaler, when settings.background is set

    def restorer_for(self, model: PassModel) -> Any:
        """The restorer of one pass's model (loaded once, by ``load``)."""
        return self.load(self.settings.for_model(model, self.rule))

    @property
    def main(self) -> Any:
        """The restorer of the forced model, or of the general model under the default rule."""
        return self.restorer_for(self.rule.forced)

    def background_of(self, pixels: np.ndarray, faces: Sequence[Face], *, grayscale: bool = False,
                      aborted: Callable[[], bool] | None = None) -> Any | None:
        """The photo's core.background.Background for ``faces`` (found on ``pixels``), or None without one."""
        if self.upscaler is None or self.settings.background is None:
            return None
        from ented_desktop.core.background import make_background

        return make_background(pixels, faces, self.upscaler, self.settings.background, grayscale=grayscale,
                               aborted=aborted)


def _weights_sha256(model: str | Path | None, model_dir: Path | None) -> tuple[str, str]:
    from ented_desktop.core.restore_skip import model_sha256
    from ented_desktop.core.weights import SUFFIX, resolve_model

    path = resolve_model(model, model_dir)
    path = path.with_suffix(SUFFIX) if path.suffix == ".onnx" else path  # the export of the weights beside it
    return path.stem, model_sha256(path)


def start_run(settings: RestoreSettings, load: Loader | None = None) -> RestoreRun:
    """Load what a run restores with (each model once, through ``load``; :func:`cached_loader` by default) and
    decide which face each model gets. Raises, for the whole run: ModelError when a model (the forced one, ENTED,
    the large-face model the default rule chose, the background upscaler) cannot be loaded; UserError for a
    fidelity setting no model of the run takes, or a background model without a background mode."""
    from ented_desktop.core.restore_skip import restore_record

    load = load or cached_loader()
    if settings.background is None and settings.background_model is not None:
        raise UserError(BACKGROUND_MODEL_ALONE)
    if settings.background is not None:
        from ented_desktop.core.background import MODES

        if settings.background not in MODES:
            raise UserError(f"Unknown background mode {settings.background!r}; choose {' or '.join(MODES)}.")
    large = None
    if settings.model is not None:
        rule = ModelRule(forced=settings.model)
    else:
        large = large_face_model(settings.model_dir)
        if settings.fidelity is not None and (large is None or large.architecture != "codeformer"):
            raise UserError(fidelity_without_codeformer(large.name if large else None))
        general = load(settings.for_model(None, ModelRule()))
        rule = ModelRule(large_faces=large.name if large else None, covers=float(general.resolution))
    run = RestoreRun(settings, rule, {}, load)
    main = run.main
    fidelity = getattr(main.engine, "fidelity", None)  # the effective w (upstream's when not set), or None
    extra: dict[str, Any] = {"large_faces_model": None, "large_faces_model_sha256": None, "background": None,
                             "background_model": None, "background_model_sha256": None}
    if large is not None:
        try:
            fidelity = getattr(run.restorer_for(large.name).engine, "fidelity", None)
        except ModelError as exc:
            raise ModelError(large_model_unusable(large.name, exc)) from exc
        extra |= {"large_faces_model": large.name,
                  "large_faces_model_sha256": _weights_sha256(large.path, settings.model_dir)[1]}
    upscaler = None
    if settings.background is not None:
        from ented_desktop.core.background import DEFAULT_MODEL, load_upscaler

        name = settings.background_model or DEFAULT_MODEL
        upscaler = load_upscaler(name, settings.engine, settings.device, settings.model_dir)
        extra |= {"background": settings.background, "background_model": name,
                  "background_model_sha256": _weights_sha256(name, settings.model_dir)[1]}
    name, digest = _weights_sha256(settings.model, settings.model_dir)
    record = {**restore_record(model=name, model_sha256=digest, engine=settings.engine, fidelity=fidelity, faces=()),
              **extra, "device": getattr(main.engine, "device", settings.device)}
    return replace(run, record=record, upscaler=upscaler)


class IdentityChecks:
    """The identity check (core.identity_check) of restored faces against their person's reference, with one
    identity embedder for the whole run, made on first need (``make_embedder`` returns None when it is not
    installed: then no face is checked). A reference's embedding is made once while the same crop is handed in."""

    def __init__(self, make_embedder: Callable[[], Any | None] = offline_embedder) -> None:
        self._make = make_embedder
        self._embedder: Any | None = None
        self._tried = False
        self._references: list[tuple[np.ndarray, np.ndarray]] = []  # (crop, its embedding), newest last

    def _get(self) -> Any | None:
        if not self._tried:
            self._tried = True
            self._embedder = self._make()
        return self._embedder

    def _reference(self, embedder: Any, reference: np.ndarray) -> np.ndarray:
        from ented_desktop.core.identity_check import crop_embedding

        for crop, embedding in self._references:
            if crop is reference:
                return embedding
        embedding = crop_embedding(embedder, reference)
        self._references = [*self._references[-15:], (reference, embedding)]
        return embedding

    def check(self, original: np.ndarray, landmarks: np.ndarray, restored: np.ndarray,
              restored_landmarks: np.ndarray, reference: np.ndarray) -> Any | None:
        """The core.identity_check.IdentityCheck of one face: at ``landmarks`` in the original photo and at
        ``restored_landmarks`` in the restored one (the same unless the background was enlarged), against an
        aligned ``reference`` crop. None when no embedder is installed."""
        embedder = self._get()
        if embedder is None:
            return None
        from ented_desktop.core.identity import identity_distance
        from ented_desktop.core.identity_check import face_embedding, judge

        ref = self._reference(embedder, reference)
        return judge(identity_distance(face_embedding(embedder, original, landmarks), ref),
                     identity_distance(face_embedding(embedder, restored, restored_landmarks), ref))


@dataclass(frozen=True)
class FaceReport:
    """What happened to one face: the pipeline's outcome, plus who the face is, which model restored it, and why
    the person's model or reference was not used when it was not (``fallback``, restored faces only).

    Further findings about a face (such as its identity distances to its person's reference) are fields added
    here; :meth:`json_row` and :meth:`version_record` say which of them each consumer gets."""

    index: int
    box: tuple[float, float, float, float]  # in the output's pixels (twice the photo's when it was enlarged)
    size: float  # aligned-crop side in the output's pixels (Face.size)
    restored: bool
    # "person" (a reference was given), "self" (the face was its own), "unused" (the model restores from the face
    # alone: third-party models) or "none" (not restored)
    reference: str
    reason: str
    detail_only: bool = False  # larger than the model: only the fine detail the photo lacked was added
    model: str = GENERAL_MODEL  # the personal model's file name, or GENERAL_MODEL
    fallback: str | None = None
    person_id: int | None = None
    person: str | None = None
    face_id: int | None = None  # the library's face record, when the face is one
    model_name: str = ""  # the model that restored the face (its engine's model_name)
    # The identity check (restored faces with a reference only; None otherwise): distances of the original and of
    # the restored face to the reference, and whether restoring moved the face away from its person.
    identity_before: float | None = None
    identity_after: float | None = None
    moved_away: bool | None = None
    notes: tuple[str, ...] = ()  # sentences for the user: what the identity check found when the face moved away

    def json_row(self) -> dict[str, Any]:
        """The face's entry in ``ented restore --json``."""
        return {"index": self.index, "box": self.box, "size": self.size, "restored": self.restored,
                "reference": self.reference, "reason": self.reason, "detail_only": self.detail_only,
                "model": self.model_name, "identity_before": self.identity_before,
                "identity_after": self.identity_after, "moved_away": self.moved_away, "notes": list(self.notes)}

    def version_record(self) -> dict[str, Any]:
        """What a library version keeps about the face (read back by restore_wording.face_outcome and the compare
        view)."""
        return {"index": self.index, "face_id": self.face_id, "person_id": self.person_id, "person": self.person,
                "restored": self.restored, "reference": self.reference, "reason": self.reason, "model": self.model,
                "fallback": self.fallback, "detail_only": self.detail_only, "model_name": self.model_name,
                "identity_before": self.identity_before, "identity_after": self.identity_after,
                "moved_away": self.moved_away, "notes": list(self.notes)}


@dataclass(frozen=True)
class Restoration:
    """A photo's restored pixels, one report per face (in the photo's face order) and the models that ran."""

    pixels: np.ndarray
    faces: list[FaceReport]
    models: list[str]  # each pass's engine model name, in the order the passes ran

    @property
    def restored_count(self) -> int:
        return sum(f.restored for f in self.faces)

    @property
    def reference_used(self) -> list[str]:
        return [f.reference for f in self.faces]


class NothingRestored(UserError):
    """The photo has faces but none could be restored; ``faces`` says why for each."""

    def __init__(self, faces: Sequence[FaceReport]) -> None:
        super().__init__(nothing_restored(f.reason for f in faces))
        self.faces = list(faces)


def restore_faces(
    pixels: np.ndarray,
    faces: Sequence[Face],
    passes: Iterable[RestorePass],
    restorer_for: RestorerFor,
    references: PassReferences,
    *,
    grayscale: bool = False,
    face_ids: Sequence[int | None] | None = None,
    model_problems: Mapping[int, str] | None = None,
    aborted: Callable[[], bool] | None = None,
    background: Any | None = None,
    identity: IdentityChecks | None = None,
    identity_references: PassReferences | None = None,
) -> Restoration:
    """Restore ``faces`` of ``pixels``, each pass's faces with its model (``restorer_for(pass.model)``) and the
    references ``references`` gives them. Every pass sees all faces (their territories) and crops from the
    original pixels while pasting onto the previous pass's result, so that no face is restored from a
    neighbour's restoration. ``model_problems`` (person id -> sentence) says whose personal model was replaced by
    the general one. With a ``background`` (core.background.Background of these faces), faces are pasted onto it
    and reported in its pixels. With ``identity``, each restored face that was given a reference is checked
    against it (whether or not its model used it), as ``identity_references`` gives it (by default as ``references``
    does; the app gives every pass's check the same crop size, so that "before" is the same whichever model ran).
    Raises UserError when there is no face, NothingRestored when
    none could be restored, and core.pipeline.Cancelled when ``aborted()`` turns True."""
    faces = list(faces)
    if not faces:
        raise UserError(NO_FACE)
    ids = list(face_ids) if face_ids is not None else [None] * len(faces)
    model_problems = model_problems or {}
    placed = faces if background is None else background.faces  # where the faces are in the output
    canvas = pixels if background is None else background.canvas
    reports: list[FaceReport | None] = [None] * len(faces)
    checked: dict[int, tuple[np.ndarray, str, float | None]] = {}  # face -> (its reference, person, fidelity)
    models: list[str] = []
    for restore_pass in passes:
        restorer = restorer_for(restore_pass.model)
        crops, problems = references(restore_pass, restorer)
        given: list[np.ndarray | None] = [None] * len(faces)
        for index, crop in zip(restore_pass.faces, crops, strict=True):
            given[index] = crop
        if background is None:
            result = restorer.restore(pixels, faces=faces, references=given, only=restore_pass.faces, canvas=canvas,
                                      grayscale=grayscale, aborted=aborted)
        else:
            from ented_desktop.core.background import restore_on_background

            result = restore_on_background(restorer, pixels, faces, background, references=given,
                                           only=restore_pass.faces, canvas=canvas, grayscale=grayscale,
                                           aborted=aborted)
        canvas = result.pixels
        model_name = restorer.engine.model_name
        models.append(model_name)
        planned = {i: (person, problem) for i, person, problem
                   in zip(restore_pass.faces, restore_pass.people, problems, strict=True)}
        for outcome in result.faces:
            person, problem = planned[outcome.index]
            why = (problem, model_problems.get(person.id) if person is not None else None)
            face = placed[outcome.index]
            reports[outcome.index] = FaceReport(
                index=outcome.index, box=face.box, size=face.size, restored=bool(outcome.restored),
                reference=outcome.reference, reason=outcome.reason, detail_only=bool(outcome.detail_only),
                model=_model_label(restore_pass.model),
                fallback=("; ".join(p for p in why if p) or None) if outcome.restored else None,
                person_id=person.id if person is not None else None,
                person=person.name if person is not None else None, face_id=ids[outcome.index],
                model_name=model_name)
            if identity is not None and outcome.restored and given[outcome.index] is not None:
                checked[outcome.index] = (given[outcome.index], person.name if person is not None else UNNAMED_PERSON,
                                          getattr(restorer.engine, "fidelity", None))
        if identity_references is not None and any(i in checked for i in restore_pass.faces):
            same_size = dict(zip(restore_pass.faces, identity_references(restore_pass, restorer)[0], strict=True))
            checked.update({i: (same_size[i], *checked[i][1:]) for i in restore_pass.faces if i in checked})
    done = [r for r in reports if r is not None]
    if len(done) != len(faces):
        raise ValueError(f"the passes restored {len(done)} of {len(faces)} faces")
    if not any(r.restored for r in done):
        raise NothingRestored(done)
    if identity is not None:
        done = [_checked(r, identity, pixels, faces[r.index], canvas, placed[r.index], *checked[r.index])
                if r.index in checked else r for r in done]
    return Restoration(canvas, done, models)


def _model_label(model: PassModel) -> str:
    """A face report's ``model``: the personal model's file name, GENERAL_MODEL, or the other model's name."""
    if model is None:
        return GENERAL_MODEL
    return model.name if isinstance(model, Path) else Path(model).stem


def _checked(report: FaceReport, identity: IdentityChecks, pixels: np.ndarray, face: Face, canvas: np.ndarray,
             placed: Face, reference: np.ndarray, person: str, fidelity: float | None) -> FaceReport:
    from ented_desktop.core.identity_check import explain

    check = identity.check(pixels, face.landmarks, canvas, placed.landmarks, reference)
    if check is None:
        return report
    notes = (explain(check, person, uses_reference=report.reference != "unused", fidelity=fidelity),) if (
        check.moved_away) else ()
    return replace(report, identity_before=round(check.before, 4), identity_after=round(check.after, 4),
                   moved_away=check.moved_away, notes=notes)


def restore_detected(pixels: np.ndarray, restorer: Any, *, reference: np.ndarray | None = None,
                     matcher: ReferenceMatcher | None = None, grayscale: bool = False, run: RestoreRun | None = None,
                     identity: IdentityChecks | None = None) -> Restoration:
    """Restore the faces the restorer's detector finds in ``pixels``: with ``run``, each with the model its rule
    gives it (and onto the run's background), else all with ``restorer``'s one model. A ``reference`` (an aligned
    crop of one person) goes to the face it belongs to (``matcher``, by default a new ReferenceMatcher), and with
    ``identity`` that face is checked against it; every other face is its own reference."""
    faces = restorer.detect(pixels)
    if not faces:
        raise UserError(NO_FACE)
    given: list[np.ndarray | None] = [None] * len(faces)
    if reference is not None:
        given[(matcher or ReferenceMatcher()).face_for(pixels, faces, reference)] = reference
    background = run.background_of(pixels, faces, grayscale=grayscale) if run is not None else None
    if run is None:
        passes = [RestorePass(None, tuple(range(len(faces))), (None,) * len(faces))]
    else:
        passes = plan_detected(faces if background is None else background.faces, run.rule)

    def references(restore_pass: RestorePass, _restorer: Any) -> tuple[list[np.ndarray | None], list[str | None]]:
        return [given[i] for i in restore_pass.faces], [None] * len(restore_pass.faces)

    return restore_faces(pixels, faces, passes, run.restorer_for if run is not None else lambda _model: restorer,
                         references, grayscale=grayscale, background=background, identity=identity)


def unusable_personal_models(people: Iterable[Any], restorer_for: RestorerFor,
                             failed: FailedModels) -> dict[int, str]:
    """Why each of ``people``'s personal models cannot be loaded (person id -> a sentence for the face report).
    Their faces are restored with the general model: one damaged personal model must not stop a batch. A model
    that failed earlier in the batch is not read again (``failed``); its faces' reports still say why."""
    problems: dict[int, str] = {}
    for person in people:
        if person.personal_model is not None:
            try:
                failed.load(person.personal_model, restorer_for)
            except ModelError as exc:
                problems[person.id] = personal_model_unusable(person.name, exc)
    return problems


def restore_library_photo(library: Any, photo_id: int, restorer_for: RestorerFor, crops: ReferenceCrops, *,
                          failed_models: FailedModels | None = None, aborted: Callable[[], bool] | None = None,
                          job_id: int | None = None, run: RestoreRun | None = None,
                          identity: IdentityChecks | None = None) -> tuple[int, Restoration]:
    """Restore one library photo into a new version (made by job ``job_id``); returns its id and the restoration.

    Each face gets its person's personal model and reference when they have them (core.restore_plan), or, when
    that model or reference cannot be used, the general model or itself as reference, and its report's
    ``fallback`` says why. With ``run`` (whose ``restorer_for`` is then ``restorer_for``), its rule decides which
    faces go to another model (forced, or the large-face model), the photo gets the run's background, and the
    version's ``settings`` record how it was made (core.restore_skip.photo_record of the run's record); with
    ``identity``, faces of people with a reference are checked against it and the version's report keeps the
    distances. ``crops`` keeps the aligned references, and ``failed_models`` the personal models that could not be
    loaded, for the other photos of the batch (without it, this photo is a batch of its own). Raises UserError,
    and makes no version, when the photo's file changed since its faces were found (the stored face positions
    belong to the old image), when it has no face recorded, or when none of its faces could be restored;
    core.pipeline.Cancelled when ``aborted()`` turns True."""
    changed = library.photos.refresh(photo_id)
    record = library.photos.get(photo_id)
    stored = library.faces.of_photo(photo_id)
    if changed or (record.faces_detector is None and stored):
        raise UserError(CHANGED_ON_DISK)
    if record.faces_detector is None:
        raise UserError(FACES_NOT_LOOKED_FOR)
    if not stored:
        raise UserError(NO_FACE)
    from ented_desktop.core.imageio import read_photo

    photo = read_photo(record.path)
    people = {p.id: p for p in library.people.all()}
    named = [people[i] for i in sorted({face.person_id for face in stored} & people.keys())]
    model_problems = unusable_personal_models(named, restorer_for, failed_models or FailedModels())
    people = {i: replace(p, personal_model=None) if i in model_problems else p for i, p in people.items()}

    def references(restore_pass: RestorePass, restorer: Any) -> tuple[list[np.ndarray | None], list[str | None]]:
        return crops.for_pass(restore_pass, restorer.detector, restorer.resolution)

    def check_references(restore_pass: RestorePass, restorer: Any) -> tuple[list[np.ndarray | None], list[str | None]]:
        from ented_desktop.core.identity_check import CHECK_SIZE

        return crops.for_pass(restore_pass, restorer.detector, CHECK_SIZE)

    faces = [Face(box=face.box, landmarks=face.landmarks, score=face.score) for face in stored]
    background = None
    if run is not None:
        background = run.background_of(photo.pixels, faces, grayscale=photo.grayscale, aborted=aborted)
    passes = plan_passes(stored, people, run.rule if run is not None else ModelRule(),
                         scale=background.factor if background is not None else 1)
    result = restore_faces(photo.pixels, faces, passes, restorer_for, references,
                           grayscale=photo.grayscale, face_ids=[face.id for face in stored],
                           model_problems=model_problems, aborted=aborted, background=background, identity=identity,
                           identity_references=check_references)
    used_people = sorted({f.person_id for f in result.faces if f.reference == "person" and f.person_id is not None})
    settings: dict[str, Any] = {}
    if run is not None:
        from ented_desktop.core.restore_skip import photo_record

        settings = photo_record(library, photo_id, run.record)
    version_id = library.versions.add(
        photo_id, result.pixels, model=" + ".join(result.models), reference_people=used_people,
        report={"faces": [f.version_record() for f in result.faces]}, settings=settings, grayscale=photo.grayscale,
        exif=photo.exif, icc_profile=photo.icc_profile, job_id=job_id,
    )
    return version_id, result
