"""Inference with ONNX Runtime (CUDA execution provider when present and asked for, else the CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError, UserError
from ..weights import read_manifest, sha256_file
from .base import check_batch, from_network, to_network


class OnnxEngine:
    name = "onnx"

    def __init__(
        self, path: Path, device: str = "auto", verify: bool = True, weights_sha256: str | None = None
    ) -> None:
        """With ``weights_sha256``, the export must have been made from the weights file of that digest."""
        import onnxruntime as ort

        path = Path(path)
        if verify and read_manifest(path.parent).get(path.name) != (sha256_file(path) if path.is_file() else None):
            raise ModelError(f"{path.name} is missing, damaged or not listed in the manifest beside it.")
        available = ort.get_available_providers()
        if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
            raise UserError("CUDA was requested but ONNX Runtime has no CUDA provider here; use --device cpu or auto.")
        providers = ["CPUExecutionProvider"]
        if device != "cpu" and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for malformed files
            raise ModelError(f"{path.name} is not a loadable ONNX model ({exc}).") from exc
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
        # Named as the torch engine and --device name it, not by ONNX Runtime's provider.
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        check_batch(lq, ref, self.resolution)
        (out,) = self.session.run(["restored"], {"lq": to_network(lq), "ref": to_network(ref)})
        return from_network(out)
