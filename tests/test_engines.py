"""Engines and weights: torch and ONNX Runtime agree; damaged, foreign and untrained weights are refused."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ented_desktop.core.engines import load_engine
from ented_desktop.core.errors import ModelError
from ented_desktop.core.network import ENTEDGenerator
from ented_desktop.core.weights import MANIFEST, add_to_manifest, load_generator, resolve_model, save_generator
from tests.file_modes import has_usual_mode
from tests.tiny_network import TINY


def _batch(n=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, size, size, 3), dtype=np.float32), rng.random((n, size, size, 3), dtype=np.float32)


def test_torch_and_onnx_agree(tiny_model_dir):
    lq, ref = _batch()
    torch_out = load_engine(tiny_model_dir / "tiny.safetensors", "torch", "cpu").restore(lq, ref)
    onnx_out = load_engine(tiny_model_dir / "tiny.safetensors", "onnx", "cpu").restore(lq, ref)
    assert torch_out.shape == lq.shape and torch_out.dtype == np.float32
    assert torch_out.min() >= 0.0 and torch_out.max() <= 1.0
    assert np.abs(torch_out - onnx_out).max() < 1e-3


def test_both_engines_name_the_device_alike(tiny_model_dir):
    devices = {name: load_engine(tiny_model_dir / "tiny.safetensors", name, "cpu").device for name in ("torch", "onnx")}
    assert devices == {"torch": "cpu", "onnx": "cpu"}  # ONNX said "CPUExecutionProvider"


def test_a_device_out_of_memory_is_a_memory_error(tiny_model_dir, monkeypatch):
    """As a GPU running out of memory reports it: callers catch MemoryError, not torch's RuntimeError subclass."""
    engine = load_engine(tiny_model_dir / "tiny.safetensors", "torch", "cpu")

    def exhausted(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine, "model", exhausted)
    with pytest.raises(MemoryError, match="cpu ran out of memory"):
        engine.restore(*_batch())


def test_model_found_by_name_in_the_model_directory(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("ENTED_MODEL_DIR", str(tiny_model_dir))
    assert resolve_model("tiny") == tiny_model_dir / "tiny.safetensors"
    assert load_engine("tiny", "torch", "cpu").model_name == "tiny"


def test_missing_model_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(ModelError, match="never restores with an untrained network"):
        resolve_model("no-such-model", tmp_path)


def test_damaged_file_is_refused(tiny_model_dir, tmp_path):
    shutil.copy(tiny_model_dir / "tiny.safetensors", tmp_path / "tiny.safetensors")
    shutil.copy(tiny_model_dir / MANIFEST, tmp_path / MANIFEST)
    data = bytearray((tmp_path / "tiny.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "tiny.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged"):
        load_generator(tmp_path / "tiny.safetensors")


def test_unlisted_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": __import__("torch").zeros(3)}, str(path))
    with pytest.raises(ModelError, match="unknown origin"):
        load_generator(path)
    add_to_manifest(path)
    with pytest.raises(ModelError, match="not an ENTED model"):
        load_generator(path)
    pickle = tmp_path / "pickle.safetensors"
    pickle.write_bytes(b"\x80\x04\x95 not a safetensors file")
    add_to_manifest(pickle)
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_generator(pickle)


def test_untrained_network_is_never_used(tmp_path):
    save_generator(ENTEDGenerator(TINY), tmp_path / "random.safetensors", {"iterations": 0})
    with pytest.raises(ModelError, match="untrained"):
        load_engine(tmp_path / "random.safetensors", "torch", "cpu")


def test_saved_weights_round_trip_with_the_usual_permissions(tmp_path):
    generator = ENTEDGenerator(TINY)
    save_generator(generator, tmp_path / "m.safetensors", {"iterations": 7})
    loaded, info = load_generator(tmp_path / "m.safetensors")
    assert info["iterations"] == 7
    for name, value in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
    assert has_usual_mode(tmp_path / "m.safetensors")


def test_onnx_engine_needs_an_export(tiny_model_dir, tmp_path):
    shutil.copy(tiny_model_dir / "tiny.safetensors", tmp_path / "tiny.safetensors")
    add_to_manifest(tmp_path / "tiny.safetensors")
    with pytest.raises(ModelError, match="export-onnx"):
        load_engine(tmp_path / "tiny.safetensors", "onnx", "cpu")


def test_export_onnx_creates_the_output_folder(tiny_model_dir, tmp_path):
    from ented_desktop.cli.main import main

    out = tmp_path / "new" / "folder" / "tiny.onnx"
    assert main(["export-onnx", "--model", str(tiny_model_dir / "tiny.safetensors"), "-o", str(out)]) == 0
    assert out.stat().st_size > 0


def test_export_onnx_writes_only_onnx_files(tiny_model_dir, tmp_path, capsys):
    from ented_desktop.cli.main import main

    weights = tmp_path / "tiny.safetensors"
    shutil.copy(tiny_model_dir / "tiny.safetensors", weights)
    add_to_manifest(weights)
    before = weights.read_bytes()
    assert main(["export-onnx", "--model", str(weights), "-o", str(weights)]) == 2
    assert "must be a .onnx file" in capsys.readouterr().err and weights.read_bytes() == before


def test_an_export_left_from_replaced_weights_is_refused(tiny_model_dir, tmp_path):
    from ented_desktop.cli.main import main

    weights = tmp_path / "tiny.safetensors"
    shutil.copy(tiny_model_dir / "tiny.safetensors", weights)
    add_to_manifest(weights)
    assert main(["export-onnx", "--model", str(weights)]) == 0
    assert load_engine(weights, "onnx", "cpu").resolution == TINY.resolution
    generator, info = load_generator(weights)
    with torch.no_grad():
        next(generator.parameters()).add_(1.0)
    save_generator(generator, weights, info)  # as `ented train --snapshot` over an older snapshot
    with pytest.raises(ModelError, match="not exported from the weights beside it"):
        load_engine(weights, "onnx", "cpu")


def test_weights_that_are_not_numbers_are_refused(tiny_model_dir, tmp_path):
    generator, info = load_generator(tiny_model_dir / "tiny.safetensors")
    with torch.no_grad():
        next(generator.parameters()).fill_(float("nan"))  # a diverged run
    save_generator(generator, tmp_path / "nan.safetensors", info)
    with pytest.raises(ModelError, match="not numbers"):
        load_engine(tmp_path / "nan.safetensors", "torch", "cpu")


def test_a_damaged_manifest_is_a_model_error(tiny_model_dir, tmp_path):
    shutil.copy(tiny_model_dir / "tiny.safetensors", tmp_path / "tiny.safetensors")
    (tmp_path / MANIFEST).write_text("0123abcd\n")
    with pytest.raises(ModelError, match="line 1"):
        load_generator(tmp_path / "tiny.safetensors")
    (tmp_path / MANIFEST).write_text("x  tiny.safetensors\n", encoding="utf-16")
    with pytest.raises(ModelError, match="cannot be read"):
        load_generator(tmp_path / "tiny.safetensors")


def test_a_bare_file_name_is_looked_for_in_the_model_directories(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no such file here
    assert resolve_model("tiny.safetensors", tiny_model_dir) == tiny_model_dir / "tiny.safetensors"
