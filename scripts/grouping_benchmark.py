"""Measure the people suggestions as a family meets them: name one face per person, confirm every suggestion.

    python scripts/grouping_benchmark.py --people ../shared/data/lfw/peopleDevTrain.txt --limit 300 --json

FILE is an LFW people list (a count line, then ``name<TAB>number of photos`` lines). The first ``--limit``
people of the list (in its order) are taken, each with their first ``--max-photos`` photos. Every photo goes
into a throwaway library twice: as it is and as a degraded copy made with the training degradation
(``training.degradation``, level :func:`training.degradation.training_level` of a 512 px model, each file's
randomness from its path and ``--seed``). Faces are found and embedded as the app does (the core detector,
then the identity embedder on each face's landmarks). Only the photo's subject is recorded, the face whose
box holds the photo's centre (LFW photos are centred on the subject), because a background stranger has no
known name; a copy whose subject is not found is left out.

The simulated user then names, for each person, the face of their first photo that was found, preferring the
undegraded copy (what a person does: pick the clearest photo), and confirms every suggestion: a suggestion
for a named person adds its faces to that person, and a new group becomes a new person whose identity is the
group's most frequent one. This repeats until nothing is suggested (or ``--rounds`` is reached). Reported:

- ``precision``: suggested faces of the right person / all suggested faces confirmed;
- ``recall``: faces that end up with their own person through suggestions / faces that could (every
  recorded face but the named ones, of people with two or more recorded faces);
- ``wrong_faces_per_confirm``: wrong faces added / confirmed suggestions;
- ``wrong_references``: people whose suggested reference (``lib.references.suggest``) shows someone
  else, at the end, out of ``people_with_reference``.

Detections and embeddings are cached per image under ``--cache`` (default a folder in the temp directory), so
a second run only replays the library. Deterministic for given arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ented_desktop.core.errors import UserError  # noqa: E402
from ented_desktop.core.face.detect import Face, create_detector  # noqa: E402
from ented_desktop.core.image_write import write_photo_atomic  # noqa: E402
from ented_desktop.core.imageio import read_image_rgb8  # noqa: E402
from ented_desktop.core.library import Library  # noqa: E402
from training.degradation import LEVELS, degrade, file_seed, sample_params, training_level  # noqa: E402

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "ented_grouping_cache"
MODEL_RESOLUTION = 512  # the degradation of the app's 512 px model
VARIANTS = ("clean", "degraded")


@dataclass(frozen=True)
class Photo:
    person: str
    variant: str  # "clean" or "degraded"
    path: Path  # the file the library imports
    index: int  # the photo's number in LFW, from 1


@dataclass(frozen=True)
class Found:
    """The subject face found in a photo (None when not found), as the app records it."""

    face: Face | None
    embedding: np.ndarray | None
    faces_in_photo: int


def read_people(path: Path) -> list[tuple[str, int]]:
    """``(name, number of photos)`` in the order of an LFW people list."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"The people list {path} cannot be read ({exc.strerror}).") from exc
    people = []
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) == 2 and parts[1].strip().isdigit():
            people.append((parts[0].strip(), int(parts[1])))
    if not people:
        raise UserError(f"{path} is not an LFW people list (a count line, then name<TAB>count lines).")
    return people


def degraded_copy(source: Path, relative: str, folder: Path, seed: int) -> Path:
    """The training degradation of ``source``, written once as PNG under ``folder``."""
    out = folder / Path(relative).with_suffix(".png")
    if not out.is_file():
        rng = np.random.default_rng(file_seed(seed, relative))
        params = sample_params(rng, LEVELS[training_level(MODEL_RESOLUTION)])
        image = read_image_rgb8(source).astype(np.float32) / np.float32(255.0)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_photo_atomic(np.rint(degrade(image, params, rng) * 255.0).astype(np.uint8), out, overwrite=True)
    return out


