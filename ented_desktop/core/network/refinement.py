"""Latent space refinement (paper section 3.3, eqs. 5-8): the style code omega from Z_LQ and Z_ref.

Design choice the paper leaves open (ours): Psi is "a linear layer" from the concatenated refined latent
(2c x h x w) to omega (c). We average the refined latent over the h x w positions and apply one linear layer
2c -> c; position-wise detail reaches the decoder through Z_LQ itself and the skip connections, so the style
code only has to carry global texture statistics.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import EqualConv2d, EqualLinear


def feature_norm(x: torch.Tensor, dim: int = 1, eps: float = 1e-5) -> torch.Tensor:
    """Eq. 6: FN(x) = (x - E(x)) / sqrt(sum_i x_i^2 + eps), along ``dim`` (the channel axis by default)."""
    return (x - x.mean(dim, keepdim=True)) / torch.sqrt(x.square().sum(dim, keepdim=True) + eps)


def cross_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Eq. 5 with the softmax over the key positions: softmax(Q K^T / sqrt(d)) V.

    q, k, v: N x c x hw (channels first, as the paper's c x hw matrices); returns N x c x hw.
    """
    d = q.shape[1]
    attn = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(d), dim=-1)  # N x hw_q x hw_k
    return torch.bmm(attn, v.transpose(1, 2)).transpose(1, 2)


class LatentRefinement(nn.Module):
    """Eqs. 6-8: FN, 1x1 projections, two-way cross attention, scales gamma_LQ / gamma_ref, Psi."""

    def __init__(self, code_dim: int) -> None:
        super().__init__()
        self.proj_lq = EqualConv2d(code_dim, code_dim, 1)
        self.proj_ref = EqualConv2d(code_dim, code_dim, 1)
        # Zero-initialised scales (as NAFSSR): refinement starts as the identity and learns how much to exchange.
        self.gamma_lq = nn.Parameter(torch.zeros(1, code_dim, 1, 1))
        self.gamma_ref = nn.Parameter(torch.zeros(1, code_dim, 1, 1))
        self.psi = EqualLinear(2 * code_dim, code_dim)

    def forward(self, z_lq: torch.Tensor, z_ref: torch.Tensor) -> torch.Tensor:
        n, c, h, w = z_lq.shape
        assert z_ref.shape == z_lq.shape, f"Z_ref {tuple(z_ref.shape)} and Z_LQ {tuple(z_lq.shape)} differ"
        t_lq = self.proj_lq(feature_norm(z_lq)).reshape(n, c, h * w)
        t_ref = self.proj_ref(feature_norm(z_ref)).reshape(n, c, h * w)
        v_lq = cross_attention(t_lq, t_ref, t_ref).reshape(n, c, h, w)  # eq. 7
        v_ref = cross_attention(t_ref, t_lq, t_lq).reshape(n, c, h, w)
        refined = torch.cat([self.gamma_lq * v_lq + z_lq, self.gamma_ref * v_ref + z_ref], dim=1)
        return self.psi(refined.mean(dim=(2, 3)))  # eq. 8


class DirectStyle(nn.Module):
    """Table 3's Models 1-4 (no refinement): omega = Psi(Z_LQ) straight from the degraded input's latent."""

    def __init__(self, code_dim: int) -> None:
        super().__init__()
        self.psi = EqualLinear(code_dim, code_dim)

    def forward(self, z_lq: torch.Tensor, z_ref: torch.Tensor) -> torch.Tensor:
        return self.psi(z_lq.mean(dim=(2, 3)))
