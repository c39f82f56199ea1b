"""The StyleGAN2-style decoder G (paper sections 3.1-3.3, Figure 3).

From the (quantised) latent Z_LQ at h x w up to the output resolution, each resolution has two 3x3 convolutions,
modulated by the style code omega (``style``) or plain (Table 3's Model 2), a residual connection from the
content encoder's feature map of the same resolution (``skip``), texture distribution (eq. 2) at the texture
layers, and a toRGB layer whose outputs are up-sampled and summed (StyleGAN2's skip-output architecture).
Noise inputs are left out: restoration should be deterministic, and the ONNX and torch engines must agree.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ENTEDConfig
from .layers import EqualConv2d, lrelu, upsample2
from .modulated_conv import ModulatedConv2d
from .texture import TextureDistribution


class StyledConv(nn.Module):
    """A 3x3 (or 1x1 toRGB) convolution, modulated by omega when ``style`` is on, plain otherwise."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, style_dim: int, style: bool, demodulate: bool = True):
        super().__init__()
        self.style = style
        self.conv = (
            ModulatedConv2d(in_ch, out_ch, kernel, style_dim, demodulate)
            if style
            else EqualConv2d(in_ch, out_ch, kernel)
        )

    def forward(self, x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        return self.conv(x, omega) if self.style else self.conv(x)


class DecoderBlock(nn.Module):
    def __init__(self, config: ENTEDConfig, res: int, in_ch: int) -> None:
        super().__init__()
        out_ch, c = config.channels(res), config.code_dim
        self.upsample = res > config.latent_resolution
        self.conv1 = StyledConv(in_ch, out_ch, 3, c, config.style)
        self.skip = EqualConv2d(config.channels(res), out_ch, 1) if config.skip else None
        self.conv2 = StyledConv(out_ch, out_ch, 3, c, config.style)
        self.texture = (
            TextureDistribution(out_ch, config.texture_kernels) if res in config.texture_resolutions else None
        )
        self.to_rgb = StyledConv(out_ch, 3, 1, c, config.style, demodulate=False)

    def forward(
        self,
        x: torch.Tensor,
        omega: torch.Tensor,
        rgb: torch.Tensor | None,
        skip: torch.Tensor | None,
        f_tex: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self.upsample:
            x = upsample2(x)
        x = lrelu(self.conv1(x, omega))
        if self.skip is not None:
            x = x + self.skip(skip)
        x = lrelu(self.conv2(x, omega))
        c_d = None
        if self.texture is not None:
            f_o, c_d = self.texture(x, f_tex)
            x = x + f_o
        y = self.to_rgb(x, omega)
        rgb = y if rgb is None else upsample2(rgb) + y
        return x, rgb, c_d


class Decoder(nn.Module):
    def __init__(self, config: ENTEDConfig) -> None:
        super().__init__()
        blocks, in_ch = {}, config.code_dim
        for res in config.resolutions:
            blocks[str(res)] = DecoderBlock(config, res, in_ch)
            in_ch = config.channels(res)
        self.blocks = nn.ModuleDict(blocks)
        if config.rgb_residual:
            # The output is input + decoder: zero toRGB weights make a new network the identity, so training
            # starts from the degraded input and only learns the correction.
            for block in self.blocks.values():
                nn.init.zeros_(block.to_rgb.conv.weight)

    def forward(
        self,
        z: torch.Tensor,
        omega: torch.Tensor,
        skips: dict[int, torch.Tensor],
        textures: dict[int, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Returns the RGB image and the distribution matrices C~_d per texture resolution."""
        x, rgb, distributions = z, None, {}
        for key, block in self.blocks.items():
            res = int(key)
            x, rgb, c_d = block(x, omega, rgb, skips.get(res), textures.get(res))
            if c_d is not None:
                distributions[res] = c_d
        return rgb, distributions
