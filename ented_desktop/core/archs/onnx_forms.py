"""Equal forms of upstream layers that ONNX Runtime runs faster, swapped in for the ONNX export only.

The torch engine keeps upstream's code: it is the reference each export's parity is checked against
(:mod:`..engines.thirdparty_export`), so a form that computed anything else would not be kept.

StyleGAN2's modulated convolution (GFPGAN's decoder) scales the convolution's *weights* by each call's style.
Weights computed at run time cannot be pre-packed, so ONNX Runtime convolves them on its generic im2col path,
which ran 10-25% slower per FLOP here than its blocked (NCHWc) kernels. Scaling the *activations* instead is the
same linear map (StyleGAN2, Karras et al. 2020, Sec. 2.2, the "non-fused" modulation of its official code)::

    conv(x, W * s) * d  ==  conv(x * s, W) * d,   d_o = rsqrt(sum_{c,k} W_ock^2 s_c^2 + eps)

and keeps ``W`` a constant of the graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spandrel.architectures.GFPGAN.__arch.stylegan2_clean_arch import ModulatedConv2d
from torch import nn


class ActivationModulatedConv(nn.Module):
    """:class:`ModulatedConv2d` (GFPGAN's clean StyleGAN2) with the style applied to the input and the
    demodulation to the output, the weights unchanged; same parameters, same results to float rounding."""

    def __init__(self, conv: ModulatedConv2d) -> None:
        super().__init__()
        weight = conv.weight.detach()[0]  # out x in x k x k
        self.register_buffer("weight", weight.clone())
        self.register_buffer("weight_energy", weight.square().sum((2, 3)))  # out x in: sum over k of W^2
        self.modulation = conv.modulation
        self.demodulate = conv.demodulate
        self.sample_mode = conv.sample_mode
        self.padding = conv.padding
        self.eps = conv.eps

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        assert c == self.weight.shape[1], f"expects {self.weight.shape[1]} input channels, got {c}"
        s = self.modulation(style)
        assert s.shape == (b, c), f"style gives {tuple(s.shape)}, not {(b, c)}"
        if self.sample_mode is not None:
            factor = 2.0 if self.sample_mode == "upsample" else 0.5
            x = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        out = F.conv2d(x * s.view(b, c, 1, 1), self.weight, padding=self.padding)
        if self.demodulate:
            out = out * torch.rsqrt(s.square() @ self.weight_energy.t() + self.eps).view(b, -1, 1, 1)
        return out


def onnx_form(module: nn.Module) -> nn.Module:
    """``module`` with every layer that has a faster equal form above replaced by it (in place); returns it."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ModulatedConv2d):
                setattr(parent, name, ActivationModulatedConv(child))
    return module
