"""ENTED network configurations. A configuration is data: a frozen dataclass that serialises to JSON.

Presets:
- ``paper512``: the paper's sizes (section 4.1): 512x512, s = 32 (a 16x16 latent), code length c = 256, K = 1024.
- ``cpu128`` / ``cpu128s`` / ``cpu256``: smaller networks for training and inference on a CPU.

The switches ``skip``, ``style``, ``vq`` and ``refine`` reproduce Models 1-4 of the paper's Table 3
(:func:`ablation`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ENTEDConfig:
    name: str
    resolution: int = 512
    latent_resolution: int = 16          # h = w = H / s
    code_dim: int = 256                  # c: code length of the latent, the dictionary and the style code
    num_codes: int = 1024                # K: entries of the VQ dictionary
    texture_kernels: int = 32            # k: rows of W_e and W_d (eqs. 1, 2)
    texture_resolutions: tuple[int, ...] = (32, 64, 128)
    channel_base: int = 16384            # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    d_channel_base: int = 16384
    d_channel_max: int = 512
    skip: bool = True                    # residual connections content encoder -> decoder
    style: bool = True                   # modulated convolutions driven by the style code
    vq: bool = True                      # vector-quantised dictionary on Z_LQ
    refine: bool = True                  # latent space refinement (eqs. 5-8) for the style code
    rgb_residual: bool = False           # decoder output is added to the input image (not in the paper)

    def __post_init__(self) -> None:
        r, lr = self.resolution, self.latent_resolution
        if r & (r - 1) or lr & (lr - 1) or lr >= r:
            raise ValueError("resolution and latent_resolution must be powers of two, latent < resolution")
        for t in self.texture_resolutions:
            if not lr <= t <= r or t & (t - 1):
                raise ValueError(f"texture resolution {t} must be a power of two in [{lr}, {r}]")

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def d_channels(self, res: int) -> int:
        return min(self.d_channel_base // res, self.d_channel_max)

    @property
    def resolutions(self) -> list[int]:
        """Decoder resolutions from the latent up to the output, e.g. [16, 32, ..., 512]."""
        out, r = [], self.latent_resolution
        while r <= self.resolution:
            out.append(r)
            r *= 2
        return out

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["texture_resolutions"] = list(self.texture_resolutions)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict) -> ENTEDConfig:
        data = json.loads(text) if isinstance(text, str) else dict(text)
        data.pop("extra", None)  # an unused field that models and checkpoints made before 2026-12 still carry
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ENTED configuration fields: {sorted(unknown)}")
        data["texture_resolutions"] = tuple(data.get("texture_resolutions", ()))
        return cls(**data)


PRESETS: dict[str, ENTEDConfig] = {
    "paper512": ENTEDConfig(name="paper512"),
    "cpu256": ENTEDConfig(
        name="cpu256", resolution=256, latent_resolution=16, code_dim=128, num_codes=512, texture_kernels=16,
        texture_resolutions=(32, 64), channel_base=8192, channel_max=256, d_channel_base=4096,
        d_channel_max=256, rgb_residual=True,
    ),
    "cpu128": ENTEDConfig(
        name="cpu128", resolution=128, latent_resolution=8, code_dim=128, num_codes=512, texture_kernels=16,
        texture_resolutions=(32, 64), channel_base=4096, channel_max=256, d_channel_base=4096,
        d_channel_max=256, rgb_residual=True,
    ),
    "cpu128s": ENTEDConfig(
        name="cpu128s", resolution=128, latent_resolution=8, code_dim=96, num_codes=256, texture_kernels=16,
        texture_resolutions=(32, 64), channel_base=2048, channel_max=128, d_channel_base=2048,
        d_channel_max=128, rgb_residual=True,
    ),
}

# Table 3 of the paper: (skip, style, vq, refine).
ABLATIONS: dict[str, tuple[bool, bool, bool, bool]] = {
    "model1": (False, True, True, False),
    "model2": (True, False, True, False),
    "model3": (True, True, False, False),
    "model4": (True, True, True, False),
    "ented": (True, True, True, True),
}


def ablation(config: ENTEDConfig, model: str) -> ENTEDConfig:
    """The configuration of one of Table 3's models at the sizes of ``config``."""
    skip, style, vq, refine = ABLATIONS[model]
    name = config.name if model == "ented" else f"{config.name}-{model}"
    return dataclasses.replace(config, name=name, skip=skip, style=style, vq=vq, refine=refine)


def preset(name: str) -> ENTEDConfig:
    """A preset by name, with an optional ablation suffix: ``cpu128``, ``cpu128-model3``."""
    base, _, model = name.partition("-")
    if base not in PRESETS or (model and model not in ABLATIONS):
        raise KeyError(f"unknown configuration {name!r}; presets: {sorted(PRESETS)}, ablations: {sorted(ABLATIONS)}")
    return ablation(PRESETS[base], model) if model else PRESETS[base]
