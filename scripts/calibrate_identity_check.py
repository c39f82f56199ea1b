"""Calibrate the identity check's threshold (``ented_desktop.core.identity_check.MOVED_AWAY_THRESHOLD``) on LFW.

The check flags a restored face when its identity distance to the person's reference grew by more than the
threshold. The threshold is the noise of that growth: how much restorations that keep the person still make it
grow. Each LFW person (two photos: one is the reference, the other the subject) gives one simulated user photo:

* the subject photo is scaled so that its face is ``FACE_SIDE`` pixels (a face the 128 px model covers) and
  degraded with the model's training degradation (``training.degradation``, level ``paper128``, seeded per
  person): this is the "original" a user restores; the scaled photo itself is the ground truth;
* the reference is the other photo's face, as the app embeds a person's reference.

Each "restored" photo goes through the app's own paste-back (``Restorer`` with an engine that returns a given
face), and both faces are embedded from the photos with the same landmarks, as ``identity_check.check_face`` does.

Identity-preserving restorations (the noise; the threshold is a high quantile of their growth on DevTrain people):

* ``roundtrip``: the restoration is the identity (output = input): align, paste back, align again;
* ``saved``: the same saved as JPEG (quality 90), as a check of a saved version sees it;
* ``truth``: a perfect restoration, output = ground truth. Restoring a face changes how the embedding sees it even
  when the person is kept; a check that flags the truth is wrong;
* ``partial``: a restoration that got part of the way, output = the ground truth degraded mildly (``MILD``) with
  another seed;
* ``retouch``: a restoration that recovers nothing but changes the look, as restorers do (:func:`retouch`:
  sharpening, smoothing, tone, grain, drawn per face), output = the original retouched.

Restorations that change the person (the check must flag these), on a face of another person Q of the same split:

* ``replace_random``: the face is replaced by a random other person's face (a different-person pair);
* ``replace_lookalike``: replaced by the look-alike, the other person whose face is nearest to the reference;
* ``blend_25``, ``blend_50``, ``blend_75``: the ground truth blended toward the look-alike, 25/50/75 % of the way
  (pixel blend of the aligned faces), as a generative prior drifts a face toward one it knows.

Reported only: ``redetected``, the saved round trip with its face found again by the detector instead of the
same landmarks (what a check must not do: the detector's landmarks move by a pixel or two, now and then more);
``ented``, a real restorer, the shipped model (``--model``) with the person's reference; and
``reseed``, output = the ground truth degraded again with a new draw of the training degradation. A new draw
leaves more or less of the face than the original's (a factor-2 or a factor-8 reduction): it changes how much
of the person there is to see, which is not noise of the embedding, so it is not part of the threshold.

The threshold is fitted on DevTrain people (``peopleDevTrain.txt``); rates are reported on DevTest people
(``peopleDevTest.txt``), whom neither the fit nor the shipped model's training saw. Deterministic for a seed.

    python scripts/calibrate_identity_check.py --limit 200 [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.face.detect import Face, YuFaceDetector
from ented_desktop.core.identity import IdentityEmbedder, identity_distance
from ented_desktop.core.identity_check import MOVED_AWAY_THRESHOLD, face_embedding, judge
from ented_desktop.core.imageio import from_float01, to_float01
from ented_desktop.core.pipeline import Restorer
from training.degradation import LEVELS, DegradationRanges, degrade, sample_params, training_level

LFW = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw"
RESOLUTION = 128  # the shipped model's face size; the simulated faces and their degradation are made for it
FACE_SIDE = 124  # aligned-crop side of the face in the simulated photo: under RESOLUTION, so the output is pasted
MILD = DegradationRanges(blur_sigma=(0.1, 1.5), downscale=(1.0, 2.0), noise_sigma=(0.0, 5.0), jpeg_quality=(80, 100))
SAVED_JPEG_QUALITY = 90
NOISE = ("roundtrip", "saved", "retouch", "truth", "partial")
MOVED = ("replace_random", "replace_lookalike", "blend_25", "blend_50", "blend_75")
REPORTED = ("redetected", "ented", "reseed")
SPLITS = {"train": "peopleDevTrain.txt", "test": "peopleDevTest.txt"}


class CannedEngine:
    """A restoration engine whose output is ``make(lq)``: lets the app's own paste-back place any face."""

    name = "canned"
    device = "cpu"
    model_name = "canned"
    resolution = RESOLUTION

    def __init__(self, make: Callable[[np.ndarray], np.ndarray]) -> None:
        self._make = make

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.stack([self._make(face) for face in lq]).astype(np.float32)


