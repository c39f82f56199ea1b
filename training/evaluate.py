"""``ented evaluate``: the paper's quantitative evaluation (section 4.1) on a fixed evaluation set.

Evaluation set (:func:`build_eval_set`). From a prepared dataset (``ented prepare-dataset``) we take ``count``
ground-truth crops of people who have crops from at least two photos. People are visited in a seeded order,
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

Evaluation (:func:`evaluate`). Methods: ``input`` (the degraded input itself), ``model`` (the model with the
true reference), ``wrong_ref`` (the same model with the wrong person's reference) and any extra models
(Table 3 ablations) with the true reference; the ground truth is scored with the no-reference metric too.
Metrics are computed at the evaluation set's crop size against the untouched ground truth. A model whose
resolution differs sees its inputs resized (area averaging down, bicubic up, as the desktop pipeline) and its
output resized back. PSNR and SSIM are on the Y channel of BT.601 YCbCr (as BasicSR's ``test_y_channel``),
no border cropped; NIQE as :mod:`training.metrics` (crops under 512 px are resized to 512 first); identity
is the distance and the angle between offline dlib embeddings of output and ground truth
(:mod:`ented_desktop.core.identity`; the paper's "Deg." uses ArcFace, which is not available offline).
LPIPS (AlexNet) and FID (the FID Inception network) are computed only when their packages and weights are
already on the machine; nothing is downloaded, and the report says why a metric is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from tqdm import tqdm

from ented_desktop.core.atomic import write_bytes_atomic
from ented_desktop.core.engines import RestorationEngine, load_engine
from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.identity import IdentityEmbedder, embedding_angle_deg, identity_distance
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import from_float01, read_image_rgb8, to_float01
from ented_desktop.core.pipeline import resize_square
from training.degradation import LEVELS, degrade, sample_params
from training.metrics import NIQE, find_niqe_params, psnr, resize_for_niqe, ssim
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
BATCH = 16
GRID_ROWS = 8
GRID_CELL = 128  # grid cells are enlarged (nearest neighbour) to at least this many pixels
# Labels of the built-in methods; extra models may not use them.
INPUT, MODEL, WRONG_REF, GT = "input", "model", "wrong_ref", "gt"
RESERVED_LABELS = frozenset({INPUT, MODEL, WRONG_REF, GT})
METRICS = ("psnr_y", "ssim_y", "niqe", "identity_distance", "identity_angle_deg", "lpips")
# Files torchvision / pytorch-fid would download into the torch hub cache; we only use them when present.
LPIPS_WEIGHTS = "alexnet-owt-7be5be79.pth"
FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


class Embedder(Protocol):
    """What the identity metric needs: :class:`ented_desktop.core.identity.IdentityEmbedder` provides it."""

    name: str

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray: ...


# --- the evaluation set ---------------------------------------------------------------------------------


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


def _json_bytes(value: object) -> bytes:
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
    write_bytes_atomic(dst / SETTINGS, _json_bytes(settings))
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


# --- statistics -----------------------------------------------------------------------------------------


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and standard error of the finite values; ``n`` counts them and
    ``excluded`` the others (NaN: metric failed on that sample; inf: identical images for PSNR)."""
    x = np.asarray(list(values), np.float64)
    finite = x[np.isfinite(x)]
    n = int(finite.size)
    std = float(np.std(finite, ddof=1)) if n >= 2 else None
    return {"mean": float(np.mean(finite)) if n else None, "std": std,
            "sem": std / math.sqrt(n) if std is not None else None, "n": n, "excluded": int(x.size - n)}


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the probability, under a fair coin, of a split at least this uneven."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def paired_comparison(first: Sequence[float], second: Sequence[float]) -> dict[str, float | int | None]:
    """Compare two methods' distances to the ground truth on the same samples (lower is closer).

    ``mean_difference`` is the mean of ``first - second`` (negative: ``first`` is closer on average), with
    its standard error and a normal 95 % interval; ``first_closer`` is the fraction of samples where
    ``first`` is strictly closer, ``ties`` the number of equal pairs, ``sign_test_p`` the two-sided exact
    sign test over the untied pairs. Pairs with a missing (non-finite) value are left out.
    """
    a, b = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two equally long sequences, got shapes {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n == 0:
        return {"n": 0, "mean_difference": None, "sem": None, "ci95": None, "first_closer": None, "ties": 0,
                "sign_test_p": None}
    d = a - b
    mean = float(d.mean())
    sem = float(d.std(ddof=1) / math.sqrt(n)) if n >= 2 else None
    wins, losses = int(np.sum(a < b)), int(np.sum(a > b))
    return {
        "n": n,
        "mean_difference": mean,
        "sem": sem,
        "ci95": [mean - 1.96 * sem, mean + 1.96 * sem] if sem is not None else None,
        "first_closer": wins / n,
        "ties": n - wins - losses,
        "sign_test_p": sign_test_p(wins, losses),
    }


# --- LPIPS and FID, only from files already on the machine ---------------------------------------------


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def _torch_checkpoint(filename: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def optional_metric_status() -> dict[str, str | None]:
    """For "lpips" and "fid": None when it can be computed offline, else the reason it cannot."""
    needs = {"lpips": ("lpips", LPIPS_WEIGHTS, "AlexNet ImageNet"),
             "fid": ("pytorch_fid", FID_WEIGHTS, "FID Inception")}
    status: dict[str, str | None] = {}
    for metric, (package, weights, what) in needs.items():
        missing = []
        if not _installed(package):
            missing.append(f"the {package} package is not installed")
        if not _torch_checkpoint(weights).is_file():
            missing.append(f"the {what} weights are not at {_torch_checkpoint(weights)}")
        status[metric] = ("not computed: " + " and ".join(missing) + " (never downloaded)") if missing else None
    return status


def _unit_range(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [to_float01(i) for i in images]


def _unit_nchw(images: Sequence[np.ndarray]) -> object:
    """N x 3 x H x W in [0, 1], as pytorch-fid's network takes them (it moves them to [-1, 1] itself)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.stack(_unit_range(images)).transpose(0, 3, 1, 2)))


def lpips_values(outputs: Sequence[np.ndarray], gts: Sequence[np.ndarray], batch: int = BATCH) -> list[float]:
    """LPIPS (AlexNet, v0.1) of each output against its ground truth; call only when available."""
    import torch

    from training.tensors import to_tensor

    lpips = importlib.import_module("lpips")
    net = lpips.LPIPS(net="alex", verbose=False).eval()
    values: list[float] = []
    with torch.inference_mode():
        for s in range(0, len(outputs), batch):
            x = to_tensor(_unit_range(outputs[s : s + batch]))
            y = to_tensor(_unit_range(gts[s : s + batch]))
            values += [float(v) for v in net(x, y).reshape(-1)]
    return values


class FID:
    """Fréchet Inception Distance of a set of images to the ground-truth set (pytorch-fid's network)."""

    def __init__(self, gts: Sequence[np.ndarray], batch: int = BATCH) -> None:
        inception = importlib.import_module("pytorch_fid.inception")
        self._distance = importlib.import_module("pytorch_fid.fid_score").calculate_frechet_distance
        self._net = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
        self._batch = batch
        self._gt_stats = self._stats(gts)

    def _stats(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        feats = []
        with torch.inference_mode():
            for s in range(0, len(images), self._batch):
                feats.append(self._net(_unit_nchw(images[s : s + self._batch]))[0].reshape(-1, 2048).numpy())
        f = np.concatenate(feats).astype(np.float64)
        return f.mean(axis=0), np.cov(f, rowvar=False)

    def __call__(self, images: Sequence[np.ndarray]) -> float:
        mu, sigma = self._stats(images)
        return float(self._distance(mu, sigma, *self._gt_stats))


# --- evaluation -----------------------------------------------------------------------------------------


def _bar(total: int, desc: str, show: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="face", file=sys.stderr, dynamic_ncols=True, disable=not show)


def restore_all(
    engine: RestorationEngine,
    lqs: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    batch: int,
    bar: tqdm | None = None,
) -> list[np.ndarray]:
    """Restore aligned uint8 crops with ``engine`` in batches; outputs are uint8 at each input's size."""
    res = engine.resolution
    outputs: list[np.ndarray] = []
    for s in range(0, len(lqs), batch):
        lq = np.stack([resize_square(to_float01(x), res) for x in lqs[s : s + batch]])
        ref = np.stack([resize_square(to_float01(x), res) for x in refs[s : s + batch]])
        restored = engine.restore(lq, ref)
        for out, src in zip(restored, lqs[s : s + batch], strict=True):
            outputs.append(from_float01(resize_square(out, src.shape[0]), np.uint8))
        if bar is not None:
            bar.update(len(lq))
    return outputs


def _model_info(model: str | Path, engine_name: str, model_dir: Path | None) -> dict:
    from ented_desktop.core.weights import read_metadata, resolve_model

    path = resolve_model(model, model_dir)
    info = json.loads(read_metadata(path).get("info", "{}")) if path.suffix == ".safetensors" else {}
    return {"path": str(path), "iterations": info.get("iterations"), "engine": engine_name}


def make_grid(columns: Sequence[tuple[str, Sequence[np.ndarray]]], rows: Sequence[int]) -> np.ndarray:
    """A labelled image grid: one column per (label, images), one row per sample index in ``rows``."""
    size = columns[0][1][0].shape[0]
    cell = max(size, GRID_CELL)
    header = 22
    grid = np.full((header + cell * len(rows), cell * len(columns), 3), 255, np.uint8)
    for c, (label, images) in enumerate(columns):
        cv2.putText(grid, label, (c * cell + 4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        for r, index in enumerate(rows):
            img = cv2.resize(images[index], (cell, cell), interpolation=cv2.INTER_NEAREST)
            grid[header + r * cell : header + (r + 1) * cell, c * cell : (c + 1) * cell] = img
    return grid


def _score(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    bar: tqdm,
    *,
    fidelity: bool,
    niqe: NIQE | None,
    embedder: Embedder | None,
    gt_embeddings: Sequence[np.ndarray] | None,
) -> dict[str, list[float]]:
    """Per-sample metrics of ``images``: PSNR and SSIM against ``gts`` with ``fidelity``, NIQE with ``niqe``,
    identity distance and angle to ``gt_embeddings`` with ``embedder``."""
    values: dict[str, list[float]] = {}
    for i, img in enumerate(images):
        row: dict[str, float] = {}
        if fidelity:
            row["psnr_y"] = psnr(img, gts[i], on="y")
            row["ssim_y"] = ssim(img, gts[i], on="y")
        if niqe is not None:
            try:
                row["niqe"] = niqe(resize_for_niqe(img))
            except ValueError:  # a flat image has no textured blocks
                row["niqe"] = math.nan
        if embedder is not None and gt_embeddings is not None:
            e = embedder.embed_aligned(img)
            row["identity_distance"] = identity_distance(e, gt_embeddings[i])
            row["identity_angle_deg"] = embedding_angle_deg(e, gt_embeddings[i])
        for k, v in row.items():
            values.setdefault(k, []).append(v)
        bar.update(1)
    return values


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def evaluate(
    model: str | Path | None,
    dataset_dir: Path,
    *,
    engine: str = "torch",
    device: str = "auto",
    model_dir: Path | None = None,
    baselines: bool = True,
    models: Sequence[tuple[str, str | Path]] = (),
    niqe_params: Path | None = None,
    out_dir: Path | None = None,
    batch_size: int = BATCH,
    embedder: Embedder | None = None,
    show_progress: bool = True,
) -> dict:
    """Evaluate on the evaluation set ``dataset_dir``; writes ``report.json``, ``report.md`` and
    ``grid.png`` into ``out_dir`` (default ``dataset_dir/results/<model name or "input-only">``) and
    returns the report (with ``report["markdown"]`` and ``report["out_dir"]`` added).

    ``model`` None evaluates no model (with ``baselines``, the degraded input alone). ``models`` are extra
    (label, model) pairs restored with the true reference. ``niqe_params`` None looks for the NIQE file
    with :func:`training.metrics.find_niqe_params` (``model_dir``); NIQE is skipped, with the reason,
    when there is none. ``embedder`` None uses the offline dlib embedder.
    """
    started = time.monotonic()
    dataset_dir = Path(dataset_dir)
    settings = read_settings(dataset_dir)
    if settings is None:
        raise UserError(f"{dataset_dir} is not a finished evaluation set; build one with `ented evaluate`.")
    rows = read_pairs(dataset_dir)
    labels = [label for label, _ in models]
    for label in labels:
        if not label or label in RESERVED_LABELS or labels.count(label) > 1:
            raise UserError(f"The comparison label {label!r} is empty, repeated or reserved "
                            f"({', '.join(sorted(RESERVED_LABELS))}).")
    if batch_size < 1:
        raise UserError("The batch size must be at least 1.")
    methods = ([INPUT] if baselines else []) + ([MODEL] if model is not None else [])
    methods += [WRONG_REF] if model is not None and baselines else []
    methods += labels
    if not methods:
        raise UserError("Nothing to evaluate: give a model, comparison models or keep the baselines.")

    def load(folder: str) -> list[np.ndarray]:
        return [read_image_rgb8(dataset_dir / folder / f"{r['id']}.png") for r in rows]

    gts, lqs, refs, wrong_refs = (load(f) for f in FOLDERS)
    timings: dict[str, float] = {}

    # Restoration.
    outputs: dict[str, list[np.ndarray]] = {}
    model_info: dict[str, dict] = {}
    if INPUT in methods:
        outputs[INPUT] = lqs
    jobs: list[tuple[str, str | Path]] = ([(MODEL, model)] if model is not None else []) + list(models)
    t0 = time.monotonic()
    for label, path in jobs:
        eng = load_engine(path, engine, device, model_dir)
        model_info[label] = {**_model_info(path, engine, model_dir), "name": eng.model_name,
                             "resolution": eng.resolution, "device": eng.device}
        with _bar(len(rows), f"restore {label}", show_progress) as bar:
            outputs[label] = restore_all(eng, lqs, refs, batch_size, bar)
        if label == MODEL and WRONG_REF in methods:
            with _bar(len(rows), f"restore {WRONG_REF}", show_progress) as bar:
                outputs[WRONG_REF] = restore_all(eng, lqs, wrong_refs, batch_size, bar)
    timings["restore"] = time.monotonic() - t0

    # Metrics.
    t0 = time.monotonic()
    niqe_path = Path(niqe_params) if niqe_params is not None else find_niqe_params(
        Path(model_dir) if model_dir is not None else None)
    niqe = NIQE(niqe_path) if niqe_path is not None else None
    notes: dict[str, object] = {
        "colour_space": "PSNR and SSIM on the Y channel of BT.601 YCbCr (studio swing, as BasicSR's "
                        f"test_y_channel), at the evaluation set's {settings['size']} px, no border cropped",
        "niqe": f"parameters {niqe_path}; crops under 512 px are resized to 512 (MATLAB bicubic) first"
        if niqe is not None else "not computed: no niqe_pris_params.npz in the model directory; pass --niqe PATH",
    }
    identity_skipped = None
    if embedder is None:
        try:
            embedder = IdentityEmbedder()
        except ModelError as exc:
            identity_skipped = f"not computed: {exc}"
    notes["identity"] = identity_skipped or (
        f"distance and angle by {embedder.name} between embeddings of output and ground truth; the paper's "
        "Deg. uses ArcFace, which is not available offline, so the angles are not comparable to its figures")
    per_sample: dict[str, dict[str, list[float]]] = {}
    context: dict[str, dict[str, list[float]]] = {}
    steps = len(methods) + (niqe is not None) + (3 if embedder is not None else 0)
    with _bar(len(rows) * steps, "metrics", show_progress) as bar:
        gt_emb = None
        if embedder is not None:
            gt_emb = [embedder.embed_aligned(g) for g in gts]
            bar.update(len(gts))
        for method in methods:
            per_sample[method] = _score(outputs[method], gts, bar, fidelity=True, niqe=niqe, embedder=embedder,
                                        gt_embeddings=gt_emb)
        if niqe is not None:
            per_sample[GT] = _score(gts, gts, bar, fidelity=False, niqe=niqe, embedder=None, gt_embeddings=None)
        if embedder is not None:
            for name, photos in (("reference_photo", refs), ("wrong_reference_photo", wrong_refs)):
                context[name] = _score(photos, gts, bar, fidelity=False, niqe=None, embedder=embedder,
                                       gt_embeddings=gt_emb)

    status = optional_metric_status()
    if status["lpips"] is None:
        for method in methods:
            per_sample[method]["lpips"] = lpips_values(outputs[method], gts, batch_size)
    fid_values: dict[str, float] = {}
    if status["fid"] is None:
        fid = FID(gts, batch_size)
        fid_values = {method: fid(outputs[method]) for method in methods}
    notes["lpips"] = status["lpips"] or "AlexNet LPIPS v0.1 (lpips package) against the ground truth"
    notes["fid"] = status["fid"] or "pytorch-fid Inception, each method's outputs against all ground truths"
    timings["metrics"] = time.monotonic() - t0

    metrics = {m: {k: summarize(v) for k, v in per_sample[m].items()} for m in per_sample}
    for method, value in fid_values.items():
        metrics[method]["fid"] = {"value": value, "n": len(rows)}
    paired: dict[str, dict] = {}
    for first, second in ((MODEL, WRONG_REF), (MODEL, INPUT)):
        if first in per_sample and second in per_sample and "identity_distance" in per_sample[first]:
            paired[f"{first}_vs_{second}"] = {
                k: paired_comparison(per_sample[first][k], per_sample[second][k])
                for k in ("identity_distance", "identity_angle_deg")
            }
    timings["total"] = time.monotonic() - started
    report = {
        "eval_set": {**settings, "path": str(dataset_dir.resolve())},
        "methods": methods,
        "models": model_info,
        "metrics": metrics,
        "paired": paired,
        "context": {name: {k: summarize(v) for k, v in vals.items()} for name, vals in context.items()},
        "notes": notes,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "samples": [
            {"id": r["id"], "person": r["person"],
             **{m: {k: _finite_or_none(v[i]) for k, v in per_sample[m].items()} for m in per_sample}}
            for i, r in enumerate(rows)
        ],
    }

    name = model_info[MODEL]["name"] if MODEL in model_info else ("input-only" if not jobs else labels[0])
    out = Path(out_dir) if out_dir is not None else dataset_dir / "results" / name
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"Cannot create the output folder {out}: {exc.strerror}.") from exc
    markdown = format_markdown(report)
    write_bytes_atomic(out / "report.json", _json_bytes(report))
    write_bytes_atomic(out / "report.md", markdown.encode("utf-8"))
    columns = [("LQ", lqs), ("reference", refs)]
    columns += [("wrong-ref output", outputs[WRONG_REF])] if WRONG_REF in outputs else []
    columns += [("output", outputs[MODEL])] if MODEL in outputs else []
    columns += [(label, outputs[label]) for label in labels]
    columns += [("GT", gts)]
    shown = sorted({int(round(x)) for x in np.linspace(0, len(rows) - 1, min(GRID_ROWS, len(rows)))})
    write_photo_atomic(make_grid(columns, shown), out / "grid.png", overwrite=True)
    return {**report, "markdown": markdown, "out_dir": str(out)}


# --- the Markdown report ------------------------------------------------------------------------------

_TITLES = {INPUT: "degraded input", MODEL: "model, true reference", WRONG_REF: "model, wrong person's reference",
           GT: "ground truth"}
_COLUMNS = (("psnr_y", "PSNR (Y) ↑", 2), ("ssim_y", "SSIM (Y) ↑", 4), ("niqe", "NIQE ↓", 2),
            ("identity_distance", "identity distance ↓", 3), ("identity_angle_deg", "identity angle (°) ↓", 2),
            ("lpips", "LPIPS ↓", 4), ("fid", "FID ↓", 2))


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_markdown(report: dict) -> str:
    """The report as a Markdown table of means, the paired identity comparisons and the notes."""
    es = report["eval_set"]
    metrics = report["metrics"]
    rows = list(report["methods"]) + ([GT] if GT in metrics else [])
    used = [c for c in _COLUMNS if any(c[0] in metrics[m] for m in rows)]
    lines = [
        f"## Evaluation on {Path(es['path']).name}: level {es['level']}, seed {es['seed']}, {es['count']} faces "
        f"of {es['people']} people, {es['size']} px",
    ]
    lines += [""] if report["models"] else []
    for label, info in report["models"].items():
        lines.append(f"- {label}: {info['name']} ({info['path']}, {info['iterations']} iterations, "
                     f"{info['engine']} on {info['device']}, {info['resolution']} px)")
    lines += ["", "| method | " + " | ".join(c[1] for c in used) + " |", "|---" * (len(used) + 1) + "|"]
    for m in rows:
        cells = []
        for key, _, digits in used:
            stat = metrics[m].get(key)
            cells.append(_fmt(None if stat is None else stat.get("mean", stat.get("value")), digits))
        lines.append(f"| {_TITLES.get(m, m)} | " + " | ".join(cells) + " |")
    if report["paired"]:
        lines += ["", "Paired identity comparison (distance to the ground truth's embedding; a negative difference "
                  "means the first is closer):", "",
                  "| comparison | metric | mean difference [95 % CI] | first closer | ties | sign test p | n |",
                  "|---|---|---|---|---|---|---|"]
        for name, per_metric in report["paired"].items():
            first, second = name.split("_vs_")
            for metric, p in per_metric.items():
                digits = 3 if metric == "identity_distance" else 2
                ci = "" if p["ci95"] is None else f" [{p['ci95'][0]:.{digits}f}, {p['ci95'][1]:.{digits}f}]"
                closer = "–" if p["first_closer"] is None else f"{100 * p['first_closer']:.1f} %"
                pval = "–" if p["sign_test_p"] is None else f"{p['sign_test_p']:.2g}"
                lines.append(f"| {_TITLES[first]} vs {_TITLES[second]} | {metric} | "
                             f"{_fmt(p['mean_difference'], digits)}{ci} | {closer} | {p['ties']} | {pval} | {p['n']} |")
    lines += ["", "Notes:"]
    lines += [f"- {key}: {text}" for key, text in report["notes"].items()]
    ctx = report["context"]
    if ctx:
        ref_d = ctx["reference_photo"]["identity_distance"]["mean"]
        wrong_d = ctx["wrong_reference_photo"]["identity_distance"]["mean"]
        lines.append(f"- for scale: the reference photo itself is at mean identity distance {_fmt(ref_d, 3)} from "
                     f"the ground truth (same person, another photo), the wrong reference at {_fmt(wrong_d, 3)}")
    excluded = {f"{m}/{k}": s["excluded"] for m in metrics for k, s in metrics[m].items() if s.get("excluded")}
    if excluded:
        lines.append(f"- samples left out of a mean (metric undefined): {excluded}")
    sec = report["seconds"]
    lines.append(f"- time: {sec['total']} s ({sec['restore']} s restoring, {sec['metrics']} s metrics)")
    return "\n".join(lines) + "\n"