def collect_photos(
    people: list[tuple[str, int]], lfw: Path, cache: Path, max_photos: int, seed: int
) -> list[Photo]:
    photos = []
    for name, count in people:
        for index in range(1, min(count, max_photos) + 1):
            relative = f"{name}/{name}_{index:04d}.jpg"
            source = lfw / relative
            if not source.is_file():
                raise UserError(f"{source} is missing: is --lfw the images_deepfunneled folder?")
            photos.append(Photo(name, "clean", source, index))
            degraded = degraded_copy(source, relative, cache / f"degraded-seed{seed}", seed)
            photos.append(Photo(name, "degraded", degraded, index))
    return photos


def subject_index(faces: list[Face], width: int, height: int) -> int | None:
    """The face whose box holds the photo's centre (the smallest such box: the nearest face), or None."""
    cx, cy = width / 2.0, height / 2.0
    holding = [
        (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])
        if face.box[0] <= cx <= face.box[2] and face.box[1] <= cy <= face.box[3]
        else np.inf
        for face in faces
    ]
    if not holding or not np.isfinite(min(holding)):
        return None
    return int(np.argmin(holding))


class FaceCache:
    """Detections and embeddings per image file, on disk, keyed by the file's bytes and the detector."""

    def __init__(self, folder: Path, detector_name: str) -> None:
        self.folder = folder / "faces"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.detector_name = detector_name
        self._detector = None
        self._embedder = None

    def _key(self, path: Path) -> Path:
        digest = hashlib.sha256(path.read_bytes() + self.detector_name.encode()).hexdigest()[:24]
        return self.folder / f"{digest}.npz"

    def find(self, path: Path) -> Found:
        file = self._key(path)
        if file.is_file():
            data = np.load(file)
            if data["box"].size == 0:
                return Found(None, None, int(data["n"]))
            face = Face(tuple(float(v) for v in data["box"]), data["landmarks"], float(data["score"]))
            return Found(face, data["embedding"], int(data["n"]))
        if self._detector is None:
            from ented_desktop.core.identity import IdentityEmbedder

            self._detector = create_detector(self.detector_name)
            self._embedder = IdentityEmbedder()
        rgb = read_image_rgb8(path)
        faces = self._detector.detect(rgb)
        index = subject_index(faces, rgb.shape[1], rgb.shape[0])
        if index is None:
            np.savez(file, box=np.zeros(0), n=len(faces))
            return Found(None, None, len(faces))
        face = faces[index]
        embedding = self._embedder.embed(rgb, face.landmarks)
        np.savez(file, box=np.asarray(face.box), landmarks=np.asarray(face.landmarks), score=face.score,
                 embedding=embedding, n=len(faces))
        return Found(face, embedding, len(faces))


def build_library(
    lib: Library, photos: list[Photo], found: list[Found], detector: str
) -> tuple[dict[int, str], dict[int, int]]:
    """Import the photos and record their subjects: the true person of every recorded face id, and the face
    id of each photo (by index in ``photos``) whose subject was found."""
    album = lib.albums.create("benchmark")
    generator = lib.photos.import_paths(album, [p.path for p in photos])
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        report = stop.value
    if report.problems:
        raise UserError(f"{len(report.problems)} photos could not be imported, e.g. {report.problems[0]}")
    ids = {Path(p.path).resolve(): p.id for p in lib.photos.all(album)}
    truth: dict[int, str] = {}
    face_of: dict[int, int] = {}
    for i, (photo, hit) in enumerate(zip(photos, found, strict=True)):
        if hit.face is None:
            lib.faces.record(ids[photo.path.resolve()], [], [], detector)
            continue
        (face_id,) = lib.faces.record(ids[photo.path.resolve()], [hit.face], [hit.embedding], detector)
        truth[face_id] = photo.person
        face_of[i] = face_id
    return truth, face_of


def first_faces(photos: list[Photo], face_of: dict[int, int]) -> dict[str, int]:
    """The face each person is named by: their first photo's, the undegraded copy when it was found."""
    chosen: dict[str, tuple[tuple[int, int], int]] = {}
    for i, photo in enumerate(photos):
        if i in face_of:
            rank = (photo.index, VARIANTS.index(photo.variant))
            if photo.person not in chosen or rank < chosen[photo.person][0]:
                chosen[photo.person] = (rank, face_of[i])
    return {name: face for name, (_, face) in chosen.items()}


