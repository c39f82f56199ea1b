"""Training triples (degraded input, reference, ground truth) from a folder made by ``ented prepare-dataset``.

A sample is a pure function of its global draw number ``draw`` (0, 1, 2, ... over the whole run, across
epochs): the face is ``permutation(epoch)[draw % n]`` with ``epoch = draw // n``, and every random choice
(flip, degradation, reference, augmentation) comes from ``np.random.default_rng((seed, draw))``. The same
draw therefore gives the same sample in any worker, in any order, and after a restart, so a resumed run
sees exactly the data it would have seen. The epoch permutations use ``(seed, epoch, PERMUTATION_STREAM)``:
a distinct third word keeps them from sharing a stream with the draw of the same number.

References (see :mod:`training.pairs`): with probability ``self_reference_prob`` the degraded input itself,
which is what the application passes when a user gives no reference; otherwise another photo of the same
person (lightly augmented), or a synthetic reference made from the ground truth when there is none or, with
probability ``synthetic_reference_prob``, even when there is (a reference that certainly shows the ground
truth's texture, so that using the reference pays).

Crops are decoded once, into one ``n x size x size x 3`` uint8 array: 48 KB a crop at 128 px (LFW's ~9,000
training crops: about 440 MB), 768 KB at 512 px. Being a single array, it is shared copy-on-write with
DataLoader workers started by fork (Linux); with spawn (Windows, macOS) each worker receives a copy. Pass
``cache=False`` for data sets that do not fit; each crop is then read from disk when drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import read_image_rgb8
from training import pairs
from training.degradation import DegradationRanges, degrade, sample_params
from training.prepare import read_manifest
from training.tensors import to_tensor

PERMUTATION_STREAM = 0x7065726D  # "perm"


@dataclass(frozen=True)
class Triplet:
    """One training sample: float32 H x W x 3 images in [0, 1] and how its reference was made."""

    lq: np.ndarray
    ref: np.ndarray
    gt: np.ndarray
    synthetic: bool  # the reference is a synthetic view of the ground truth (pairs.synthetic_reference)
    self_ref: bool  # the reference is the degraded input itself


def draw_triplet(
    gt: np.ndarray,
    options: Sequence[int],
    crop: Callable[[int], np.ndarray],
    rng: np.random.Generator,
    ranges: DegradationRanges,
    *,
    self_reference_prob: float = pairs.SELF_REFERENCE_PROB,
    synthetic_reference_prob: float = 0.0,
    augment: bool = True,
) -> Triplet:
    """A sample made from the face ``gt``: mirrored half the time (``augment``), degraded into the input, and
    given a reference: the input itself with ``self_reference_prob``; else a synthetic one when the person has
    no other crop (``options``, indices for ``crop``) or with ``synthetic_reference_prob``; else one of their
    other crops, lightly augmented (``augment``)."""
    if augment and rng.random() < 0.5:
        gt = np.ascontiguousarray(gt[:, ::-1])
    lq = degrade(gt, sample_params(rng, ranges), rng)
    self_ref = bool(rng.random() < self_reference_prob)
    # Drawn only when asked for, so that runs without it keep their random streams (and resume exactly).
    synthetic = not self_ref and (
        not options or (synthetic_reference_prob > 0 and rng.random() < synthetic_reference_prob)
    )
    if self_ref:
        ref = lq
    elif synthetic:
        ref = pairs.synthetic_reference(gt, rng)
    else:
        ref = crop(options[int(rng.integers(len(options)))])
        if augment:
            ref = pairs.augment_reference(ref, rng)
    return Triplet(lq, ref, gt, synthetic, self_ref)


class FaceTripletDataset(Dataset):
    def __init__(
        self,
        root: Path,
        *,
        size: int,
        ranges: DegradationRanges,
        seed: int,
        people: set[str] | None = None,
        self_reference_prob: float = pairs.SELF_REFERENCE_PROB,
        synthetic_reference_prob: float = 0.0,
        augment: bool = True,
        cache: bool = True,
    ) -> None:
        """``people`` keeps only those people's crops (unlabelled crops are then left out). Crops of
        another size than ``size`` are resized (INTER_AREA down, bicubic up). ``augment`` mirrors the
        ground truth half the time and lightly augments real references (:func:`pairs.augment_reference`);
        synthetic references are transformed either way."""
        if seed < 0:
            raise ValueError("seed must be non-negative")
        for name, p in (("self_reference_prob", self_reference_prob),
                        ("synthetic_reference_prob", synthetic_reference_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability")
        self.root = Path(root)
        self.size = size
        self.ranges = ranges
        self.seed = seed
        self.self_reference_prob = self_reference_prob
        self.synthetic_reference_prob = synthetic_reference_prob
        self.augment = augment
        entries = read_manifest(self.root)
        if people is not None:
            entries = [e for e in entries if e.person in people]
        if not entries:
            raise UserError(f"{self.root} holds no face crops for training (check the people list).")
        self.entries = entries
        self.candidates = pairs.reference_candidates(entries)
        self._crops: np.ndarray | None = None
        if cache:
            self._crops = np.empty((len(entries), size, size, 3), np.uint8)
            for i in range(len(entries)):
                self._crops[i] = self._read(i)
        self._permutation: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self, index: int) -> np.ndarray:
        path = self.root / self.entries[index].file
        img = read_image_rgb8(path)
        if img.shape[:2] != (self.size, self.size):
            shrink = img.shape[0] > self.size
            img = cv2.resize(img, (self.size, self.size),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        return img

    def crop(self, index: int) -> np.ndarray:
        """Crop ``index`` as float32 HxWx3 in [0, 1]."""
        pixels = self._crops[index] if self._crops is not None else self._read(index)
        return pixels.astype(np.float32) * np.float32(1.0 / 255.0)

    def face_index(self, draw: int) -> int:
        """Which crop draw number ``draw`` shows."""
        epoch, position = divmod(draw, len(self))
        if self._permutation is None or self._permutation[0] != epoch:
            rng = np.random.default_rng((self.seed, epoch, PERMUTATION_STREAM))
            self._permutation = (epoch, rng.permutation(len(self)))
        return int(self._permutation[1][position])

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        draw = int(draw)
        if draw < 0:
            raise IndexError(f"draw numbers start at 0, got {draw}")
        index = self.face_index(draw)
        rng = np.random.default_rng((self.seed, draw))
        sample = draw_triplet(self.crop(index), self.candidates[index], self.crop, rng, self.ranges,
                              self_reference_prob=self.self_reference_prob,
                              synthetic_reference_prob=self.synthetic_reference_prob, augment=self.augment)
        lq, ref, gt = to_tensor([sample.lq, sample.ref, sample.gt])
        return {
            "lq": lq,
            "ref": ref,
            "gt": gt,
            "synthetic_ref": torch.tensor(sample.synthetic),
            "self_ref": torch.tensor(sample.self_ref),
        }

    def pairing_report(self) -> dict[str, int | float]:
        """How references are made: real / synthetic counts over the crops, people, and expected fractions
        of draws with a synthetic or a self reference."""
        report = pairs.pairing_report(pairs.build_pairs(self.entries, np.random.default_rng(self.seed)))
        fraction = float(report["synthetic_fraction"])
        per_person = Counter(e.person for e in self.entries if e.person is not None)
        report.update(
            crops=len(self.entries),
            people=len(per_person),
            people_with_2_or_more=sum(1 for n in per_person.values() if n >= 2),
            self_reference_prob=self.self_reference_prob,
            synthetic_reference_prob=self.synthetic_reference_prob,
            expected_synthetic_draws=(1.0 - self.self_reference_prob) * (
                fraction + (1.0 - fraction) * self.synthetic_reference_prob),
        )
        return report
