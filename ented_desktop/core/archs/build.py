"""Networks with one calling convention, built from a detected state dict with its weights loaded strictly.

Face networks (:class:`FaceNet`): ``forward(x)``, or ``forward(x, w)`` when ``takes_fidelity``; ``x`` is
N x 3 x R x R in [-1, 1] (upstream's normalisation), the result the restored face in [-1, 1] (unclamped).
Background networks (:class:`UpscaleNet`): ``forward(x)``, N x 3 x H x W in [0, 1] -> N x 3 x sH x sW in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import ModelError
from .detect import ArchInfo, registry
from .restoreformer_pp import RestoreFormerPP, RestoreFormerPPConfig

CODEFORMER_FIDELITY = 0.5  # upstream inference_codeformer.py's default --fidelity_weight


class FaceNet(nn.Module):
    """Wraps an upstream face network (as ``net``) behind the convention above."""

    takes_fidelity = False

    def __init__(self, net: nn.Module, resolution: int) -> None:
        super().__init__()
        self.net = net
        self.resolution = resolution

    def check(self, x: torch.Tensor) -> None:
        r = self.resolution
        assert x.ndim == 4 and tuple(x.shape[1:]) == (3, r, r), f"expects N x 3 x {r} x {r}, got {tuple(x.shape)}"


class GFPGANNet(FaceNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        # The noise maps stored with the weights instead of fresh random noise per call: the same photo always
        # restores the same way, and ONNX Runtime's result can be checked against torch's.
        return self.net(x, return_rgb=False, randomize_noise=False)[0]


class RestoreFormerNet(FaceNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        return self.net(x)[0] if not isinstance(self.net, RestoreFormerPP) else self.net(x)


class CodeFormerNet(FaceNet):
    """CodeFormer's inference (sczhou/CodeFormer, ``CodeFormer.forward`` with ``adain=True``) with the fidelity
    weight ``w`` as a tensor input rather than a Python float.

    Upstream skips the controllable feature transformation when ``w == 0``; here it is always computed and
    scaled by ``w``: ``dec + w * (dec * scale + shift)`` equals ``dec`` at ``w = 0`` (checked numerically in the
    tests), and one graph then serves every ``w`` (an ONNX input instead of a value frozen at export)."""

    takes_fidelity = True

    def __init__(self, net: nn.Module, resolution: int) -> None:
        super().__init__(net, resolution)
        # Encoder block after which each fused scale's features are taken, and generator block after which they
        # are fused back (upstream's fuse_encoder_block / fuse_generator_block, for the scales in the file).
        self.taps = {net.fuse_encoder_block[s]: int(s) for s in net.connect_list}
        self.fuses = {net.fuse_generator_block[s]: s for s in net.connect_list}

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        self.check(x)
        net = self.net
        features: dict[int, torch.Tensor] = {}
        for i, block in enumerate(net.encoder.blocks):
            x = block(x)
            if i in self.taps:
                assert x.shape[-1] == self.taps[i], f"encoder block {i} gives {x.shape[-1]} px, not {self.taps[i]}"
                features[self.taps[i]] = x
        lq = x
        b, c, h, wd = lq.shape
        pos = net.position_emb.unsqueeze(1).expand(-1, b, -1)
        query = net.feat_emb(lq.flatten(2).permute(2, 0, 1))  # (hw) x b x d
        for layer in net.ft_layers:
            query = layer(query, query_pos=pos)
        logits = net.idx_pred_layer(query).permute(1, 0, 2)  # b x (hw) x codes
        # upstream takes the top-1 of the softmax: the same code as the arg max of the logits
        codes = net.quantize.embedding.weight[logits.argmax(dim=2)]  # b x (hw) x c
        quant = codes.reshape(b, h, wd, -1).permute(0, 3, 1, 2)
        assert quant.shape == lq.shape, f"codebook features {tuple(quant.shape)} for a latent {tuple(lq.shape)}"
        x = adain(quant, lq)
        for i, block in enumerate(net.generator.blocks):
            x = block(x)
            if i in self.fuses:
                size = self.fuses[i]
                x = net.fuse_convs_dict[size](features[int(size)], x, w.reshape(-1, 1, 1, 1))
        return x


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: ``content`` with ``style``'s per-channel mean and (unbiased) std."""
    b, c = content.shape[:2]

    def stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = t.reshape(b, c, -1)
        return flat.mean(2).reshape(b, c, 1, 1), (flat.var(2) + eps).sqrt().reshape(b, c, 1, 1)

    c_mean, c_std = stats(content)
    s_mean, s_std = stats(style)
    return (content - c_mean) / c_std * s_std + s_mean


class UpscaleNet(nn.Module):
    """A background upscaler (Real-ESRGAN): [0, 1] in, [0, 1] out, ``scale`` times larger."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == 3, f"expects N x 3 x H x W, got {tuple(x.shape)}"
        return self.net(x)


def build_module(state_dict: Mapping[str, torch.Tensor], info: ArchInfo) -> nn.Module:
    """The network of ``info.architecture`` with ``state_dict`` loaded strictly, in eval mode, no gradients."""
    sd = dict(state_dict)
    try:
        if info.architecture == "restoreformer++":
            net = RestoreFormerPP(RestoreFormerPPConfig.from_state_dict(sd))
            net.load_state_dict(sd, strict=True)
            module: nn.Module = RestoreFormerNet(net, info.resolution)
        else:
            support = registry().get(_SPANDREL[info.architecture])
            net = support.architecture.load(sd).model  # spandrel loads strictly
            module = {"gfpgan": GFPGANNet, "codeformer": CodeFormerNet, "restoreformer": RestoreFormerNet}[
                info.architecture](net, info.resolution) if info.purpose == "face" else UpscaleNet(net, info.scale)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ModelError(f"The weights do not fit the {info.display} architecture ({str(exc)[:200]}).") from exc
    return module.eval().requires_grad_(False)


_SPANDREL = {"gfpgan": "GFPGAN", "codeformer": "CodeFormer", "restoreformer": "RestoreFormer", "realesrgan": "ESRGAN"}

__all__ = ["CODEFORMER_FIDELITY", "CodeFormerNet", "FaceNet", "UpscaleNet", "build_module"]
