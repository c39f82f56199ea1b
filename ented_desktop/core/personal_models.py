"""Personal models of library people: which photos one learns from, the name a new one gets, and the sentence that
sums up a fine-tune. Used by the app's fine-tune job and dialog; ``training.finetune`` does the training.

May import the standard library and ``ented_desktop.core``; never torch (the dialog shows these before any
training starts), Qt, the GUI or the CLI.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ented_desktop.core.face.detect import Face
from ented_desktop.core.finetune_verdict import assess  # the rule the dialog and `ented finetune` follow too

FINETUNE_MIN_PHOTOS = 3  # a training photo, one held out to pick the weights, one to report on (training.finetune)


def finetune_photos(library: Any, person_id: int) -> list[Path]:
    """The photos a personal model of the person learns from: those where their face is the largest one,
    since the fine-tuner trains on each photo's largest face. Missing photos are left out."""
    photos: list[Path] = []
    for face in library.faces.of_person(person_id):
        photo = library.photos.get(face.photo_id)
        if photo.missing or photo.path in photos:
            continue
        largest = max(library.faces.of_photo(face.photo_id), key=lambda f: Face(f.box, f.landmarks, f.score).size)
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
    """One sentence on a finished fine-tune (``result``: training.finetune.FinetuneResult)."""
    if result.model_path is None:
        return f"Fine-tuning for {person_name} stopped before its first iteration; no model was made."
    outcome = assess(result.before, result.after).outcome
    verdict = "too close to the general model to tell" if outcome == "too close to tell" else (
        f"{outcome} than the general model")
    return (f"Personal model for {person_name}: {result.before['val_psnr']:.2f} → "
            f"{result.after['val_psnr']:.2f} dB on a held-out photo ({verdict}).")


def too_few_photos(person_name: str, found: int) -> str:
    """Why a fine-tune for the person cannot start."""
    return (f"Fine-tuning needs at least {FINETUNE_MIN_PHOTOS} photos in which {person_name} is the largest face; "
            f"there are {found}.")
