"""RestoreFormer++ (Wang et al., ../shared/papers/restoreformerpp_notes.md): a VQ autoencoder whose decoder
attends, with multi-head cross attention, from the degraded face's encoder features (queries) to the decoder's
features built from the high-quality dictionary (keys and values), at 16 x 16 and, unlike RestoreFormer, also
at 32 x 32 ("multi-scale", ``ex_multi_scale_num=1`` upstream).

Written from the upstream description and its checkpoint layout (wzhouxiff/RestoreFormerPlusPlus,
``VQVAEGANMultiHeadTransformer``): parameter names are upstream's, so a released state dict loads strictly.
RestoreFormer itself is the same network with one attention scale and eight heads; spandrel ships that one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

HEADS = 4  # upstream RestoreFormer++ (RestoreFormer: 8); the state dict cannot tell


@dataclass(frozen=True)
class RestoreFormerPPConfig:
    ch: int = 64
    ch_mult: tuple[int, ...] = (1, 2, 2, 4, 4, 8)
    num_res_blocks: int = 2
    z_channels: int = 256
    embed_dim: int = 256
    n_embed: int = 1024
    resolution: int = 512
    encoder_attn: tuple[int, ...] = (16,)
    decoder_attn: tuple[int, ...] = (16, 32)
    heads: int = HEADS

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor]) -> RestoreFormerPPConfig:
        """Everything but the head count (upstream's value) is read from tensor shapes and key names."""
        ch = sd["encoder.conv_in.weight"].shape[0]
        levels = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.down."))
        ch_mult = tuple(sd[f"encoder.down.{i}.block.0.conv2.weight"].shape[0] // ch for i in range(levels))
        blocks = 1 + max(int(k.split(".")[4]) for k in sd if k.startswith("encoder.down.0.block."))
        n_embed, embed_dim = sd["quantize.embedding.weight"].shape
        resolution = 512
        bottom = resolution // 2 ** (levels - 1)

        def attn_res(prefix: str) -> tuple[int, ...]:
            found = {int(k.split(".")[2]) for k in sd if k.startswith(prefix) and ".attn." in k}
            return tuple(sorted(bottom * 2 ** (levels - 1 - i) for i in found))

        return cls(ch=ch, ch_mult=ch_mult, num_res_blocks=blocks, z_channels=sd["quant_conv.weight"].shape[1],
                   embed_dim=embed_dim, n_embed=n_embed, resolution=resolution,
                   encoder_attn=attn_res("encoder.down."), decoder_attn=attn_res("decoder.up."))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = group_norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = group_norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)
        self.cout = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(swish(self.norm2(self.conv1(swish(self.norm1(x))))))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h


class MultiHeadAttention(nn.Module):
    """Self attention (``y`` None: the encoder) or cross attention whose queries come from ``y`` (the encoder's
    features of the degraded face) and keys and values from ``x`` (the decoder's dictionary features)."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        assert channels % heads == 0, f"{channels} channels do not split into {heads} heads"
        self.heads = heads
        self.norm1, self.norm2 = group_norm(channels), group_norm(channels)  # norm2 normalises y
        self.q, self.k, self.v = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        hx = self.norm1(x)
        hy = hx if y is None else self.norm2(y)
        assert hy.shape == x.shape, f"queries {tuple(hy.shape)} for features {tuple(x.shape)}"

        def split(t: torch.Tensor) -> torch.Tensor:  # b x c x h x w -> b x heads x hw x c/heads
            return t.reshape(b, self.heads, c // self.heads, h * w).transpose(2, 3)

        # softmax(q k^T / sqrt(c/heads)) v per head, as upstream
        out = F.scaled_dot_product_attention(split(self.q(hy)), split(self.k(hx)), split(self.v(hx)))
        return x + self.proj_out(out.transpose(2, 3).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # asymmetric padding, as upstream


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One resolution of the encoder or decoder: residual blocks, each followed by attention at some scales."""

    def __init__(self, cin: int, cout: int, blocks: int, attention: bool, heads: int) -> None:
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(cin if i == 0 else cout, cout) for i in range(blocks))
        self.attn = nn.ModuleList(MultiHeadAttention(cout, heads) for _ in range(blocks if attention else 0))


