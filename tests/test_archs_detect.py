"""Model files as their projects release them: unwrapped, their architecture detected, built with the weights
loaded strictly; what is not a supported model is refused with a sentence that says what it is."""

import re

import pytest
import torch

from ented_desktop.core.archs import ArchInfo, build_module, detect_architecture, unwrap_state_dict
from ented_desktop.core.errors import ModelError
from tests.upstream_files import ARCHITECTURES, FILE_NAMES, upstream_payload, write_upstream_file

EXPECTED = {
    "gfpgan": ArchInfo("gfpgan", "face", 512, 1, "GFPGAN"),
    "codeformer": ArchInfo("codeformer", "face", 512, 1, "CodeFormer"),
    "restoreformer": ArchInfo("restoreformer", "face", 512, 1, "RestoreFormer"),
    "restoreformer++": ArchInfo("restoreformer++", "face", 512, 1, "RestoreFormer++"),
    "realesrgan": ArchInfo("realesrgan", "background", 0, 2, "Real-ESRGAN 2x"),
}


def test_unwrap_prefers_the_ema_weights_as_upstream_inference_does():
    ema, plain = torch.ones(2), torch.zeros(2)
    assert unwrap_state_dict({"params": {"w": plain}, "params_ema": {"w": ema}})["w"] is ema
    assert unwrap_state_dict({"params": {"w": plain}})["w"] is plain
    assert list(unwrap_state_dict({"w": ema, "b": plain})) == ["w", "b"]  # a bare state dict stays as it is


def test_unwrap_lightning_checkpoints_keep_the_networks_weights_only():
    checkpoint = {"epoch": 3, "global_step": 10, "state_dict": {
        "vqvae.encoder.w": torch.ones(1), "vqvae.quantize.embedding.weight": torch.ones(4, 2),
        "loss.discriminator.main.0.weight": torch.ones(1)}}
    assert sorted(unwrap_state_dict(checkpoint)) == ["encoder.w", "quantize.embedding.weight"]
    assert list(unwrap_state_dict({"module.conv.weight": torch.ones(1)})) == ["conv.weight"]


@pytest.mark.parametrize("obj", [{}, {"params_ema": {}}, {"a": 1, "b": "x", "c": torch.ones(1)}, [torch.ones(1)]])
def test_what_holds_no_weights_is_refused(obj):
    with pytest.raises(ModelError, match="no network weights|not a network's weights"):
        unwrap_state_dict(obj)


def test_an_unknown_architecture_is_refused_with_a_sentence():
    with pytest.raises(ModelError, match="unknown architecture; ENTED Desktop runs GFPGAN, CodeFormer"):
        detect_architecture({"conv.weight": torch.zeros(8, 3, 3, 3), "conv.bias": torch.zeros(8)})


def test_a_known_but_unsupported_architecture_is_named():
    from spandrel.architectures.DnCNN import DnCNN

    with pytest.raises(ModelError, match="is a DnCNN model, an architecture ENTED Desktop does not run"):
        detect_architecture(DnCNN().state_dict())


@pytest.fixture(scope="module")
def payloads():
    return {arch: upstream_payload(arch, seed=1) for arch in ARCHITECTURES}


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_upstream_layout_is_detected_and_built_strictly(arch, payloads):
    state = unwrap_state_dict(payloads[arch])
    info = detect_architecture(state)
    assert info == EXPECTED[arch]
    module = build_module(state, info)
    assert not module.training and not any(p.requires_grad for p in module.parameters())
    loaded = {k.removeprefix("net."): v for k, v in module.state_dict().items()}
    if arch != "realesrgan":  # spandrel renames basicsr's RRDBNet keys to ESRGAN's original ones
        assert set(loaded) == set(state)
        assert all(torch.equal(loaded[k], state[k]) for k in state)
    broken = dict(state)
    broken.pop(next(k for k in broken if k.endswith(".weight") and "conv" in k))
    with pytest.raises(ModelError, match=f"do not fit the {re.escape(info.display)} architecture|unknown architect"):
        build_module(broken, info)


@pytest.mark.slow
def test_files_are_written_as_upstream_releases_them(tmp_path):
    """The container of each file: what upstream's loader reads (GFPGANer, CodeFormer, RestoreFormer.py)."""
    for arch in ("realesrgan", "restoreformer++"):
        path = write_upstream_file(arch, tmp_path)
        assert path.name == FILE_NAMES[arch]
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if arch == "realesrgan":
            assert list(obj) == ["params_ema"] and obj["params_ema"]["conv_first.weight"].shape == (64, 12, 3, 3)
            assert "body.22.rdb3.conv5.weight" in obj["params_ema"]
        else:
            assert set(obj) == {"epoch", "global_step", "pytorch-lightning_version", "state_dict"}
            assert all(k.startswith("vqvae.") for k in obj["state_dict"])
            assert "vqvae.decoder.up.4.attn.0.q.weight" in obj["state_dict"]
