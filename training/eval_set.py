"""The evaluation set of ``ented evaluate``: ground truths, degraded inputs, references and wrong references.

From a prepared dataset (``ented prepare-dataset``) we take ``count`` ground-truth crops of people who have crops
from at least two photos. People are visited in a seeded order,
one crop each per round, at most :data:`MAX_PER_PERSON` each, so that many people are covered (LFW DevTest:
500 crops of 469 people). Each ground truth gets a reference, another photo of the same person (the paper's
"relevant image from the real data distribution"), and a wrong reference, a photo of another person, for
the baseline that tells whether the model uses the reference's identity or only its texture. The input is
the ground truth degraded at a level of :data:`training.degradation.LEVELS`. All files are written
atomically; the same arguments give byte-identical files. Layout: ``gt/``, ``lq/``, ``ref/``,
``wrong_ref/`` (``<id>.png`` each), ``pairs.jsonl`` (one row per sample) and ``eval_set.json`` (the
settings, written last, so a folder without it is an unfinished build).

Randomness: the selection draws from ``default_rng([seed, 0, 1])`` and sample ``i``'s degradation from
``default_rng([seed, i])`` (numpy pads seed words with zeros, so the two never coincide). A smaller ``count``
with the same seed takes the first people of the larger set's order (with other degradations, since samples are
numbered after sorting): a 200-face set's people are all in the 500-face set. ``scripts/report_unseen.py``
reports a larger set's figures without the people a smaller one was used to choose on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ented_desktop.core.atomic import write_bytes_atomic
from ented_desktop.core.errors import UserError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import from_float01, read_image_rgb8, to_float01
from training.degradation import LEVELS, degrade, sample_params
from training.pairs import reference_candidates
from training.prepare import MANIFEST, ManifestEntry, read_manifest

PAIRS = "pairs.jsonl"
SETTINGS = "eval_set.json"
FORMAT = "ented-eval-set/1"
FOLDERS = ("gt", "lq", "ref", "wrong_ref")
DEFAULT_LEVEL = "4x"
DEFAULT_SEED = 0
DEFAULT_COUNT = 500
MAX_PER_PERSON = 4


@dataclass(frozen=True)
class Selection:
    """Indices into the manifest entries of one sample's ground truth, reference and wrong reference."""

    gt: int
    ref: int
    wrong_ref: int


def eval_set_dirname(level: str, seed: int, count: int) -> str:
    """``eval_<level>_seed<seed>``, with ``_n<count>`` appended when ``count`` is not the default 500."""
    name = f"eval_{level}_seed{seed}"
    return name if count == DEFAULT_COUNT else f"{name}_n{count}"


def select_samples(
    entries: Sequence[ManifestEntry], count: int, rng: np.random.Generator, max_per_person: int = MAX_PER_PERSON
) -> list[Selection]:
    """Pick ``count`` ground truths, each with a same-person reference from another photo and a wrong
    reference (a random other person, then a random crop of theirs). Independent of the manifest's order.

    Eligible ground truths are crops whose person has a crop from another photo. People are shuffled, each
    person's eligible crops are shuffled and cut to ``max_per_person``, and crops are taken one per person
    per round. The result is sorted by ground-truth file name.
    """
    if count < 1:
        raise UserError("The evaluation set needs at least one sample.")
    by_file = sorted(range(len(entries)), key=lambda i: entries[i].file)
    candidates = reference_candidates(entries)
    eligible: dict[str, list[int]] = {}
    crops_of: dict[str, list[int]] = {}
    for i in by_file:
        person = entries[i].person
        if person is None:
            continue
        crops_of.setdefault(person, []).append(i)
        if candidates[i]:
            eligible.setdefault(person, []).append(i)
    if len(crops_of) < 2:
        raise UserError("An evaluation set needs labelled crops of at least two people (for the wrong reference).")
    people = sorted(eligible)
    queues = [
        [eligible[people[p]][int(k)] for k in rng.permutation(len(eligible[people[p]]))][:max_per_person]
        for p in rng.permutation(len(people))
    ]
    available = sum(len(q) for q in queues)
    if available < count:
        raise UserError(
            f"Only {available} crops qualify as ground truth (people with crops from two or more photos, at most "
            f"{max_per_person} each); ask for {available} samples or fewer."
        )
    chosen: list[int] = []
    for round_ in range(max_per_person):
        chosen += [q[round_] for q in queues if round_ < len(q)]
    chosen = sorted(chosen[:count], key=lambda i: entries[i].file)

    everyone = sorted(crops_of)
    selections = []
    for gt in chosen:
        options = sorted(candidates[gt], key=lambda i: entries[i].file)
        ref = options[int(rng.integers(len(options)))]
        others = [p for p in everyone if p != entries[gt].person]
        wrong_person = others[int(rng.integers(len(others)))]
        wrong = crops_of[wrong_person][int(rng.integers(len(crops_of[wrong_person])))]
        selections.append(Selection(gt, ref, wrong))
    return selections


def json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def read_settings(folder: Path) -> dict | None:
    """An evaluation set's settings, or None when ``folder`` holds no finished evaluation set."""
    path = Path(folder) / SETTINGS
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is unreadable; delete the folder {folder} to rebuild it.") from exc
    if not isinstance(settings, dict) or settings.get("format") != FORMAT:
        raise UserError(f"{path} was not written by `ented evaluate`; use another folder.")
    return settings


