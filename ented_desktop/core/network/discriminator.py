"""A StyleGAN2-style residual discriminator (for the adversarial loss, eq. 9)."""

from __future__ import annotations

import torch
from torch import nn

from .config import ENTEDConfig
from .layers import EqualConv2d, EqualLinear, ResidualDownBlock, lrelu


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the standard deviation of features across a group of samples (StyleGAN2)."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # n/g
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self, config: ENTEDConfig) -> None:
        super().__init__()
        res = config.resolution
        self.from_rgb = EqualConv2d(3, config.d_channels(res), 1)
        blocks = []
        while res > 4:
            blocks.append(ResidualDownBlock(config.d_channels(res), config.d_channels(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        ch = config.d_channels(4)
        self.final_conv = EqualConv2d(ch + 1, ch, 3)
        self.fc = EqualLinear(ch * 16, ch)
        self.out = EqualLinear(ch, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.blocks(lrelu(self.from_rgb(image)))
        x = lrelu(self.final_conv(minibatch_stddev(x)))
        return self.out(lrelu(self.fc(x.flatten(1)))).squeeze(1)
