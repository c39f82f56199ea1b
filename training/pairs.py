"""Reference pairing: each ground-truth face gets a high-quality reference of the same person.

The paper (section 4.1) makes references for FFHQ by editing pose and age with e4e (Tov et al. 2021).
Those weights are not available offline, so we pair real photos instead: a ground truth of person P gets
another aligned photo of P, never the same photo (a different face from one photo cannot be P in a person
folder) and never another person. A face with no such photo (a person with one photo, an unlabelled face)
gets a synthetic reference made from the ground truth itself by :func:`synthetic_reference`: a different
geometry (similarity + perspective + elastic warp, horizontal flip) and different light (gamma, white
balance, directional shading). It stands in for e4e's pose change; it cannot change age or expression, so the
network sees the same texture as the ground truth and the fraction of such pairs is reported.

Images in this module are float32 HxWx3 RGB in [0, 1].
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ented_desktop.core.errors import UserError

SELF_REFERENCE_PROB = 0.1  # share of training samples whose reference is the degraded input itself


class PersonEntry(Protocol):
    """What pairing needs from a crop: who it is (``None`` if unknown) and which photo it came from."""

    @property
    def person(self) -> str | None: ...

    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class Pair:
    gt: int
    ref: int | None
    """Index of the reference crop, or ``None`` for a synthetic reference made from the ground truth."""


def reference_candidates(entries: Sequence[PersonEntry]) -> list[tuple[int, ...]]:
    """For each entry, the indices of crops of the same person taken from other photos."""
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        if entry.person is not None:
            by_person[entry.person].append(i)
    candidates: list[tuple[int, ...]] = []
    for entry in entries:
        if entry.person is None:
            candidates.append(())
            continue
        same = by_person[entry.person]
        candidates.append(tuple(j for j in same if entries[j].source != entry.source))
    return candidates


def build_pairs(entries: Sequence[PersonEntry], rng: np.random.Generator) -> list[Pair]:
    """One pair per entry: a random real reference when the person has another photo, else synthetic."""
    pairs: list[Pair] = []
    for i, options in enumerate(reference_candidates(entries)):
        ref = options[int(rng.integers(len(options)))] if options else None
        pairs.append(Pair(gt=i, ref=ref))
    return pairs


def pairing_report(pairs: Sequence[Pair]) -> dict[str, int | float]:
    """Counts of real and synthetic references and the synthetic fraction."""
    synthetic = sum(1 for p in pairs if p.ref is None)
    total = len(pairs)
    return {
        "pairs": total,
        "real": total - synthetic,
        "synthetic": synthetic,
        "synthetic_fraction": synthetic / total if total else 0.0,
    }


def _check_image(img: np.ndarray) -> None:
    if img.dtype != np.float32 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a float32 HxWx3 image, got {img.dtype} {img.shape}")


def _random_homography(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Similarity (rotation +-8 deg, scale 0.92-1.08, shift +-4 %) after a perspective (corners +-3 %)."""
    h, w = size
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    jitter = rng.uniform(-0.03, 0.03, size=(4, 2)).astype(np.float32) * np.float32([w, h])
    perspective = cv2.getPerspectiveTransform(corners, corners + jitter)
    similarity = np.eye(3)
    similarity[:2] = cv2.getRotationMatrix2D(
        ((w - 1) / 2.0, (h - 1) / 2.0), float(rng.uniform(-8.0, 8.0)), float(rng.uniform(0.92, 1.08))
    )
    similarity[0, 2] += rng.uniform(-0.04, 0.04) * w
    similarity[1, 2] += rng.uniform(-0.04, 0.04) * h
    return similarity @ perspective


def _elastic_field(size: tuple[int, int], rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth displacement field (2xHxW, pixels) from a 5x5 grid of normal values, bicubically enlarged."""
    h, w = size
    grid = rng.normal(0.0, amplitude, size=(2, 5, 5)).astype(np.float32)
    return np.stack([cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) for g in grid])


def _directional_shading(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A soft light gradient from a random direction: 1 +- up to 0.3 across the face (HxWx1)."""
    h, w = size
    angle = rng.uniform(0.0, 2.0 * math.pi)
    strength = rng.uniform(0.0, 0.3)
    ys, xs = np.mgrid[-1.0 : 1.0 : complex(0, h), -1.0 : 1.0 : complex(0, w)]
    ramp = np.tanh(1.5 * (math.cos(angle) * xs + math.sin(angle) * ys))
    return (1.0 + strength * ramp).astype(np.float32)[:, :, None]


def synthetic_reference(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in reference made from the ground truth: new geometry, mirrored half the time, new light."""
    _check_image(gt)
    h, w = gt.shape[:2]
    inverse = np.linalg.inv(_random_homography((h, w), rng))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    points = np.stack([xs, ys, np.ones_like(xs)]).reshape(3, -1)
    src = inverse @ points
    src = (src[:2] / src[2]).reshape(2, h, w).astype(np.float32)
    src += _elastic_field((h, w), rng, amplitude=0.01 * w)
    out = cv2.remap(gt, src[0], src[1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gamma = rng.uniform(0.75, 1.35)
    gains = rng.uniform(0.9, 1.1, size=3)
    gains = (gains / gains.mean()).astype(np.float32)
    out = np.power(np.clip(out, 0.0, 1.0), np.float32(gamma)) * gains * _directional_shading((h, w), rng)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def augment_reference(ref: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light augmentation of a real reference: mirror half the time, +-5 % brightness, +-3 % per channel,
    and a whole-pixel shift of up to 2 % of the size (mirrored borders)."""
    _check_image(ref)
    h, w = ref.shape[:2]
    out = ref[:, ::-1] if rng.random() < 0.5 else ref
    gains = np.float32(rng.uniform(0.95, 1.05)) * rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    limit = max(1, round(0.02 * w))
    dx, dy = (int(v) for v in rng.integers(-limit, limit + 1, size=2))
    if dx or dy:
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out = cv2.warpAffine(np.ascontiguousarray(out), shift, (w, h), flags=cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(np.clip(out * gains, 0.0, 1.0), dtype=np.float32)


def load_people_list(path: Path) -> set[str]:
    """Names from an LFW people file (peopleDevTrain.txt, peopleDevTest.txt or people.txt).

    The format is a count line followed by that many ``Name<TAB>images`` lines. people.txt starts with the
    number of sets and then repeats count + names for each set; a count line followed directly by another
    count line is such a header and is not checked.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read the people list {path}: {exc}.") from exc
    names: set[str] = set()
    blocks: list[list[int]] = []  # [declared, listed] per count line
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1 and fields[0].isdigit():
            blocks.append([int(fields[0]), 0])
        elif len(fields) == 2 and fields[1].isdigit() and blocks:
            names.add(fields[0])
            blocks[-1][1] += 1
        else:
            raise UserError(f"Line {number} of {path} is not in the LFW people-list format (a count, then "
                            "'Name<TAB>images' lines).")
    for i, (declared, listed) in enumerate(blocks):
        header = listed == 0 and i + 1 < len(blocks)
        if not header and declared != listed:
            raise UserError(f"{path} declares {declared} people but lists {listed}; it may be truncated.")
    return names
