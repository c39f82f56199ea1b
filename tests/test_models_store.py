"""Installed models: listing (shipped and user models), verification against the manifest, removal."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from ented_desktop.core.errors import UserError
from ented_desktop.core.models.store import (
    THIRDPARTY_FORMAT,
    find_installed,
    installed_models,
    remove_installed,
    verify_installed,
)
from ented_desktop.core.weights import add_to_manifest, read_manifest


def write_thirdparty(folder: Path, name: str = "face-x", **meta: str) -> Path:
    """A stored third-party model as the importer writes it (tiny tensors), with its manifest line."""
    metadata = {"format": THIRDPARTY_FORMAT, "architecture": "gfpgan", "purpose": "face", "resolution": "512",
                "scale": "1", "source_sha256": "ab" * 32, "source_name": "GFPGANv1.4.pth",
                "licence": "Apache-2.0", "licence_url": "https://example.org/LICENSE", **meta}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    path.write_bytes(save({"w": torch.arange(6.0)}, metadata=metadata))
    add_to_manifest(path)
    return path


def test_lists_user_models_first_then_the_shipped_ones(tmp_path):
    write_thirdparty(tmp_path, "face-x")
    models = installed_models(tmp_path)
    assert [m.name for m in models][:1] == ["face-x"]
    user = models[0]
    assert (user.architecture, user.purpose, user.resolution, user.scale) == ("gfpgan", "face", 512, 1)
    assert user.verified and not user.shipped and user.licence == "Apache-2.0"
    assert user.source_sha256 == "ab" * 32 and user.size_bytes == user.path.stat().st_size
    shipped = {m.name: m for m in models if m.shipped}
    assert shipped["ented-lfw128"].architecture == "ented" and shipped["ented-lfw128"].resolution == 128
    assert shipped["ented-lfw128"].verified and shipped["ented-lfw128"].onnx is not None


def test_find_installed(tmp_path):
    path = write_thirdparty(tmp_path, "face-x")
    assert find_installed("face-x", tmp_path).path == path
    assert find_installed("nothing", tmp_path) is None
    assert find_installed("ented-lfw128", tmp_path).shipped


def test_a_damaged_or_unlisted_file_is_not_verified(tmp_path):
    path = write_thirdparty(tmp_path, "face-x")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    (damaged,) = [m for m in verify_installed(tmp_path) if m.name == "face-x"]
    assert not damaged.verified and "damaged" in damaged.problem
    other = write_thirdparty(tmp_path, "face-y")
    (tmp_path / "manifest.sha256").write_text(
        "".join(f"{d}  {n}\n" for n, d in read_manifest(tmp_path).items() if n != other.name))
    assert "not listed" in find_installed("face-y", tmp_path).problem


def test_a_file_of_unknown_format_is_listed_as_such(tmp_path):
    (tmp_path / "odd.safetensors").write_bytes(save({"w": torch.zeros(1)}))
    (odd,) = [m for m in installed_models(tmp_path) if m.name == "odd"]
    assert odd.architecture == "unknown" and not odd.verified and "no known format" in odd.problem
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    (junk,) = [m for m in installed_models(tmp_path) if m.name == "junk"]
    assert junk.architecture == "unreadable" and not junk.verified


def test_remove_deletes_the_files_and_manifest_lines(tmp_path):
    path = write_thirdparty(tmp_path, "face-x")
    onnx = path.with_suffix(".onnx")
    onnx.write_bytes(b"onnx")
    add_to_manifest(onnx)
    remove_installed("face-x", tmp_path)
    assert not path.exists() and not onnx.exists() and read_manifest(tmp_path) == {}


def test_remove_refuses_shipped_and_unknown_models(tmp_path):
    with pytest.raises(UserError, match="ships with ENTED Desktop"):
        remove_installed("ented-lfw128", tmp_path)
    with pytest.raises(UserError, match="No model called 'nothing'"):
        remove_installed("nothing", tmp_path)
