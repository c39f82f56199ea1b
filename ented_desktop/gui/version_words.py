"""A restored version in plain words for the Compare tab: its name in the version choosers ("ENTED with Anna's
reference", "CodeFormer"), how it was made, what happened to each face with the identity check's finding, and the
technical detail kept for the Details toggle.

Reads what a version keeps (:class:`ented_desktop.core.library.Version`): its ``report`` (one
``FaceReport.version_record`` per face) and its ``settings`` (the run's record, core.restore_job.start_run). Versions
made before these were kept lack some keys: then less is said, never something wrong.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ented_desktop.core.identity_check import MOVED_AWAY_THRESHOLD
from ented_desktop.core.library import Version
from ented_desktop.core.restore_wording import GENERAL_MODEL, face_outcome
from ented_desktop.gui.restore_options import short_model_name

LARGE_FACES_NOTE = ("Large faces were only lightly touched up: ENTED restores faces up to 128 pixels in full; a model "
                    "for large faces (Restore > Models…) restores them fully")
BACKGROUND_WORDS = {"clean": "background cleaned", "enlarge": "enlarged 2x"}


def _possessive(names: list[str]) -> str:
    if len(names) == 1:
        return f"{names[0]}'s reference"
    return ", ".join(f"{n}'s" for n in names[:-1]) + f" and {names[-1]}'s references"


def _personal(face: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Whether a person's personal model restored the face: its report names a model other than the general one
    and other than the model the run was told to use for every face (``settings["model"]``)."""
    return face.get("model") not in (None, GENERAL_MODEL, settings.get("model"))


def _faces(version: Version) -> list[Mapping[str, Any]]:
    return [f for f in version.report.get("faces", []) if f.get("restored")]


def version_label(version: Version) -> str:
    """What made the version, in a few words: "ENTED with Anna's reference", "CodeFormer", "ENTED with Anna's
    reference and CodeFormer for larger faces", with ", background cleaned" or ", enlarged 2x"."""
    faces = _faces(version)
    if not faces or not any(f.get("model_name") for f in faces):
        return version.model  # made before versions said which model restored each face
    large = version.settings.get("large_faces_model")
    parts: list[str] = []
    own = [f for f in faces if f.get("reference") != "unused"]  # ENTED: a general or a personal model
    if own:
        general = [f.get("model_name") or version.model for f in own if not _personal(f, version.settings)]
        name = short_model_name(general[0]) if general else "ENTED, personal model"
        people = list(dict.fromkeys(f["person"] for f in own if f.get("reference") == "person" and f.get("person")))
        parts.append(f"{name} with {_possessive(people)}" if people else name)
    for model in dict.fromkeys(f.get("model_name", "") for f in faces if f.get("reference") == "unused"):
        words = short_model_name(model)
        parts.append(f"{words} for larger faces" if own and model == large else words)
    label = " and ".join(parts)
    background = BACKGROUND_WORDS.get(version.settings.get("background") or "")
    return f"{label}, {background}" if background else label


def version_title(number: int, version: Version) -> str:
    """The version's entry in a chooser: "2: CodeFormer, 2026-12-05 19:50"."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created))
    return f"{number}: {version_label(version)}, {stamp}"


def fidelity_words(w: float) -> str:
    if w < 0.35:
        return "sharper, more invented"
    if w <= 0.65:
        return "balanced between sharp and like the original"
    return "kept close to the original photo"


def version_description(version: Version) -> str:
    """How the version was made, for a family member: the models, CodeFormer's setting, the background."""
    said = [version_label(version)]
    fidelity = version.settings.get("fidelity")
    if fidelity is not None:
        said.append(f"CodeFormer's setting: {fidelity_words(float(fidelity))}")
    if version.settings and not version.settings.get("background"):
        said.append("Background left as is")
    if any(f.get("detail_only") and f.get("reference") != "unused" for f in _faces(version)):  # ENTED's faces
        said.append(LARGE_FACES_NOTE)
    return ". ".join(said) + "."


def identity_words(report: Mapping[str, Any]) -> str | None:
    """The identity check of one face in words ("looks like Anna's reference: about the same as the original"),
    None when the face was not checked (no reference, or no identity embedding installed)."""
    before, after = report.get("identity_before"), report.get("identity_after")
    if before is None or after is None:
        return None
    change = float(after) - float(before)
    if report.get("moved_away") or change > MOVED_AWAY_THRESHOLD:
        how = "less than the original did"
    elif change < -MOVED_AWAY_THRESHOLD:
        how = "more than the original did"
    else:
        how = "about the same as the original"
    return f"looks like {report.get('person') or 'the person'}'s reference: {how}"


def face_line(number: int, report: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> str:
    """One face of a version: what happened to it (without the per-face "larger than the model" phrase: it is on
    nearly every face of a real photo, and the version's description says it once), the identity check, and when
    the face moved away from its person, the check's sentence with what to try. ``settings``: the version's."""
    if report.get("restored") and report.get("reference") == "unused" and not report.get("fallback"):
        # said here: the pipeline's reason names the model by its file name and may add "larger than the model"
        model = short_model_name(str(report.get("model_name") or "another model"))
        said = f"{report.get('person') or 'Unnamed face'}: restored with {model}, from the face alone"
    else:
        model = report.get("model") if _personal(report, settings or {}) else GENERAL_MODEL
        said = face_outcome({**report, "model": model, "detail_only": False, "moved_away": False})
    identity = identity_words(report)
    if identity:
        said += f"; {identity}"
    if report.get("moved_away") and report.get("notes"):
        said += ". " + " ".join(report["notes"])
    return f"Face {number} — {said}"


def version_details(version: Version) -> str:
    """The technical record, for the Details toggle: model names and checksums, engine and device, CodeFormer's
    w, the background model, and each checked face's distances."""
    s = version.settings
    lines = [f"Models that ran: {version.model}"]
    if s.get("model"):
        lines.append(f"Model: {s['model']} (sha256 {str(s.get('model_sha256') or '?')[:12]}…)")
    if s.get("large_faces_model"):
        lines.append(f"Large faces: {s['large_faces_model']} (sha256 {str(s.get('large_faces_model_sha256'))[:12]}…)")
    if s.get("engine"):
        lines.append(f"Engine: {s['engine']} on {s.get('device') or 'the default device'}")
    if s.get("fidelity") is not None:
        lines.append(f"CodeFormer fidelity w = {float(s['fidelity']):.2f} (0 sharper … 1 like the original)")
    if s.get("background"):
        lines.append(f"Background: {s['background']} with {s.get('background_model')}")
    for number, face in enumerate(version.report.get("faces", []), 1):
        if face.get("identity_before") is not None and face.get("identity_after") is not None:
            lines.append(f"Face {number}: identity distance to the reference {face['identity_before']:.3f} before, "
                         f"{face['identity_after']:.3f} after (lower is more alike; a rise above "
                         f"{MOVED_AWAY_THRESHOLD:.2f} counts as moved away)")
    if not s:
        lines.append("This version was made before the app kept how each version was made.")
    return "\n".join(lines)
