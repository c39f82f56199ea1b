"""``ented evaluate``: the paper's quantitative evaluation (section 4.1) on a fixed evaluation set
(:mod:`training.eval_set`), summarised and compared by :mod:`training.eval_stats`.

Methods: ``input`` (the degraded input itself), ``model`` (the model with the
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

import importlib
import importlib.util
import json
import math
import sys
import time
from collections.abc import Sequence
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
from training.eval_set import FOLDERS, json_bytes, read_pairs, read_settings
from training.eval_stats import paired_comparison, summarize
from training.metrics import NIQE, find_niqe_params, psnr, resize_for_niqe, ssim

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
    write_bytes_atomic(out / "report.json", json_bytes(report))
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
