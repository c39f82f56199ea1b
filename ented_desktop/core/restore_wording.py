"""The sentences restoring a photo reports, written once for the command line, the app and the training tools.

Photo-level failures are lower-case clauses: the command line prints them after the file name
(``ented: photo.jpg: no face found``) and the app after the photo's name in its job summary. Face-level sentences
go into each face's report (:class:`ented_desktop.core.restore_job.FaceReport`), which a library version keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

NO_FACE = "no face found"
FACES_NOT_LOOKED_FOR = "its faces have not been looked for yet; find faces first"
CHANGED_ON_DISK = "this photo changed on disk since its faces were found; find faces again"
GENERAL_MODEL = "general"  # what a face report's ``model`` says when no personal model restored the face
UNNAMED_PERSON = "the person"  # who the identity check names when a reference photo is given without a name
BACKGROUND_ON_CROPS = "--background works on whole photos, not on --aligned face crops"
BACKGROUND_MODEL_ALONE = "--background-model needs --background clean or enlarge"


def nothing_restored(reasons: Iterable[str]) -> str:
    """The photo's failure when it has faces but none could be restored, with each face's reason."""
    return f"no face could be restored ({'; '.join(reasons)})"


def personal_model_unusable(person: str, error: Exception) -> str:
    """Why a face was restored by the general model instead of its person's personal model."""
    return f"the personal model of {person} cannot be used: {str(error).rstrip('.')}; restored with the general model"


def fidelity_without_codeformer(large_faces: str | None) -> str:
    """Why a fidelity setting is refused when no model is forced: it applies to the model for large faces, which
    is not CodeFormer (or there is none, and ENTED restores every face)."""
    if large_faces is None:
        return ("--fidelity applies to CodeFormer only; no 512 px face model is installed, so ENTED, which has no "
                "fidelity setting, restores every face (`ented models list` shows the installed models).")
    return (f"--fidelity applies to CodeFormer only; {large_faces}, the installed model for large faces, has no "
            "fidelity setting.")


def large_model_unusable(name: str, error: Exception) -> str:
    """Why a run stops when the model the default rule chose for large faces cannot be loaded."""
    return (f"The model for large faces, {name}, cannot be used: {str(error).rstrip('.')}. Import it again, remove "
            "it (`ented models remove`), or choose a model for every face with --model.")


def reference_unusable(person: str, error: Exception, *, unreadable: bool) -> str:
    """Why a face was restored without its person's reference (``unreadable``: the file could not be read)."""
    verb = "read" if unreadable else "used"
    return f"the reference photo of {person} cannot be {verb}: {str(error).rstrip('.')}; restored without it"


def face_plan(face: Any, people: Mapping[int, Any], rule: Any = None) -> str:
    """How a library face (core.library.FaceRecord) will be restored, in words: the app must say when there is
    no reference. ``people``: person id -> core.library.Person; ``rule``: the run's core.restore_plan.ModelRule,
    when the face may go to another model than ENTED."""
    person = people.get(face.person_id) if face.person_id is not None else None
    if rule is not None:
        from ented_desktop.core.restore_plan import face_size

        model = rule.model_for(face_size(face), person.personal_model if person else None)
        who = person.name if person else "unnamed"
        if rule.forced is not None:
            return f"{who}: will be restored with {Path(str(model)).stem}"
        if model is not None and model == rule.large_faces:
            return (f"{who}: larger than ENTED's {rule.covers:.0f} px, so restored with {model} from the face "
                    "alone (no reference)")
    if person is None:
        return "unnamed: will be restored without a reference (the face is its own reference)"
    model = ", with the personal model" if person.personal_model else ""
    if person.reference_face_id is None and person.reference_image is None:
        return (f"{person.name}: no reference chosen yet, so restored without one "
                f"(the face is its own reference){model}")
    return f"{person.name}: restored with {person.name}'s reference{model}"


def face_outcome(report: Mapping[str, Any]) -> str:
    """What happened to one face of a restored version, for the app (``report`` is what the version keeps,
    :meth:`FaceReport.version_record`; versions made by older releases may lack some keys)."""
    who = report.get("person") or "Unnamed face"
    if not report.get("restored"):
        return f"{who}: not restored ({report.get('reason') or 'no reason given'})"
    said = f"{who}: {_how_restored(report, who)}"
    if report.get("moved_away"):  # the identity check's sentence, with what to try
        said += ". " + " ".join(report.get("notes") or ())
    return said


def _how_restored(report: Mapping[str, Any], who: str) -> str:
    if report.get("fallback"):  # restored otherwise than planned: say why
        return report["fallback"]
    if report.get("reference") == "unused":  # a third-party model: the pipeline's reason names it
        return report.get("reason") or f"restored with {report.get('model_name')} from the face alone"
    if report.get("reference") == "person":
        how = f"restored with {who}'s reference"
    else:
        how = "restored without a reference (the face served as its own reference)"
    if report.get("model") not in (None, GENERAL_MODEL):  # callers pass GENERAL_MODEL for a model chosen for the run
        how += ", with the personal model"
    if report.get("detail_only"):  # else a user who sees little change would not know why
        how += "; larger than the model, so only fine detail the photo lacked was added"
    return how
