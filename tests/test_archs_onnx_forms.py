"""The faster forms swapped in for the ONNX export compute what upstream's layers compute."""

import pytest
import torch
from spandrel.architectures.GFPGAN.__arch.stylegan2_clean_arch import ModulatedConv2d
from torch import nn

from ented_desktop.core.archs.onnx_forms import ActivationModulatedConv, onnx_form


def upstream_conv(demodulate: bool, sample_mode: str | None, kernel: int = 3) -> ModulatedConv2d:
    torch.manual_seed(0)
    conv = ModulatedConv2d(8, 16, kernel, num_style_feat=32, demodulate=demodulate, sample_mode=sample_mode)
    with torch.no_grad():  # a style far from upstream's initial all-ones, so a wrong modulation cannot pass
        conv.modulation.bias.uniform_(-2.0, 2.0)
    return conv.eval()


@pytest.mark.parametrize("sample_mode", [None, "upsample", "downsample"])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulating_the_activations_equals_modulating_the_weights(demodulate, sample_mode):
    conv = upstream_conv(demodulate, sample_mode)
    x, style = torch.randn(2, 8, 12, 12), torch.randn(2, 32)  # two faces with different styles
    with torch.no_grad():
        expected, got = conv(x, style), ActivationModulatedConv(conv)(x, style)
    size = {None: 12, "upsample": 24, "downsample": 6}[sample_mode]
    assert got.shape == expected.shape == (2, 16, size, size)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_wrong_input_is_refused_not_broadcast():
    form = ActivationModulatedConv(upstream_conv(True, None))
    with pytest.raises(AssertionError, match="expects 8 input channels"):
        form(torch.randn(1, 4, 12, 12), torch.randn(1, 32))


def test_every_modulated_conv_is_swapped_wherever_it_sits_and_nothing_else():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.modulated_conv = upstream_conv(True, "upsample")
            self.plain = nn.Conv2d(16, 16, 1)

    net = nn.Module()
    net.blocks = nn.ModuleList([Block(), Block()])
    net.to_rgb = upstream_conv(False, None, kernel=1)
    x, style = torch.randn(1, 8, 6, 6), torch.randn(1, 32)
    with torch.no_grad():
        before = [net.blocks[0].modulated_conv(x, style), net.to_rgb(x, style)]
    assert onnx_form(net) is net
    assert not any(isinstance(m, ModulatedConv2d) for m in net.modules())
    assert sum(isinstance(m, ActivationModulatedConv) for m in net.modules()) == 3
    assert all(isinstance(b.plain, nn.Conv2d) for b in net.blocks)
    with torch.no_grad():
        after = [net.blocks[0].modulated_conv(x, style), net.to_rgb(x, style)]
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
