"""How much does a model use its reference photo? Restore an evaluation set with four references each.

For every face of an evaluation set made by ``ented evaluate`` (its ``pairs.jsonl``): the true reference (another
photo of the person), the wrong one (another person's), the ground truth itself (the best reference there can be)
and the degraded input (what the application passes when a user gives none). Prints, per reference, PSNR (Y) to
the ground truth and the mean absolute change of the output from the true-reference output, in grey levels. A
model that uses its reference gains PSNR with the ground truth as reference and changes with the reference; one
that ignores it does neither. Example:

    python scripts/reference_probe.py data/lfw128_test/eval_4x_seed0_n200 --model models/ented-lfw128.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ented_desktop.core.engines import load_engine
from ented_desktop.core.imageio import read_image_rgb8
from training.eval_set import read_pairs
from training.evaluate import restore_all
from training.metrics import psnr

REFERENCES = ("true", "wrong", "ground truth", "input")
BATCH = 16


def probe(eval_set: Path, engine, count: int | None = None) -> dict[str, dict[str, float]]:
    """Mean PSNR (Y) to the ground truth and mean |output - true-reference output| (grey levels) per reference."""
    ids = [row["id"] for row in read_pairs(eval_set)[:count]]

    def crops(kind: str) -> list[np.ndarray]:
        return [read_image_rgb8(eval_set / kind / f"{i}.png") for i in ids]

    lq, gt = crops("lq"), crops("gt")
    refs = {"true": crops("ref"), "wrong": crops("wrong_ref"), "ground truth": gt, "input": lq}
    outputs = {name: restore_all(engine, lq, ref, BATCH) for name, ref in refs.items()}
    results = {}
    for name, out in outputs.items():
        change = [np.abs(o.astype(np.float32) - t.astype(np.float32)).mean()
                  for o, t in zip(out, outputs["true"], strict=True)]
        results[name] = {"psnr": float(np.mean([psnr(o, g) for o, g in zip(out, gt, strict=True)])),
                         "change": float(np.mean(change))}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_set", type=Path, help="an evaluation set folder (with pairs.jsonl)")
    parser.add_argument("--model", help="model name or .safetensors file (default: the default model)")
    parser.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--count", type=int, help="only the first COUNT faces")
    args = parser.parse_args(argv)
    engine = load_engine(args.model, args.engine, "cpu")
    results = probe(args.eval_set, engine, args.count)
    print(f"{engine.model_name} on {args.eval_set} ({args.count or 'all'} faces)")
    print("| reference | PSNR (Y) | mean change from true-reference output (grey levels) |")
    print("| --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['psnr']:.3f} | {r['change']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
