"""RestoreFormer++: the same network as spandrel's RestoreFormer where they coincide, its configuration read
from a state dict, told apart from RestoreFormer by its keys, and upstream's key names."""

import pytest
import torch
from spandrel.architectures.RestoreFormer import RestoreFormer

from ented_desktop.core.archs import detect_architecture
from ented_desktop.core.archs.detect import is_restoreformer_pp
from ented_desktop.core.archs.restoreformer_pp import RestoreFormerPP, RestoreFormerPPConfig

# Small enough to run in a second: three levels (64, 32, 16 px), 32 channels.
SMALL = dict(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, z_channels=32, embed_dim=32, n_embed=16, resolution=64)


def test_with_restoreformers_settings_it_computes_what_spandrels_restoreformer_computes():
    """One attention scale and eight heads make RestoreFormer; its weights load strictly and give its output."""
    torch.manual_seed(0)
    reference = RestoreFormer(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, attn_resolutions=(16,), resolution=64,
                              z_channels=32, embed_dim=32, n_embed=16, head_size=8).eval()
    ours = RestoreFormerPP(RestoreFormerPPConfig(**SMALL, decoder_attn=(16,), heads=8)).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected, got = reference(x)[0], ours(x)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_the_second_attention_scale_cross_attends_from_the_encoders_features():
    """RestoreFormer++'s extra decoder attention (32 px here) changes the output, and depends on the input."""
    torch.manual_seed(0)
    model = RestoreFormerPP(RestoreFormerPPConfig(**SMALL, decoder_attn=(16, 32))).eval()
    assert len(model.decoder.up[1].attn) == 2 and len(model.decoder.up[0].attn) == 0
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        before = model(x)
        torch.nn.init.normal_(model.decoder.up[1].attn[0].proj_out.weight)
        after = model(x)
    assert before.shape == (1, 3, 64, 64) and not torch.allclose(before, after)


def test_upstream_key_names_and_default_configuration():
    keys = RestoreFormerPP().state_dict().keys()
    for key in ("encoder.down.5.attn.1.q.weight", "encoder.mid.attn_1.proj_out.bias",
                "decoder.up.4.attn.2.norm2.weight", "decoder.up.5.attn.0.k.weight",
                "decoder.up.1.upsample.conv.weight", "quantize.embedding.weight", "quant_conv.weight",
                "post_quant_conv.bias", "encoder.down.1.block.0.nin_shortcut.weight"):
        assert key in keys
    assert not any(k.startswith("decoder.up.3.attn") for k in keys)
    config = RestoreFormerPPConfig.from_state_dict(RestoreFormerPP().state_dict())
    assert config == RestoreFormerPPConfig()  # ch 64, (1, 2, 2, 4, 4, 8), attention at 16 and 32, 4 heads
    assert config.decoder_attn == (16, 32) and config.encoder_attn == (16,)


def test_told_apart_from_restoreformer_by_its_keys():
    torch.manual_seed(0)
    small_rf = RestoreFormer(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, attn_resolutions=(16,), resolution=64,
                             z_channels=32, embed_dim=32, n_embed=16).state_dict()
    small_rfpp = RestoreFormerPP(RestoreFormerPPConfig(**SMALL, decoder_attn=(16, 32))).state_dict()
    assert not is_restoreformer_pp(small_rf) and is_restoreformer_pp(small_rfpp)
    assert detect_architecture(small_rf).architecture == "restoreformer"
    assert detect_architecture(small_rfpp).architecture == "restoreformer++"


def test_wrong_input_size_is_refused():
    model = RestoreFormerPP(RestoreFormerPPConfig(**SMALL))
    with pytest.raises(AssertionError, match="takes N x 3 x 64 x 64"):
        model(torch.zeros(1, 3, 32, 32))
