"""The content encoder E_c and the texture encoder E_ref (paper section 3.1, Figure 3).

Both are residual down-sampling CNNs from the image resolution to the latent resolution h = H / s. They keep
the feature map at every resolution: E_c's maps feed the decoder's residual (skip) connections, E_ref's maps
are the hierarchy F_ref^i from which neural textures are extracted (eq. 1). The last map is projected to the
code length c: Z_LQ = E_c(I_LQ) and Z_ref = E_ref(I_ref), each c x h x w.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ENTEDConfig
from .layers import EqualConv2d, ResidualDownBlock, lrelu


class PyramidEncoder(nn.Module):
    """Image -> ({resolution: feature map}, latent c x h x w)."""

    def __init__(self, config: ENTEDConfig) -> None:
        super().__init__()
        res = config.resolution
        self.from_rgb = EqualConv2d(3, config.channels(res), 1)
        blocks = {}
        while res > config.latent_resolution:
            blocks[str(res)] = ResidualDownBlock(config.channels(res), config.channels(res // 2))
            res //= 2
        self.blocks = nn.ModuleDict(blocks)
        self.to_latent = EqualConv2d(config.channels(config.latent_resolution), config.code_dim, 1)
        self.resolution = config.resolution
        self.latent_resolution = config.latent_resolution

    def forward(self, image: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        assert image.shape[-2:] == (self.resolution, self.resolution), (
            f"expected {self.resolution}x{self.resolution} input, got {tuple(image.shape[-2:])}"
        )
        x = lrelu(self.from_rgb(image))
        features = {}
        for key, block in self.blocks.items():
            features[int(key)] = x
            x = block(x)
        features[self.latent_resolution] = x
        return features, self.to_latent(x)


class ContentEncoder(PyramidEncoder):
    """E_c: the degraded input I_LQ -> skip features and Z_LQ."""


class TextureEncoder(PyramidEncoder):
    """E_ref: the reference I_ref -> the hierarchy F_ref^i and Z_ref."""
