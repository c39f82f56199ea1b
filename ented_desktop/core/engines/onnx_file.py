"""Finishing an exported ONNX file: our metadata stamped into it, and the graph checked, before it is kept."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def stamp_and_check(path: Path, metadata: Mapping[str, str]) -> None:
    """Add ``metadata`` (the engines read it back to refuse a foreign or stale export) to the ONNX file at
    ``path``, check the model, and save it in place."""
    import onnx

    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
