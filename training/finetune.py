"""Fine-tune ENTED on one person's photos (the family use case), on a CPU, in bounded time.

From three or more photos of one person: the largest face of each photo is aligned at the model's resolution;
the last photo (by name) is held out for the report, the one before it for choosing weights, the others make
training pairs (a degraded photo of the person as input, another of their photos as reference, as in training).
The objective is the training objective without the adversarial term: a discriminator cannot be trained on a
handful of photos, and the reconstruction terms are what move the held-out figures. A validation restores fixed
degradations of a held-out photo with a training photo as reference and measures PSNR (Y channel) against it.
Training stops at the time limit or when the choosing photo has not improved for ``patience`` checks, and the best
weights on it are kept; the report photo then says, unbiased by that choice, whether the personal model beats the
base model by more than one photo's noise (``improved``, :mod:`ented_desktop.core.finetune_verdict`). With only
three photos one photo does both jobs, which flatters the personal model there: the verdict asks more of it, and
the card says so. The personal model is saved with a manifest entry and a model card.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ented_desktop.core.atomic import write_text_atomic
from ented_desktop.core.engines.onnx_export import export_onnx
from ented_desktop.core.errors import UserError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.face.detect import create_detector
from ented_desktop.core.finetune_verdict import assess
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES, read_image_rgb8
from ented_desktop.core.network import ENTEDGenerator
from ented_desktop.core.personal_models import FINETUNE_MIN_PHOTOS
from ented_desktop.core.restore_wording import NO_FACE
from ented_desktop.core.weights import load_generator, resolve_model, save_generator

from .config import PAPER_LOSS_WEIGHTS
from .dataset import draw_triplet
from .degradation import LEVELS, degrade, sample_params, training_level
from .losses import PerceptualLoss, attention_reconstruction_loss
from .metrics import psnr
from .tensors import to_tensor, to_uint8

VALIDATION_DEGRADATIONS = 6


@dataclass
class FinetuneResult:
    before: dict  # the base model on the report photo
    after: dict  # the personal model on it; "picked_weights": that photo also picked them
    improved: bool  # keeping the personal model is recommended (finetune_verdict.assess)
    model_path: Path | None
    held_out: str
    history: list[dict] = field(default_factory=list)


def person_photos(person_dir: Path) -> list[Path]:
    photos = sorted(p for p in Path(person_dir).rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not photos:
        raise UserError(f"{person_dir} holds no photos.")
    return photos


def aligned_faces(photos: list[Path], size: int, detector=None) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """(file name, largest face aligned at ``size``) of each photo that has a face; and one line per one without."""
    detector = detector or create_detector("auto")
    crops, problems = [], []
    for path in photos:
        try:
            image = read_image_rgb8(path)
        except UserError as exc:
            problems.append(str(exc))
            continue
        faces = detector.detect(image)
        if not faces:
            problems.append(f"{path.name}: {NO_FACE}")
            continue
        crops.append((path.name, align_face(image, faces[0].landmarks, size)[0].astype(np.float32) / 255.0))
    return crops, problems


class Validation:
    """Fixed degradations of the held-out face, each restored with a training face as reference."""

    def __init__(self, held_out: np.ndarray, reference: np.ndarray, device: torch.device, seed: int = 0) -> None:
        lqs, ranges = [], LEVELS[training_level(held_out.shape[0])]
        for k in range(VALIDATION_DEGRADATIONS):
            rng = np.random.default_rng((seed, k))
            lqs.append(degrade(held_out, sample_params(rng, ranges), rng))
        self.lq = to_tensor(lqs, device)
        self.ref = to_tensor([reference] * len(lqs), device)
        self.gt = (held_out * 255.0 + 0.5).astype(np.uint8)

    @torch.no_grad()
    def __call__(self, generator: ENTEDGenerator) -> dict:
        was_training = generator.training
        generator.eval()
        out = to_uint8(generator(self.lq, self.ref).image)
        generator.train(was_training)
        values = [psnr(o, self.gt) for o in out]
        return {"val_psnr": float(np.mean(values)), "input_psnr": float(np.mean([psnr(x, self.gt) for x in
                                                                                   to_uint8(self.lq)]))}


def finetune_person(
    photos: list[Path],
    *,
    base_model: str | Path | None = None,
    out_dir: Path,
    minutes: float = 10.0,
    name: str | None = None,
    device: str = "cpu",
    seed: int = 0,
    lr: float = 2e-4,
    batch_size: int = 4,
    val_every: int = 10,
    patience: int = 6,
    progress_fn: Callable[[dict], None] | None = None,
    abort_fn: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Fine-tune the base model on ``photos`` of one person for at most ``minutes``; see the module docstring.

    The personal model (``out_dir/<name>.safetensors``, its ONNX export, their manifest lines and ``<name>.md``) is
    written only when training ran and was not cancelled, and never over an existing model of that name;
    ``improved`` tells whether it beats the base model on the report photo (``held_out``) by more than one photo
    can tell from noise.
    """
    name = name or Path(out_dir).name
    model_path = Path(out_dir) / f"{name}.safetensors"
    if Path(name).name != name or name.startswith("."):
        raise UserError(f"A personal model's name must be a plain file name, not {name!r}.")
    if model_path.exists():  # checked before training: a kept model is never replaced
        raise UserError(f"A personal model named {name!r} already exists ({model_path}); choose another name.")
    base_path = resolve_model(base_model)
    generator, base_info = load_generator(base_path)
    res = generator.config.resolution
    crops, problems = aligned_faces(list(photos), res)
    if len(crops) < FINETUNE_MIN_PHOTOS:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise UserError(f"Fine-tuning needs faces in at least {FINETUNE_MIN_PHOTOS} photos; "
                        f"found {len(crops)}{detail}.")
    dev = torch.device(device)
    held = 2 if len(crops) > FINETUNE_MIN_PHOTOS else 1  # with three photos one held-out photo both chooses and reports
    (held_out, report_face), (picked_on, choice_face) = crops[-1], crops[-held]
    train_faces = [face for _, face in crops[:-held]]
    judge = Validation(report_face, train_faces[0], dev, seed)
    validation = judge if held == 1 else Validation(choice_face, train_faces[0], dev, seed)
    generator.to(dev)
    before = judge(generator)
    best = validation(generator)
    best_state = copy.deepcopy(generator.state_dict())

    generator.train().requires_grad_(True)
    perceptual = PerceptualLoss().to(dev)
    weights = PAPER_LOSS_WEIGHTS  # without its adversarial term: see the module docstring
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(seed)
    history: list[dict] = [{"iteration": 0, "elapsed": 0.0, **best}]  # figures on the choosing photo
    ranges = LEVELS[training_level(res)]
    start, deadline = time.monotonic(), time.monotonic() + minutes * 60.0
    iteration, stale, stopped_by = 0, 0, "time limit"
    while time.monotonic() < deadline:
        if abort_fn is not None and abort_fn():
            stopped_by = "cancelled"
            break
        samples = []
        for _ in range(batch_size):  # as training draws them, each photo's reference one of the others
            i = int(rng.integers(len(train_faces)))
            others = [j for j in range(len(train_faces)) if j != i]
            samples.append(draw_triplet(train_faces[i], others, train_faces.__getitem__, rng, ranges))
        lq_t, ref_t, gt_t = (to_tensor([getattr(t, k) for t in samples], dev) for k in ("lq", "ref", "gt"))
        out = generator(lq_t, ref_t)
        loss = (weights.percep * perceptual(out.image, gt_t) + weights.q * out.vq_loss
                + weights.att * attention_reconstruction_loss(gt_t, ref_t, out.extraction, out.distribution))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        iteration += 1
        elapsed = time.monotonic() - start
        rate = iteration / elapsed
        report = {"iteration": iteration, "total": max(iteration, int(rate * minutes * 60.0)),
                  "eta_s": max(0.0, deadline - time.monotonic()), "loss": float(loss.detach())}
        if iteration % val_every == 0:
            figures = validation(generator)
            report["val"] = figures["val_psnr"]
            history.append({"iteration": iteration, "elapsed": round(elapsed, 1), "loss": report["loss"], **figures})
            if figures["val_psnr"] > best["val_psnr"]:
                best, best_state, stale = figures, copy.deepcopy(generator.state_dict()), 0
            else:
                stale += 1
                if stale >= patience:
                    stopped_by = "validation stopped improving"
                    if progress_fn is not None:
                        progress_fn(report)
                    break
        if progress_fn is not None:
            progress_fn(report)

    if iteration == 0 or stopped_by == "cancelled":
        return FinetuneResult(before, before, False, None, held_out, history)
    generator.load_state_dict(best_state)
    generator.eval().requires_grad_(False)
    after = {**judge(generator), "picked_weights": held == 1}
    verdict = assess(before, after)
    improved = verdict.keep
    info = {
        "iterations": int(base_info.get("iterations", 0)) + iteration,
        "finetune": {"base_model": base_path.stem, "base_sha_file": base_path.name, "photos": [p.name for p in photos],
                     "held_out": held_out, "picked_on": picked_on, "iterations": iteration,
                     "minutes": round((time.monotonic() - start) / 60.0, 2), "stopped_by": stopped_by,
                     "before": before, "after": after, "gain_db": verdict.gain_db, "verdict": verdict.outcome,
                     "keep_threshold_db": verdict.threshold_db, "improved": improved, "skipped_photos": problems},
    }
    digest = save_generator(generator, model_path, info)
    export_onnx(generator, model_path.with_suffix(".onnx"), name, info["iterations"], digest)  # for the onnx engine
    write_text_atomic(model_path.with_suffix(".md"), model_card(name, info))
    return FinetuneResult(before, after, improved, model_path, held_out, history)


