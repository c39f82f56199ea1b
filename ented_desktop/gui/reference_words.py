"""Why a face makes a good reference, in words a family reads ("the clearest photo of Anna, facing the camera"),
with the measured numbers kept for a Details tooltip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ented_desktop.core.library import ReferenceCandidate
from ented_desktop.core.library.references import SHARP_ENOUGH, pose_words
from ented_desktop.gui.wording import SHARPNESS_TIP

# references.pose_words -> how the face is turned, in plain words
POSES = {
    "frontal": "facing the camera",
    "nearly frontal": "almost facing the camera",
    "slightly turned": "turned a little",
    "turned away": "turned away",
}


@dataclass(frozen=True)
class ReferenceAdvice:
    """A candidate face, and how it compares with the person's other candidates."""

    candidate: ReferenceCandidate
    clearest: bool  # no other candidate is sharper
    largest: bool  # no other candidate is larger
    alone: bool  # the person's only candidate
    all_blurry: bool  # every candidate is blurry

    @classmethod
    def of(cls, candidate: ReferenceCandidate, candidates: Sequence[ReferenceCandidate]) -> ReferenceAdvice:
        others = [c for c in candidates if c.face_id != candidate.face_id]
        return cls(candidate,
                   all(c.sharpness <= candidate.sharpness for c in others),
                   all(c.size_px <= candidate.size_px for c in others),
                   not others,
                   candidate.blurry and all(c.blurry for c in others))


def reason(advice: ReferenceAdvice, name: str) -> str:
    """Why this face, as a phrase: "the clearest photo of Anna, facing the camera and shown largest"."""
    c = advice.candidate
    if not c.blurry:
        clarity = (f"a clear photo of {name}" if advice.alone or not advice.clearest
                   else f"the clearest photo of {name}")
    elif advice.alone:
        clarity = f"{name}'s only photo, which is blurry"
    elif advice.all_blurry and advice.clearest:
        clarity = f"all {name}'s photos are blurry; this one is the clearest"
    else:
        clarity = f"a blurry photo of {name}"
    size = " and shown largest" if advice.largest and not advice.alone else ""
    return f"{clarity}, {POSES[pose_words(c.frontalness)]}{size}"


def short_reason(advice: ReferenceAdvice) -> str:
    """A few words for under a face in the picker: "Clearest · facing the camera"."""
    c = advice.candidate
    clarity = ("Blurry" if c.blurry and not (advice.all_blurry and advice.clearest and not advice.alone)
               else "Clearest" if advice.clearest and not advice.alone else "Clear")
    words = [clarity, POSES[pose_words(c.frontalness)]]
    if advice.largest and not advice.alone:
        words.append("largest")
    return " · ".join(words)


def details(candidate: ReferenceCandidate) -> str:
    """The measured numbers, for a Details tooltip."""
    return (f"Details: sharpness {candidate.sharpness:.0f} (a sharp face scores about 33, below "
            f"{SHARP_ENOUGH:.0f} is blurry), face {candidate.size_px:.0f} pixels across, "
            f"{pose_words(candidate.frontalness)}; score {candidate.score:.2f} of 1. {SHARPNESS_TIP}")
