"""The ENTED network: shapes per configuration and each equation against a hand computation or a naive loop."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from ented_desktop.core.network import ENTEDGenerator, ablation, preset
from ented_desktop.core.network.config import ABLATIONS, ENTEDConfig
from ented_desktop.core.network.discriminator import Discriminator
from ented_desktop.core.network.modulated_conv import modulated_conv2d
from ented_desktop.core.network.quantizer import VectorQuantizer, kmeans, quantization_loss
from ented_desktop.core.network.refinement import LatentRefinement, cross_attention, feature_norm
from ented_desktop.core.network.texture import distribute_texture, extract_texture
from tests.tiny_network import TINY


@pytest.mark.parametrize("name", ["cpu128s", "cpu128", "cpu256"])
def test_generator_shapes_per_preset(name):
    cfg = preset(name)
    g = ENTEDGenerator(cfg).eval()
    x = torch.rand(1, 3, cfg.resolution, cfg.resolution) * 2 - 1
    with torch.no_grad():
        out = g(x, x)
    assert out.image.shape == x.shape
    n_lat = cfg.latent_resolution**2
    assert out.codes.shape == (1, cfg.latent_resolution, cfg.latent_resolution) and n_lat > 0
    for r in cfg.texture_resolutions:
        assert out.extraction[r].shape == (1, cfg.texture_kernels, r * r)
        assert out.distribution[r].shape == (1, cfg.texture_kernels, r * r)


def test_paper512_sizes_match_the_paper():
    cfg = preset("paper512")
    sizes = (cfg.resolution, cfg.resolution // cfg.latent_resolution, cfg.code_dim, cfg.num_codes)
    assert sizes == (512, 32, 256, 1024)
    g = ENTEDGenerator(cfg)
    _, z = g.content_encoder(torch.zeros(1, 3, 512, 512))
    assert z.shape == (1, 256, 16, 16)
    assert g.quantizer.codebook.shape == (1024, 256)


@pytest.mark.parametrize("model", sorted(ABLATIONS))
def test_table3_ablations_build_and_run(model):
    cfg = ablation(TINY, model)
    skip, style, vq, refine = ABLATIONS[model]
    g = ENTEDGenerator(cfg)
    assert (g.quantizer is not None) == vq
    assert type(g.style).__name__ == ("LatentRefinement" if refine else "DirectStyle")
    block = g.decoder.blocks["16"]
    assert (block.skip is not None) == skip and block.conv1.style == style
    x = torch.rand(2, 3, 32, 32)
    out = g(x, x)
    assert out.image.shape == x.shape
    out.image.mean().backward()


def test_config_json_round_trip_and_validation():
    assert ENTEDConfig.from_json(TINY.to_json()) == TINY
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, texture_resolutions=(12,))
    with pytest.raises(KeyError):
        preset("cpu128-model9")


def test_extraction_softmax_is_over_space_and_distribution_over_kernels():
    torch.manual_seed(0)
    f = torch.randn(2, 6, 4, 4)
    f_tex, c_e = extract_texture(f, torch.randn(2, 3, 4, 4), f)
    assert torch.allclose(c_e.sum(dim=2), torch.ones(2, 3))  # eq. 1: each kernel's weights over hw sum to 1
    assert f_tex.shape == (2, 3, 6)
    f_o, c_d = distribute_texture(f_tex, torch.randn(2, 3, 5, 5))
    assert torch.allclose(c_d.sum(dim=1), torch.ones(2, 25))  # eq. 2: each position's weights over k sum to 1
    assert f_o.shape == (2, 6, 5, 5)


def test_extraction_and_distribution_by_hand():
    # One kernel that looks only at position 0 (a huge logit): F_tex is the value at position 0.
    values = torch.arange(8.0).reshape(1, 2, 2, 2)
    logits = torch.tensor([[[[100.0, 0.0], [0.0, 0.0]]]])
    f_tex, _ = extract_texture(values, logits, values)
    assert torch.allclose(f_tex, torch.tensor([[[0.0, 4.0]]]), atol=1e-4)
    # With one kernel, distribution copies that texture everywhere.
    f_o, _ = distribute_texture(f_tex, torch.zeros(1, 1, 2, 2))
    assert torch.allclose(f_o[0, 1], torch.full((2, 2), 4.0), atol=1e-4)


def test_vq_output_is_nearest_code_with_straight_through_gradients():
    vq = VectorQuantizer(num_codes=3, code_dim=2)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.5]]))
    z = torch.tensor([[0.9, 0.8], [-1.5, 0.4], [0.1, -0.2], [0.6, 0.6]]).t().reshape(1, 2, 2, 2).requires_grad_(True)
    z_q, _, idx = vq(z)
    assert idx.flatten().tolist() == [1, 2, 0, 1]
    assert torch.allclose(z_q.detach().reshape(2, 4).t(), vq.codebook.detach()[[1, 2, 0, 1]])
    (z_q * torch.arange(8.0).reshape(1, 2, 2, 2)).sum().backward()
    assert torch.allclose(z.grad, torch.arange(8.0).reshape(1, 2, 2, 2))  # straight through


def test_quantization_loss_eq4_by_hand():
    z = torch.tensor([[1.0, 2.0]]).requires_grad_(True)
    z_q = torch.tensor([[0.0, 0.0]]).requires_grad_(True)
    loss = quantization_loss(z, z_q, beta=0.25)
    # mean((1-0)^2, (2-0)^2) = 2.5 for each term: 2.5 + 0.25 * 2.5
    assert loss.item() == pytest.approx(3.125)
    loss.backward()
    assert torch.allclose(z_q.grad, torch.tensor([[-1.0, -2.0]]))  # d/dz_q of mean((z - z_q)^2)
    assert torch.allclose(z.grad, 0.25 * torch.tensor([[1.0, 2.0]]))


def test_kmeans_finds_separated_clusters_and_uses_every_code():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = (centres[:, None] + 0.1 * torch.randn(4, 50, 2, generator=g)).reshape(-1, 2)
    found = kmeans(x, 4, generator=g)
    dist = torch.cdist(centres, found).min(dim=1).values
    assert dist.max() < 0.2
    vq = VectorQuantizer(4, 2).train()
    vq.reestimate(x, generator=g)
    vq(x.t().reshape(1, 2, 10, 20))
    assert vq.dead_fraction() == 0.0


def test_feature_norm_eq6_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    expected = torch.tensor([-1.0, 0.0, 1.0]) / math.sqrt(1 + 4 + 9 + 1e-5)
    assert torch.allclose(feature_norm(x).flatten(), expected)


def test_cross_attention_matches_naive_loop():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 4, 5), torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    out = cross_attention(q, k, v)
    for n in range(2):
        for i in range(5):
            scores = torch.tensor([float(q[n, :, i] @ k[n, :, j]) / 2.0 for j in range(6)])
            weights = torch.softmax(scores, 0)
            expected = sum(weights[j] * v[n, :, j] for j in range(6))
            assert torch.allclose(out[n, :, i], expected, atol=1e-5)


def test_refinement_starts_as_identity_then_mixes():
    torch.manual_seed(2)
    ref = LatentRefinement(8)
    z_lq, z_ref = torch.randn(1, 8, 3, 3), torch.randn(1, 8, 3, 3)
    expected = ref.psi(torch.cat([z_lq, z_ref], 1).mean(dim=(2, 3)))  # gamma = 0
    assert torch.allclose(ref(z_lq, z_ref), expected)
    with torch.no_grad():
        ref.gamma_lq.fill_(1.0)
    assert not torch.allclose(ref(z_lq, z_ref), expected)


def test_modulated_conv_matches_explicit_per_sample_convolution():
    torch.manual_seed(3)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    for demodulate in (True, False):
        out = modulated_conv2d(x, weight, styles, demodulate=demodulate)
        for n in range(3):
            w = weight * styles[n].reshape(1, 4, 1, 1)
            if demodulate:
                w = w / torch.sqrt(w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
            expected = F.conv2d(x[n : n + 1], w, padding=1)
            assert torch.allclose(out[n : n + 1], expected, atol=1e-5)


def test_modulated_conv_checks_shapes():
    with pytest.raises(AssertionError):
        modulated_conv2d(torch.randn(1, 4, 5, 5), torch.randn(2, 3, 3, 3), torch.randn(1, 4))


def test_discriminator_scores_each_image():
    d = Discriminator(TINY)
    assert d(torch.randn(4, 3, 32, 32)).shape == (4,)


def test_attention_loss_trains_the_kernels_but_not_the_decoder_trunk():
    from training.losses import attention_reconstruction_loss

    g = ENTEDGenerator(TINY)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = g(x, x.flip(-1))
    attention_reconstruction_loss(x, x.flip(-1), out.extraction, out.distribution).backward()
    assert g.decoder.blocks["32"].texture.kernels.weight.grad.abs().sum() > 0  # W_d
    assert g.extraction["32"].kernels.weight.grad.abs().sum() > 0  # W_e
    assert g.decoder.blocks["16"].conv2.conv.weight.grad is None  # the trunk gets nothing from eq. 11
