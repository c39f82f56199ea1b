"""`ented export-onnx [--model NAME_OR_PATH] [-o FILE]`: write the ONNX Runtime engine's model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="export a trained model to ONNX for the onnx engine")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="model name or .safetensors file (default model if omitted)")
    p.add_argument("--model-dir", type=Path)
    p.add_argument("-o", "--output", type=Path, help="the .onnx file (default: beside the weights, same stem)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ented_desktop.core.engines import require_trained
    from ented_desktop.core.engines.onnx_export import export_onnx
    from ented_desktop.core.weights import load_generator, resolve_model

    weights = resolve_model(args.model, args.model_dir)
    generator, info = load_generator(weights)
    require_trained(info, weights)
    out = args.output or weights.with_suffix(".onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = export_onnx(generator, out, weights.stem, int(info["iterations"]))
    print(f"{out}  sha256 {digest}")
    return 0
