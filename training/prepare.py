"""``ented prepare-dataset``: detect and align faces into a person-grouped training set.

Layout read: the folder that holds a photo names its person (LFW: ``images_deepfunneled/<Person>/...jpg``);
in such a folder only the largest face of each photo is that person and the others are skipped. When the
second face is nearly as large (``ambiguous_ratio``, default 0.8 of the largest face's size) the photo is
skipped as ambiguous: on 300 random LFW photos, 52 had several faces and in 3 of them the largest face was
not the person (LFW centres the person); all 3 had a second face at 0.83-0.98 of the largest, while the
ratio 0.8 cost 16 correctly labelled photos (5 %). A wrong person would teach the network to distrust
references. Photos directly in the source folder are unlabelled: every face is kept, with person ``null``.

Layout written (``DST``):

* ``<person>/<stem>_<k>.png`` (unlabelled: ``<stem>_<k>.png``), the FFHQ-aligned crop of face ``k``
  (faces numbered largest first);
* ``manifest.jsonl``, one JSON line per crop: file, person, source, face, face_size, scale, sharpness,
  detector;
* ``skipped.jsonl``, one JSON line per photo that lost faces: source, person, kept, and the reason for each
  loss;
* ``prepare.json``, the settings, so that a resumed run cannot mix settings.

A ground-truth crop must be real detail, so two filters apply:

* too small: the crop may not upsample the photo by more than ``max_upscale`` (``face_scale`` of the
  alignment matrix, crop pixels per photo pixel; default 1.0, i.e. every crop pixel is backed by at least
  one photo pixel). That is the same as requiring ``Face.size`` (the side of the face's aligned square in
  photo pixels) to reach ``size / max_upscale``; ``min_face`` adds a floor on ``Face.size`` of its own;
* too blurred: the variance of the Laplacian of the grey crop, measured on the face region (rows 30-85 %,
  columns 25-75 % of the aligned crop, where the FFHQ template puts eyes, nose and mouth), must reach
  ``min_sharpness``. Default (:func:`default_min_sharpness`): 40 at 128 px. On 600 random LFW photos at
  128 px the values had percentiles 1 %: 43, 5 %: 73, 50 %: 162; looking at the lowest-scoring crops,
  those under about 40 were visibly out of focus or motion-blurred and those above 55 were fine. The
  Laplacian variance falls as the crop grows over the same detail, so the default scales as
  ``40 * (128 / size)^2``; at 256 px that is 10, which fell at the same place (percentile 1-2 %) on the
  same faces.

Resuming: every photo ends with one flushed and fsynced write to ``manifest.jsonl`` (its kept crops) or
``skipped.jsonl`` (its losses; written first when the photo also has kept crops). A photo counts as done
when it is in the manifest, or in ``skipped.jsonl`` with nothing kept. A line cut short (a crash or a full
disk during a write) is dropped together with the last photo batch before it, and that photo is done again.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ented_desktop.core.atomic import write_text_atomic
from ented_desktop.core.errors import ImageReadError, UserError
from ented_desktop.core.face.align import align_face, face_scale
from ented_desktop.core.face.detect import FaceDetector, create_detector
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.restore_wording import NO_FACE

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
DEFAULT_MAX_UPSCALE = 1.0
DEFAULT_AMBIGUOUS_RATIO = 0.8
MANIFEST = "manifest.jsonl"
SKIPPED = "skipped.jsonl"
SETTINGS = "prepare.json"

# Reasons a face or a photo yields no crop (keys of the report).
UNREADABLE = "unreadable"
NOT_THE_PERSON = "not the folder's person"
AMBIGUOUS = "ambiguous person"
TOO_SMALL = "too small"
TOO_BLURRED = "too blurred"


@dataclass(frozen=True)
class ManifestEntry:
    """One aligned crop of a prepared dataset."""

    file: str
    person: str | None
    source: str
    face: int
    face_size: float
    scale: float
    sharpness: float
    detector: str


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian (3x3, 0-255 grey levels) over the face region of an aligned crop."""
    n = crop.shape[0]
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)
    region = grey[round(0.30 * n) : round(0.85 * n), round(0.25 * n) : round(0.75 * n)]
    return float(np.var(cv2.Laplacian(region, cv2.CV_32F)))


def default_min_sharpness(size: int) -> float:
    """The blur threshold for ``size`` px crops (see the module docstring for how it was chosen)."""
    return 40.0 * (128.0 / size) ** 2


def person_of(relative: Path) -> str | None:
    """The person a photo shows by the folder rule: its folder's name, or None directly in the source."""
    return relative.parent.name if relative.parent != Path(".") else None


