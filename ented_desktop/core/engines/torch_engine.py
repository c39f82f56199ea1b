"""Inference with PyTorch on CUDA, Apple MPS or the CPU."""

from __future__ import annotations

import numpy as np
import torch

from ..network import ENTEDGenerator, RestorationModel
from .base import check_batch, from_network, to_network


def pick_torch_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when present, then MPS, else the CPU. An explicit device that is absent is an error."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    from ..errors import UserError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("MPS was requested but this Mac has no MPS device; use --device cpu or auto.")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"Unknown device {device!r}; use auto, cpu, cuda (or cuda:N) or mps.") from None


class TorchEngine:
    name = "torch"
    uses_reference = True
    fidelity: float | None = None

    def __init__(self, generator: ENTEDGenerator, model_name: str, device: str = "auto") -> None:
        self.torch_device = pick_torch_device(device)
        self.device = str(self.torch_device)
        self.model = RestorationModel(generator).to(self.torch_device).eval()
        self.resolution = generator.config.resolution
        self.model_name = model_name

    @torch.inference_mode()
    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        check_batch(lq, ref, self.resolution)
        try:
            x = torch.from_numpy(to_network(lq)).to(self.torch_device)
            r = torch.from_numpy(to_network(ref)).to(self.torch_device)
            return from_network(self.model(x, r).float().cpu().numpy())
        except torch.OutOfMemoryError as exc:  # a RuntimeError; callers handle running out of memory as MemoryError
            raise MemoryError(f"{self.device} ran out of memory") from exc