def _identity_of_build(src: Path, level: str, seed: int, count: int) -> dict:
    manifest_sha = hashlib.sha256((src / MANIFEST).read_bytes()).hexdigest()
    return {"format": FORMAT, "manifest_sha256": manifest_sha, "level": level, "seed": seed, "count": count,
            "max_per_person": MAX_PER_PERSON}


def _same_build(settings: dict, wanted: dict) -> bool:
    return all(settings.get(k) == v for k, v in wanted.items())


def build_eval_set(
    src_root: Path,
    dst: Path,
    *,
    level: str,
    seed: int,
    count: int = DEFAULT_COUNT,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Build (or rebuild identically) the evaluation set of ``count`` samples from the prepared dataset
    ``src_root`` into ``dst``; returns its settings. ``progress(done, total)`` is called after each sample.
    A ``dst`` built with other arguments is refused rather than mixed."""
    src_root, dst = Path(src_root), Path(dst)
    if level not in LEVELS:
        raise UserError(f"Unknown degradation level '{level}'; choose one of {', '.join(LEVELS)}.")
    if seed < 0:
        raise UserError("The seed must be a non-negative integer.")
    entries = read_manifest(src_root)
    wanted = _identity_of_build(src_root, level, seed, count)
    previous = read_settings(dst)
    if previous is not None and not _same_build(previous, wanted):
        changed = sorted(k for k, v in wanted.items() if previous.get(k) != v)
        raise UserError(f"{dst} holds an evaluation set built differently ({', '.join(changed)}); use another "
                        "folder or delete it.")
    selections = select_samples(entries, count, np.random.default_rng([seed, 0, 1]))
    try:
        for folder in FOLDERS:
            (dst / folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"Cannot create the evaluation set folder {dst}: {exc.strerror}.") from exc

    width = max(4, len(str(count - 1)))
    rows = []
    for index, sel in enumerate(selections):
        sample_id = f"{index:0{width}d}"
        gt_entry, ref_entry, wrong_entry = entries[sel.gt], entries[sel.ref], entries[sel.wrong_ref]
        gt = read_image_rgb8(src_root / gt_entry.file)
        rng = np.random.default_rng([seed, index])
        params = sample_params(rng, LEVELS[level])
        lq = degrade(to_float01(gt), params, rng)
        images = {"gt": gt, "lq": from_float01(lq, np.uint8), "ref": read_image_rgb8(src_root / ref_entry.file),
                  "wrong_ref": read_image_rgb8(src_root / wrong_entry.file)}
        for folder, pixels in images.items():
            write_photo_atomic(pixels, dst / folder / f"{sample_id}.png", overwrite=True)
        rows.append({
            "id": sample_id, "person": gt_entry.person, "gt": gt_entry.file, "gt_source": gt_entry.source,
            "ref": ref_entry.file, "ref_source": ref_entry.source, "wrong_ref": wrong_entry.file,
            "wrong_ref_person": wrong_entry.person, "degradation": params.to_dict(),
        })
        if progress is not None:
            progress(index + 1, len(selections))
    write_bytes_atomic(dst / PAIRS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    settings = {**wanted, "source": str(src_root.resolve()), "size": int(gt.shape[0]),
                "people": len({r["person"] for r in rows})}
    write_bytes_atomic(dst / SETTINGS, json_bytes(settings))
    return settings


def read_pairs(folder: Path) -> list[dict]:
    """The rows of an evaluation set's ``pairs.jsonl``."""
    path = Path(folder) / PAIRS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        rows = [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is corrupt; delete the folder {folder} to rebuild it.") from exc
    if not rows:
        raise UserError(f"{path} lists no samples.")
    return rows


def ensure_eval_set(
    dataset: Path,
    *,
    level: str | None = None,
    seed: int | None = None,
    count: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, bool]:
    """The evaluation set to use for ``dataset`` and whether it was built now.

    ``dataset`` is either an evaluation set (its settings must agree with any of level, seed and count given)
    or a prepared dataset, whose evaluation set ``dataset/eval_<level>_seed<seed>`` (see
    :func:`eval_set_dirname`) is built unless it already exists with the same settings.
    """
    dataset = Path(dataset)
    if (dataset / PAIRS).is_file():
        settings = read_settings(dataset)
        if settings is None:
            raise UserError(f"{dataset} is an unfinished evaluation set (no {SETTINGS}); delete it and rebuild.")
        asked = {"level": level, "seed": seed, "count": count}
        differ = [f"{k} {settings.get(k)} (asked {v})" for k, v in asked.items() if v is not None and
                  settings.get(k) != v]
        if differ:
            raise UserError(f"{dataset} is an evaluation set built with {', '.join(differ)}; omit those options "
                            "or pass the prepared dataset instead.")
        return dataset, False
    if not (dataset / MANIFEST).is_file():
        raise UserError(f"{dataset} is neither a prepared dataset ({MANIFEST}) nor an evaluation set ({PAIRS}).")
    level = level or DEFAULT_LEVEL
    seed = DEFAULT_SEED if seed is None else seed
    count = DEFAULT_COUNT if count is None else count
    target = dataset / eval_set_dirname(level, seed, count)
    existing = read_settings(target)
    if existing is not None and _same_build(existing, _identity_of_build(dataset, level, seed, count)):
        return target, False
    build_eval_set(dataset, target, level=level, seed=seed, count=count, progress=progress)
    return target, True
