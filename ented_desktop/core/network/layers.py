"""Equalised-learning-rate layers (StyleGAN2): weights are stored as N(0, 1) and scaled by 1/sqrt(fan_in)
at run time, so that Adam with the paper's learning rates (2e-3) updates every layer at the same speed."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.gain = 1.0 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.gain, self.bias)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU scaled by sqrt(2) to keep unit variance, as in StyleGAN2."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


def downsample2(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    # Bilinear up-sampling followed by a 3x3 convolution avoids the checkerboard of transposed convolutions.
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class ResidualDownBlock(nn.Module):
    """conv3x3 -> conv3x3 -> avg-pool, with a 1x1 pooled shortcut, summed and scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3)
        self.conv2 = EqualConv2d(in_channels, out_channels, 3)
        self.shortcut = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = downsample2(lrelu(self.conv2(lrelu(self.conv1(x)))))
        return (y + self.shortcut(downsample2(x))) / math.sqrt(2.0)
