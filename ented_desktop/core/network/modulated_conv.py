"""Modulated convolution with weight demodulation (StyleGAN2, Karras et al. 2020), driven by the style code omega."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import EqualLinear


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Convolve each sample with its own weights ``w'_{oik} = s_i w_{oik}``, demodulated by
    ``1 / sqrt(sum_{i,k} w'_{oik}^2 + eps)`` so that output activations keep unit variance.

    x: N x I x H x W, weight: O x I x k x k, styles: N x I -> N x O x H x W.
    Computed by scaling the activations instead of the weights (StyleGAN2's non-fused form): the same result,
    one shared convolution for the whole batch, and an ONNX graph that accepts any batch size.
    """
    n, in_ch = x.shape[:2]
    out_ch, w_in, kh, kw = weight.shape
    assert w_in == in_ch, f"weight expects {w_in} input channels, x has {in_ch}"
    assert styles.shape == (n, in_ch), f"styles must be {(n, in_ch)}, got {tuple(styles.shape)}"
    assert kh == kw and kh % 2 == 1, "odd square kernels only"
    out = F.conv2d(x * styles.reshape(n, in_ch, 1, 1), weight, padding=kh // 2)
    if demodulate:
        dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps)  # N x O
        out = out * dcoefs.reshape(n, out_ch, 1, 1)
    return out


class ModulatedConv2d(nn.Module):
    """A modulated convolution whose per-channel styles are an affine map of omega (bias initialised to 1)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, demodulate: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.affine = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        styles = self.affine(omega)
        if not self.demodulate:  # toRGB layers: keep the equalised-lr gain as StyleGAN2 does
            styles = styles * self.gain
        out = modulated_conv2d(x, self.weight, styles, demodulate=self.demodulate)
        return out + self.bias.reshape(1, -1, 1, 1)
