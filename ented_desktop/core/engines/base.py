"""What every inference engine offers: aligned LQ faces and references in, restored faces out."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class RestorationEngine(Protocol):
    name: str            # "torch" or "onnx"
    device: str          # where it runs: "cpu" or "cuda" (torch also "cuda:N" or "mps")
    resolution: int      # the model's face size R
    model_name: str
    uses_reference: bool  # False: ``ref`` is ignored (third-party face models restore from the face alone)
    fidelity: float | None  # CodeFormer's fidelity weight w; None for models without one

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """lq, ref: N x R x R x 3 float32 RGB in [0, 1] -> restored N x R x R x 3 float32 in [0, 1]."""
        ...


def to_network(batch: np.ndarray) -> np.ndarray:
    """N x H x W x 3 float32 [0, 1] -> N x 3 x H x W float32 [-1, 1]."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) * 2.0 - 1.0


def from_network(batch: np.ndarray) -> np.ndarray:
    """N x 3 x H x W [-1, 1] -> N x H x W x 3 float32 [0, 1]."""
    return np.clip((batch.transpose(0, 2, 3, 1) + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)


def check_batch(lq: np.ndarray, ref: np.ndarray, resolution: int) -> None:
    expected = (resolution, resolution, 3)
    if lq.ndim != 4 or lq.shape[1:] != expected or ref.shape != lq.shape:
        raise ValueError(f"engine expects N x {resolution} x {resolution} x 3 inputs, got {lq.shape} and {ref.shape}")
