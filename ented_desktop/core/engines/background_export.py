"""Export a background upscaler (Real-ESRGAN) to ONNX beside its weights, checked against torch before it is kept.

The graph's input ``image`` is 1 x 3 x H x W in [0, 1] and its output ``upscaled`` 1 x 3 x sH x sW, with H and W
free (dynamic axes), so one export serves tiles of any (even) size, including the smaller ones at a photo's edges.
Parity is checked at two sizes, one of them not the size the graph was traced at: a shape frozen by the tracer
would fail there.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import ModelError
from ..weights import add_to_manifest
from .onnx_file import stamp_and_check
from .ort_session import open_session
from .thirdparty import FORMAT, verify_listed
from .thirdparty_export import OPSET, parity_error, parity_input

TRACE_SIZE = (64, 64)                 # (height, width) the graph is traced at
CHECK_SIZES = ((64, 64), (48, 80))    # (height, width) parity is checked at


def background_parity_input(height: int, width: int) -> torch.Tensor:
    """A fixed 1 x 3 x height x width input in [0, 1] (smooth gradients plus seeded noise)."""
    side = max(height, width)
    return ((parity_input(side)[:, :, :height, :width] + 1.0) * 0.5).contiguous()


def export_background_onnx(weights: Path) -> Path:
    """Write ``NAME.onnx`` beside ``NAME.safetensors`` (a listed background model) atomically, check ONNX
    Runtime's output against torch's at :data:`CHECK_SIZES` (ModelError when they differ), and add it to the
    manifest. The export's metadata holds the weights file's sha256. Returns the ONNX file's path."""

    from ..background import load_background_module

    weights = Path(weights)
    digest = verify_listed(weights)
    module, info = load_background_module(weights)
    path = weights.with_suffix(".onnx")
    with atomic_path(path) as tmp:
        # UpscaleNet's shape assert is checked once while tracing; the tracer's warnings about it are expected.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (background_parity_input(*TRACE_SIZE),), str(tmp), input_names=["image"],
                              output_names=["upscaled"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"image": {2: "height", 3: "width"},
                                            "upscaled": {2: "out_height", 3: "out_width"}})
        stamp_and_check(tmp, {"format": FORMAT, "architecture": info.architecture, "display": info.display,
                              "purpose": info.purpose, "scale": str(info.scale), "model_name": weights.stem,
                              "weights_sha256": digest})
        session = open_session(tmp, "cpu")
        for height, width in CHECK_SIZES:
            x = background_parity_input(height, width)
            with torch.no_grad():
                expected = module(x).numpy()
            (got,) = session.run(["upscaled"], {"image": x.numpy()})
            problem = (f"an output of shape {got.shape} instead of {expected.shape}" if got.shape != expected.shape
                       else parity_error(expected, np.asarray(got)))
            if problem is not None:
                raise ModelError(f"The ONNX export of {weights.stem} does not compute what the model computes "
                                 f"({problem} at {width} x {height} pixels); it was not kept.")
    add_to_manifest(path)
    return path
