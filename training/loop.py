"""The ENTED training loop (paper sections 3.4 and 4.1).

One call, :func:`train`, runs or resumes a run in ``run_dir``:
- ``checkpoint.pt``: generator, EMA generator, discriminator, optimisers and the iteration, replaced atomically
  every ``checkpoint_every`` iterations, on abort and at the end. A run killed at any moment resumes from it with
  the same iteration count and the same data order (samples are a pure function of the global draw number).
- ``stats.jsonl``: one JSON line per ``log_every`` iterations; ``samples/``: LQ | reference | output | GT grids.
- ``final/<name>.safetensors``: the EMA generator with its manifest line, when the run completes.

Distributed training uses torch.distributed (launch with ``torchrun``): each rank draws its own samples and
DistributedDataParallel averages the gradients.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from ented_desktop.core.atomic import atomic_path, write_text_atomic
from ented_desktop.core.engines.torch_engine import pick_torch_device
from ented_desktop.core.errors import UserError
from ented_desktop.core.network import Discriminator, ENTEDConfig, ENTEDGenerator
from ented_desktop.core.weights import save_generator

from .config import TrainConfig
from .identity_loss import IdentityLoss
from .losses import (
    PerceptualLoss,
    attention_reconstruction_loss,
    discriminator_loss,
    generator_adversarial_loss,
    r1_penalty,
)
from .tensors import to_uint8

ProgressFn = Callable[[dict], None]
AbortFn = Callable[[], bool]

# Draw numbers far beyond any training draw: fixed images for k-means and for the sample grids.
KMEANS_DRAWS = 10**9
SAMPLE_DRAWS = 2 * 10**9


class IterationDraws(Sampler[int]):
    """Draw numbers for iterations ``start, start+1, ...``: rank r of w takes ``(i*w + r)*B + j``, j < B."""

    def __init__(self, start_iteration: int, stop_iteration: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start_iteration, stop_iteration, batch, rank, world

    def __iter__(self) -> Iterator[int]:
        for i in range(self.start, self.stop):
            base = (i * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.batch


def atomic_torch_save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def sample_grid(rows: list[torch.Tensor]) -> np.ndarray:
    """Columns LQ | reference | output | GT, one row per sample, as one RGB image."""
    columns = [np.concatenate(list(to_uint8(t)), axis=0) for t in rows]
    return np.concatenate(columns, axis=1)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


class Trainer:
    """Holds the networks, optimisers and losses of one run; :meth:`step` does one iteration."""

    def __init__(self, cfg: TrainConfig, device: torch.device, model_dir: Path | None = None) -> None:
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.device = device
        self.net_config = cfg.network_config()
        self.generator = ENTEDGenerator(self.net_config).to(device)
        self.discriminator = Discriminator(self.net_config).to(device)
        self.g_ema = deepcopy(self.generator).eval().requires_grad_(False)
        self.perceptual = PerceptualLoss(model_dir).to(device)
        self.identity = IdentityLoss(Path(cfg.identity_net)).to(device) if cfg.loss_weights.id > 0 else None
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_g, betas=cfg.adam_betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d, betas=cfg.adam_betas)
        self.iteration = 0
        self.elapsed = 0.0
        # The configurations the run has gone through, each from the iteration it took over (None: not recorded,
        # a checkpoint from before stages were kept), so a model's metadata says how it was trained.
        self.stages: list[dict] = [{"from_iteration": 0, "train_config": json.loads(cfg.to_json())}]
        self.g_train: nn.Module = self.generator
        self.d_train: nn.Module = self.discriminator
        self._set_quantize(self.net_config.vq and cfg.vq_warmup <= 0)

    # -- state -----------------------------------------------------------------------------------------------
    def _set_quantize(self, on: bool) -> None:
        self.generator.quantize = on
        self.g_ema.quantize = on

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.state_dict(),
            "g_ema": self.g_ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "quantize": self.generator.quantize,
            # Not in the generator's state dict (the shipped weights do not need it); the dead-code statistic does.
            "code_usage": None if self.generator.quantizer is None else self.generator.quantizer.usage.clone(),
            "train_config": self.cfg.to_json(),
            "stages": json.dumps(self.stages),
            "network_config": self.net_config.to_json(),
        }

    def load_state_dict(self, state: dict) -> None:
        if ENTEDConfig.from_json(state["network_config"]) != self.net_config:
            raise ValueError("the checkpoint was made with a different network configuration")
        self.generator.load_state_dict(state["generator"])
        self.g_ema.load_state_dict(state["g_ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        # The optimiser state carries the learning rates it was saved with; the configuration decides them, so a
        # run can be continued with a lower rate (a schedule written as a second configuration).
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self._set_quantize(bool(state["quantize"]))
        if state.get("code_usage") is not None and self.generator.quantizer is not None:  # older checkpoints: none
            self.generator.quantizer.usage.copy_(state["code_usage"])
        self.stages = json.loads(state["stages"]) if "stages" in state else [
            {"from_iteration": None, "train_config": json.loads(state["train_config"])}]
        if not self.cfg.same_as(self.stages[-1]["train_config"]):
            self.stages.append({"from_iteration": self.iteration, "train_config": json.loads(self.cfg.to_json())})

    def wrap_distributed(self) -> None:
        ids = [self.device.index] if self.device.type == "cuda" else None
        # Unused parameters: the dictionary during warm-up, the discriminator before adv_start.
        self.g_train = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids, find_unused_parameters=True)
        self.d_train = nn.parallel.DistributedDataParallel(self.discriminator, device_ids=ids)

    # -- dictionary --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def reestimate_dictionary(self, hq_images: torch.Tensor) -> None:
        """k-means on the content encoder's latents of HQ images (section 3.2), then switch quantisation on."""
        quantizer = self.generator.quantizer
        _, z = self.generator.encode_content(hq_images.to(self.device))
        vectors = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        gen = torch.Generator().manual_seed(self.cfg.seed + self.iteration)
        quantizer.reestimate(vectors, generator=gen)
        if dist.is_initialized():
            dist.broadcast(quantizer.codebook.data, src=0)
        self.g_ema.quantizer.codebook.copy_(quantizer.codebook)
        self._set_quantize(True)

    def in_vq_warmup(self) -> bool:
        """Before the dictionary is fitted: a model saved now would quantise with an unfit dictionary once loaded."""
        return self.net_config.vq and not self.generator.quantize

    def dictionary_due(self) -> bool:
        cfg, it = self.cfg, self.iteration
        return self.net_config.vq and it >= cfg.vq_warmup and (it - cfg.vq_warmup) % cfg.kmeans_every == 0

    # -- one iteration -------------------------------------------------------------------------------------------
    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg, w = self.cfg, self.cfg.loss_weights
        lq, ref, gt = (batch[k].to(self.device, non_blocking=True) for k in ("lq", "ref", "gt"))
        adversarial = self.iteration >= cfg.adv_start and w.adv > 0
        stats: dict[str, float] = {}

        if adversarial:
            self.discriminator.requires_grad_(True)
            with torch.no_grad():
                fake = self.generator(lq, ref).image
            # One backward per forward (as DDP requires): the fake term, then the real term with lazy R1 folded in.
            self.opt_d.zero_grad(set_to_none=True)
            d_fake = discriminator_loss(None, self.d_train(fake))
            d_fake.backward()
            r1_due = cfg.r1_gamma > 0 and self.iteration % cfg.r1_every == 0
            real = gt.detach().requires_grad_(r1_due)
            real_logits = self.d_train(real)
            d_real = discriminator_loss(real_logits, None)
            if r1_due:
                r1 = r1_penalty(real_logits, real)
                stats["r1"] = float(r1.detach())
                d_real = d_real + r1 * (cfg.r1_gamma / 2) * cfg.r1_every
            d_real.backward()
            self.opt_d.step()
            stats["d"] = float(discriminator_loss(real_logits.detach(), None) + d_fake.detach())
            self.discriminator.requires_grad_(False)

        out = self.g_train(lq, ref)
        losses = {
            "percep": self.perceptual(out.image, gt),
            "q": out.vq_loss,
            "att": attention_reconstruction_loss(gt, ref, out.extraction, out.distribution),
        }
        if self.identity is not None:
            losses["id"] = self.identity(out.image, gt)
        if adversarial:
            # D is frozen here: call it unwrapped so DDP does not wait for gradients it will never get.
            losses["adv"] = generator_adversarial_loss(self.discriminator(out.image))
        total = sum(getattr(w, name) * value for name, value in losses.items())  # eq. 12 (+ identity term)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        self.update_ema()
        stats.update({name: float(value.detach()) for name, value in losses.items()})
        stats["loss"] = float(total.detach())
        stats["gt_sum"] = float(gt.sum())  # a fingerprint of the batch: resumed runs must see the same data order
        with torch.no_grad():
            stats["l1"] = float((out.image - gt).abs().mean())
            stats["l1_input"] = float((lq - gt).abs().mean())  # what the identity would score on this batch
        self.iteration += 1
        return stats

    @torch.no_grad()
    def update_ema(self) -> None:
        beta = ema_beta(self.cfg.ema_beta, self.cfg.ema_rampup, self.iteration)
        for p_ema, p in zip(self.g_ema.parameters(), self.generator.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(self.g_ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)


def ema_beta(beta: float, rampup: float, iteration: int) -> float:
    """The EMA decay at ``iteration``: ``beta``, but with a half-life of at most ``rampup * iteration`` iterations
    (StyleGAN2-ADA's ramp-up), so that early in a run the EMA generator is not stuck near its initialisation."""
    half_life = math.log(0.5) / math.log(beta)
    if rampup > 0:
        half_life = min(half_life, max(rampup * iteration, 1e-8))
    return 0.5 ** (1.0 / half_life)


def _quiet_worker(_: int) -> None:
    """DataLoader workers: one OpenCV and one torch thread each, so they do not fight the training threads.

    They ignore SIGTERM (and SIGINT, which PyTorch's workers already survive): a SIGTERM to the whole process
    group (``pkill -f``, a service manager) killed the worker, which makes PyTorch raise in the main process
    mid-iteration, before it can write its checkpoint. The main process stops them when it is done.
    """
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _collate_draws(dataset, draws: range) -> dict[str, torch.Tensor]:
    items = [dataset[d] for d in draws]
    return {k: torch.stack([it[k] for it in items]) for k in ("lq", "ref", "gt")}


def make_dataset(cfg: TrainConfig):
    from .dataset import FaceTripletDataset
    from .degradation import LEVELS
    from .pairs import load_people_list

    people = load_people_list(Path(cfg.people_file)) if cfg.people_file else None
    return FaceTripletDataset(
        Path(cfg.data_root),
        size=cfg.network_config().resolution,
        ranges=LEVELS[cfg.degradation],
        seed=cfg.seed,
        people=people,
        self_reference_prob=cfg.self_reference_prob,
        synthetic_reference_prob=cfg.synthetic_reference_prob,
    )


def train(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    device: str = "auto",
    dataset=None,
    model_dir: Path | None = None,
    progress_fn: ProgressFn | None = None,
    abort_fn: AbortFn | None = None,
    show_progress: bool = True,
) -> dict:
    """Run (or, with ``resume``, continue) training; returns a summary. Rank 0 writes all files."""
    run_dir = Path(run_dir)
    # OpenCV's worker threads do not survive fork(): a DataLoader worker forked after this process ran a
    # threaded OpenCV call (the sample grid's degradations) can hang forever on its first one (seen: an
    # ablation run stuck at iteration 0 for 23 minutes). This process does no heavy OpenCV work anyway.
    cv2.setNumThreads(0)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    dev = pick_torch_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    ckpt_path = run_dir / "checkpoint.pt"
    if rank == 0:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        if ckpt_path.exists() and not resume:
            raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it")
        write_text_atomic(run_dir / "train_config.json", cfg.to_json())

    trainer = Trainer(cfg, dev, model_dir)
    if resume and ckpt_path.exists():
        trainer.load_state_dict(torch.load(ckpt_path, map_location=dev, weights_only=True))
    if rank == 0:  # rows past the checkpoint (or all, if a run killed before its first one starts again) go
        _truncate_stats(run_dir / "stats.jsonl", trainer.iteration)
    if world > 1:
        trainer.wrap_distributed()
    dataset = dataset if dataset is not None else make_dataset(cfg)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=IterationDraws(trainer.iteration, cfg.iterations, cfg.batch_size, rank, world),
        num_workers=cfg.workers,
        worker_init_fn=_quiet_worker,
        pin_memory=dev.type == "cuda",
    )
    samples = _collate_draws(dataset, range(SAMPLE_DRAWS, SAMPLE_DRAWS + 4))
    start_iteration = trainer.iteration
    if rank == 0:
        meta = {"event": "start", "iteration": start_iteration, "perceptual": trainer.perceptual.name,
                "device": str(dev), "world": world, "dataset": len(dataset), "time": time.time()}
        if hasattr(dataset, "pairing_report"):
            meta["pairing"] = dataset.pairing_report()
        _append_jsonl(run_dir / "stats.jsonl", meta)

    bar = None
    if show_progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start_iteration, desc=cfg.name, unit="it", dynamic_ncols=True)

    aborted = False
    window: list[dict] = []
    t_last = time.time()
    for batch in loader:
        if trainer.dictionary_due():  # on other faces each time (the paper re-estimates from the data as it goes)
            first = KMEANS_DRAWS + trainer.iteration * cfg.kmeans_images
            trainer.reestimate_dictionary(_collate_draws(dataset, range(first, first + cfg.kmeans_images))["gt"])
        stats = trainer.step(batch)
        now = time.time()
        trainer.elapsed += now - t_last
        t_last = now
        window.append(stats)
        it = trainer.iteration
        if bar is not None:
            bar.update(1)
            bar.set_postfix(l1=f"{stats['l1']:.3f}", att=f"{stats['att']:.3f}")
        if rank == 0 and (it % cfg.sample_every == 0 or it == cfg.iterations):
            _write_samples(trainer, samples, run_dir / "samples" / f"{it:07d}.png")
        if progress_fn is not None:
            rate = (it - start_iteration) / max(trainer.elapsed, 1e-6) if trainer.elapsed else 0.0
            eta = (cfg.iterations - it) / rate if rate > 0 else math.inf
            progress_fn({"iteration": it, "total": cfg.iterations, "eta_s": eta, **stats})
        stop = abort_fn is not None and abort_fn()
        if rank == 0 and (it % cfg.log_every == 0 or it == cfg.iterations or stop):
            keys = dict.fromkeys(k for s in window for k in s)  # terms not due every iteration (r1) too
            row = {k: float(np.mean([s[k] for s in window if k in s])) for k in keys}
            row.update(iteration=it, elapsed=round(trainer.elapsed, 1), first_draw=(it - 1) * world * cfg.batch_size)
            if trainer.generator.quantizer is not None and trainer.generator.quantize:
                row["dead_codes"] = trainer.generator.quantizer.dead_fraction()
            _append_jsonl(run_dir / "stats.jsonl", row)
            window.clear()
        if rank == 0 and (it % cfg.checkpoint_every == 0 or it == cfg.iterations or stop):
            atomic_torch_save(trainer.state_dict(), ckpt_path)
        if stop:
            aborted = True
            break
    if bar is not None:
        bar.close()

    summary = {"iteration": trainer.iteration, "elapsed": trainer.elapsed, "aborted": aborted,
               "perceptual": trainer.perceptual.name}
    if rank == 0 and trainer.iteration >= cfg.iterations and not aborted and not trainer.in_vq_warmup():
        final = run_dir / "final" / f"{cfg.name}.safetensors"
        summary["sha256"] = export_generator(trainer, final)
        summary["model"] = str(final)
    return summary


