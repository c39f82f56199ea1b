"""Inference engines behind one interface (:class:`RestorationEngine`) and how to load one."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelError, UserError
from ..weights import SUFFIX, load_generator, read_manifest, resolve_model
from .base import RestorationEngine

ENGINES = ("torch", "onnx")


def require_trained(info: dict, path: Path) -> None:
    """Refuse weights that no training run produced: an untrained network's output is never written."""
    if int(info.get("iterations", 0)) < 1:
        raise ModelError(f"{Path(path).name} was not produced by a training run; ENTED Desktop never restores with "
                         "an untrained network.")


def load_engine(
    model: str | os.PathLike[str] | None = None,
    engine: str = "torch",
    device: str = "auto",
    model_dir: str | os.PathLike[str] | None = None,
    *,
    fidelity: float | None = None,
) -> RestorationEngine:
    """The named (or default) trained model on the chosen engine. Raises ModelError when none is installed.

    Third-party face models (GFPGAN, CodeFormer, RestoreFormer, RestoreFormer++) installed in the model directory
    load by name too; ``fidelity`` is CodeFormer's w (upstream's 0.5 when None), a UserError for other models."""
    from .thirdparty import is_thirdparty, load_thirdparty_engine  # torch and spandrel load only when needed

    weights = resolve_model(model, model_dir)
    if engine in ENGINES and is_thirdparty(weights.with_suffix(SUFFIX)):
        return load_thirdparty_engine(weights.with_suffix(SUFFIX), engine, device, fidelity)
    if fidelity is not None:
        raise UserError("--fidelity applies to CodeFormer only; ENTED has no fidelity setting.")
    if engine == "torch":
        from .torch_engine import TorchEngine

        if weights.suffix == ".onnx":
            raise ModelError(f"{weights.name} is an ONNX export: restore with --engine onnx, or give its "
                             f"{weights.with_suffix(SUFFIX).name} weights.")
        generator, info = load_generator(weights)
        require_trained(info, weights)
        return TorchEngine(generator, weights.stem, device)
    if engine == "onnx":
        from .onnx_engine import OnnxEngine

        onnx_path = Path(weights).with_suffix(".onnx")
        if not onnx_path.is_file():
            raise ModelError(
                f"No ONNX export of {weights.stem} at {onnx_path}; run `ented export-onnx --model {weights}`."
            )
        # The export is checked against the weights beside it, also when --model names the .onnx file itself.
        digest = read_manifest(weights.parent).get(weights.with_suffix(SUFFIX).name, "")
        return OnnxEngine(onnx_path, device, weights_sha256=digest)
    raise UserError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")


__all__ = ["ENGINES", "RestorationEngine", "load_engine"]