def play_user(lib: Library, truth: dict[int, str], named: dict[str, int], rounds: int) -> dict[str, float]:
    """Name one face per person, then confirm every suggestion until none is left; the figures."""
    identity: dict[int, str] = {}  # person id -> who they really are
    for name, face_id in named.items():
        identity[lib.people.create(name, [face_id])] = name
    confirms = right = wrong = new_groups = 0
    for played in range(1, rounds + 1):
        suggestions = lib.grouping.suggest()
        if not suggestions:
            played -= 1
            break
        for number, suggestion in enumerate(suggestions):
            if suggestion.person_id is None:
                who = Counter(truth[f] for f in suggestion.face_ids).most_common()
                person = lib.grouping.accept(suggestion, f"New person {played}.{number}")
                identity[person] = min(n for n, c in who if c == who[0][1])
                new_groups += 1
            else:
                person = lib.grouping.accept(suggestion)
            confirms += 1
            good = sum(truth[f] == identity[person] for f in suggestion.face_ids)
            right += good
            wrong += len(suggestion.face_ids) - good
    faces_per_person = Counter(truth.values())
    reachable = sum(n - 1 for n in faces_per_person.values() if n >= 2)
    wrong_references = with_reference = 0
    for person, who in identity.items():
        best = lib.references.suggest(person)
        if best is not None:
            with_reference += 1
            wrong_references += truth[best.face_id] != who
    return {
        "precision": right / (right + wrong) if right + wrong else 1.0,
        "recall": right / reachable if reachable else 1.0,
        "wrong_faces_per_confirm": wrong / confirms if confirms else 0.0,
        "wrong_references": wrong_references,
        "people_with_reference": with_reference,
        "confirms": confirms,
        "new_groups": new_groups,
        "faces_suggested": right + wrong,
        "wrong_faces": wrong,
        "rounds": played,
    }


def run_benchmark(args: argparse.Namespace) -> dict[str, object]:
    started = time.monotonic()
    people = read_people(args.people)
    if args.limit is not None:
        people = people[: args.limit]
    lfw = args.lfw or args.people.parent / "images_deepfunneled"
    cache = args.cache
    photos = collect_photos(people, lfw, cache, args.max_photos, args.seed)
    faces = FaceCache(cache, args.detector)
    found = []
    for done, photo in enumerate(photos, 1):
        found.append(faces.find(photo.path))
        if not args.json and done % 200 == 0:
            print(f"  {done}/{len(photos)} photos", file=sys.stderr)
    prepared = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ented-grouping-") as folder, Library(Path(folder) / "lib") as lib:
        truth, face_of = build_library(lib, photos, found, faces.detector_name)
        figures = play_user(lib, truth, first_faces(photos, face_of), args.rounds)
    figures.update(
        {
            "people": len(people),
            "people_found": len(set(truth.values())),
            "photos": len(photos),
            "faces": len(truth),
            "degraded_faces": sum(photos[i].variant == "degraded" for i in face_of),
            "seconds_detect_embed": round(prepared - started, 1),
            "seconds_library": round(time.monotonic() - prepared, 1),
        }
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=Path, required=True, help="LFW people list, e.g. peopleDevTrain.txt")
    parser.add_argument("--limit", type=int, help="only the first N people of the list")
    parser.add_argument("--max-photos", type=int, default=8, help="photos per person (default 8)")
    parser.add_argument("--lfw", type=Path, help="LFW images (default: images_deepfunneled beside FILE)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"cache folder (default {DEFAULT_CACHE})")
    parser.add_argument("--detector", default="yuface", help="face detector backend (default yuface)")
    parser.add_argument("--seed", type=int, default=0, help="degradation seed (default 0)")
    parser.add_argument("--rounds", type=int, default=20, help="at most this many rounds of confirming")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        figures = run_benchmark(args)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        for key, value in figures.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
