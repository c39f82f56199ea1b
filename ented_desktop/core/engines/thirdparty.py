"""Third-party face models (GFPGAN, CodeFormer, RestoreFormer, RestoreFormer++) on torch and ONNX Runtime.

Their files in a model directory are ``NAME.safetensors`` with ``format="ented-thirdparty/1"`` metadata (the
architecture, purpose, face size, source file's sha256, licence), listed in the folder's manifest, and
``NAME.onnx`` exported from them at import (:mod:`.thirdparty_export`). They restore from the degraded face
alone: ``restore(lq, ref)`` ignores ``ref`` (``uses_reference`` is False).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..archs import CODEFORMER_FIDELITY, ArchInfo, build_module, detect_architecture
from ..errors import ModelError, UserError
from ..weights import MANIFEST, read_manifest, read_metadata, sha256_file
from .base import from_network, to_network
from .ort_session import open_session, session_device
from .torch_engine import pick_torch_device

FORMAT = "ented-thirdparty/1"


def is_thirdparty(weights: Path) -> bool:
    """Whether a ``.safetensors`` file holds a third-party model (by its metadata; the tensors are not read)."""
    weights = Path(weights)
    return weights.suffix == ".safetensors" and weights.is_file() and read_metadata(weights).get("format") == FORMAT


def verify_listed(path: Path) -> str:
    """``path``'s sha256, which must match its manifest line; ModelError otherwise."""
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        raise ModelError(f"{path.name} is not listed in {path.parent / MANIFEST}; refusing a model file of unknown "
                         "origin.")
    digest = sha256_file(path)
    if digest != expected:
        raise ModelError(f"{path.name} is damaged: its sha256 does not match {MANIFEST}. Import it again.")
    return digest


def load_thirdparty(weights: Path, verify: bool = True) -> tuple[torch.nn.Module, ArchInfo]:
    """The network stored in a third-party ``.safetensors`` file, checked against its manifest and metadata."""
    from safetensors.torch import load_file

    weights = Path(weights)
    if verify:
        verify_listed(weights)
    meta = read_metadata(weights)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{weights.name} is not a third-party model file (no {FORMAT} metadata).")
    state = load_file(str(weights))
    info = detect_architecture(state)
    if meta.get("architecture") != info.architecture:
        raise ModelError(f"{weights.name} says it is {meta.get('architecture')!r} but holds {info.display} weights.")
    if info.purpose != "face":
        raise ModelError(f"{weights.name} is {info.display}, an image upscaler, not a face restorer.")
    return build_module(state, info), info


def check_fidelity(info_architecture: str, fidelity: float | None) -> float | None:
    """CodeFormer's fidelity weight w in [0, 1] (upstream's default when None); None for the other models."""
    if info_architecture != "codeformer":
        if fidelity is not None:
            raise UserError("--fidelity applies to CodeFormer only; this model has no fidelity setting.")
        return None
    w = CODEFORMER_FIDELITY if fidelity is None else float(fidelity)
    if not 0.0 <= w <= 1.0:
        raise UserError(f"The fidelity weight must be between 0 (quality) and 1 (fidelity); got {w}.")
    return w


def _check_faces(lq: np.ndarray, resolution: int) -> None:
    if lq.ndim != 4 or lq.shape[1:] != (resolution, resolution, 3):
        raise ValueError(f"engine expects N x {resolution} x {resolution} x 3 faces, got {lq.shape}")


class ThirdPartyTorchEngine:
    name = "torch"
    uses_reference = False

    def __init__(self, module: torch.nn.Module, info: ArchInfo, model_name: str, device: str = "auto",
                 fidelity: float | None = None) -> None:
        self.torch_device = pick_torch_device(device)
        self.device = str(self.torch_device)
        self.model = module.to(self.torch_device).eval()
        self.architecture = info.architecture
        self.display = info.display
        self.resolution = info.resolution
        self.model_name = model_name
        self.fidelity = check_fidelity(info.architecture, fidelity)

    @torch.inference_mode()
    def restore(self, lq: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
        """``lq``: N x R x R x 3 float32 [0, 1] -> restored, same shape; ``ref`` is not used."""
        _check_faces(lq, self.resolution)
        try:
            x = torch.from_numpy(to_network(lq)).to(self.torch_device)
            if self.fidelity is None:
                y = self.model(x)
            else:
                y = self.model(x, torch.tensor([self.fidelity], dtype=torch.float32, device=self.torch_device))
            return from_network(y.float().cpu().numpy())
        except torch.OutOfMemoryError as exc:
            raise MemoryError(f"{self.device} ran out of memory") from exc


class ThirdPartyOnnxEngine:
    name = "onnx"
    uses_reference = False

    def __init__(self, path: Path, device: str = "auto", weights_sha256: str | None = None, verify: bool = True,
                 fidelity: float | None = None) -> None:
        """With ``weights_sha256``, the export must have been made from the weights file of that digest."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"No ONNX export at {path}; import the model again to make one.")
        if verify:
            verify_listed(path)
        self.session = open_session(path, device)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path.name} is not an export of a third-party face model.")
        if weights_sha256 is not None and meta.get("weights_sha256") != weights_sha256:
            raise ModelError(f"{path.name} was not exported from the weights beside it; import the model again.")
        self.architecture = meta["architecture"]
        self.display = meta.get("display", self.architecture)
        self.resolution = int(meta["resolution"])
        self.model_name = meta.get("model_name", path.stem)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.fidelity = check_fidelity(self.architecture, fidelity)
        self.device = session_device(self.session)

    def restore(self, lq: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
        """``lq``: N x R x R x 3 float32 [0, 1] -> restored, same shape; ``ref`` is not used."""
        _check_faces(lq, self.resolution)
        x = to_network(lq)
        feeds: dict[str, np.ndarray] = {}
        if "fidelity" in self.inputs:
            feeds["fidelity"] = np.array([self.fidelity], np.float32)
        # The export has batch size 1 (shapes fixed, so ONNX Runtime folds them): faces run one by one, which on a
        # CPU is as fast as a batch for networks this size.
        out = [self.session.run(["restored"], {**feeds, "lq": x[i : i + 1]})[0] for i in range(len(x))]
        return from_network(np.concatenate(out))


def load_thirdparty_engine(weights: Path, engine: str, device: str, fidelity: float | None = None):
    """A third-party face model from its ``.safetensors`` file, on ``engine`` ("torch" or "onnx")."""
    weights = Path(weights)
    if engine == "torch":
        module, info = load_thirdparty(weights)
        return ThirdPartyTorchEngine(module, info, weights.stem, device, fidelity)
    if engine == "onnx":
        digest = verify_listed(weights)
        return ThirdPartyOnnxEngine(weights.with_suffix(".onnx"), device, weights_sha256=digest, fidelity=fidelity)
    raise UserError(f"Unknown engine {engine!r}; choose torch or onnx.")
