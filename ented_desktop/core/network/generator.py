"""ENTED's generator: I_SR = G(I_LQ, I_ref) (paper Figure 3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ENTEDConfig
from .decoder import Decoder
from .encoders import ContentEncoder, TextureEncoder
from .quantizer import VectorQuantizer
from .refinement import DirectStyle, LatentRefinement
from .texture import TextureExtraction


@dataclass
class GeneratorOutput:
    image: torch.Tensor                       # N x 3 x H x W in [-1, 1] (not clamped)
    vq_loss: torch.Tensor                     # eq. 4 (zero when the dictionary is off)
    extraction: dict[int, torch.Tensor]       # C~_e per texture resolution, N x k x hw (eq. 1)
    distribution: dict[int, torch.Tensor]     # C~_d per texture resolution, N x k x hw (eq. 2)
    codes: torch.Tensor | None                # dictionary indices N x h x w, when quantised


class ENTEDGenerator(nn.Module):
    def __init__(self, config: ENTEDConfig) -> None:
        super().__init__()
        self.config = config
        self.content_encoder = ContentEncoder(config)
        self.texture_encoder = TextureEncoder(config)
        self.extraction = nn.ModuleDict(
            {str(r): TextureExtraction(config.channels(r), config.texture_kernels) for r in config.texture_resolutions}
        )
        self.quantizer = VectorQuantizer(config.num_codes, config.code_dim) if config.vq else None
        self.style = LatentRefinement(config.code_dim) if config.refine else DirectStyle(config.code_dim)
        self.decoder = Decoder(config)
        # Training turns the dictionary off during its warm-up; a finished model always quantises when config.vq.
        self.quantize = config.vq

    def encode_content(self, lq: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        return self.content_encoder(lq)

    def forward(self, lq: torch.Tensor, ref: torch.Tensor) -> GeneratorOutput:
        assert lq.shape == ref.shape, f"input {tuple(lq.shape)} and reference {tuple(ref.shape)} differ"
        skips, z_lq = self.content_encoder(lq)
        ref_features, z_ref = self.texture_encoder(ref)
        codes = None
        vq_loss = z_lq.new_zeros(())
        if self.quantizer is not None and self.quantize:
            z_lq, vq_loss, codes = self.quantizer(z_lq)
        textures, extraction = {}, {}
        for key, module in self.extraction.items():
            res = int(key)
            textures[res], extraction[res] = module(ref_features[res])
        omega = self.style(z_lq, z_ref)
        image, distribution = self.decoder(z_lq, omega, skips if self.config.skip else {}, textures)
        if self.config.rgb_residual:
            image = image + lq
        return GeneratorOutput(image, vq_loss, extraction, distribution, codes)


class RestorationModel(nn.Module):
    """Image-only wrapper for inference and ONNX export: (lq, ref) -> restored image in [-1, 1]."""

    def __init__(self, generator: ENTEDGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lq: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.generator(lq, ref).image.clamp(-1.0, 1.0)
