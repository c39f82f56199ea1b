"""Importing model files: what is refused (and why, in one sentence), and what an imported model looks like."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.models.importer import import_model, load_weights_file
from ented_desktop.core.models.store import find_installed


class _Payload:
    """An object whose unpickling would create ``marker``: the stand-in for code a malicious file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _single_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.endswith(".")
    return text


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, legacy):
    def write(path: Path, marker: Path) -> Path:
        obj = {"params_ema": {"conv.weight": torch.zeros(2)}, "extra": _Payload(marker)}
        if legacy:
            with open(path, "wb") as fh:
                pickle.dump(obj, fh, protocol=2)
        else:
            torch.save(obj, path)
        return path

    # The payload is live: an unrestricted load of the same kind of file runs it.
    probe = tmp_path / "probe-ran"
    with open(write(tmp_path / "probe.pth", probe), "rb") as fh:
        pickle.load(fh) if legacy else torch.load(fh, weights_only=False)
    assert probe.exists()

    marker = tmp_path / "payload-ran"
    path = write(tmp_path / "GFPGANv1.4.pth", marker)
    with pytest.raises(ModelError) as info:
        import_model(path, model_dir=tmp_path / "models", onnx=False)
    message = _single_sentence(info.value)
    assert "would run Python code (io.open)" in message and "nothing in it was run" in message
    assert not marker.exists()
    assert not (tmp_path / "models").exists()


def test_truncated_pth_is_refused(tmp_path):
    whole = tmp_path / "whole.pth"
    torch.save({"params_ema": {"w": torch.randn(256, 256)}}, whole)
    cut = tmp_path / "codeformer.pth"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ModelError, match="codeformer.pth is truncated or damaged"):
        import_model(cut, model_dir=tmp_path / "models", onnx=False)


def test_truncated_legacy_pth_is_refused(tmp_path):
    whole = tmp_path / "whole.pth"
    torch.save({"params_ema": {"w": torch.randn(256, 256)}}, whole, _use_new_zipfile_serialization=False)
    cut = tmp_path / "old.pth"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ModelError, match="old.pth is truncated or damaged"):
        load_weights_file(cut)


def test_truncated_safetensors_is_refused(tmp_path):
    whole = tmp_path / "whole.safetensors"
    save_file({"w": torch.randn(256, 256)}, str(whole))
    cut = tmp_path / "model.safetensors"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ModelError, match="model.safetensors"):
        import_model(cut, model_dir=tmp_path / "models", onnx=False)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(bytes(range(7, 250)) * 100)
    with pytest.raises(ModelError, match="random.pth is not a PyTorch weights file"):
        import_model(path, model_dir=tmp_path / "models", onnx=False)


def test_empty_missing_and_unsupported_files_are_refused(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ModelError, match="empty.pth is empty"):
        import_model(tmp_path / "empty.pth", model_dir=tmp_path / "models", onnx=False)
    with pytest.raises(UserError, match="does not exist"):
        import_model(tmp_path / "absent.pth", model_dir=tmp_path / "models", onnx=False)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a model")
    with pytest.raises(ModelError, match="photo.jpg is not a model file"):
        import_model(tmp_path / "photo.jpg", model_dir=tmp_path / "models", onnx=False)


def test_a_zip_that_is_not_a_torch_file_is_refused(tmp_path):
    path = tmp_path / "archive.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ModelError, match="archive.pth"):
        import_model(path, model_dir=tmp_path / "models", onnx=False)


def test_a_bad_name_is_refused(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"params_ema": {"w": torch.zeros(1)}}, path)
    with pytest.raises(UserError, match="cannot be a model name"):
        import_model(path, name="../escape", model_dir=tmp_path / "models", onnx=False)
    with pytest.raises(UserError, match="ships with ENTED Desktop"):
        import_model(path, name="ented-lfw128", model_dir=tmp_path / "models", onnx=False)
    assert find_installed("w", tmp_path / "models") is None


@pytest.mark.slow  # importing spandrel's registry of architectures takes about 6 s on 2 busy cores
def test_a_random_pth_is_refused_as_an_unknown_architecture(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"params_ema": {"backbone.fc.weight": torch.randn(4, 4), "backbone.fc.bias": torch.randn(4)}}, path)
    with pytest.raises(ModelError) as info:
        import_model(path, model_dir=tmp_path / "models", onnx=False)
    assert _single_sentence(info.value).startswith("weights.pth cannot be imported: the file holds network weights "
                                                   "of an unknown architecture")
    torch.save([1, 2, 3], path)
    with pytest.raises(ModelError, match="weights.pth cannot be imported: the file holds no network weights"):
        import_model(path, model_dir=tmp_path / "models", onnx=False)
    assert not (tmp_path / "models").exists()


def test_an_ented_model_is_imported_as_it_is(tiny_model_dir, tmp_path):
    source = tiny_model_dir / "tiny.safetensors"
    model = import_model(source, name="grandpa", model_dir=tmp_path)
    assert (model.name, model.architecture, model.purpose, model.verified) == ("grandpa", "ented", "face", True)
    assert model.path.read_bytes() == source.read_bytes()
    with pytest.raises(ModelError, match="ENTED face restorer, not a background upscaler"):
        import_model(source, name="other", purpose="background", model_dir=tmp_path)
