"""Face images to and from the network's tensors (N x 3 x H x W in [-1, 1], docs/ARCHITECTURE.md) for training
and evaluation; the conversion itself is the engines' (:func:`ented_desktop.core.engines.base.to_network`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ented_desktop.core.engines.base import to_network


def to_tensor(images: np.ndarray | Sequence[np.ndarray], device: torch.device | str | None = None) -> torch.Tensor:
    """H x W x 3 float32 images in [0, 1] (a list, or an N x H x W x 3 array) -> N x 3 x H x W in [-1, 1]."""
    return torch.from_numpy(to_network(np.stack(images))).to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W in [-1, 1] -> N x H x W x 3 uint8 (clipped, rounded to the nearest level)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
