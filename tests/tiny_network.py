"""A tiny ENTED configuration for tests: every module present, milliseconds per forward pass."""

from ented_desktop.core.network import ENTEDConfig

TINY = ENTEDConfig(
    name="tiny", resolution=32, latent_resolution=8, code_dim=16, num_codes=32, texture_kernels=4,
    texture_resolutions=(16, 32), channel_base=512, channel_max=32, d_channel_base=256, d_channel_max=32,
    rgb_residual=True,
)