@dataclass
class Subject:
    person: str
    reference_file: str
    subject_file: str
    truth: np.ndarray  # the scaled subject photo (uint8)
    original: np.ndarray  # the same degraded: the photo a user restores
    face: Face  # in both
    reference: np.ndarray  # the reference face's embedding
    reference_crop: np.ndarray  # aligned at RESOLUTION, for a restorer that uses it
    before: float  # distance of the original face to the reference
    truth_embedding: np.ndarray
    after: dict[str, float] = field(default_factory=dict)


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def central_face(detector: YuFaceDetector, rgb: np.ndarray, near: np.ndarray | None = None) -> Face | None:
    """The detected face nearest ``near`` (default the photo's centre: LFW centres its person)."""
    faces = detector.detect(rgb)
    if not faces:
        return None
    target = np.array(rgb.shape[1::-1]) / 2 if near is None else near
    return min(faces, key=lambda f: float(np.linalg.norm(f.landmarks.mean(axis=0) - target)))


def person_seed(seed: int, name: str) -> list[int]:
    return [seed, int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")]


def people(lfw: Path, split: str, limit: int, seed: int) -> list[tuple[str, int]]:
    """``limit`` people of the split with at least two photos, drawn with ``seed`` (name, photo count)."""
    rows = [line.split("\t") for line in (lfw / SPLITS[split]).read_text().splitlines()[1:]]
    eligible = sorted((name, int(count)) for name, count in rows if int(count) >= 2)
    order = np.random.default_rng([seed, len(split)]).permutation(len(eligible))
    return [eligible[i] for i in order[:limit]]


def photo_path(lfw: Path, name: str, number: int) -> Path:
    return lfw / "images_deepfunneled" / name / f"{name}_{number:04d}.jpg"


def make_subject(
    lfw: Path, name: str, count: int, seed: int, detector: YuFaceDetector, embedder: IdentityEmbedder
) -> Subject | None:
    """One person's simulated photo and reference; None when a face is not found in one of the two photos."""
    rng = np.random.default_rng(person_seed(seed, name))
    ref_number, subject_number = (int(n) + 1 for n in rng.choice(count, size=2, replace=False))
    ref_rgb, subject_rgb = (read_rgb(photo_path(lfw, name, n)) for n in (ref_number, subject_number))
    ref_face, subject_face = central_face(detector, ref_rgb), central_face(detector, subject_rgb)
    if ref_face is None or subject_face is None:
        return None
    scale = FACE_SIDE / subject_face.size
    h, w = subject_rgb.shape[:2]
    size = (round(w * scale), round(h * scale))
    truth = cv2.resize(subject_rgb, size, interpolation=cv2.INTER_AREA)
    sx, sy = size[0] / w, size[1] / h
    mapped = ((subject_face.landmarks + 0.5) * np.array([sx, sy], np.float32) - 0.5).astype(np.float32)
    x0, y0, x1, y1 = subject_face.box
    face = Face(((x0 + 0.5) * sx - 0.5, (y0 + 0.5) * sy - 0.5, (x1 + 0.5) * sx - 0.5, (y1 + 0.5) * sy - 0.5),
                mapped, subject_face.score)
    params = sample_params(rng, LEVELS[training_level(RESOLUTION)])
    original = from_float01(degrade(to_float01(truth), params, rng), np.uint8)
    reference = face_embedding(embedder, ref_rgb, ref_face.landmarks)
    truth_embedding = face_embedding(embedder, truth, face.landmarks)
    before = identity_distance(face_embedding(embedder, original, face.landmarks), reference)
    return Subject(name, photo_path(lfw, name, ref_number).name, photo_path(lfw, name, subject_number).name,
                   truth, original, face, reference, align_face(ref_rgb, ref_face.landmarks, RESOLUTION)[0],
                   before, truth_embedding, {"truth": identity_distance(truth_embedding, reference)})


def retouch(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Identity-free edits of a float32 [0, 1] face: unsharp masking, sometimes edge-preserving smoothing, a tone
    curve and grain, each of a strength drawn from ``rng``."""
    sigma = float(rng.uniform(0.5, 2.0))
    x = face + float(rng.uniform(0.0, 1.5)) * (face - cv2.GaussianBlur(face, (0, 0), sigma))
    if rng.random() < 0.5:
        x = cv2.bilateralFilter(np.clip(x, 0, 1).astype(np.float32), 5, float(rng.uniform(0.04, 0.16)), 3.0)
    x = (np.clip(x, 0, 1) ** float(rng.uniform(0.85, 1.15)) - 0.5) * float(rng.uniform(0.9, 1.1)) + 0.5
    x = x + rng.standard_normal(x.shape).astype(np.float32) * float(rng.uniform(0.0, 4.0) / 255)
    return np.clip(x, 0, 1).astype(np.float32)


def pasted(subject: Subject, make: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The original photo with its face replaced by ``make(aligned original face)`` through the app's paste-back."""
    return Restorer(CannedEngine(make)).restore(subject.original, faces=[subject.face]).pixels


def saved_and_found_again(
    photo: np.ndarray, detector: YuFaceDetector, near: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The photo after a JPEG save, its face's landmarks found again (``near`` when none is found), and whether
    they were found."""
    ok, data = cv2.imencode(".jpg", photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, SAVED_JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    saved = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])
    face = central_face(detector, saved, near.mean(axis=0))
    return (saved, near, False) if face is None else (saved, face.landmarks, True)


def restore_all(
    subjects: list[Subject], seed: int, detector: YuFaceDetector, embedder: IdentityEmbedder, ented: Restorer | None
) -> int:
    """Fill each subject's ``after`` distances; returns how many saved round trips kept the old landmarks."""
    truths = {s.person: align_face(s.truth, s.face.landmarks, RESOLUTION)[0] for s in subjects}
    others = np.stack([s.truth_embedding for s in subjects])
    lost = 0
    for k, s in enumerate(subjects):
        rng = np.random.default_rng([*person_seed(seed, s.person), 1])
        gaps = np.linalg.norm(others.astype(np.float64) - s.reference, axis=1)
        gaps[k] = np.inf
        lookalike = to_float01(truths[subjects[int(np.argmin(gaps))].person])
        stranger = to_float01(truths[subjects[int(rng.choice([i for i in range(len(subjects)) if i != k]))].person])
        own = to_float01(truths[s.person])

        def after(photo: np.ndarray, landmarks: np.ndarray = s.face.landmarks, ref: np.ndarray = s.reference) -> float:
            return identity_distance(face_embedding(embedder, photo, landmarks), ref)

        roundtrip = pasted(s, lambda lq: lq)
        s.after["roundtrip"] = after(roundtrip)
        saved, landmarks, found = saved_and_found_again(roundtrip, detector, s.face.landmarks)
        lost += not found
        s.after["saved"] = after(saved)
        s.after["redetected"] = after(saved, landmarks)
        mild = degrade(to_float01(s.truth), sample_params(rng, MILD), rng)
        s.after["partial"] = after(from_float01(mild, np.uint8))
        again = degrade(to_float01(s.truth), sample_params(rng, LEVELS[training_level(RESOLUTION)]), rng)
        s.after["reseed"] = after(from_float01(again, np.uint8))
        s.after["retouch"] = after(pasted(s, lambda lq, r=rng: retouch(lq, r)))
        s.after["replace_random"] = after(pasted(s, lambda lq, o=stranger: o))
        s.after["replace_lookalike"] = after(pasted(s, lambda lq, o=lookalike: o))
        for alpha in (25, 50, 75):
            mix = (1 - alpha / 100) * own + (alpha / 100) * lookalike
            s.after[f"blend_{alpha}"] = after(pasted(s, lambda lq, o=mix: o))
        if ented is not None:
            restored = ented.restore(s.original, faces=[s.face], references=[s.reference_crop]).pixels
            s.after["ented"] = after(restored)
        print(f"  {k + 1}/{len(subjects)} {s.person}", file=sys.stderr)
    return lost


def measure_split(
    lfw: Path, split: str, limit: int, seed: int, detector: YuFaceDetector, embedder: IdentityEmbedder,
    ented: Restorer | None,
) -> tuple[list[Subject], dict[str, int]]:
    chosen = people(lfw, split, limit, seed)
    subjects = []
    for i, (name, count) in enumerate(chosen):
        subject = make_subject(lfw, name, count, seed, detector, embedder)
        if subject is not None:
            subjects.append(subject)
        print(f"{split}: prepared {i + 1}/{len(chosen)} {name}", file=sys.stderr)
    lost = restore_all(subjects, seed, detector, embedder, ented)
    return subjects, {"people": len(chosen), "no_face": len(chosen) - len(subjects),
                      "recognisable": len(recognisable(subjects)), "redetection_failed": lost}


def recognisable(subjects: list[Subject]) -> list[Subject]:
    """The subjects whose degraded original still shows their person by dlib's rule (distance below 0.6)."""
    return [s for s in subjects if s.before < IdentityEmbedder.same_person_threshold]


def changes(subjects: list[Subject], kind: str) -> np.ndarray:
    return np.array([s.after[kind] - s.before for s in subjects if kind in s.after])


def flagged(subjects: list[Subject], kind: str, threshold: float) -> float:
    verdicts = [judge(s.before, s.after[kind], threshold).moved_away for s in subjects if kind in s.after]
    return float(np.mean(verdicts)) if verdicts else float("nan")


def fit_threshold(subjects: list[Subject], quantile: float) -> tuple[float, dict[str, float]]:
    """The largest ``quantile`` of the growth over the identity-preserving kinds (each kind's false-alarm rate
    stays at or below 1 - quantile on these people), rounded up to 0.01; and each kind's quantile."""
    per_kind = {kind: float(np.quantile(changes(subjects, kind), quantile)) for kind in NOISE}
    return float(np.ceil(max(per_kind.values()) * 100) / 100), per_kind


def summarise(subjects: list[Subject], kinds: tuple[str, ...], thresholds: dict[str, float]) -> list[dict]:
    rows = []
    for kind in kinds:
        c = changes(subjects, kind)
        if not len(c):
            continue
        rows.append({
            "kind": kind, "n": int(len(c)), "mean_change": float(c.mean()), "p99_change": float(np.quantile(c, 0.99)),
            "max_change": float(c.max()),
            **{f"flagged_{name}": flagged(subjects, kind, t) for name, t in thresholds.items()},
            **{f"flagged_{name}_recognisable": flagged(recognisable(subjects), kind, t)
               for name, t in thresholds.items()},
        })
    return rows


def distances(subjects: list[Subject]) -> dict[str, float]:
    """Mean distances to the reference: same person (truth, original) and other people (random replacement)."""
    return {"same_person_truth": float(np.mean([s.after["truth"] for s in subjects])),
            "same_person_original": float(np.mean([s.before for s in subjects])),
            "other_person": float(np.mean([s.after["replace_random"] for s in subjects]))}


def print_table(split: str, rows: list[dict], counts: dict[str, int], dist: dict[str, float], names: list[str]) -> None:
    print(f"\n{split}: {counts['people']} people, {counts['people'] - counts['no_face']} with both faces found, "
          f"{counts['recognisable']} of them recognisable when degraded (distance < 0.6; columns 'rec'); "
          f"redetected: face not found again in {counts['redetection_failed']} (old landmarks kept)")
    print(f"mean distance to the reference: same person {dist['same_person_truth']:.3f} (ground truth), "
          f"{dist['same_person_original']:.3f} (degraded original); other person {dist['other_person']:.3f}")
    header = f"{'restoration':<18} {'N':>4} {'mean chg':>9} {'p99 chg':>8} {'max chg':>8}"
    columns = [c for n in names for c in (n, f"{n}_recognisable")]
    print(header + "".join(f" {'flag@' + c.replace('_recognisable', ' rec'):>17}" for c in columns))
    for r in rows:
        print(f"{r['kind']:<18} {r['n']:>4} {r['mean_change']:>+9.3f} {r['p99_change']:>+8.3f} {r['max_change']:>+8.3f}"
              + "".join(f" {100 * r['flagged_' + c]:>16.1f}%" for c in columns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=LFW, help="the LFW folder (images_deepfunneled, people*.txt)")
    parser.add_argument("--limit", type=int, default=200, help="people per split (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantile", type=float, default=0.99, help="of the identity-preserving growth (0.99)")
    parser.add_argument("--model", default="ented-lfw128",
                        help="the ENTED model run as the real restorer ('none' to skip it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--save", type=Path, help="also write that JSON object to this file")
    args = parser.parse_args(argv)
    if not (args.lfw / "images_deepfunneled").is_dir():
        parser.error(f"no LFW images under {args.lfw}")
    started = time.perf_counter()
    detector, embedder = YuFaceDetector(), IdentityEmbedder()
    ented = None
    if args.model != "none":
        from ented_desktop.core.engines import load_engine

        try:
            ented = Restorer(load_engine(args.model, "onnx"))
        except ModelError as exc:
            print(f"the real restorer is skipped: {exc}", file=sys.stderr)
    measured = {split: measure_split(args.lfw, split, args.limit, args.seed, detector, embedder, ented)
                for split in SPLITS}
    threshold, per_kind = fit_threshold(measured["train"][0], args.quantile)
    thresholds = {"fitted": threshold, "shipped": MOVED_AWAY_THRESHOLD}
    report = {
        "threshold": threshold, "quantile": args.quantile, "noise_quantiles_train": per_kind,
        "shipped_threshold": MOVED_AWAY_THRESHOLD, "seed": args.seed, "limit": args.limit,
        "embedding": IdentityEmbedder.name, "degradation": training_level(RESOLUTION),
        "seconds": round(time.perf_counter() - started, 1),
        "splits": {split: {"counts": counts, "distances": distances(subjects),
                           "rows": summarise(subjects, NOISE + REPORTED + MOVED, thresholds),
                           "faces": [{"person": s.person, "reference": s.reference_file, "subject": s.subject_file,
                                      "before": s.before, "after": s.after} for s in subjects]}
                   for split, (subjects, counts) in measured.items()},
    }
    if args.save is not None:
        args.save.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0
    print(f"threshold: {threshold:.2f} (largest {args.quantile:.0%} quantile of the identity-preserving growth on "
          f"train people: " + ", ".join(f"{k} {v:+.3f}" for k, v in per_kind.items()) + ")")
    print(f"shipped MOVED_AWAY_THRESHOLD: {MOVED_AWAY_THRESHOLD:.2f}; chg = distance after - before; "
          "flag@ = share flagged as moved away")
    for split, (_, counts) in measured.items():
        print_table(split, report["splits"][split]["rows"], counts, report["splits"][split]["distances"],
                    list(thresholds))
    print(f"\n{report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