def iter_photos(src: Path) -> Iterator[Path]:
    """Photos under ``src`` as relative paths, sorted per folder; follows symbolic links but never enters
    the same folder twice (so link loops end), skips hidden entries."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        info = os.stat(dirpath)
        if (info.st_dev, info.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in PHOTO_SUFFIXES:
                yield (base / name).relative_to(src)


def _read_log(path: Path, *, repair: bool = False) -> list[dict]:
    """The records of a JSON-lines log, as they stood after the last complete write.

    A last line without its newline was cut short (a crash or a full disk during a write). Which photo it
    belonged to cannot be told from a fragment, so it is dropped together with the last complete photo
    batch before it (the run of lines with the same source): if the fragment was part of that batch, the
    batch is incomplete; if not, that photo is merely done again. With ``repair`` the file is truncated
    to what remains, so that appending continues on a line boundary.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records: list[dict] = []
    ends: list[int] = []
    offset = 0
    for number, line in enumerate(lines, start=1):
        offset += len(line) + 1
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UserError(f"Line {number} of {path} is corrupt; remove that line to resume.") from exc
        ends.append(offset)
    if tail:
        last = records[-1].get("source") if records else None
        while records and records[-1].get("source") == last:
            records.pop()
            ends.pop()
        if repair:
            with open(path, "r+b") as f:
                f.truncate(ends[-1] if ends else 0)
    return records


def read_manifest(root: Path) -> list[ManifestEntry]:
    """The crops of a prepared dataset, in manifest order."""
    path = Path(root) / MANIFEST
    if not path.exists():
        raise UserError(f"{root} has no {MANIFEST}; run `ented prepare-dataset` into it first.")
    fields = set(ManifestEntry.__dataclass_fields__)
    try:
        return [ManifestEntry(**{k: v for k, v in r.items() if k in fields}) for r in _read_log(path)]
    except TypeError as exc:
        raise UserError(f"{path} is not a manifest written by `ented prepare-dataset`.") from exc


def _append(path: Path, records: list[dict]) -> None:
    if not records:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


def _check_settings(dst: Path, settings: dict) -> None:
    path = dst / SETTINGS
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path} is unreadable; use a new output folder.") from exc
        changed = sorted(k for k in settings if previous.get(k) != settings[k])
        if changed:
            raise UserError(
                f"{dst} was prepared with different settings ({', '.join(changed)}); use the same settings "
                "to resume or a new output folder."
            )
        return
    write_text_atomic(path, json.dumps(settings, indent=1))


@dataclass
class _Outcome:
    crops: list[dict]
    losses: list[dict]


def _unique_name(folder: str, stem: str, k: int, used: set[str]) -> str:
    name = f"{folder}/{stem}_{k}.png" if folder else f"{stem}_{k}.png"
    n = 2
    while name in used:
        name = f"{folder}/{stem}_{k}-{n}.png" if folder else f"{stem}_{k}-{n}.png"
        n += 1
    used.add(name)
    return name


