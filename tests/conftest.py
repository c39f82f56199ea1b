import os
from pathlib import Path

import pytest
import torch

import ented_desktop  # noqa: F401  (before torch: sets OMP_WAIT_POLICY, see ented_desktop/__init__.py)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (read-only project data)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Tests never touch the real user data or model directory."""
    base = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("ENTED_DATA_DIR", str(base))
    monkeypatch.setenv("ENTED_MODEL_DIR", str(base / "models"))
    os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def no_shipped_model(tmp_path_factory, monkeypatch) -> None:
    """As on an installation without the weights of ``models/``: only the (empty) user model directory is left."""
    from ented_desktop.core import paths, weights

    empty = tmp_path_factory.mktemp("no-shipped-models")
    monkeypatch.setattr(paths, "shipped_models_dir", lambda: empty)
    monkeypatch.setattr(weights, "shipped_models_dir", lambda: empty)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A model directory with a tiny ENTED model trained for a few steps on generated data, and its ONNX export.

    It restores nothing well; it exists so that the engines, the pipeline and the CLI can run end to end."""
    from ented_desktop.core.engines.onnx_export import export_onnx
    from ented_desktop.core.weights import save_generator
    from tests.training_fixtures import SyntheticTriplets, tiny_config
    from training.loop import Trainer

    directory = tmp_path_factory.mktemp("models")
    trainer = Trainer(tiny_config(adv_start=10**9, vq_warmup=2), torch.device("cpu"))
    data = SyntheticTriplets()
    for i in range(3):
        if trainer.dictionary_due():
            trainer.reestimate_dictionary(torch.stack([data[100 + j]["gt"] for j in range(16)]))
        trainer.step({k: torch.stack([data[4 * i + j][k] for j in range(4)]) for k in ("lq", "ref", "gt")})
    digest = save_generator(trainer.g_ema, directory / "tiny.safetensors", {"iterations": trainer.iteration})
    export_onnx(trainer.g_ema, directory / "tiny.onnx", "tiny", trainer.iteration, digest)
    return directory
