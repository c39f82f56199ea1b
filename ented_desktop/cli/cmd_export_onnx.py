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
    from ented_desktop.core.errors import UserError
    from ented_desktop.core.weights import load_generator, resolve_model, sha256_file

    weights = resolve_model(args.model, args.model_dir)
    out = args.output or weights.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":  # so a mistyped -o never replaces weights or a photo
        raise UserError(f"The output must be a .onnx file, not {out}.")
    generator, info = load_generator(weights)
    require_trained(info, weights)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        digest = export_onnx(generator, out, weights.stem, int(info["iterations"]), sha256_file(weights))
    except PermissionError as exc:
        raise UserError(f"Cannot write {out} ({exc.strerror}); choose another place with -o.") from exc
    print(f"{out}  sha256 {digest}")
    return 0
