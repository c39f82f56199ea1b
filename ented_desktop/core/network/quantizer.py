"""The vector-quantised HQ dictionary (paper section 3.2, eqs. 3 and 4).

The dictionary Z = {z_k}, K x c, replaces each vector of Z_LQ by its nearest entry (eq. 3). Gradients pass
straight through to the encoder (VQGAN's estimator). The dictionary is (re-)estimated by k-means on features of
high-quality images (:func:`kmeans`), as the paper does every 2,000 iterations after a 10,000-iteration warm-up;
usage counts between re-estimations give the dead-code statistics.
"""

from __future__ import annotations

import torch
from torch import nn


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Eq. 3: index of the nearest codebook row (squared L2) for each row of z (M x c) -> M."""
    dist = z.square().sum(1, keepdim=True) - 2.0 * z @ codebook.t() + codebook.square().sum(1)[None]
    return dist.argmin(dim=1)


def quantization_loss(z: torch.Tensor, z_q: torch.Tensor, beta: float = 0.25) -> torch.Tensor:
    """Eq. 4: ||sg[z] - z_q||^2 + beta ||sg[z_q] - z||^2.

    The paper sums over the h x w positions; we take the mean over positions and channels (as VQGAN's code
    does), so that the weight lambda_q = 1 means the same at every latent size.
    """
    return (z.detach() - z_q).square().mean() + beta * (z_q.detach() - z).square().mean()


def kmeans(x: torch.Tensor, k: int, iterations: int = 20, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd's k-means on the rows of x (M x c) -> k x c centres.

    Starts from k distinct random rows; a cluster that empties is re-seeded with the point farthest from its
    centre, so every entry of the dictionary is used (the dead-code replacement of Lancucki et al. 2020).
    """
    m = x.shape[0]
    if m < k:
        raise ValueError(f"k-means needs at least {k} vectors, got {m}")
    x = x.detach().float()
    centres = x[torch.randperm(m, generator=generator, device="cpu")[:k].to(x.device)].clone()
    for _ in range(iterations):
        assign = nearest_codes(x, centres)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        nonempty = counts > 0
        centres[nonempty] = sums[nonempty] / counts[nonempty, None].float()
        empty = (~nonempty).nonzero().flatten()
        if len(empty):
            err = (x - centres[assign]).square().sum(1)
            centres[empty] = x[err.topk(len(empty)).indices]
    return centres


class VectorQuantizer(nn.Module):
    """Nearest-entry quantisation with a straight-through estimator and usage statistics."""

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(num_codes, code_dim) / code_dim**0.5)
        self.beta = beta
        self.register_buffer("usage", torch.zeros(num_codes), persistent=False)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z: N x c x h x w -> (z_q with straight-through gradients, eq. 4 loss, indices N x h x w)."""
        n, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        idx = nearest_codes(flat, self.codebook)
        z_q = self.codebook[idx].reshape(n, h, w, c).permute(0, 3, 1, 2)
        loss = quantization_loss(z, z_q, self.beta)
        if self.training:
            self.usage += torch.bincount(idx, minlength=self.codebook.shape[0]).to(self.usage)
        return z + (z_q - z).detach(), loss, idx.reshape(n, h, w)

    @torch.no_grad()
    def reestimate(
        self, features: torch.Tensor, iterations: int = 20, generator: torch.Generator | None = None
    ) -> None:
        """Replace the dictionary by k-means centres of HQ latent vectors (M x c) and reset the usage counts."""
        self.codebook.copy_(kmeans(features, self.codebook.shape[0], iterations, generator).to(self.codebook))
        self.usage.zero_()

    def dead_fraction(self) -> float:
        """Fraction of entries not chosen since the last re-estimation."""
        return float((self.usage == 0).float().mean())