def prepare_dataset(
    src: Path,
    dst: Path,
    *,
    size: int,
    people: set[str] | None = None,
    min_face: float = 0.0,
    max_upscale: float = DEFAULT_MAX_UPSCALE,
    min_sharpness: float | None = None,
    ambiguous_ratio: float = DEFAULT_AMBIGUOUS_RATIO,
    detector: str | FaceDetector = "auto",
    model_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Detect, filter and align every face under ``src`` into ``dst``; resumes an interrupted run.

    ``detector`` is a name for :func:`create_detector` or a detector object. ``min_sharpness`` None means
    :func:`default_min_sharpness` for ``size``. ``progress(done, total)`` is called after each photo of
    this run. Returns the report (whole dataset, including photos done by earlier runs) with this run's
    time.
    """
    started = time.monotonic()
    src, dst = Path(src), Path(dst)
    if size < 16:
        raise UserError("The crop size must be at least 16 pixels.")
    if min_sharpness is None:
        min_sharpness = default_min_sharpness(size)
    if not src.is_dir():
        raise UserError(f"The source folder {src} does not exist.")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise UserError("The output folder must not be inside the source folder.")
    photos = list(iter_photos(src))
    if not photos:
        raise UserError(f"No photos were found under {src}.")
    outside = [p for p in photos if people is not None and person_of(p) not in people]
    photos = [p for p in photos if people is None or person_of(p) in people]
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"Cannot create the output folder {dst}: {exc.strerror}.") from exc

    if isinstance(detector, str):
        device = "cpu"
        if detector in ("auto", "retinaface"):  # only RetinaFace runs on a GPU; torch takes seconds to load
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        face_detector = create_detector(detector, model_dir=model_dir, device=device)
    else:
        face_detector = detector
    detector_name = face_detector.name
    _check_settings(dst, {"source": str(src.resolve()), "size": size, "min_face": min_face,
                          "max_upscale": max_upscale, "min_sharpness": min_sharpness,
                          "ambiguous_ratio": ambiguous_ratio, "detector": detector_name})

    manifest = _read_log(dst / MANIFEST, repair=True)
    skipped = _read_log(dst / SKIPPED, repair=True)
    done = {r["source"] for r in manifest} | {r["source"] for r in skipped if r.get("kept", 0) == 0}
    used_names = {r["file"] for r in manifest}
    todo = [p for p in photos if p.as_posix() not in done]

    for count, rel in enumerate(todo, start=1):
        outcome = _process_photo(
            src, dst, rel, size=size, min_face=min_face, max_upscale=max_upscale, min_sharpness=min_sharpness,
            ambiguous_ratio=ambiguous_ratio, detector=face_detector, detector_name=detector_name,
            used_names=used_names,
        )
        if outcome.losses:
            _append(dst / SKIPPED, [{"source": rel.as_posix(), "person": person_of(rel),
                                     "kept": len(outcome.crops), "skipped": outcome.losses}])
        _append(dst / MANIFEST, outcome.crops)
        if progress is not None:
            progress(count, len(todo))

    report = summarize(dst, wanted={p.as_posix() for p in photos})
    report["photos_outside_people_list"] = len(outside)
    report["photos_done_before"] = len(photos) - len(todo)
    report["photos_this_run"] = len(todo)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _process_photo(
    src: Path,
    dst: Path,
    rel: Path,
    *,
    size: int,
    min_face: float,
    max_upscale: float,
    min_sharpness: float,
    ambiguous_ratio: float,
    detector: FaceDetector,
    detector_name: str,
    used_names: set[str],
) -> _Outcome:
    person = person_of(rel)
    try:
        rgb = read_image_rgb8(src / rel)
    except ImageReadError as exc:
        return _Outcome([], [{"face": None, "reason": UNREADABLE, "detail": str(exc)}])
    faces = detector.detect(rgb)
    if not faces:
        return _Outcome([], [{"face": None, "reason": NO_FACE}])
    if person is not None and len(faces) > 1 and faces[1].size > ambiguous_ratio * faces[0].size:
        detail = f"second face {faces[1].size / faces[0].size:.2f} of the largest"
        return _Outcome([], [{"face": None, "reason": AMBIGUOUS, "detail": detail}])
    crops: list[dict] = []
    losses: list[dict] = []
    for k, face in enumerate(faces):
        if person is not None and k > 0:
            losses.append({"face": k, "reason": NOT_THE_PERSON})
            continue
        if face.size < min_face:
            detail = f"face {face.size:.0f} px < {min_face:g}"
            losses.append({"face": k, "reason": TOO_SMALL, "detail": detail})
            continue
        crop, matrix = align_face(rgb, face.landmarks, size)
        scale = face_scale(matrix)
        if scale > max_upscale:
            detail = f"upscale {scale:.2f} > {max_upscale:g}"
            losses.append({"face": k, "reason": TOO_SMALL, "detail": detail})
            continue
        sharp = sharpness(crop)
        if sharp < min_sharpness:
            detail = f"sharpness {sharp:.1f} < {min_sharpness:g}"
            losses.append({"face": k, "reason": TOO_BLURRED, "detail": detail})
            continue
        name = _unique_name(person or "", rel.stem, k, used_names)
        out = dst / name
        out.parent.mkdir(parents=True, exist_ok=True)
        write_photo_atomic(crop, out, overwrite=True)
        entry = ManifestEntry(file=name, person=person, source=rel.as_posix(), face=k,
                              face_size=round(float(face.size), 1), scale=round(scale, 4),
                              sharpness=round(sharp, 1), detector=detector_name)
        crops.append(asdict(entry))
    return _Outcome(crops, losses)


def summarize(dst: Path, wanted: set[str] | None = None) -> dict[str, object]:
    """Figures for a prepared dataset (restricted to the sources in ``wanted`` when given)."""
    manifest = [r for r in _read_log(dst / MANIFEST) if wanted is None or r["source"] in wanted]
    latest: dict[str, dict] = {}
    for r in _read_log(dst / SKIPPED):
        if wanted is None or r["source"] in wanted:
            latest[r["source"]] = r
    kept_sources = {r["source"] for r in manifest}
    reasons: Counter[str] = Counter()
    for source, record in latest.items():
        if record.get("kept", 0) > 0 and source not in kept_sources:
            continue  # killed between its two writes; it will be done again
        reasons.update(loss["reason"] for loss in record["skipped"])
    per_person = Counter(r["person"] for r in manifest if r["person"] is not None)
    done_sources = kept_sources | {s for s, r in latest.items() if r.get("kept", 0) == 0}
    return {
        "photos_done": len(done_sources),
        "photos_read": len(done_sources) - reasons[UNREADABLE],
        "faces_kept": len(manifest),
        "skipped": dict(sorted(reasons.items())),
        "people": len(per_person),
        "people_with_2_or_more": sum(1 for n in per_person.values() if n >= 2),
        "unlabelled_faces": sum(1 for r in manifest if r["person"] is None),
    }
