"""Export a third-party face model to ONNX beside its weights, checked against torch (parity) before it is kept.

The graph has batch size 1 and fixed shapes (ONNX Runtime then folds every shape computation); its input ``lq``
is 1 x 3 x R x R in [-1, 1], its output ``restored`` likewise, and CodeFormer has a second input ``fidelity``
(shape [1]): the fidelity weight w is chosen at run time, not frozen at export.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..archs.onnx_forms import onnx_form
from ..atomic import atomic_path
from ..errors import ModelError
from ..weights import add_to_manifest
from .onnx_file import stamp_and_check
from .ort_session import open_session
from .thirdparty import FORMAT, load_thirdparty, verify_listed

OPSET = 17
# Parity, on a fixed input, in output units ([-1, 1]): float32 kernels differ in the order they sum, so outputs
# differ slightly everywhere; a VQ model (CodeFormer, RestoreFormer) may also flip a code whose two nearest
# dictionary entries tie to float precision, which changes one 32 x 32 patch. An export that is wrong differs
# everywhere by far more.
MEAN_TOLERANCE = 2e-3
PATCH_SHARE = 0.02     # share of pixels allowed to differ by more than PIXEL_TOLERANCE
PIXEL_TOLERANCE = 2e-2


def parity_input(resolution: int) -> torch.Tensor:
    """A fixed, face-sized input: smooth gradients plus seeded noise, in [-1, 1]."""
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-0.8, 0.8, resolution)
    smooth = torch.stack([ramp[None, :].expand(resolution, -1), ramp[:, None].expand(-1, resolution),
                          (ramp[None, :] * ramp[:, None])])
    return (smooth + 0.2 * torch.rand(3, resolution, resolution, generator=g) - 0.1).clamp(-1, 1)[None]


def parity_error(expected: np.ndarray, got: np.ndarray) -> str | None:
    """Why ``got`` is not ``expected`` within the tolerances above; None when it is."""
    diff = np.abs(expected.astype(np.float64) - got)
    if not np.isfinite(got).all():
        return "ONNX Runtime's output holds values that are not numbers"
    share = float((diff > PIXEL_TOLERANCE).mean())
    if diff.mean() > MEAN_TOLERANCE or share > PATCH_SHARE:
        return f"mean difference {diff.mean():.2g}, {share:.1%} of values off by more than {PIXEL_TOLERANCE}"
    return None


def export_thirdparty_onnx(weights: Path) -> Path:
    """Write ``NAME.onnx`` beside ``NAME.safetensors`` (a listed third-party face model) atomically, exported from
    its :func:`onnx_form`, check ONNX Runtime's output against upstream torch's on :func:`parity_input`
    (ModelError when they differ), and add it to the manifest. The export's metadata holds the weights file's
    sha256. Returns the ONNX file's path."""

    weights = Path(weights)
    digest = verify_listed(weights)
    module, info = load_thirdparty(weights, verify=False)
    x = parity_input(info.resolution)
    args: tuple[torch.Tensor, ...] = (x, torch.tensor([0.5])) if module.takes_fidelity else (x,)
    names = ["lq", "fidelity"] if module.takes_fidelity else ["lq"]
    path = weights.with_suffix(".onnx")
    with torch.no_grad():
        expected = module(*args).numpy()
    module = onnx_form(module)
    with atomic_path(path) as tmp:
        # The modules' shape asserts are checked once while tracing; the tracer's warning about them is expected.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), input_names=names, output_names=["restored"],
                              opset_version=OPSET, dynamo=False)
        stamp_and_check(tmp, {"format": FORMAT, "architecture": info.architecture, "display": info.display,
                              "resolution": str(info.resolution), "model_name": weights.stem,
                              "weights_sha256": digest})
        session = open_session(tmp, "cpu")
        (got,) = session.run(["restored"], {n: a.numpy() for n, a in zip(names, args, strict=True)})
        problem = parity_error(expected, got)
        if problem is not None:
            raise ModelError(f"The ONNX export of {weights.stem} does not compute what the model computes "
                             f"({problem}); it was not kept.")
    add_to_manifest(path)
    return path
