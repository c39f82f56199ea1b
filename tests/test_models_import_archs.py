"""Importing each architecture's file as upstream releases it (random weights, tests/upstream_files.py): detected,
stored as safetensors with its metadata and the original's sha256, listed, verified; and the refusals that need
a real architecture (a background model offered as a face restorer, a file under another model's name)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from ented_desktop.cli.main import main
from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.models.importer import import_model
from ented_desktop.core.models.store import installed_models
from ented_desktop.core.weights import read_manifest
from tests.upstream_files import ARCHITECTURES, upstream_payload, write_upstream_file

pytestmark = pytest.mark.slow  # each upstream file is 67-377 MB of random weights

EXPECTED = {  # architecture -> (purpose, resolution, scale)
    "gfpgan": ("face", 512, 1), "codeformer": ("face", 512, 1), "restoreformer": ("face", 512, 1),
    "restoreformer++": ("face", 512, 1), "realesrgan": ("background", 0, 2),
}
METADATA_KEYS = {"format", "architecture", "purpose", "resolution", "scale", "source_sha256", "source_name",
                 "licence", "licence_url"}


@pytest.fixture(scope="module")
def upstream_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("upstream")


def _upstream(upstream_dir: Path, arch: str) -> Path:
    path = upstream_dir / {"gfpgan": "GFPGANv1.4.pth", "codeformer": "codeformer.pth",
                           "restoreformer": "RestoreFormer.ckpt", "restoreformer++": "RestoreFormer++.ckpt",
                           "realesrgan": "RealESRGAN_x2plus.pth"}[arch]
    return path if path.exists() else write_upstream_file(arch, path)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_import_detects_and_stores_each_architecture(upstream_dir, tmp_path, arch):
    source = _upstream(upstream_dir, arch)
    model = import_model(source, model_dir=tmp_path, onnx=False)
    purpose, resolution, scale = EXPECTED[arch]
    assert (model.architecture, model.purpose, model.resolution, model.scale) == (arch, purpose, resolution, scale)
    assert model.verified and not model.shipped and model.path.parent == tmp_path
    source_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    with safe_open(str(model.path), framework="pt") as fh:
        meta = fh.metadata()
        stored = {k: fh.get_tensor(k) for k in list(fh.keys())[:5]}
    assert set(meta) == METADATA_KEYS and meta["format"] == "ented-thirdparty/1"
    assert meta["source_sha256"] == source_sha == model.source_sha256 and meta["source_name"] == source.name
    assert meta["architecture"] == arch and meta["resolution"] == str(resolution) and meta["scale"] == str(scale)
    assert meta["licence"].startswith("unknown")  # random weights: not the catalogued file
    assert read_manifest(tmp_path)[model.path.name] == hashlib.sha256(model.path.read_bytes()).hexdigest()
    assert model.name in [m.name for m in installed_models(tmp_path)]
    payload = upstream_payload(arch)
    inner = payload.get("params_ema") or {k.removeprefix("vqvae."): v for k, v in payload["state_dict"].items()}
    for key, tensor in stored.items():
        assert torch.equal(tensor, inner[key])


def test_a_background_model_offered_as_a_face_restorer_is_refused(upstream_dir, tmp_path):
    source = _upstream(upstream_dir, "realesrgan")
    with pytest.raises(ModelError) as info:
        import_model(source, purpose="face", model_dir=tmp_path, onnx=False)
    assert str(info.value) == ("RealESRGAN_x2plus.pth is a background upscaler (Real-ESRGAN 2x), not a face "
                               "restorer.")
    assert not any(tmp_path.iterdir())


def test_a_file_under_another_catalogued_name_is_refused(upstream_dir, tmp_path):
    source = _upstream(upstream_dir, "gfpgan")
    with pytest.raises(ModelError, match="GFPGANv1.4.pth is GFPGAN, not CodeFormer v0.1.0"):
        import_model(source, name="codeformer", model_dir=tmp_path, onnx=False)


def test_importing_again_is_harmless_and_a_taken_name_is_refused(upstream_dir, tmp_path):
    gfpgan = _upstream(upstream_dir, "gfpgan")
    first = import_model(gfpgan, name="mine", model_dir=tmp_path, onnx=False)
    again = import_model(gfpgan, name="mine", model_dir=tmp_path, onnx=False)
    assert again.path == first.path
    with pytest.raises(UserError, match="A model called 'mine' is already installed"):
        import_model(_upstream(upstream_dir, "restoreformer++"), name="mine", model_dir=tmp_path, onnx=False)


def test_cli_import_exports_onnx_and_prints_the_name_to_restore_with(upstream_dir, tmp_path, capsys):
    source = _upstream(upstream_dir, "restoreformer++")
    assert main(["models", "import", str(source), "--name", "rfpp", "--model-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "as rfpp (restoreformer++, 512px)" in out and "`ented restore --model rfpp`" in out
    assert (tmp_path / "rfpp.onnx").is_file()


def test_install_from_catalogue_end_to_end_with_a_dropped_connection(upstream_dir, tmp_path, monkeypatch):
    """Download (resumed after the server drops the connection), verify, import, original deleted. The
    catalogue's checksums are those of the released file, so this test gives the entry its random file's."""
    import dataclasses

    from ented_desktop.core.models import install
    from ented_desktop.core.models.catalogue import catalogue_entry
    from tests.test_models_download import FileServer

    source = _upstream(upstream_dir, "realesrgan")
    data = source.read_bytes()
    entry = dataclasses.replace(catalogue_entry("realesrgan-x2plus"), size_bytes=len(data),
                                sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(install, "catalogue_entry", lambda name: entry)
    server = FileServer()
    server.files[entry.file_name] = data
    server.drop_after[entry.file_name] = len(data) // 3
    server.thread.start()
    seen = []
    try:
        model = install.install_from_catalogue(entry.name, model_dir=tmp_path, url_base=server.base,
                                               progress=seen.append, retry_wait=0)
    finally:
        server.shutdown()
        server.server_close()
    assert server.requests == [(entry.file_name, None), (entry.file_name, f"bytes={len(data) // 3}-")]
    assert (model.name, model.architecture, model.purpose, model.scale) == ("realesrgan-x2plus", "realesrgan",
                                                                             "background", 2)
    assert model.verified
    assert model.licence == "BSD-3-Clause"
    assert model.source_sha256 == entry.sha256
    assert seen[-1].done == len(data)
    # The download's part file is gone; the weights and their ONNX export (for the background engine) stay.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.sha256", "realesrgan-x2plus.onnx",
                                                          "realesrgan-x2plus.safetensors"]