class Middle(nn.Module):
    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = MultiHeadAttention(channels, heads)
        self.block_2 = ResnetBlock(channels, channels)


class Encoder(nn.Module):
    """Returns the latent and the features the decoder's cross attention takes its queries from:
    ``skips[i]`` is level i's output before it is downsampled; ``skips[-1]`` is the bottom level's feature after
    the middle's first block (upstream ``block_<last>_atten``); ``mid`` is the middle's output."""

    def __init__(self, cfg: RestoreFormerPPConfig) -> None:
        super().__init__()
        ch, mult, n = cfg.ch, cfg.ch_mult, len(cfg.ch_mult)
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        res = cfg.resolution
        for i in range(n):
            level = Level(ch * (1 if i == 0 else mult[i - 1]), ch * mult[i], cfg.num_res_blocks,
                          res in cfg.encoder_attn, cfg.heads)
            if i != n - 1:
                level.downsample = Downsample(ch * mult[i])
                res //= 2
            self.down.append(level)
        self.mid = Middle(ch * mult[-1], cfg.heads)
        self.norm_out = group_norm(ch * mult[-1])
        self.conv_out = nn.Conv2d(ch * mult[-1], cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        h = self.conv_in(x)
        skips = []
        for i, level in enumerate(self.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if i != len(self.down) - 1:
                skips.append(h)
                h = level.downsample(h)
        h = self.mid.block_1(h)
        skips.append(h)
        mid = self.mid.block_2(self.mid.attn_1(h))
        return self.conv_out(swish(self.norm_out(mid))), skips, mid


class Decoder(nn.Module):
    def __init__(self, cfg: RestoreFormerPPConfig) -> None:
        super().__init__()
        ch, mult, n = cfg.ch, cfg.ch_mult, len(cfg.ch_mult)
        self.conv_in = nn.Conv2d(cfg.z_channels, ch * mult[-1], 3, padding=1)
        self.mid = Middle(ch * mult[-1], cfg.heads)
        levels: list[Level] = []
        cin, res = ch * mult[-1], cfg.resolution // 2 ** (n - 1)
        for i in reversed(range(n)):
            level = Level(cin, ch * mult[i], cfg.num_res_blocks + 1, res in cfg.decoder_attn, cfg.heads)
            cin = ch * mult[i]
            if i != 0:
                level.upsample = Upsample(cin)
                res *= 2
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)  # indexed by level, as upstream
        self.norm_out = group_norm(ch)
        self.conv_out = nn.Conv2d(ch, 3, 3, padding=1)

    def forward(self, z: torch.Tensor, skips: list[torch.Tensor], mid: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_1(self.conv_in(z))
        h = self.mid.block_2(self.mid.attn_1(h, mid))
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h, skips[i])
            if i != 0:
                h = level.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class Quantizer(nn.Module):
    """The high-quality dictionary (ROHQD): each latent vector is replaced by its nearest code."""

    def __init__(self, n_embed: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_embed, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        book = self.embedding.weight
        # |z - e|^2 without the |z|^2 term, which does not change the nearest code
        index = torch.argmin(book.square().sum(1) - 2.0 * flat @ book.t(), dim=1)
        return book[index].reshape(b, h, w, c).permute(0, 3, 1, 2)


class RestoreFormerPP(nn.Module):
    """N x 3 x R x R in [-1, 1] -> the restored face, same shape, in [-1, 1] (unclamped, as upstream)."""

    def __init__(self, cfg: RestoreFormerPPConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or RestoreFormerPPConfig()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = Quantizer(cfg.n_embed, cfg.embed_dim)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == 3 and x.shape[2] == x.shape[3] == self.cfg.resolution, (
            f"RestoreFormer++ takes N x 3 x {self.cfg.resolution} x {self.cfg.resolution}, got {tuple(x.shape)}")
        z, skips, mid = self.encoder(x)
        quant = self.quantize(self.quant_conv(z))
        return self.decoder(self.post_quant_conv(quant), skips, mid)
