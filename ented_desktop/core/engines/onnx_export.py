"""Export an ENTED generator to ONNX for the ONNX Runtime engine (``ented export-onnx``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..network import ENTEDGenerator, RestorationModel
from ..weights import add_to_manifest
from .onnx_file import stamp_and_check

OPSET = 17


def export_onnx(generator: ENTEDGenerator, path: Path, model_name: str, iterations: int, weights_sha256: str) -> str:
    """Write ``path`` atomically (inputs ``lq`` and ``ref``, N x 3 x R x R in [-1, 1]; output ``restored``),
    with any batch size, and register it in the manifest beside it. ``iterations`` (of the training run that
    made the weights) and the weights file's sha256 go into the metadata: the engine refuses exports of untrained
    networks and exports left behind when their weights were replaced. Returns the export's sha256."""

    path = Path(path)
    res = generator.config.resolution
    model = RestorationModel(generator).eval()
    example = (torch.zeros(1, 3, res, res), torch.zeros(1, 3, res, res))
    with atomic_path(path) as tmp:
        # The shape asserts are checked once while tracing; the tracer's warning about them is expected.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model, example, str(tmp), input_names=["lq", "ref"], output_names=["restored"], opset_version=OPSET,
                dynamic_axes={"lq": {0: "batch"}, "ref": {0: "batch"}, "restored": {0: "batch"}}, dynamo=False,
            )
        stamp_and_check(tmp, {"ented_model": model_name, "resolution": str(res),
                              "config": generator.config.to_json(), "iterations": str(iterations),
                              "weights_sha256": weights_sha256})
    return add_to_manifest(path)