def export_generator(trainer: Trainer, path: Path) -> str:
    """Save the EMA generator with what produced it (configuration, iterations, time, perceptual loss)."""
    if trainer.in_vq_warmup():
        raise UserError(f"The run is still in its VQ warm-up (iteration {trainer.iteration} of "
                        f"{trainer.cfg.vq_warmup}); its dictionary is not fitted yet, so there is no model to export.")
    info = {"train_config": json.loads(trainer.cfg.to_json()), "iterations": trainer.iteration,
            "elapsed_s": round(trainer.elapsed), "perceptual": trainer.perceptual.name, "stages": trainer.stages}
    return save_generator(trainer.g_ema, path, info)


def snapshot(cfg: TrainConfig, run_dir: Path, path: Path) -> tuple[int, str]:
    """The EMA generator of a run's last checkpoint as a model file (the run goes on undisturbed)."""
    trainer = Trainer(cfg, torch.device("cpu"))
    trainer.load_state_dict(torch.load(Path(run_dir) / "checkpoint.pt", map_location="cpu", weights_only=True))
    return trainer.iteration, export_generator(trainer, path)


def _truncate_stats(path: Path, iteration: int) -> None:
    """Drop rows logged after the checkpoint (and a line cut short by a kill): they will be logged again."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("iteration", 0) <= iteration:
            kept.append(line)
    write_text_atomic(path, "".join(f"{line}\n" for line in kept))  # a kill here must not lose the run's history


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


@torch.no_grad()
def _write_samples(trainer: Trainer, batch: dict[str, torch.Tensor], path: Path) -> None:
    dev = trainer.device
    lq, ref, gt = (batch[k].to(dev) for k in ("lq", "ref", "gt"))
    out = trainer.g_ema(lq, ref).image
    grid = sample_grid([lq, ref, out, gt])
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
