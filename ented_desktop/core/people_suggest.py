"""Which unnamed faces to offer to which person: suggestions a family can confirm without checking each face.

A face is offered to a named person only when it is close to the person as a whole, not to one of their
faces: its distance to the person's anchor (their reference face when set, else the medoid of their faces)
and the median of its distances to their trusted faces must both be below :data:`ATTACH_THRESHOLD`, and the
next person must be at least :data:`MARGIN` further. Single linkage ("closer than 0.6 to any one face") let
each confirmed mistake pull in more; a median needs most of the person's faces to agree. A person's trusted
faces are those that agree with the person's majority (:func:`trusted_faces`): a face added by mistake is
outvoted, so it neither attracts look-alikes nor becomes the suggested reference. Faces too small or too
blurry to tell apart (degraded faces all look alike to the identity embedder) are never offered.

New people are offered as groups of sharp unnamed faces that are all close to each other (complete linkage
under :data:`GROUP_THRESHOLD`) and not close to a named person.

Chosen on LFW peopleDevTrain (scripts/grouping_benchmark.py; thresholds are dlib descriptor distances).
Pure functions: the library feeds them its faces.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ATTACH_THRESHOLD = 0.6
MARGIN = 0.07
# A face sharp enough to be suggested but below SHARP (references.SHARP_ENOUGH, the sharpness under which
# a face is called blurry) needs this larger margin.
BLURRY_MARGIN = 0.1
SHARP = 15.0
GROUP_THRESHOLD = 0.45
# A named person's face is trusted when its median distance to the person's other faces is below this.
TRUST_THRESHOLD = 0.6
# Faces whose aligned crop scores below this detail sharpness (references.detail_sharpness) or whose
# aligned face is smaller than MIN_FACE_PX are never suggested.
MIN_SHARPNESS = 10.0
MIN_FACE_PX = 40.0


@dataclass(frozen=True)
class FaceInfo:
    """What the suggestions know about one face."""

    id: int
    photo_id: int
    embedding: np.ndarray  # the identity descriptor (128 float32 for dlib)
    person_id: int | None  # None: unnamed
    size_px: float  # side of the FFHQ-aligned crop in photo pixels (references.face_size_px)
    sharpness: float | None  # references.detail_sharpness of the aligned crop; None: not measured


@dataclass(frozen=True)
class Offer:
    """Faces offered as one person: a named one (``person_id``) or a new one (None)."""

    face_ids: tuple[int, ...]
    person_id: int | None
    distance: float  # mean of the faces' scores (attach) or distances to the group's medoid (new group)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row of ``a`` to every row of ``b`` (as identity.identity_distance)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    squares = np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", y, y)[None, :]
    return np.sqrt(np.maximum(squares - 2.0 * (x @ y.T), 0.0))


def medoid(embeddings: np.ndarray) -> int:
    """Index of the row with the smallest summed distance to the others (the lowest index on a tie)."""
    return int(np.argmin(distances(embeddings, embeddings).sum(axis=1)))


def trusted_faces(embeddings: np.ndarray, anchor: int | None = None) -> np.ndarray:
    """Which of one person's faces agree with the majority: a boolean per row.

    A face is trusted when the median of its distances to the person's other faces is below
    :data:`TRUST_THRESHOLD`, or it is ``anchor`` (the reference the user chose). With one or two faces there is
    no majority: the anchor alone when given, else every face.
    """
    n = len(embeddings)
    if n <= 2:
        trusted = np.ones(n, bool) if anchor is None else np.arange(n) == anchor
        return trusted
    d = distances(embeddings, embeddings)
    np.fill_diagonal(d, np.nan)
    trusted = np.nanmedian(d, axis=1) < TRUST_THRESHOLD
    if anchor is not None:
        trusted[anchor] = True
    if not trusted.any():  # nobody agrees with anybody: the most central face speaks for the person
        trusted[medoid(embeddings)] = True
    return trusted


def person_scores(unnamed: np.ndarray, faces: np.ndarray, anchor: int | None) -> np.ndarray:
    """How far each unnamed face is from one person: the larger of its distance to the anchor (the
    reference, else the medoid of the trusted faces) and its median distance to the trusted faces."""
    trusted = trusted_faces(faces, anchor)
    core = faces[trusted]
    centre = faces[anchor] if anchor is not None else core[medoid(core)]
    d = distances(unnamed, core)
    return np.maximum(distances(unnamed, centre[None])[:, 0], np.median(d, axis=1))


def suggest(
    faces: Sequence[FaceInfo],
    references: Mapping[int, int] | None = None,
    rejected: Collection[tuple[int, int | None]] = (),
    measure: Callable[[list[int]], Mapping[int, float]] | None = None,
    threshold: float = ATTACH_THRESHOLD,
) -> list[Offer]:
    """Offers for the unnamed faces among ``faces``: to named people first, then new groups.

    ``references`` maps a person to their reference face id; ``rejected`` holds (face id, person id or None)
    pairs the user turned down. ``measure(face ids)`` returns the sharpness of faces not yet measured (it is
    asked only about faces that would otherwise be offered, since measuring reads their photos); without it
    such faces are not offered. ``threshold`` replaces :data:`ATTACH_THRESHOLD`. One person appears once in
    a photo: a face is not offered to a person already in its photo, and of one photo's faces only the
    closest is offered to a person. Sorted as the library lists them: named people first, larger offers
    first.
    """
    references = references or {}
    unnamed = [f for f in faces if f.person_id is None and f.size_px >= MIN_FACE_PX]
    named = [f for f in faces if f.person_id is not None]
    sharpness = {f.id: f.sharpness for f in unnamed if f.sharpness is not None}

    def measured(candidates: list[FaceInfo]) -> list[FaceInfo]:
        """The candidates sharp enough to offer, measuring those not yet measured."""
        missing = [f.id for f in candidates if f.id not in sharpness]
        if missing and measure is not None:
            sharpness.update(measure(missing))
        return [f for f in candidates if sharpness.get(f.id, -1.0) >= MIN_SHARPNESS]

    offers: list[Offer] = []
    if unnamed and named:
        by_person: dict[int, list[FaceInfo]] = {}
        for f in named:
            if f.person_id is not None:
                by_person.setdefault(f.person_id, []).append(f)
        people = sorted(by_person)
        scores = np.empty((len(unnamed), len(people)))
        emb_u = np.stack([f.embedding for f in unnamed])
        for k, pid in enumerate(people):
            own = by_person[pid]
            ids = [f.id for f in own]
            anchor = ids.index(references[pid]) if references.get(pid) in ids else None
            scores[:, k] = person_scores(emb_u, np.stack([f.embedding for f in own]), anchor)
        order = np.argsort(scores, axis=1, kind="stable")
        rows = np.arange(len(unnamed))
        best = scores[rows, order[:, 0]]
        gap = (scores[rows, order[:, 1]] if len(people) > 1 else np.full(len(unnamed), np.inf)) - best
        photos_of = {(f.person_id, f.photo_id) for f in named}
        index = {f.id: i for i, f in enumerate(unnamed)}
        candidates = [
            f
            for i, f in enumerate(unnamed)
            if best[i] < threshold
            and gap[i] >= MARGIN
            and (f.id, people[order[i, 0]]) not in rejected
            and (people[order[i, 0]], f.photo_id) not in photos_of
        ]
        chosen: dict[int, dict[int, tuple[float, int]]] = {}  # person -> photo -> (score, face id)
        for face in measured(candidates):
            i = index[face.id]
            if sharpness[face.id] < SHARP and gap[i] < BLURRY_MARGIN:
                continue
            pid, score = people[order[i, 0]], float(best[i])
            per_photo = chosen.setdefault(pid, {})
            if face.photo_id not in per_photo or score < per_photo[face.photo_id][0]:
                per_photo[face.photo_id] = (score, face.id)
        for pid, per_photo in chosen.items():
            members = sorted((face_id, score) for score, face_id in per_photo.values())
            offers.append(Offer(tuple(f for f, _ in members), pid, float(np.mean([s for _, s in members]))))
        # A face near a named person but not offered to them is not offered as somebody new either, unless
        # the user said it is not that person.
        unnamed = [
            f
            for i, f in enumerate(unnamed)
            if best[i] >= threshold + MARGIN or (f.id, people[order[i, 0]]) in rejected
        ]
    unnamed = [f for f in unnamed if (f.id, None) not in rejected]
    # Without a named person to anchor them, only sharp faces make a new person (99% pure on DevTrain, 98.6% with
    # the faces between MIN_SHARPNESS and SHARP).
    offers.extend(new_groups([f for f in measured(with_lookalike(unnamed)) if sharpness[f.id] >= SHARP]))
    offers.sort(key=lambda o: (o.person_id is None, -len(o.face_ids), o.face_ids))
    return offers


def with_lookalike(faces: Sequence[FaceInfo]) -> list[FaceInfo]:
    """The faces that have another face, in another photo, closer than :data:`GROUP_THRESHOLD`."""
    if len(faces) < 2:
        return []
    emb = np.stack([f.embedding for f in faces])
    d = distances(emb, emb)
    photo = np.array([f.photo_id for f in faces])
    d[photo[:, None] == photo[None, :]] = np.inf
    return [f for f, near in zip(faces, (d < GROUP_THRESHOLD).any(axis=1), strict=True) if near]


def new_groups(faces: Sequence[FaceInfo]) -> list[Offer]:
    """Groups of two or more faces, one per photo, all closer than :data:`GROUP_THRESHOLD` to each other.

    Greedy complete linkage: the closest pair starts a group, which takes the face with the smallest largest
    distance to its members while that stays below the threshold (ties go to the lower index).
    """
    n = len(faces)
    if n < 2:
        return []
    d = distances(np.stack([f.embedding for f in faces]), np.stack([f.embedding for f in faces]))
    same_photo = np.array([[a.photo_id == b.photo_id for b in faces] for a in faces])
    d[same_photo] = np.inf
    free = np.ones(n, bool)
    groups = []
    while True:
        masked = np.where(free[:, None] & free[None, :], d, np.inf)
        i, j = np.unravel_index(int(np.argmin(masked)), masked.shape)
        if not masked[i, j] < GROUP_THRESHOLD:
            break
        members = [int(min(i, j)), int(max(i, j))]
        free[members] = False
        while True:
            worst = np.where(free, d[:, members].max(axis=1), np.inf)
            k = int(np.argmin(worst))
            if not worst[k] < GROUP_THRESHOLD:
                break
            members.append(k)
            free[k] = False
        members.sort()
        centre = members[medoid(np.stack([faces[m].embedding for m in members]))]
        spread = float(np.mean([d[m, centre] if m != centre else 0.0 for m in members]))
        groups.append(Offer(tuple(faces[m].id for m in members), None, spread))
    return groups
