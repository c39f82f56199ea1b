"""Neural texture extraction (eq. 1) and distribution (eq. 2), after Ren et al. 2022 (NTED).

Design choices the paper leaves open (ours):
- k (the rows of W_e and W_d) comes from the configuration (32 for ``paper512``, 16 for the CPU sizes).
- Texture layers: the decoder resolutions listed in ``texture_resolutions``; at each, E_ref's feature map of the
  same resolution is the source, so extraction and distribution matrices have the same spatial size and the
  attention reconstruction loss (eq. 11) can compare them.
- Fusion: the distributed texture F_o is added to the decoder feature F_d.
- The attention reconstruction loss (eq. 11) trains W_e, W_d and the texture encoder, but its gradient stops at
  the decoder's features F_d. Measured on a tiny network with lambda_att = 15 (and even 0.5): with the gradient
  flowing into F_d, the image L1 on a fixed batch did not move in 120 steps (0.0798 -> 0.0803); with the stop it
  fell as fast as without eq. 11 at all (0.0798 -> 0.0656), while eq. 11 still shapes the texture kernels.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import EqualConv2d


def extract_texture(
    features: torch.Tensor, extraction_logits: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1. features/values: N x c x h x w, extraction_logits C_e = W_e F_ref: N x k x h x w.

    Returns (F_tex: N x k x c, C~_e: N x k x hw) where C~_e is the softmax of C_e over the spatial axis.
    """
    n, k = extraction_logits.shape[:2]
    assert extraction_logits.shape[2:] == features.shape[2:] == values.shape[2:]
    c_e = torch.softmax(extraction_logits.reshape(n, k, -1), dim=2)
    f_tex = torch.bmm(c_e, values.reshape(n, values.shape[1], -1).transpose(1, 2))
    return f_tex, c_e


def distribute_texture(f_tex: torch.Tensor, distribution_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 2. f_tex: N x k x c, distribution_logits C_d = W_d F_d: N x k x h x w.

    Returns (F_o: N x c x h x w, C~_d: N x k x hw) where C~_d is the softmax of C_d over the k axis.
    """
    n, k, h, w = distribution_logits.shape
    assert f_tex.shape[:2] == (n, k), f"F_tex {tuple(f_tex.shape)} does not match {k} kernels"
    c_d = torch.softmax(distribution_logits.reshape(n, k, h * w), dim=1)
    f_o = torch.bmm(f_tex.transpose(1, 2), c_d)
    return f_o.reshape(n, -1, h, w), c_d


class TextureExtraction(nn.Module):
    """W_e and the value projection f_1x1 of eq. 1 for one texture layer."""

    def __init__(self, channels: int, kernels: int) -> None:
        super().__init__()
        self.kernels = EqualConv2d(channels, kernels, 1, bias=False)
        self.value = EqualConv2d(channels, channels, 1)

    def forward(self, f_ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return extract_texture(f_ref, self.kernels(f_ref), self.value(f_ref))


class TextureDistribution(nn.Module):
    """W_d of eq. 2 for one texture layer."""

    def __init__(self, channels: int, kernels: int) -> None:
        super().__init__()
        self.kernels = EqualConv2d(channels, kernels, 1, bias=False)

    def forward(self, f_d: torch.Tensor, f_tex: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns F_o and the distribution matrix for eq. 11, computed from sg[F_d] (see the module docstring)."""
        f_o, c_d = distribute_texture(f_tex, self.kernels(f_d))
        if torch.is_grad_enabled() and f_d.requires_grad:
            _, c_d = distribute_texture(f_tex, self.kernels(f_d.detach()))
        return f_o, c_d
