"""Inference with ONNX Runtime (CUDA execution provider when present and asked for, else the CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..weights import read_manifest, sha256_file
from .base import check_batch, from_network, to_network
from .ort_session import open_session, session_device


class OnnxEngine:
    name = "onnx"
    uses_reference = True
    fidelity: float | None = None

    def __init__(
        self, path: Path, device: str = "auto", verify: bool = True, weights_sha256: str | None = None
    ) -> None:
        """With ``weights_sha256``, the export must have been made from the weights file of that digest."""
        path = Path(path)
        if verify and read_manifest(path.parent).get(path.name) != (sha256_file(path) if path.is_file() else None):
            raise ModelError(f"{path.name} is missing, damaged or not listed in the manifest beside it.")
        self.session = open_session(path, device)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "resolution" not in meta:
            raise ModelError(f"{path.name} is not an ENTED ONNX export (no resolution in its metadata).")
        if int(meta.get("iterations", 0)) < 1:
            raise ModelError(f"{path.name} was not exported from a trained model; refusing to restore with it.")
        if weights_sha256 is not None and meta.get("weights_sha256") != weights_sha256:
            weights = path.with_suffix(".safetensors")
            raise ModelError(f"{path.name} was not exported from the weights beside it (they were replaced since, or "
                             f"it is an older export); run `ented export-onnx --model {weights}`.")
        self.resolution = int(meta["resolution"])
        self.model_name = meta.get("ented_model", path.stem)
        self.device = session_device(self.session)

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        check_batch(lq, ref, self.resolution)
        (out,) = self.session.run(["restored"], {"lq": to_network(lq), "ref": to_network(ref)})
        return from_network(out)