def model_card(name: str, info: dict) -> str:
    ft = info["finetune"]
    return "\n".join([
        f"# Personal model: {name}",
        "",
        f"Fine-tuned from `{ft['base_model']}` on {len(ft['photos'])} photos of one person "
        f"({ft['iterations']} iterations, {ft['minutes']} minutes on this computer; stopped by: {ft['stopped_by']}).",
        f"Held-out photo: `{ft['held_out']}` (not used for training); "
        + (f"`{ft['picked_on']}`, also held out, picked which weights are kept." if ft["picked_on"] != ft["held_out"]
           else "with only three photos it also picked which weights are kept, so the personal model's figure is "
                "slightly flattered."),
        "",
        "| held-out validation (PSNR on Y, dB; mean of "
        f"{VALIDATION_DEGRADATIONS} fixed degradations) | base model | personal model |",
        "| --- | --- | --- |",
        f"| degraded input | {ft['before']['input_psnr']:.2f} | {ft['after']['input_psnr']:.2f} |",
        f"| restored | {ft['before']['val_psnr']:.2f} | {ft['after']['val_psnr']:.2f} |",
        "",
        assess(ft["before"], ft["after"]).sentence("base model") + " Recommended: "
        + ("this personal model." if ft["improved"] else "the base model."),
        "",
        f"Photos used: {', '.join(ft['photos'])}.",
        *( [f"Photos skipped: {'; '.join(ft['skipped_photos'])}."] if ft["skipped_photos"] else []),
        "",
        "```json",
        json.dumps(ft, indent=2),
        "```",
        "",
    ])
